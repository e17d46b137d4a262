// Store::compact_step, the daemon's bounded background merge: it takes the smallest parts of
// the fullest partition, leaves a big compacted part alone, and never changes a query answer,
// also when newer and older versions of a key sit in merged and unmerged parts.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

class CompactStepTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = meterd::test::make_temp_dir("meterd-compact-step"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // One big part (all of March for three NMIs), then `small` one-NMI parts whose versions are
  // older or newer than the big part's: the answer mixes rows of both.
  static std::vector<ReadingBatch> batches(int small) {
    std::vector<ReadingBatch> out;
    FixtureOptions big;
    big.nmis = 3, big.days = 20, big.seed = 1, big.file_sequence = 1;
    big.update_datetime = 1110000000;
    out.push_back(make_batch(big));
    for (int f = 0; f < small; ++f) {
      FixtureOptions o;
      o.nmis = 1, o.days = 1 + f % 3, o.seed = 50 + f, o.file_sequence = 2 + f;
      o.update_datetime = 1110000000 + (f * 7919) % 13 - 6;  // around the big part's version
      o.file_created = 1109700000 + (f % 2) * 10;
      out.push_back(make_batch(o));
    }
    return out;
  }

  static std::set<std::string> part_paths(const Store& store) {
    std::set<std::string> out;
    for (const auto& p : store.parts()) out.insert(p.path.string());
    return out;
  }

  std::filesystem::path dir_;
};

TEST_F(CompactStepTest, MergesSmallestPartsUntilBelowThresholdWithTheSameAnswers) {
  Model model;
  Store store(dir_);
  std::string big_part;
  for (const auto& b : batches(12)) {
    model.add(b);
    const auto parts = store.write(b);
    ASSERT_EQ(parts.size(), 1u);
    if (big_part.empty()) big_part = parts[0].path.string();
  }
  ASSERT_EQ(store.parts().size(), 13u);
  const std::string before = query_csv(store);
  ASSERT_EQ(before, model.csv());

  const auto step = store.compact_step(8);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->partition, "month=2005-03");
  EXPECT_EQ(step->parts_in, 12u);  // every small part; the big one outweighs them all
  EXPECT_EQ(step->parts_left, 2u);
  EXPECT_LT(step->rows_out, step->rows_in);  // overlapping small parts lost old versions
  EXPECT_EQ(store.parts().size(), 2u);
  EXPECT_TRUE(part_paths(store).count(big_part)) << "the big part was rewritten";
  EXPECT_EQ(query_csv(store), before);

  EXPECT_FALSE(store.compact_step(8).has_value());  // 2 parts < 8
  const auto last = store.compact_step(2);          // now the two are merged
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->parts_in, 2u);
  EXPECT_EQ(store.parts().size(), 1u);
  EXPECT_EQ(store.parts()[0].rows, model.size());  // duplicate-free
  EXPECT_EQ(query_csv(store), before);
  EXPECT_FALSE(store.compact_step(1).has_value());  // a lone part is never merged by a step

  // The replaced files stay for readers that listed them (superseded_grace), then go.
  const DirScan scan = scan_readings(dir_);
  EXPECT_TRUE(scan.temporaries.empty());
  EXPECT_EQ(scan.parquet.size(), 13u + 1u + 1u);
  StoreOptions read_only;
  read_only.read_only = true;
  EXPECT_EQ(query_csv(Store(dir_, read_only)), before);
}

TEST_F(CompactStepTest, ReplacedFilesAreDeletedAfterTheGraceAndAtRecovery) {
  StoreOptions no_grace;
  no_grace.superseded_grace = std::chrono::seconds(0);
  {
    Store store(dir_, no_grace);
    for (const auto& b : batches(4)) store.write(b);
    ASSERT_TRUE(store.compact_step(2).has_value());
    EXPECT_GT(scan_readings(dir_).parquet.size(), store.parts().size());  // still there
    EXPECT_TRUE(store.compact_step(2).has_value());                       // deletes them
    EXPECT_FALSE(store.compact_step(2).has_value());
    EXPECT_EQ(scan_readings(dir_).parquet, manifest_paths(store));
  }
  {
    Store store(dir_);  // default grace: left on disk by the step...
    for (const auto& b : batches(3)) store.write(b);
    ASSERT_TRUE(store.compact_step(2).has_value());
    EXPECT_GT(scan_readings(dir_).parquet.size(), store.parts().size());
  }
  Store reopened(dir_);  // ...and removed as orphans at the next start
  EXPECT_GT(reopened.recovery().orphans_removed, 0u);
  EXPECT_EQ(scan_readings(dir_).parquet, manifest_paths(reopened));
}

TEST_F(CompactStepTest, StepIsBoundedByTheFanInAndPicksTheFullestPartition) {
  Model model;
  Store store(dir_);
  for (int f = 0; f < 40; ++f) {  // March: 40 small parts
    FixtureOptions o;
    o.nmis = 2, o.days = 1 + f % 3, o.seed = 100 + f, o.file_sequence = 1 + f;
    o.update_datetime = 1110000000 + (f * 7919) % 13;
    const ReadingBatch b = make_batch(o);
    model.add(b);
    store.write(b);
  }
  for (int f = 0; f < 3; ++f) {  // May: 3 parts
    FixtureOptions o;
    o.first_day = 1109599200 + 61 * 86400, o.nmis = 1, o.days = 2, o.seed = 7 + f;
    o.file_sequence = 100 + f;
    const ReadingBatch b = make_batch(o);
    model.add(b);
    store.write(b);
  }
  const std::string before = query_csv(store);
  ASSERT_EQ(before, model.csv());
  std::size_t steps = 0;
  while (auto step = store.compact_step(4)) {
    ++steps;
    EXPECT_LE(step->parts_in, 16u);
    EXPECT_GE(step->parts_in, 2u);
    EXPECT_EQ(query_csv(store), before) << "after step " << steps;
    ASSERT_LT(steps, 40u) << "no progress";
  }
  EXPECT_GE(steps, 3u);  // 40 parts need at least three merges of at most 16
  std::map<std::string, std::size_t> per_partition;
  for (const auto& p : store.parts()) ++per_partition[p.partition];
  for (const auto& [partition, n] : per_partition) EXPECT_LT(n, 4u) << partition;
  EXPECT_EQ(query_csv(store), model.csv());
}

}  // namespace
}  // namespace meterd::storage::test
