// Retention (storage/store_retention.cpp): month partitions older than their tenant keeps leave
// whole, in one manifest record, of every table; other tenants and newer months are untouched;
// a reader that opened the parts before the drop reads them to the end (the files stay for the
// grace); an archive holds the same bytes; recovery removes what a drop left behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "storage/partition.hpp"
#include "storage/partition_sort.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

namespace fs = std::filesystem;

constexpr MonthKey kJan2024 = 2024 * 12;
constexpr epoch_seconds kJan2024Start = 1704031200;  // 2024-01-01 00:00 NEM time

// A day of NMI1/E1 readings (48 of `value`) on the first day of month `month` for `tenant`.
PartitionBatch day_of(const std::string& tenant, MonthKey month, double value) {
  ReadingBatch b;
  const epoch_seconds start = month_start(month);
  ReadingRun& run = add_run(b, "NMI1", "E1", start, 30, std::vector<double>(48, value));
  run.quality = 'A';
  run.line = 2;
  run.update_datetime = start + 86400;
  run.file_created = start + 86400;
  run.file_sequence = 1;
  PartitionBatch p = sort_partition(month, std::move(b));
  p.tenant = tenant;
  return p;
}

// Readings per month of `tenant`.
std::map<MonthKey, std::size_t> months_of(const Store& store, const std::string& tenant) {
  QueryFilter f;
  f.tenant = tenant;
  std::map<MonthKey, std::size_t> out;
  store.query(f, [&](const ReadingBatch& b) {
    b.for_each([&](const ReadingRow& r) { ++out[month_of(r.interval_start)]; });
  });
  return out;
}

FileRecords register_read_in(const std::string& tenant, MonthKey month) {
  FileRecords records;
  records.tenant = tenant;
  records.file_sequence = 1;
  RegisterReadPeriod r;
  r.nmi = "NMI1";
  r.suffix = "E1";
  r.register_id = "01";
  r.meter_serial = "M1";
  r.current_read = "100";
  r.previous_read_datetime = month_start(month) + 86400;
  r.current_read_datetime = month_start(month) + 2 * 86400;
  r.update_datetime = r.current_read_datetime;
  r.file_created = r.current_read_datetime;
  r.uom = "kWh";
  r.line = 2;
  records.register_reads.push_back(r);
  return records;
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = meterd::test::make_temp_dir("meterd-retention");
    StoreOptions options;
    options.superseded_grace = std::chrono::hours(1);
    store_ = std::make_unique<Store>(dir_ / "data", options);
    for (MonthKey m = kJan2024; m < kJan2024 + 4; ++m)  // January to April
      for (const std::string tenant : {"a", "b", ""}) {
        store_->write(day_of(tenant, m, m - kJan2024 + 1));
        store_->write_records(register_read_in(tenant, m));
      }
  }
  void TearDown() override { fs::remove_all(dir_); }
  // a keeps 2 months, b forever, the default tenant 3.
  static std::uint32_t kept(std::string_view tenant) {
    return tenant == "a" ? 2 : tenant == "b" ? 0 : 3;
  }
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(RetentionTest, PlansOnlyMonthsPastTheirTenantsRetention) {
  static_assert(kJan2024Start > 0);
  EXPECT_EQ(month_start(kJan2024), kJan2024Start);
  const auto plan = store_->retention_plan(kept, kJan2024 + 3);  // now: April
  std::vector<std::string> planned;
  for (const auto& d : plan) planned.push_back(d.table + " " + d.partition);
  // a keeps March and April; the default tenant February to April; b everything.
  EXPECT_EQ(planned,
            (std::vector<std::string>{
                "readings month=2024-01", "readings tenant=a/month=2024-01",
                "readings tenant=a/month=2024-02", "register_reads month=2024-01",
                "register_reads tenant=a/month=2024-01", "register_reads tenant=a/month=2024-02"}));
  for (const auto& d : plan) {
    EXPECT_EQ(d.parts, 1u) << d.partition;
    EXPECT_EQ(d.rows, d.table == "readings" ? 48u : 1u) << d.partition;
  }
  // Planning changed nothing.
  EXPECT_EQ(months_of(*store_, "a").size(), 4u);
}

TEST_F(RetentionTest, DropsMonthsWholeAndLeavesEveryOtherTenantAndMonth) {
  // A reader opened before the drop: it has its parts, and goes on reading them.
  std::map<MonthKey, std::size_t> during;
  bool dropped_midway = false;
  QueryFilter f;
  f.tenant = "a";
  store_->query(f, [&](const ReadingBatch& b) {
    if (!dropped_midway) {
      for (const auto& planned : store_->retention_plan(kept, kJan2024 + 3))
        store_->drop_partition(planned);
      dropped_midway = true;
    }
    b.for_each([&](const ReadingRow& r) { ++during[month_of(r.interval_start)]; });
  });
  ASSERT_TRUE(dropped_midway);
  EXPECT_EQ(during.size(), 4u);  // the whole snapshot it started with
  EXPECT_EQ(months_of(*store_, "a"),
            (std::map<MonthKey, std::size_t>{{kJan2024 + 2, 48}, {kJan2024 + 3, 48}}));
  EXPECT_EQ(months_of(*store_, "b").size(), 4u);
  EXPECT_EQ(months_of(*store_, "").size(), 3u);
  std::size_t register_reads = 0;
  store_->query_register_reads(
      f, [&](const std::vector<RegisterReadPeriod>& reads) { register_reads += reads.size(); });
  EXPECT_EQ(register_reads, 2u);
  EXPECT_TRUE(store_->retention_plan(kept, kJan2024 + 3).empty());
  // The files stay for the grace, then recovery (a reopen) removes them.
  EXPECT_TRUE(fs::exists(dir_ / "data" / "readings" / "tenant=a" / "month=2024-01"));
  const auto before = std::distance(
      fs::directory_iterator(dir_ / "data" / "readings" / "tenant=a" / "month=2024-01"),
      fs::directory_iterator());
  EXPECT_EQ(before, 1);
  store_.reset();
  store_ = std::make_unique<Store>(dir_ / "data");
  EXPECT_GE(store_->recovery().orphans_removed, 3u);  // a's January and February, default's Jan
  EXPECT_EQ(std::distance(
                fs::directory_iterator(dir_ / "data" / "readings" / "tenant=a" / "month=2024-01"),
                fs::directory_iterator()),
            0);
  EXPECT_EQ(months_of(*store_, "a").size(), 2u);
  EXPECT_EQ(months_of(*store_, "b").size(), 4u);
}

TEST_F(RetentionTest, AnArchiveHoldsTheDroppedFilesWhole) {
  const auto archive = dir_ / "archive";
  std::map<std::string, std::uintmax_t> sizes;
  for (const PartInfo& p : store_->parts())
    if (p.partition == "tenant=a/month=2024-01") sizes[p.path.filename().string()] = p.bytes;
  ASSERT_EQ(sizes.size(), 1u);
  for (const auto& planned : store_->retention_plan(kept, kJan2024 + 3))
    if (planned.partition == "tenant=a/month=2024-01") store_->drop_partition(planned, archive);
  const auto dir = archive / "readings" / "tenant=a" / "month=2024-01";
  ASSERT_TRUE(fs::is_directory(dir));
  for (const auto& [name, bytes] : sizes) EXPECT_EQ(fs::file_size(dir / name), bytes);
  store_.reset();
  store_ = std::make_unique<Store>(dir_ / "data");  // recovery removes the original
  for (const auto& [name, bytes] : sizes) EXPECT_EQ(fs::file_size(dir / name), bytes);
  EXPECT_FALSE(months_of(*store_, "a").count(kJan2024));
}

}  // namespace
}  // namespace meterd::storage::test
