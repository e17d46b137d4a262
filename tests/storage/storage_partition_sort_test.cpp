// The partition key, sort_partition (one sort per batch) against an oracle of the version order,
// the row-order check of Store::write, and Store::write of a PartitionBatch against Store::write of
// a ReadingBatch.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <stdexcept>
#include <tuple>

#include "storage/part_reader.hpp"
#include "storage/partition.hpp"
#include "storage/partition_sort.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

constexpr epoch_seconds kMarch2005 = 1109599200;  // 2005-03-01T00:00+10:00
constexpr MonthKey kMarch = 2005 * 12 + 2;

// --- helpers ---------------------------------------------------------------------------------

// Every reading of `runs` in order, with every field.
std::string rows_csv(const ReadingBatch& batch, const std::vector<ReadingRun>& runs) {
  std::string out;
  for (const ReadingRun& run : runs)
    for (std::uint32_t k = 0; k < run.count; ++k) append_csv_row(out, batch.row(run, k));
  return out;
}

// One month of few streams and days, so that runs overlap and versions tie: full and partial
// days, mixed interval lengths, repeated versions and lines, runs of a reading per line, empty
// runs. Values are the readings' indices, or in one batch of two repeated few values (so that
// whole readings repeat too).
ReadingBatch random_month(std::mt19937& rng) {
  ReadingBatch b;
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const int runs = 1 + pick(40);
  const bool few_values = pick(2) == 0;
  for (int r = 0; r < runs; ++r) {
    const std::uint16_t minutes = std::array<std::uint16_t, 3>{30, 15, 5}[pick(3)];
    const int per_day = 24 * 60 / minutes;
    const int from = pick(3) == 0 ? pick(per_day) : 0;
    const int count = pick(20) == 0 ? 0 : 1 + pick(per_day - from);
    std::vector<double> values(static_cast<std::size_t>(count));
    std::iota(values.begin(), values.end(), static_cast<double>(b.values.size()));
    if (few_values)
      for (double& v : values) v = std::fmod(v, 3.0);
    const epoch_seconds day = kMarch2005 + 86400 * pick(3);
    ReadingRun& run = add_run(b, pick(2) ? "NMI2" : "NMI10", pick(2) ? "E1" : "B1",
                              day + from * minutes * 60, minutes, values);
    run.update_datetime = pick(4) == 0 ? kNoTime : 1110000000 + pick(2);
    run.file_created = 1100000000 + pick(2);
    run.file_sequence = 1 + static_cast<std::uint64_t>(pick(2));
    run.line = 1 + static_cast<std::uint32_t>(pick(4));
    run.line_step = pick(4) == 0 ? 1 : 0;
    run.quality = "AESF"[pick(4)];
  }
  return b;
}

// --- the partition key -----------------------------------------------------------------------

TEST(PartitionKey, MonthsOfNemTime) {
  EXPECT_EQ(month_of(kMarch2005), kMarch);
  EXPECT_EQ(month_of(kMarch2005 - 1), kMarch - 1);  // 2005-02-28T23:59:59+10:00
  EXPECT_EQ(month_start(kMarch), kMarch2005);
  EXPECT_EQ(partition_name(kMarch), "month=2005-03");
  EXPECT_EQ(partition_name(1999 * 12 + 11), "month=1999-12");
  for (MonthKey m = 1960 * 12; m < 2100 * 12; ++m) {
    ASSERT_EQ(month_of(month_start(m)), m);
    ASSERT_EQ(month_of(month_start(m) - 1), m - 1);
  }
}

// Moved here with the key from the batcher's tests (BatchAssemblerTest.MonthUsesNemTime).
TEST(PartitionKey, MonthUsesNemTime) {
  // 2024-01-31T14:00Z is 2024-02-01T00:00 NEM time.
  EXPECT_EQ(partition_name(month_of(1706709600)), "month=2024-02");
  EXPECT_EQ(partition_name(month_of(1706709599)), "month=2024-01");
}

// --- sort_partition --------------------------------------------------------------------------

// The oracle: every reading on its own, sorted by key and then by the version order (as the
// tests state it); readings equal in all of it are the same reading, so any order of them is
// the same text.
std::string oracle_rows(const ReadingBatch& batch) {
  std::vector<ReadingRow> rows;
  batch.for_each([&](const ReadingRow& r) { rows.push_back(r); });
  std::sort(rows.begin(), rows.end(), [](const ReadingRow& a, const ReadingRow& b) {
    return std::tuple_cat(std::make_tuple(a.nmi, a.suffix, a.interval_start), version_tuple(a)) <
           std::tuple_cat(std::make_tuple(b.nmi, b.suffix, b.interval_start), version_tuple(b));
  });
  std::string out;
  for (const auto& r : rows) append_csv_row(out, r);
  return out;
}

TEST(SortPartition, GivesRowOrderByKeyThenContentVersion) {
  std::mt19937 rng(20050301);
  int overlapping = 0, tied = 0;
  for (int round = 0; round < 2000; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const ReadingBatch input = random_month(rng);
    ReadingBatch new_input = input;
    const double* values_before = new_input.values.data();
    const PartitionBatch sorted = sort_partition(kMarch, std::move(new_input));

    ASSERT_EQ(rows_csv(sorted.batch, sorted.batch.runs), oracle_rows(input));
    EXPECT_EQ(sorted.month, kMarch);
    // Values stay where they were: runs index into them as they are.
    EXPECT_EQ(sorted.batch.values.data(), values_before);
    EXPECT_EQ(sorted.batch.values, input.values);
    const RowOrderCheck check = check_row_order(sorted);
    EXPECT_EQ(check.rows, input.readings());
    if (!sorted.may_have_duplicates) {
      EXPECT_FALSE(check.shared_key);
    }
    // The same readings in another order of runs sort the same.
    ReadingBatch reversed = input;
    std::reverse(reversed.runs.begin(), reversed.runs.end());
    const PartitionBatch again = sort_partition(kMarch, std::move(reversed));
    EXPECT_EQ(rows_csv(again.batch, again.batch.runs), rows_csv(sorted.batch, sorted.batch.runs));
    overlapping += sorted.may_have_duplicates;
    tied += check.shared_key;
  }
  // The rounds exercised what they are for.
  EXPECT_GT(overlapping, 500);
  EXPECT_GT(tied, 500);
}

TEST(SortPartition, ExactVersionTiesFollowLineThenContent) {
  ReadingBatch b;
  add_run(b, "NMI1", "E1", kMarch2005, 30, {1, 1}).line = 9;
  add_run(b, "NMI1", "E1", kMarch2005, 30, {2, 2}).line = 4;
  add_run(b, "NMI1", "E1", kMarch2005, 30, {3, 3}).line = 4;  // same line: after the one before
  add_run(b, "NMI0", "E1", kMarch2005, 30, {0});
  const PartitionBatch sorted = sort_partition(kMarch, std::move(b));
  EXPECT_TRUE(sorted.may_have_duplicates);
  std::vector<double> order;
  sorted.batch.for_each([&](const ReadingRow& row) { order.push_back(row.value); });
  EXPECT_EQ(order, (std::vector<double>{0, 2, 3, 1, 2, 3, 1}));
}

TEST(SortPartition, SortedInputKeepsItsRuns) {
  FixtureOptions o;
  o.days = 28;
  ReadingBatch b = make_batch(o);
  const PartitionBatch once = sort_partition(kMarch, std::move(b));
  EXPECT_FALSE(once.may_have_duplicates);
  EXPECT_EQ(once.batch.runs.size(), 3u * 2 * 28);  // not split into readings
  const std::string rows = rows_csv(once.batch, once.batch.runs);
  ReadingBatch copy = once.batch;
  const PartitionBatch twice = sort_partition(kMarch, std::move(copy));
  EXPECT_EQ(rows_csv(twice.batch, twice.batch.runs), rows);
}

TEST(SortPartition, RefusesRunsOutsideTheBatchOrTheMonth) {
  auto batch = [] {
    ReadingBatch b;
    add_run(b, "NMI1", "E1", kMarch2005 + 86400, 30, {1, 2, 3});
    add_run(b, "NMI1", "E1", kMarch2005, 30, {4});
    return b;
  };
  auto expect_refused = [&](const std::function<void(ReadingBatch&)>& spoil) {
    ReadingBatch b = batch();
    spoil(b);
    const ReadingBatch before = b;
    EXPECT_THROW(sort_partition(kMarch, std::move(b)), std::invalid_argument);
    // Left as it was.
    EXPECT_EQ(b.values, before.values);
    ASSERT_EQ(b.runs.size(), before.runs.size());
    for (std::size_t i = 0; i < b.runs.size(); ++i)
      EXPECT_EQ(std::tie(b.runs[i].first_value, b.runs[i].count, b.runs[i].first_start,
                         b.runs[i].meter_serial),
                std::tie(before.runs[i].first_value, before.runs[i].count,
                         before.runs[i].first_start, before.runs[i].meter_serial));
  };
  expect_refused([](ReadingBatch& b) { b.runs[1].first_value = 4; });
  expect_refused([](ReadingBatch& b) { b.runs[0].count = 5; });
  expect_refused([](ReadingBatch& b) { b.runs[1].meter_serial = 99; });
  expect_refused([](ReadingBatch& b) { b.runs[1].first_start = kMarch2005 - 1800; });
  expect_refused([](ReadingBatch& b) { b.runs[0].first_start = month_start(kMarch + 1); });
  // Its last reading is in April.
  expect_refused([](ReadingBatch& b) { b.runs[0].first_start = month_start(kMarch + 1) - 1800; });
  EXPECT_NO_THROW(sort_partition(kMarch, batch()));
  EXPECT_THROW(sort_partition(kMarch + 1, batch()), std::invalid_argument);
}

// --- the row-order check ---------------------------------------------------------------------

PartitionBatch sorted_fixture() {
  FixtureOptions o;
  o.days = 3;
  return sort_partition(kMarch, make_batch(o));
}

TEST(CheckRowOrder, AcceptsSortedAndRefusesEveryBreak) {
  const PartitionBatch good = sorted_fixture();
  EXPECT_EQ(check_row_order(good).rows, good.batch.readings());
  EXPECT_FALSE(check_row_order(good).shared_key);

  auto expect_refused = [&](const char* what, const std::function<void(PartitionBatch&)>& spoil) {
    SCOPED_TRACE(what);
    PartitionBatch p = good;
    spoil(p);
    EXPECT_THROW(check_row_order(p), std::invalid_argument);
  };
  auto& runs = good.batch.runs;
  ASSERT_GE(runs.size(), 7u);  // 3 nmis x {B1, E1} x 3 days
  ASSERT_EQ(runs[0].nmi, runs[3].nmi);
  ASSERT_NE(runs[0].suffix, runs[3].suffix);
  ASSERT_NE(runs[0].nmi, runs[6].nmi);
  expect_refused("days swapped",
                 [](PartitionBatch& p) { std::swap(p.batch.runs[0], p.batch.runs[1]); });
  expect_refused("suffixes swapped",
                 [](PartitionBatch& p) { std::swap(p.batch.runs[2], p.batch.runs[3]); });
  expect_refused("nmis swapped",
                 [](PartitionBatch& p) { std::swap(p.batch.runs[5], p.batch.runs[6]); });
  expect_refused("runs overlap", [](PartitionBatch& p) {
    p.batch.runs[1].first_start = p.batch.runs[0].interval_start(p.batch.runs[0].count - 2);
  });
  expect_refused("older version after newer at one start", [](PartitionBatch& p) {
    p.batch.runs[1].first_start = p.batch.runs[0].interval_start(p.batch.runs[0].count - 1);
    p.batch.runs[1].update_datetime = p.batch.runs[0].update_datetime - 1;
  });
  expect_refused("outside the values", [](PartitionBatch& p) {
    p.batch.runs.back().first_value = static_cast<std::uint32_t>(p.batch.values.size());
  });
  expect_refused("outside the strings", [](PartitionBatch& p) { p.batch.runs[4].uom = 1000; });
  expect_refused("another month", [](PartitionBatch& p) { p.month += 1; });

  // A newer version at the same start is in order: a shared key, not a break.
  PartitionBatch versions = good;
  auto& second = versions.batch.runs[1];
  second.first_start = versions.batch.runs[0].interval_start(versions.batch.runs[0].count - 1);
  second.update_datetime = versions.batch.runs[0].update_datetime + 1;
  EXPECT_TRUE(check_row_order(versions).shared_key);
}

// --- Store::write(PartitionBatch) ------------------------------------------------------------

// Every row of every part as stored (duplicates included), without the ingest time.
std::string stored_rows(const Store& store) {
  std::string out;
  for (const PartInfo& info : store.parts()) {
    out += info.partition + "\n";
    PartReader part(info.path);
    DecodedRowGroup rg;
    for (std::size_t g = 0; g < part.row_groups().size(); ++g) {
      part.read(g, rg);
      for (std::size_t r = 0; r < rg.rows; ++r) {
        for (int c = 0; c < kColumnCount; ++c) {
          if (c == kIngestTime) continue;
          if (c == kValue)
            out += std::to_string(std::bit_cast<std::uint64_t>(rg.value[r]));
          else if (kColumns[c].kind == Kind::kString)
            out += rg.str[c].dict[rg.str[c].idx[r]];
          else
            out += std::to_string(rg.num[c][r]);
          out += ',';
        }
        out += '\n';
      }
    }
  }
  return out;
}

class StoreWritePartitionTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = meterd::test::make_temp_dir("meterd-partition-write"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(StoreWritePartitionTest, ReadsBackAsStoreWriteOfTheBatch) {
  std::mt19937 rng(7);
  for (int round = 0; round < 15; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const ReadingBatch input = random_month(rng);
    if (input.empty()) continue;
    StoreOptions small_groups;
    small_groups.row_group_rows = 64;  // several row groups per part
    Store by_batch(dir_ / ("b" + std::to_string(round)), small_groups);
    Store by_partition(dir_ / ("p" + std::to_string(round)), small_groups);
    const std::vector<PartInfo> a = by_batch.write(input);
    const PartInfo b = by_partition.write(sort_partition(kMarch, ReadingBatch(input)));
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(b.partition, a[0].partition);
    EXPECT_EQ(b.rows, a[0].rows);
    EXPECT_EQ(b.min_start, a[0].min_start);
    EXPECT_EQ(b.max_start, a[0].max_start);
    EXPECT_EQ(b.path.filename(), a[0].path.filename());
    EXPECT_TRUE(std::filesystem::exists(b.path));
    EXPECT_EQ(stored_rows(by_partition), stored_rows(by_batch));
    EXPECT_EQ(query_csv(by_partition), query_csv(by_batch));
    // The duplicate flag went to the manifest alike: compaction treats both parts the same.
    EXPECT_EQ(by_partition.compact(), by_batch.compact());
    EXPECT_EQ(stored_rows(by_partition), stored_rows(by_batch));
  }
}

TEST_F(StoreWritePartitionTest, RefusesUnsortedRunsAndWritesNothing) {
  Store store(dir_);
  PartitionBatch p = sorted_fixture();
  std::swap(p.batch.runs[0], p.batch.runs[1]);
  EXPECT_THROW(store.write(p), std::invalid_argument);
  EXPECT_TRUE(store.parts().empty());
  EXPECT_TRUE(scan_readings(dir_).parquet.empty());
  EXPECT_TRUE(scan_readings(dir_).temporaries.empty());
}

TEST_F(StoreWritePartitionTest, LastOfExactVersionTiesIsServed) {
  // One key, one version, three times: row order puts line 4 before line 9, and of the two
  // line-4 runs the later one last; a query serves the last.
  ReadingBatch b;
  add_run(b, "NMI1", "E1", kMarch2005, 30, {1}).line = 9;
  add_run(b, "NMI1", "E1", kMarch2005, 30, {2}).line = 4;
  add_run(b, "NMI1", "E1", kMarch2005, 30, {3}).line = 4;
  Store store(dir_);
  const PartInfo part = store.write(sort_partition(kMarch, ReadingBatch(b)));
  EXPECT_EQ(part.rows, 3u);
  std::vector<double> served;
  store.query({}, [&](const ReadingBatch& r) {
    served.insert(served.end(), r.values.begin(), r.values.end());
  });
  EXPECT_EQ(served, std::vector<double>{1});
  b.runs[0].line = 2;  // now line 4 (the second of the two: value 3) is last
  Store other(dir_ / "other");
  other.write(sort_partition(kMarch, std::move(b)));
  served.clear();
  other.query({}, [&](const ReadingBatch& r) {
    served.insert(served.end(), r.values.begin(), r.values.end());
  });
  EXPECT_EQ(served, std::vector<double>{3});
}

TEST_F(StoreWritePartitionTest, EmptyPartitionWritesNothing) {
  Store store(dir_);
  PartitionBatch empty;
  empty.month = kMarch;
  const PartInfo info = store.write(empty);
  EXPECT_EQ(info.rows, 0u);
  EXPECT_EQ(info.partition, "month=2005-03");
  EXPECT_TRUE(info.path.empty());
  EXPECT_TRUE(store.parts().empty());
}

}  // namespace
}  // namespace meterd::storage::test
