// Tenant partitions: every tenant's readings and records live in partitions of their own
// (readings/tenant=NAME/month=YYYY-MM, the default tenant keeps readings/month=YYYY-MM), so one
// stream written for several tenants stays that many streams through queries, versions,
// conflict checks, compaction and crash recovery.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/ledger.hpp"
#include "storage/partition.hpp"
#include "storage/partition_sort.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

struct InjectedCrash {};

constexpr epoch_seconds kMarch2005 = 1109599200;  // 2005-03-01T00:00+10:00
constexpr MonthKey kMarch = 2005 * 12 + 2;
constexpr epoch_seconds kUpdated = 1110000000, kCreated = 1109900000;

// Two readings of NMI1/E1 from kMarch2005 (`value`, `value` + 0.5) in `tenant`'s partition.
PartitionBatch readings_of(const std::string& tenant, double value,
                           epoch_seconds updated = kUpdated, std::uint64_t file_sequence = 1) {
  ReadingBatch b;
  ReadingRun& run = add_run(b, "NMI1", "E1", kMarch2005, 30, {value, value + 0.5});
  run.quality = 'A';
  run.line = 3;
  run.update_datetime = updated;
  run.file_created = kCreated;
  run.file_sequence = file_sequence;
  PartitionBatch partition = sort_partition(kMarch, std::move(b));
  partition.tenant = tenant;
  return partition;
}

std::vector<double> values_of(const Store& store, const std::string& tenant) {
  QueryFilter f;
  f.tenant = tenant;
  std::vector<double> out;
  store.query(f, [&](const ReadingBatch& b) {
    b.for_each([&](const ReadingRow& r) { out.push_back(r.value); });
  });
  return out;
}

std::vector<double> pair(double v) {
  return {v, v + 0.5};
}

std::set<std::string> partitions_of(const std::vector<PartInfo>& parts) {
  std::set<std::string> out;
  for (const PartInfo& p : parts) out.insert(p.partition);
  return out;
}

class TenantStore : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = meterd::test::make_temp_dir("meterd-tenant"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void expect_no_orphans(const Store& store) {
    const DirScan scan = scan_readings(store.data_dir());
    EXPECT_TRUE(scan.temporaries.empty()) << *scan.temporaries.begin();
    EXPECT_EQ(scan.parquet, manifest_paths(store));
  }
  std::filesystem::path dir_;
};

TEST(TenantNames, OnlyDirectorySafeNamesAreTenants) {
  for (const std::string& bad :
       std::vector<std::string>{"", "..", ".", "a/b", "A", "-x", "_x", "a b", "a.b", "tenant=a",
                                std::string(33, 'a'), std::string("a\0b", 3)})
    EXPECT_FALSE(valid_tenant(bad)) << bad;
  for (const std::string& good :
       std::vector<std::string>{"retailer_a", "net-1", "0", "a", std::string(32, 'z')})
    EXPECT_TRUE(valid_tenant(good)) << good;
  EXPECT_NO_THROW(require_tenant(""));
  EXPECT_NO_THROW(require_tenant("net-1"));
  EXPECT_THROW(require_tenant(".."), std::invalid_argument);
}

TEST(TenantNames, PartitionNamesAndTheTenantTheyBelongTo) {
  EXPECT_EQ(partition_name("", kMarch), "month=2005-03");
  EXPECT_EQ(partition_name("", kMarch), partition_name(kMarch));
  EXPECT_EQ(partition_name("retailer_a", kMarch), "tenant=retailer_a/month=2005-03");
  EXPECT_EQ(tenant_of_partition("month=2005-03"), "");
  EXPECT_EQ(tenant_of_partition("tenant=retailer_a/month=2005-03"), "retailer_a");
  EXPECT_EQ(tenant_of_partition(partition_name("net-1", kMarch)), "net-1");
  // Names of neither form belong to no tenant, not to the default one.
  for (const char* odd : {"tenant=/month=2005-03", "tenant=a", "manifest", "", "x/month=2005-03"})
    EXPECT_EQ(tenant_of_partition(odd), "\x01") << odd;
  EXPECT_EQ(tenant_view_of_partition("tenant=a/month=2005-03"), "a");
  const std::string hash(64, 'f');
  EXPECT_EQ(ledger_key("", hash), hash);
  EXPECT_EQ(ledger_key("a", hash), "a:" + hash);
  EXPECT_NE(ledger_key("a", hash), ledger_key("b", hash));
}

TEST_F(TenantStore, OneStreamOfThreeTenantsStaysThreeStreams) {
  {
    Store store(dir_);
    EXPECT_EQ(store.write(readings_of("", 1.0)).partition, "month=2005-03");
    const PartInfo a = store.write(readings_of("a", 2.0));
    EXPECT_EQ(a.partition, "tenant=a/month=2005-03");
    EXPECT_EQ(a.path.parent_path(), dir_ / "readings" / "tenant=a" / "month=2005-03");
    EXPECT_TRUE(std::filesystem::is_regular_file(a.path));
    store.write(readings_of("b", 3.0));
    // The same key, version and source in all three: only the tenant tells them apart.
    EXPECT_EQ(values_of(store, ""), pair(1.0));
    EXPECT_EQ(values_of(store, "a"), pair(2.0));
    EXPECT_EQ(values_of(store, "b"), pair(3.0));
    EXPECT_TRUE(values_of(store, "c").empty());
    EXPECT_TRUE(values_of(store, "..").empty());
    EXPECT_TRUE(values_of(store, "\x01").empty());
    expect_no_orphans(store);
  }
  Store store(dir_);  // the layout is all a reopened store needs
  EXPECT_EQ(store.recovery().orphans_removed, 0u);
  EXPECT_EQ(
      partitions_of(store.parts()),
      (std::set<std::string>{"month=2005-03", "tenant=a/month=2005-03", "tenant=b/month=2005-03"}));
  EXPECT_EQ(values_of(store, "a"), pair(2.0));
  EXPECT_EQ(values_of(store, "b"), pair(3.0));
  // A ReadingBatch has no tenant: it is the default tenant's.
  ReadingBatch plain;
  add_run(plain, "NMI1", "E1", kMarch2005 + 3600, 30, {7.0});
  const auto parts = store.write(plain);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].partition, "month=2005-03");
  EXPECT_EQ(values_of(store, ""), (std::vector<double>{1.0, 1.5, 7.0}));
  EXPECT_EQ(values_of(store, "a"), pair(2.0));
}

TEST_F(TenantStore, ANewerVersionInOneTenantNeverSupersedesAnother) {
  Store store(dir_);
  store.write(readings_of("a", 2.0, kUpdated, 1));
  store.write(readings_of("b", 3.0, kUpdated + 1000, 2));
  store.write(readings_of("", 4.0, kUpdated + 2000, 3));
  EXPECT_EQ(values_of(store, "a"), pair(2.0));
  EXPECT_EQ(values_of(store, "b"), pair(3.0));
  store.write(readings_of("a", 5.0, kUpdated - 1000, 4));  // older: loses within a
  store.write(readings_of("b", 6.0, kUpdated + 3000, 5));  // newer: wins within b
  EXPECT_EQ(values_of(store, "a"), pair(2.0));
  EXPECT_EQ(values_of(store, "b"), pair(6.0));
  EXPECT_EQ(values_of(store, ""), pair(4.0));
  store.compact();
  EXPECT_EQ(values_of(store, "a"), pair(2.0));
  EXPECT_EQ(values_of(store, "b"), pair(6.0));
  EXPECT_EQ(values_of(store, ""), pair(4.0));
}

TEST_F(TenantStore, CompactionNeverMergesTwoTenantsParts) {
  StoreOptions o;
  o.superseded_grace = std::chrono::seconds(0);
  Store store(dir_, o);
  for (const std::string tenant : {"", "a", "b"}) {
    store.write(readings_of(tenant, tenant == "a" ? 10.0 : 20.0, kUpdated, 1));
    store.write(readings_of(tenant, tenant == "b" ? 30.0 : 40.0, kUpdated + 1, 2));
  }
  ASSERT_EQ(store.parts().size(), 6u);
  // A step merges within the partition it picked.
  const auto step = store.compact_step(2);
  ASSERT_TRUE(step);
  EXPECT_EQ(step->parts_in, 2u);
  EXPECT_EQ(step->parts_left, 1u);
  EXPECT_EQ(step->rows_out, 2u);
  EXPECT_EQ(store.parts().size(), 5u);
  EXPECT_EQ(partitions_of(store.parts()).size(), 3u);
  EXPECT_EQ(store.compact(), 2u);  // the other two partitions
  const auto parts = store.parts();
  ASSERT_EQ(parts.size(), 3u);
  for (const PartInfo& p : parts) {
    EXPECT_EQ(p.rows, 2u) << p.partition << ": another tenant's rows merged in";
    EXPECT_EQ(p.path.parent_path(), dir_ / "readings" / p.partition);
  }
  EXPECT_EQ(partitions_of(parts), (std::set<std::string>{"month=2005-03", "tenant=a/month=2005-03",
                                                         "tenant=b/month=2005-03"}));
  EXPECT_EQ(values_of(store, ""), pair(40.0));
  EXPECT_EQ(values_of(store, "a"), pair(40.0));
  EXPECT_EQ(values_of(store, "b"), pair(30.0));
  store.compact_step(2);  // removes what the first step superseded
  expect_no_orphans(store);
}

TEST_F(TenantStore, RecoveryCleansATenantsPartitionsAndKeepsRecordedParts) {
  std::filesystem::path recorded;
  {
    Store store(dir_);
    store.write(readings_of("", 1.0));
    recorded = store.write(readings_of("a", 2.0)).path;
  }
  const auto month = dir_ / "readings" / "tenant=a" / "month=2005-03";
  const auto orphan = month / "part-999999999999.parquet";
  const auto temporary = month / ".part-000000000099.parquet.tmp";
  std::filesystem::create_directories(dir_ / "readings" / "tenant=b" / "month=2005-04");
  const auto lone = dir_ / "readings" / "tenant=b" / "month=2005-04" / "part-999999999998.parquet";
  std::filesystem::copy_file(recorded, orphan);
  std::filesystem::copy_file(recorded, lone);
  std::ofstream(temporary) << "half a part";
  Store store(dir_);
  EXPECT_EQ(store.recovery().orphans_removed, 2u);
  EXPECT_EQ(store.recovery().temporaries_removed, 1u);
  EXPECT_EQ(store.recovery().corrupt_parts, 0u);
  EXPECT_FALSE(std::filesystem::exists(orphan));
  EXPECT_FALSE(std::filesystem::exists(lone));
  EXPECT_FALSE(std::filesystem::exists(temporary));
  EXPECT_TRUE(std::filesystem::exists(recorded));
  EXPECT_EQ(values_of(store, "a"), pair(2.0));
  EXPECT_EQ(values_of(store, ""), pair(1.0));
  EXPECT_TRUE(values_of(store, "b").empty());
  expect_no_orphans(store);
}

TEST_F(TenantStore, ACrashWritingIntoANewTenantLeavesAllOrNothing) {
  for (LifecycleStep step :
       {LifecycleStep::kTempWritten, LifecycleStep::kTempSynced, LifecycleStep::kRenamed,
        LifecycleStep::kDirSynced, LifecycleStep::kRecorded}) {
    SCOPED_TRACE(to_string(step));
    const auto d = dir_ / to_string(step);
    {
      Store store(d);
      store.write(readings_of("a", 2.0));
    }
    {
      StoreOptions o;
      o.fault_hook = [&](LifecycleStep s, const std::filesystem::path&) {
        if (s == step) throw InjectedCrash{};
      };
      Store store(d, o);
      EXPECT_THROW(store.write(readings_of("b", 3.0, kUpdated, 2)), InjectedCrash);
    }
    Store store(d);
    expect_no_orphans(store);
    EXPECT_EQ(values_of(store, "a"), pair(2.0));
    if (step == LifecycleStep::kRecorded)
      EXPECT_EQ(values_of(store, "b"), pair(3.0));
    else
      EXPECT_TRUE(values_of(store, "b").empty());
    store.write(readings_of("b", 3.0, kUpdated, 2));  // the replay
    EXPECT_EQ(values_of(store, "b"), pair(3.0));
    expect_no_orphans(store);
  }
}

TEST_F(TenantStore, ACorruptTenantPartIsQuarantinedUnderAFlatName) {
  std::filesystem::path victim;
  {
    Store store(dir_);
    victim = store.write(readings_of("a", 2.0)).path;
    store.write(readings_of("b", 3.0));
  }
  std::string bytes = meterd::test::read_file(victim);
  bytes[bytes.size() / 2] ^= 0x20;
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << bytes;
  Store store(dir_);
  EXPECT_EQ(store.recovery().corrupt_parts, 1u);
  EXPECT_FALSE(std::filesystem::exists(victim));
  const auto flat = dir_ / "quarantine" / ("tenant=a_month=2005-03_" + victim.filename().string());
  EXPECT_TRUE(std::filesystem::is_regular_file(flat)) << flat;
  EXPECT_TRUE(values_of(store, "a").empty());
  EXPECT_EQ(values_of(store, "b"), pair(3.0));
}

// Another tenant's reading of the same stream, version and file DateTime is another stream:
// never a conflict, and not even read.
TEST_F(TenantStore, ConflictsAreLookedForInTheBatchsTenantOnly) {
  Store store(dir_);
  store.write(readings_of("a", 1.0, kUpdated, 1));
  const auto other = store.conflicts_with_stored(readings_of("b", 5.0, kUpdated, 2));
  EXPECT_TRUE(other.conflicts.empty());
  EXPECT_EQ(other.row_groups_read, 0u);
  const auto same = store.conflicts_with_stored(readings_of("a", 5.0, kUpdated, 2));
  ASSERT_EQ(same.conflicts.size(), 1u);
  EXPECT_EQ(same.conflicts[0].intervals, 2u);
}

TEST_F(TenantStore, AnInvalidTenantIsRefusedAndWritesNothing) {
  Store store(dir_);
  for (const char* bad : {"../x", "A", "a/b", "-x"}) {
    EXPECT_THROW(store.write(readings_of(bad, 1.0)), std::invalid_argument) << bad;
    FileRecords records;
    records.tenant = bad;
    records.register_reads.emplace_back();
    EXPECT_THROW(store.write_records(records), std::invalid_argument) << bad;
  }
  EXPECT_TRUE(store.parts().empty());
  EXPECT_TRUE(store.record_parts().empty());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ / "readings"),
                          std::filesystem::directory_iterator()),
            0);
}

// --- record tables -------------------------------------------------------------------------

constexpr epoch_seconds kMarch2024 = 1709215200;  // 2024-03-01 00:00 NEM time

RegisterReadPeriod register_read(epoch_seconds updated, std::string read) {
  RegisterReadPeriod r;
  r.nmi = "NMI1001";
  r.suffix = "E1";
  r.register_id = "01";
  r.meter_serial = "M1";
  r.current_read = std::move(read);
  r.previous_read_datetime = kMarch2024 + 86400;
  r.current_read_datetime = kMarch2024 + 2 * 86400;
  r.update_datetime = updated;
  r.file_created = updated + 60;
  r.uom = "kWh";
  r.line = 2;
  return r;
}

B2BEvent b2b_event(std::string index_read) {
  B2BEvent e;
  e.nmi = "NMI1001";
  e.suffix = "E1";
  e.interval_date = kMarch2024 + 2 * 86400;
  e.trans_code = 'S';
  e.ret_service_order = "SO1";
  e.read_datetime = e.interval_date + 3600;
  e.index_read = std::move(index_read);
  e.file_created = kMarch2024;
  e.line = 3;
  return e;
}

FileRecords records_of(const std::string& tenant, const std::string& value,
                       epoch_seconds updated = kMarch2024, std::uint64_t file_sequence = 1) {
  FileRecords records;
  records.tenant = tenant;
  records.file_sequence = file_sequence;
  records.register_reads.push_back(register_read(updated, value));
  records.b2b_events.push_back(b2b_event(value));
  return records;
}

// "read/index" of every register read and B2B event of `tenant`.
std::vector<std::string> records_answer(const Store& store, const std::string& tenant) {
  QueryFilter f;
  f.tenant = tenant;
  std::vector<std::string> out;
  store.query_register_reads(f, [&](const std::vector<RegisterReadPeriod>& reads) {
    for (const auto& r : reads) out.push_back("read " + r.current_read);
  });
  store.query_b2b_events(f, [&](const std::vector<B2BEvent>& events) {
    for (const auto& e : events) out.push_back("event " + e.index_read);
  });
  return out;
}

std::vector<std::string> both(const std::string& value) {
  return {"read " + value, "event " + value};
}

TEST_F(TenantStore, RecordTablesAreTenantScoped) {
  Store store(dir_);
  store.write_records(records_of("", "000200"));
  store.write_records(records_of("a", "000300"));
  store.write_records(records_of("b", "000400", kMarch2024 + 7200, 2));  // newer, in b only
  EXPECT_EQ(records_answer(store, ""), both("000200"));
  EXPECT_EQ(records_answer(store, "a"), both("000300"));
  EXPECT_EQ(records_answer(store, "b"), both("000400"));
  EXPECT_TRUE(records_answer(store, "c").empty());
  std::set<std::string> dirs;
  for (const PartInfo& p : store.record_parts()) {
    dirs.insert(p.path.parent_path().lexically_relative(dir_).string());
    EXPECT_TRUE(std::filesystem::is_regular_file(p.path)) << p.path;
  }
  EXPECT_EQ(dirs, (std::set<std::string>{
                      "register_reads/month=2024-03", "register_reads/tenant=a/month=2024-03",
                      "register_reads/tenant=b/month=2024-03", "b2b_events/month=2024-03",
                      "b2b_events/tenant=a/month=2024-03", "b2b_events/tenant=b/month=2024-03"}));
  // A second, newer version in a, then compaction: one part per table and partition, and
  // each tenant keeps its own winner.
  store.write_records(records_of("a", "000350", kMarch2024 + 3600, 3));
  store.write_records(records_of("b", "000100", kMarch2024 - 3600, 4));  // older: loses in b
  EXPECT_EQ(store.record_parts().size(), 10u);
  EXPECT_EQ(store.compact(), 4u);  // a's and b's partitions of both tables
  EXPECT_EQ(store.record_parts().size(), 6u);
  EXPECT_EQ(records_answer(store, ""), both("000200"));
  EXPECT_EQ(records_answer(store, "a"), both("000350"));
  EXPECT_EQ(records_answer(store, "b"), both("000400"));
  for (const PartInfo& p : store.record_parts())
    EXPECT_EQ(p.rows, 1u) << p.path << ": another tenant's records merged in";
}

TEST_F(TenantStore, RecordTableRecoveryDescendsIntoTenantPartitions) {
  std::filesystem::path recorded;
  {
    Store store(dir_);
    store.write_records(records_of("a", "000300"));
    recorded = store.record_parts().front().path;
  }
  const auto month = dir_ / "register_reads" / "tenant=a" / "month=2024-03";
  ASSERT_EQ(recorded.parent_path(), month);
  std::filesystem::copy_file(recorded, month / "part-999999999999.parquet");
  std::ofstream(month / ".part-000000000099.parquet.tmp") << "half a part";
  Store store(dir_);
  EXPECT_EQ(store.recovery().orphans_removed, 1u);
  EXPECT_EQ(store.recovery().temporaries_removed, 1u);
  EXPECT_FALSE(std::filesystem::exists(month / "part-999999999999.parquet"));
  EXPECT_FALSE(std::filesystem::exists(month / ".part-000000000099.parquet.tmp"));
  EXPECT_TRUE(std::filesystem::exists(recorded));
  EXPECT_EQ(records_answer(store, "a"), both("000300"));
  EXPECT_TRUE(records_answer(store, "").empty());
}

}  // namespace
}  // namespace meterd::storage::test
