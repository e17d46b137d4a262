// The file ledger's fingerprints: what lets a reader read a file once unless the ledger might
// know it already.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/ledger.hpp"
#include "storage/record_log.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage {
namespace {

const std::string kHashA(64, 'a'), kHashB(64, 'b'), kHeadA(64, '1'), kHeadB(64, '2');

TEST(LedgerFingerprint, KnownFingerprintsSurviveARestartAndOthersAreNotKnown) {
  const auto dir = test::make_temp_dir("meterd-ledger");
  {
    Ledger ledger(dir, true);
    EXPECT_FALSE(ledger.might_contain({1000, kHeadA})) << "an empty ledger knows nothing";
    ledger.record(kHashA, "a file.csv", ledger.next_file_sequence(),
                  InputFingerprint{1000, kHeadA});
    EXPECT_TRUE(ledger.might_contain({1000, kHeadA}));
  }
  Ledger reopened(dir, true);
  EXPECT_TRUE(reopened.contains(kHashA));
  EXPECT_EQ(reopened.find(kHashA)->name, "a file.csv");
  EXPECT_TRUE(reopened.might_contain({1000, kHeadA}));
  EXPECT_FALSE(reopened.might_contain({1001, kHeadA})) << "another size";
  EXPECT_FALSE(reopened.might_contain({1000, kHeadB})) << "another head";
  std::filesystem::remove_all(dir);
}

// A data directory from before fingerprints: its entries could be any file, so every file
// might be known (and is hashed before it is read) while one of them is in the ledger.
TEST(LedgerFingerprint, AnEntryWithoutAFingerprintMakesEveryFileMaybeKnown) {
  const auto dir = test::make_temp_dir("meterd-ledger");
  std::filesystem::create_directories(dir / "ledger");
  {
    RecordLog old(dir / "ledger" / "LEDGER", true);
    old.append(kHashA + " 7 old name.csv");  // the record format before fingerprints
  }
  Ledger ledger(dir, true);
  EXPECT_TRUE(ledger.contains(kHashA));
  EXPECT_EQ(ledger.find(kHashA)->file_sequence, 7u);
  EXPECT_EQ(ledger.find(kHashA)->name, "old name.csv");
  EXPECT_TRUE(ledger.might_contain({1, kHeadB}));
  EXPECT_GT(ledger.next_file_sequence(), 7u);
  ledger.record(kHashB, "new.csv", 9, InputFingerprint{5, kHeadB});
  EXPECT_TRUE(ledger.might_contain({6, kHeadA})) << "the old entry still counts";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::storage
