// Rollups over a real Store: definitions parsed or refused with their line; sums, peaks and
// completeness by hand on small data; a superseding version takes its old contribution back
// and a superseded maximum is recomputed; a rollup built after the fact (backfill) equals one
// kept up from the start; a changed definition starts over; a dropped month goes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "storage/partition_sort.hpp"
#include "storage/rollup_store.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

namespace fs = std::filesystem;

constexpr epoch_seconds kDay1 = 1109599200;   // 2005-03-01T00:00+10:00
constexpr epoch_seconds kApril = 1112277600;  // 2005-04-01T00:00+10:00

const char* kShipped =
    "daily_energy = sum by nmi,suffix,uom per day\n"
    "monthly_energy = sum by nmi,suffix,uom per month   # a comment\n"
    "monthly_peak_demand = peak by nmi,suffix,uom per month where suffix=E*\n"
    "daily_completeness = completeness by nmi,suffix per day\n";

std::vector<RecordRow> rows_of(const RollupStore& rollups, const std::string& name,
                               const std::string& tenant = "") {
  std::vector<RecordRow> out;
  QueryFilter f;
  f.tenant = tenant;
  rollups.query(name, f, [&](const std::vector<RecordRow>& rows) {
    out.insert(out.end(), rows.begin(), rows.end());
  });
  return out;
}

std::string text_of(const RollupStore& rollups, const std::string& name) {
  std::string out;
  const RollupDefinition& d = *rollups.definition(name);
  append_rollup_csv_header(out, d);
  for (const RecordRow& r : rows_of(rollups, name)) append_rollup_row(out, d, r, false);
  return out;
}

PartitionBatch partition_of(ReadingBatch batch, const std::string& tenant = "") {
  const MonthKey month = month_of(batch.runs.at(0).first_start);
  PartitionBatch p = sort_partition(month, std::move(batch));
  p.tenant = tenant;
  return p;
}

struct RollupFixture : ::testing::Test {
  void SetUp() override { dir = meterd::test::make_temp_dir("meterd-rollups"); }
  void TearDown() override {
    if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
  }
  fs::path dir;
};

TEST(RollupDefinitions, ShippedOnesParseAndBadOnesAreRefusedWithTheirLine) {
  const auto defs = parse_rollups(kShipped, "rollups.conf");
  ASSERT_EQ(defs.size(), 4u);
  EXPECT_EQ(defs[1].text, "sum by nmi,suffix,uom per month");
  EXPECT_EQ(defs[2].measure, RollupMeasure::peak);
  EXPECT_TRUE(defs[2].takes("E1", "KWH"));
  EXPECT_FALSE(defs[2].takes("B1", "KWH"));
  EXPECT_EQ(defs[3].measure, RollupMeasure::completeness);
  for (const char* bad :
       {"x = average by nmi per day", "x = sum by nmi per week", "x = sum by colour per day",
        "x = peak by uom per month", "X = sum by nmi per day",
        "x = sum by nmi per day where suffix=*E", "x = sum nmi per day",
        "x = sum by nmi per day\nx = max by nmi per day"}) {
    try {
      parse_rollups(std::string("# first line\n") + bad, "r.conf");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("r.conf:"), std::string::npos) << e.what();
    }
  }
}

TEST_F(RollupFixture, SumsPeaksAndCompletenessBySupersessionAndBackfill) {
  Store store(dir);
  RollupStore rollups(dir, parse_rollups(kShipped, "test"));
  // E1: 48 half-hours of day 1, value k; B1: the first 10 intervals of day 2, 1 each.
  std::vector<double> e1(48);
  for (int k = 0; k < 48; ++k) e1[static_cast<std::size_t>(k)] = k;
  ReadingBatch first;
  add_run(first, "NMI1", "E1", kDay1, 30, e1).update_datetime = 100;
  add_run(first, "NMI1", "B1", kDay1 + 86400, 30, std::vector<double>(10, 1.0)).quality = 'E';
  store.write(partition_of(std::move(first)));
  EXPECT_EQ(rollups.behind(store).size(), 1u);
  rollups.catch_up(store);
  EXPECT_TRUE(rollups.behind(store).empty());

  auto daily = rows_of(rollups, "daily_energy");
  ASSERT_EQ(daily.size(), 2u);  // (NMI1, B1, day 2), (NMI1, E1, day 1): key order
  EXPECT_EQ(daily[0].at(kRuSuffix).s, "B1");
  EXPECT_DOUBLE_EQ(daily[0].at(kRuValue).d, 10.0);
  EXPECT_EQ(daily[1].at(kRuPeriodStart).i, kDay1);
  EXPECT_DOUBLE_EQ(daily[1].at(kRuValue).d, 47.0 * 48 / 2);
  EXPECT_EQ(daily[1].at(kRuReadings).i, 48);
  auto peak = rows_of(rollups, "monthly_peak_demand");
  ASSERT_EQ(peak.size(), 1u);  // E* only
  EXPECT_DOUBLE_EQ(peak[0].at(kRuValue).d, 47.0);
  EXPECT_EQ(peak[0].at(kRuAt).i, kDay1 + 47 * 1800);
  auto complete = rows_of(rollups, "daily_completeness");
  ASSERT_EQ(complete.size(), 2u);
  EXPECT_DOUBLE_EQ(complete[0].at(kRuValue).d, 10.0 / 48);  // B1: 10 of 48, estimated
  EXPECT_DOUBLE_EQ(complete[0].at(kRuShareE).d, 10.0 / 48);
  EXPECT_DOUBLE_EQ(complete[0].at(kRuShareMissing).d, 38.0 / 48);
  EXPECT_DOUBLE_EQ(complete[1].at(kRuShareA).d, 1.0);

  // A newer version of the last E1 interval (the peak's holder) lowers it: the sum takes the
  // old 47 back and the peak moves to the next largest interval.
  ReadingBatch newer;
  add_run(newer, "NMI1", "E1", kDay1 + 47 * 1800, 30, {1.5}).update_datetime = 200;
  store.write(partition_of(std::move(newer)));
  ASSERT_EQ(rollups.behind(store).size(), 1u);
  const auto refreshed = rollups.catch_up(store);
  ASSERT_EQ(refreshed.size(), 1u);
  EXPECT_EQ(refreshed[0].readings, 58u);  // the winners only
  daily = rows_of(rollups, "daily_energy");
  EXPECT_DOUBLE_EQ(daily[1].at(kRuValue).d, 47.0 * 48 / 2 - 47 + 1.5);
  peak = rows_of(rollups, "monthly_peak_demand");
  EXPECT_DOUBLE_EQ(peak[0].at(kRuValue).d, 46.0);
  EXPECT_EQ(peak[0].at(kRuAt).i, kDay1 + 46 * 1800);
  // An older version sent again changes nothing.
  ReadingBatch older;
  add_run(older, "NMI1", "E1", kDay1 + 47 * 1800, 30, {99}).update_datetime = 50;
  store.write(partition_of(std::move(older)));
  rollups.catch_up(store);
  EXPECT_DOUBLE_EQ(rows_of(rollups, "monthly_peak_demand")[0].at(kRuValue).d, 46.0);

  // A second month, and a rollup store opened afresh on another directory's copy of the
  // same readings (a backfill) gives the same text as the one kept up all along.
  ReadingBatch april;
  add_run(april, "NMI2", "E1", kApril, 15, {1, 2, 3, 4});
  store.write(partition_of(std::move(april)));
  rollups.catch_up(store);
  const fs::path other = dir / "backfill";
  fs::create_directories(other);
  fs::copy(dir / "readings", other / "readings", fs::copy_options::recursive);
  fs::copy(dir / "manifest", other / "manifest", fs::copy_options::recursive);
  {
    Store copy(other);
    RollupStore backfilled(other, parse_rollups(kShipped, "test"));
    EXPECT_EQ(backfilled.behind(copy).size(), 2u);
    backfilled.catch_up(copy);
    for (const auto& d : rollups.definitions())
      EXPECT_EQ(text_of(backfilled, d.name), text_of(rollups, d.name)) << d.name;
  }
  auto monthly = rows_of(rollups, "monthly_energy");
  ASSERT_EQ(monthly.size(), 3u);
  EXPECT_EQ(monthly[2].at(kRuNmi).s, "NMI2");
  EXPECT_EQ(monthly[2].at(kRuPeriodStart).i, kApril);
  EXPECT_DOUBLE_EQ(monthly[2].at(kRuValue).d, 10.0);
  // 15-minute data: 96 intervals expected a day.
  EXPECT_EQ(rows_of(rollups, "daily_completeness").back().at(kRuExpected).i, 96);
  // The read-only view of one rollup, its definition from its own directory.
  auto view = RollupStore::open(dir, "monthly_energy");
  EXPECT_EQ(text_of(*view, "monthly_energy"), text_of(rollups, "monthly_energy"));
  EXPECT_THROW(RollupStore::open(dir, "no_such"), std::invalid_argument);
}

TEST_F(RollupFixture, AChangedDefinitionStartsOverAndADroppedMonthGoes) {
  Store store(dir);
  ReadingBatch b;
  add_run(b, "NMI1", "E1", kDay1, 30, {1, 2, 3});
  store.write(partition_of(std::move(b), "a"));
  {
    RollupStore rollups(dir, parse_rollups("r = sum by nmi per month", "t"));
    rollups.catch_up(store);
    ASSERT_EQ(rows_of(rollups, "r", "a").size(), 1u);
    EXPECT_TRUE(rows_of(rollups, "r").empty());  // the default tenant has none
    EXPECT_TRUE(fs::exists(dir / "rollups" / "r" / "tenant=a" / "month=2005-03"));
  }
  {
    RollupStore rollups(dir, parse_rollups("r = max by nmi per month", "t"));
    EXPECT_TRUE(rows_of(rollups, "r", "a").empty());  // sums are not maxima: gone
    EXPECT_EQ(rollups.behind(store).size(), 1u);
    rollups.catch_up(store);
    EXPECT_DOUBLE_EQ(rows_of(rollups, "r", "a").at(0).at(kRuValue).d, 3.0);
    const auto plan = store.retention_plan([](std::string_view) { return 1u; }, month_of(kApril));
    ASSERT_EQ(plan.size(), 1u);
    store.drop_partition(plan[0]);
    EXPECT_EQ(rollups.behind(store).size(), 1u);
    rollups.catch_up(store);
    EXPECT_TRUE(rows_of(rollups, "r", "a").empty());
    EXPECT_TRUE(rollups.behind(store).empty());
  }
}

}  // namespace
}  // namespace meterd::storage::test
