// Pure helpers of the actors layer: config loader, batch assembler.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "actors/batch_assembler.hpp"
#include "actors/config.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

ReadingBatch make_batch(
    std::initializer_list<std::tuple<const char*, const char*, epoch_seconds>> runs,
    std::uint32_t per_run = 3) {
  ReadingBatch b;
  for (auto [nmi, suffix, start] : runs) {
    ReadingRun r;
    r.nmi = b.strings.intern(nmi);
    r.suffix = b.strings.intern(suffix);
    r.uom = b.strings.intern("KWH");
    r.interval_minutes = 30;
    r.first_start = start;
    r.first_value = static_cast<std::uint32_t>(b.values.size());
    r.count = per_run;
    for (std::uint32_t k = 0; k < per_run; ++k) b.values.push_back(start / 1000.0 + k);
    b.runs.push_back(r);
  }
  return b;
}

// 2024-01-15 and 2024-02-15, NEM midnight (UTC 14:00 the day before).
constexpr epoch_seconds kJan = 1705240800, kFeb = 1707919200;

TEST(ConfigTest, ShippedConfigParsesDocumentsEveryKeyAndMatchesTheDefaults) {
  auto path = source_dir() / "conf" / "meterd.conf";
  auto text = read_file(path);
  for (const auto& key : actors::Config::keys())
    EXPECT_NE(text.find("\n" + key + " ="), std::string::npos) << key << " not in " << path;
  auto loaded = actors::Config::load(path);
  EXPECT_EQ(loaded.render(), actors::Config{}.render())
      << "conf/meterd.conf must show the defaults of actors/defaults.hpp";
}

TEST(ConfigTest, RejectsUnknownKeysAndBadValues) {
  EXPECT_THROW(actors::Config::parse("nope = 1\n", "t"), std::invalid_argument);
  EXPECT_THROW(actors::Config::parse("reader_window = -1\n", "t"), std::invalid_argument);
  EXPECT_THROW(actors::Config::parse("writer_window = 0\n", "t"), std::invalid_argument);
  EXPECT_THROW(actors::Config::parse("just words\n", "t"), std::invalid_argument);
  auto c = actors::Config::parse("# comment\n reader_window = 7  # trailing\nstrict = yes\n", "t");
  EXPECT_EQ(c.reader_window, 7u);
  EXPECT_TRUE(c.strict);
}

TEST(BatchAssemblerTest, SplitsByMonthSortsAndCountsShares) {
  actors::BatchAssembler a;
  auto b1 = make_batch({{"NMI2", "E1", kFeb}, {"NMI1", "E1", kJan}, {"NMI1", "B1", kFeb}});
  auto b2 = make_batch({{"NMI0", "E1", kJan}});
  a.add(7, b1);
  a.add(8, b2);
  EXPECT_TRUE(b1.empty());
  EXPECT_EQ(a.buffered_readings(), 12u);
  EXPECT_EQ(a.partitions(), 2u);
  auto sealed_jan = a.seal({"", storage::month_of(kJan)});
  const auto& jan = *sealed_jan.partition;
  EXPECT_EQ(storage::partition_name(jan.month), "month=2024-01");
  ASSERT_EQ(jan.batch.runs.size(), 2u);
  EXPECT_EQ(jan.batch.strings[jan.batch.runs[0].nmi], "NMI0");
  EXPECT_EQ(jan.batch.strings[jan.batch.runs[1].nmi], "NMI1");
  EXPECT_EQ(jan.batch.values[jan.batch.runs[0].first_value], kJan / 1000.0);
  std::set<std::pair<actors::StreamId, std::uint64_t>> shares;
  for (auto s : sealed_jan.shares) shares.insert({s.stream, s.readings});
  EXPECT_EQ(shares, (std::set<std::pair<actors::StreamId, std::uint64_t>>{{7, 3}, {8, 3}}));
  auto sealed_feb = a.seal({"", storage::month_of(kFeb)});
  const auto& feb = *sealed_feb.partition;
  ASSERT_EQ(feb.batch.runs.size(), 2u);
  EXPECT_EQ(feb.batch.strings[feb.batch.runs[0].nmi], "NMI1");
  EXPECT_EQ(feb.batch.strings[feb.batch.runs[0].suffix], "B1");
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.buffered_readings(), 0u);
}

}  // namespace
}  // namespace meterd::test
