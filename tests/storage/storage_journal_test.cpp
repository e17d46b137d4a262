// The safety path's staging journal: a held batch survives as a file, and only a whole, valid
// file is taken back.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "protocol/batch_codec.hpp"
#include "storage/journal.hpp"
#include "tests/protocol/batch_codec_support.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage {
namespace {

// 2024-01-15, NEM midnight (UTC 14:00 the day before).
constexpr epoch_seconds kJan = 1705240800;

ReadingBatch three_readings_each(std::initializer_list<std::pair<const char*, const char*>> keys) {
  ReadingBatch b;
  std::uint64_t sequence = 11;
  for (auto [nmi, suffix] : keys) {
    ReadingRun r;
    r.nmi = b.strings.intern(nmi);
    r.suffix = b.strings.intern(suffix);
    r.uom = b.strings.intern("KWH");
    r.interval_minutes = 30;
    r.first_start = kJan;
    r.file_sequence = sequence++;
    r.first_value = static_cast<std::uint32_t>(b.values.size());
    r.count = 3;
    for (std::uint32_t k = 0; k < r.count; ++k) b.values.push_back(kJan / 1000.0 + k);
    b.runs.push_back(r);
  }
  return b;
}

TEST(JournalTest, RoundTripsABatch) {
  auto dir = test::make_temp_dir("meterd-journal");
  PartitionBatch partition;
  partition.month = month_of(kJan);
  partition.batch = three_readings_each({{"NMI1", "E1"}, {"NMI2", ""}});
  partition.may_have_duplicates = true;
  auto path = journal::save(dir, 42, 3, partition);
  auto back = journal::load(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, 42u);
  EXPECT_EQ(back->attempts, 3u);
  EXPECT_EQ(back->batch.month, partition.month);
  EXPECT_TRUE(back->batch.may_have_duplicates);
  EXPECT_EQ(back->batch.batch.values, partition.batch.values);
  ASSERT_EQ(back->batch.batch.runs.size(), 2u);
  EXPECT_EQ(back->batch.batch.strings[back->batch.batch.runs[1].nmi], "NMI2");
  EXPECT_EQ(back->batch.batch.runs[1].file_sequence, 12u) << "versions survive the journal";
  EXPECT_EQ(journal::list(dir).size(), 1u);
  // A torn file is not a journal entry.
  auto text = test::read_file(path);
  std::ofstream(dir / "torn.journal", std::ios::binary) << text.substr(0, text.size() / 2);
  EXPECT_FALSE(journal::load(dir / "torn.journal"));
  std::filesystem::remove_all(dir);
}

// A whole file whose batch breaks the codec's structural rules (here: a run off the interval
// grid) is refused too: nothing that cannot be a reading is replayed into the store.
TEST(JournalTest, AWholeFileWithAnInvalidBatchIsRefused) {
  auto dir = test::make_temp_dir("meterd-journal");
  PartitionBatch partition;
  partition.month = month_of(kJan);
  partition.batch = three_readings_each({{"NMI1", "E1"}});
  partition.batch.runs[0].first_start += 7;
  EXPECT_FALSE(journal::load(journal::save(dir, 1, 1, partition)));
  std::filesystem::remove_all(dir);
}

// MTRJNL01, as the journal wrote it before the codec (raw structs, the former batcher's order:
// here the runs of one key in reverse version order), is still read: a dead letter from before
// an upgrade can be requeued.
TEST(JournalTest, AJournalFileOfTheFormerFormatIsStillRead) {
  auto dir = test::make_temp_dir("meterd-journal");
  ReadingBatch batch = three_readings_each({{"NMI1", "E1"}, {"NMI1", "E1"}});
  batch.runs[0].update_datetime = kJan + 200;  // the newer version first
  batch.runs[1].update_datetime = kJan + 100;
  std::string file = "MTRJNL01";
  auto put = [&](const auto& v) { file.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(std::uint64_t{7});
  put(month_of(kJan));
  put(std::uint32_t{2});
  put(static_cast<std::uint32_t>(batch.strings.size()));
  for (std::uint32_t i = 0; i < batch.strings.size(); ++i) {
    put(static_cast<std::uint32_t>(batch.strings[i].size()));
    file.append(batch.strings[i]);
  }
  put(static_cast<std::uint64_t>(batch.runs.size()));
  const std::size_t runs_at = file.size();
  file.append(reinterpret_cast<const char*>(batch.runs.data()),
              batch.runs.size() * sizeof(ReadingRun));
  // What is line_step today was padding then: whatever bytes were there.
  for (std::size_t r = 0; r < batch.runs.size(); ++r)
    file[runs_at + r * sizeof(ReadingRun) + offsetof(ReadingRun, line_step)] = '\xAB';
  put(static_cast<std::uint64_t>(batch.values.size()));
  file.append(reinterpret_cast<const char*>(batch.values.data()),
              batch.values.size() * sizeof(double));
  put(std::uint64_t{1});
  file.append(16, '\0');  // one share
  file.append("MTRJEND!");
  std::ofstream(dir / "batch-old.journal", std::ios::binary) << file;
  auto back = journal::load(dir / "batch-old.journal");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, 7u);
  EXPECT_EQ(back->attempts, 2u);
  ASSERT_EQ(back->batch.batch.readings(), 6u);
  EXPECT_NO_THROW(check_row_order(back->batch)) << "sorted into row order when read";
  for (const auto& run : back->batch.batch.runs) EXPECT_EQ(run.line_step, 0);
  std::filesystem::remove_all(dir);
}

// MTRJNL02 (frame layout v2, before runs carried line_step; rows of a key in the former version
// order, where arrival decided ties) is still read, and sorted into today's row order.
TEST(JournalTest, AJournalOfLayoutV2IsStillReadAndSortedAgain) {
  auto dir = test::make_temp_dir("meterd-journal");
  PartitionBatch partition;
  partition.month = month_of(kJan);
  partition.batch = three_readings_each({{"NMI1", "E1"}, {"NMI1", "E1"}});
  partition.batch.runs[0].line = 9;  // first by file_sequence (11), after by line today
  partition.batch.runs[1].line = 4;
  partition.may_have_duplicates = true;
  EXPECT_THROW(check_row_order(partition), std::invalid_argument) << "not today's order";
  const std::string v4 = test::read_file(journal::save(dir, 5, 1, partition));
  // The v4 file (default tenant), rewritten as v2: the magic, no tenant, and the frame's runs
  // without their line_step.
  constexpr std::size_t kFields = 8 + 4 + 4;            // id attempts month
  constexpr std::size_t kHeader = 8 + kFields + 4 + 1;  // magic, those, tenant "", duplicates
  std::string_view frame = std::string_view(v4).substr(kHeader), payload;
  ASSERT_TRUE(take_batch_frame(frame, payload));
  const std::string older = test::payload_in_older_layout(payload, test::kRunBytesV2);
  const auto length = static_cast<std::uint32_t>(older.size());
  std::string v2 = "MTRJNL02" + v4.substr(8, kFields) + v4.substr(kHeader - 1, 1);
  v2.append(reinterpret_cast<const char*>(&length), 4).append(older).append(frame);
  std::ofstream(dir / "batch-v2.journal", std::ios::binary) << v2;
  auto back = journal::load(dir / "batch-v2.journal");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, 5u);
  ASSERT_EQ(back->batch.batch.readings(), 6u);
  EXPECT_NO_THROW(check_row_order(back->batch)) << "sorted into today's row order when read";
  EXPECT_EQ(back->batch.batch.runs.front().line, 4u);
  std::filesystem::remove_all(dir);
}

// A tenant's held batch is replayed into that tenant's partitions, so the journal keeps it.
TEST(JournalTest, RoundTripsTheTenant) {
  auto dir = test::make_temp_dir("meterd-journal");
  PartitionBatch partition;
  partition.tenant = "retailer_a";
  partition.month = month_of(kJan);
  partition.batch = three_readings_each({{"NMI1", "E1"}});
  auto back = journal::load(journal::save(dir, 8, 2, partition));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->batch.tenant, "retailer_a");
  EXPECT_EQ(back->id, 8u);
  EXPECT_EQ(back->attempts, 2u);
  EXPECT_EQ(back->batch.month, partition.month);
  EXPECT_EQ(back->batch.batch.values, partition.batch.values);
  partition.tenant.clear();
  back = journal::load(journal::save(dir, 9, 1, partition));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->batch.tenant, "");
  std::filesystem::remove_all(dir);
}

// MTRJNL03 (before tenants: no tenant after the month) is read as the default tenant's.
TEST(JournalTest, AJournalOfFormatV3IsReadAsTheDefaultTenant) {
  auto dir = test::make_temp_dir("meterd-journal");
  PartitionBatch partition;
  partition.tenant = "net-1";
  partition.month = month_of(kJan);
  partition.batch = three_readings_each({{"NMI1", "E1"}, {"NMI2", "B1"}});
  partition.may_have_duplicates = true;
  const std::string v4 = test::read_file(journal::save(dir, 6, 4, partition));
  constexpr std::size_t kFields = 8 + 4 + 4;  // id attempts month
  ASSERT_EQ(v4.substr(0, 8), "MTRJNL04");
  ASSERT_EQ(v4.substr(8 + kFields, 4 + 5), std::string("\x05\0\0\0net-1", 9));
  const std::string v3 = "MTRJNL03" + v4.substr(8, kFields) + v4.substr(8 + kFields + 4 + 5);
  std::ofstream(dir / "batch-v3.journal", std::ios::binary) << v3;
  auto back = journal::load(dir / "batch-v3.journal");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->batch.tenant, "");
  EXPECT_EQ(back->id, 6u);
  EXPECT_EQ(back->attempts, 4u);
  EXPECT_EQ(back->batch.month, partition.month);
  EXPECT_TRUE(back->batch.may_have_duplicates);
  EXPECT_EQ(back->batch.batch.values, partition.batch.values);
  ASSERT_EQ(back->batch.batch.runs.size(), 2u);
  EXPECT_EQ(back->batch.batch.strings[back->batch.batch.runs[1].nmi], "NMI2");
  std::filesystem::remove_all(dir);
}

// The tenant names the directory a replay writes into: a file whose tenant is not a valid name,
// or whose tenant length runs past the file, is not a journal entry.
TEST(JournalTest, AJournalWithAnInvalidTenantIsRefused) {
  auto dir = test::make_temp_dir("meterd-journal");
  PartitionBatch partition;
  partition.tenant = "abc";
  partition.month = month_of(kJan);
  partition.batch = three_readings_each({{"NMI1", "E1"}});
  const std::string good = test::read_file(journal::save(dir, 1, 1, partition));
  constexpr std::size_t kTenantAt = 8 + 8 + 4 + 4 + 4;
  ASSERT_EQ(good.substr(kTenantAt, 3), "abc");
  std::string bad = good;
  bad.replace(kTenantAt, 3, "../");
  std::ofstream(dir / "traversal.journal", std::ios::binary) << bad;
  EXPECT_FALSE(journal::load(dir / "traversal.journal"));
  bad = good;
  bad[kTenantAt - 4] = '\x7f';  // 127 bytes of tenant: into the frame
  std::ofstream(dir / "long.journal", std::ios::binary) << bad;
  EXPECT_FALSE(journal::load(dir / "long.journal"));
  bad = good;
  bad[kTenantAt - 1] = '\x40';  // a length beyond the file
  std::ofstream(dir / "beyond.journal", std::ios::binary) << bad;
  EXPECT_FALSE(journal::load(dir / "beyond.journal"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::storage
