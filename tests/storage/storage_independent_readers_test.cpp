// Every file shape our writer produces must be accepted by two independent readers (DuckDB
// and hyparquet, pinned in tests/parquet, installed by scripts/install-test-deps.sh) with
// equal checksums and the intended types. A file either reader rejects fails the test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "protocol/nem12_reader.hpp"
#include "storage/part_writer.hpp"
#include "storage/partition_sort.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

std::filesystem::path readers_dir() {
  return meterd::test::source_dir() / "tests" / "parquet";
}

// Skips (or fails under CI=true) when node or the npm dependencies are missing.
#define REQUIRE_NODE_READERS()                                                                  \
  if (!std::filesystem::exists(readers_dir() / "node_modules" / "hyparquet") ||                 \
      !std::filesystem::exists(readers_dir() / "node_modules" / "@duckdb" / "node-api") ||      \
      std::system("node --version > /dev/null 2>&1") != 0) {                                    \
    if (meterd::test::running_in_ci())                                                          \
      FAIL() << "tests/parquet/node_modules missing: run scripts/install-test-deps.sh";         \
    GTEST_SKIP() << "independent Parquet readers not installed (scripts/install-test-deps.sh)"; \
  }

std::string run(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  *status = ::pclose(p);
  return out;
}

// The value of `"name":` in the readers' JSON: a string (unquoted), digits, true or false; the
// first occurrence that holds one. (Plain string search: std::regex trips GCC 12's
// -Wmaybe-uninitialized inside libstdc++ under ASan.)
std::string field(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":";
  for (auto at = json.find(key); at != std::string::npos; at = json.find(key, at + 1)) {
    const auto value = at + key.size();
    if (value < json.size() && json[value] == '"') {
      const auto end = json.find('"', value + 1);
      if (end != std::string::npos) return json.substr(value + 1, end - value - 1);
      continue;
    }
    const auto digits = json.find_first_not_of("0123456789", value);
    if (digits != value) return json.substr(value, digits - value);
    for (const char* word : {"true", "false"})
      if (json.compare(value, std::strlen(word), word) == 0) return word;
  }
  return {};
}

// The number after `"name":` (digits, sign, point, exponent), or "" if there is none.
std::string number_field(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":";
  const auto at = json.find(key);
  if (at == std::string::npos) return {};
  const auto value = at + key.size();
  const auto end = json.find_first_not_of("-0123456789.e+", value);
  return json.substr(value, (end == std::string::npos ? json.size() : end) - value);
}

struct ReaderResult {
  int status = -1;
  std::string json;
};
ReaderResult read_with(const std::string& reader, const std::filesystem::path& file,
                       const std::string& sql = {}) {
  ReaderResult r;
  std::string cmd = "node '" + (readers_dir() / "read-part.mjs").string() + "' " + reader + " '" +
                    file.string() + "'";
  if (!sql.empty()) cmd += " \"" + sql + "\"";
  r.json = run(cmd + " 2>&1", &r.status);
  return r;
}

// Both readers accept the file, see `rows` rows and decode the same values.
void expect_read_alike(const std::filesystem::path& file, std::uint64_t rows, std::string* types);

void expect_accepted(const std::filesystem::path& file, std::uint64_t rows) {
  std::string types;
  expect_read_alike(file, rows, &types);
  for (const char* t :
       {"nmi:VARCHAR", "suffix:VARCHAR", "quality:VARCHAR", "reason_description:VARCHAR",
        "interval_start:TIMESTAMP WITH TIME ZONE", "value:DOUBLE", "method:INTEGER",
        "file_sequence:BIGINT", "ingest_time:TIMESTAMP WITH TIME ZONE"})
    EXPECT_NE(types.find(t), std::string::npos) << t << " not in " << types;
}

void expect_read_alike(const std::filesystem::path& file, std::uint64_t rows, std::string* types) {
  const ReaderResult duck = read_with("duckdb", file);
  const ReaderResult hyp = read_with("hyparquet", file);
  ASSERT_EQ(duck.status, 0) << duck.json;
  ASSERT_EQ(hyp.status, 0) << hyp.json;
  EXPECT_EQ(field(duck.json, "ok"), "true") << duck.json;
  EXPECT_EQ(field(hyp.json, "ok"), "true") << hyp.json;
  EXPECT_EQ(field(duck.json, "rows"), std::to_string(rows));
  EXPECT_EQ(field(hyp.json, "rows"), std::to_string(rows));
  EXPECT_FALSE(field(duck.json, "checksum").empty());
  EXPECT_EQ(field(duck.json, "checksum"), field(hyp.json, "checksum"))
      << "readers decoded different values of " << file;
  *types = field(duck.json, "types");
}

class IndependentReaders : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = meterd::test::make_temp_dir("meterd-pqcheck"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& name, ReadingBatch b, PartWriterOptions o = {}) {
    std::sort(b.runs.begin(), b.runs.end(), [&](const ReadingRun& x, const ReadingRun& y) {
      return std::make_tuple(b.strings[x.nmi], b.strings[x.suffix], x.first_start) <
             std::make_tuple(b.strings[y.nmi], b.strings[y.suffix], y.first_start);
    });
    const auto path = dir_ / name;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    PartWriter w(fd, o);
    w.add(b, 1700000000000000);
    rows_ = w.finish().rows;
    ::close(fd);
    return path;
  }
  std::filesystem::path dir_;
  std::uint64_t rows_ = 0;
};

TEST_F(IndependentReaders, AcceptTypicalPart) {
  REQUIRE_NODE_READERS();
  FixtureOptions o;
  o.nmis = 5, o.days = 10;
  const auto path = write("typical.parquet", make_batch(o));
  expect_accepted(path, rows_);
  // Values, not just checksums: DuckDB's view of a few facts we know.
  const auto r =
      read_with("duckdb", path,
                "SELECT count(*)::INT AS n, count(method)::INT AS m, "
                "count(DISTINCT nmi)::INT AS k, min(epoch(interval_start))::BIGINT AS t0 "
                "FROM t");
  ASSERT_EQ(r.status, 0) << r.json;
  EXPECT_NE(r.json.find("\"n\":" + std::to_string(rows_)), std::string::npos) << r.json;
  EXPECT_NE(r.json.find("\"k\":5"), std::string::npos) << r.json;
  EXPECT_NE(r.json.find("\"t0\":\"1109599200\""), std::string::npos) << r.json;
}

TEST_F(IndependentReaders, AcceptManyRowGroupsAndPlainValues) {
  REQUIRE_NODE_READERS();
  ReadingBatch b;
  std::vector<double> values(70000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i) / 7.0;
  add_run(b, "NMI1", "E1", 1109599200, 5, values);
  add_run(b, "NMI2", "B1", 1109599200, 30, {0.5, -0.0, 1e300});
  PartWriterOptions o;
  o.row_group_rows = 25000, o.page_rows = 6000;
  const auto path = write("plain.parquet", b, o);
  expect_accepted(path, rows_);
}

TEST_F(IndependentReaders, AcceptLargeValueDictionary) {
  REQUIRE_NODE_READERS();
  ReadingBatch b;
  std::vector<double> values(120000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i % 30011) / 100;
  add_run(b, "NMI1", "E1", 1109599200, 5, values);
  const auto path = write("bigdict.parquet", b);
  expect_accepted(path, rows_);
}

TEST_F(IndependentReaders, AcceptTinyAndAllNullParts) {
  REQUIRE_NODE_READERS();
  ReadingBatch b;
  add_run(b, "NMI1", "", 1109599200, 30, {42});
  const auto path = write("one.parquet", b);
  expect_accepted(path, 1);
}

// The DuckDB view documented in docs/storage.md must give what `meterd query` gives, before
// compaction (duplicates across parts) and after it.
TEST_F(IndependentReaders, DuckDbNewestVersionViewMatchesMeterdQuery) {
  REQUIRE_NODE_READERS();
  Model model;
  Store store(dir_ / "data");
  // Batch 3 ties batch 1, the newest, in update_datetime, file_created and line: the rest of
  // the reading decides, in meterd and in the SQL alike. It arrives first.
  for (int f : {3, 0, 1, 2}) {
    FixtureOptions o;
    o.days = 35, o.seed = 20 + f, o.file_sequence = 10 + f;
    o.update_datetime = f == 1 || f == 3 ? 1120000000 : 1110000000;
    o.file_created = 1109000000 + (f == 3 ? 1 : f);
    o.lines_per_reading = f == 1 || f == 3;  // the winners: the line column per row
    const ReadingBatch b = make_batch(o);
    model.add(b);
    store.write(b);
  }
  // Newest version per key, the same order as meterd; NULL update/created sort lowest.
  const std::string sql =
      "SELECT count(*)::BIGINT AS n, sum(value)::DOUBLE AS s, "
      "sum(epoch(interval_start) * (1 + line))::BIGINT AS k FROM ("
      "SELECT *, row_number() OVER (PARTITION BY nmi, suffix, interval_start ORDER BY "
      "update_datetime DESC NULLS LAST, file_created DESC NULLS LAST, line DESC, value DESC, "
      "quality DESC, method DESC NULLS LAST, reason_code DESC NULLS LAST, interval_minutes DESC, "
      "uom DESC, reason_description DESC, register_id DESC, meter_serial DESC, "
      "msats_load_datetime DESC NULLS LAST) AS rn "
      "FROM t) WHERE rn = 1";
  std::uint64_t n = 0;
  double sum = 0;
  long long k = 0;
  store.query({}, [&](const ReadingBatch& b) {
    b.for_each([&](const ReadingRow& r) {
      ++n, sum += r.value, k += r.interval_start * (1 + static_cast<long long>(r.line));
    });
  });
  EXPECT_EQ(n, model.size());
  for (int pass = 0; pass < 2; ++pass) {
    // Parts as Store writes them (pass 0) and as compaction rewrites them (pass 1).
    for (const auto& part : store.parts()) expect_accepted(part.path, part.rows);
    const auto r = read_with("duckdb", dir_ / "data" / "readings" / "*" / "*.parquet", sql);
    ASSERT_EQ(r.status, 0) << r.json;
    EXPECT_NE(r.json.find("\"n\":\"" + std::to_string(n) + "\""), std::string::npos) << r.json;
    EXPECT_NE(r.json.find("\"k\":\"" + std::to_string(k) + "\""), std::string::npos) << r.json;
    const std::string s = number_field(r.json, "s");
    ASSERT_FALSE(s.empty()) << r.json;
    EXPECT_NEAR(std::stod(s), sum, 1e-6 * std::abs(sum));
    store.compact();
  }
}

// A tenant's partitions are hive partitions (readings/tenant=NAME/month=YYYY-MM): DuckDB reads
// tenant and month from the path and sees each tenant's rows under its own name only, and the
// default tenant's readings/month=YYYY-MM as before.
TEST_F(IndependentReaders, DuckDbReadsTenantPartitionsAsHivePartitions) {
  REQUIRE_NODE_READERS();
  Store store(dir_ / "data");
  std::string expected;  // the query's rows as JSON, in tenant order ("default" first)
  int nmis = 0;
  for (const std::string tenant : {"", "net-1", "retailer_a"}) {
    FixtureOptions o;
    o.nmis = ++nmis, o.seed = 40 + nmis;  // three sizes: a mix-up shows in the counts
    PartitionBatch partition = sort_partition(2005 * 12 + 2, make_batch(o));
    partition.tenant = tenant;
    const PartInfo part = store.write(partition);
    expect_accepted(part.path, part.rows);
    QueryFilter f;
    f.tenant = tenant;
    long long n = 0, k = 0;
    store.query(f, [&](const ReadingBatch& b) {
      b.for_each([&](const ReadingRow& r) { ++n, k += std::llround(r.value * 1000); });
    });
    expected += std::string(expected.empty() ? "" : ",") + "{\"tenant\":\"" +
                (tenant.empty() ? std::string("default") : tenant) +
                "\",\"month\":\"2005-03\",\"n\":\"" + std::to_string(n) + "\",\"k\":\"" +
                std::to_string(k) + "\"}";
  }
  const auto readings = dir_ / "data" / "readings";
  const std::string tenants = (readings / "tenant=*" / "month=*" / "*.parquet").string();
  const std::string sql =
      "SELECT tenant, month::VARCHAR AS month, count(*)::BIGINT AS n, "
      "sum(round(value * 1000))::BIGINT AS k FROM ("
      "SELECT 'default' AS tenant, month, value FROM read_parquet('" +
      (readings / "month=*" / "*.parquet").string() +
      "', hive_partitioning = true) UNION ALL "
      "SELECT tenant, month, value FROM read_parquet('" +
      tenants + "', hive_partitioning = true)) GROUP BY ALL ORDER BY tenant";
  const auto r = read_with("duckdb", tenants, sql);
  ASSERT_EQ(r.status, 0) << r.json;
  EXPECT_NE(r.json.find(expected), std::string::npos) << expected << "\n" << r.json;
}

// The record tables' parts, from the real NEM13 and 500-bearing samples, before and after
// compaction: both readers decode the same values, and DuckDB's own pick of each key's winner
// (the version order in SQL, docs/storage.md) counts what meterd's query returns.
TEST_F(IndependentReaders, AcceptRecordTablePartsAndAgreeOnTheWinners) {
  REQUIRE_NODE_READERS();
  METERD_REQUIRE_SHARED(shared);
  struct Collect final : ReadingSink {
    void on_readings(ReadingBatch&) override {}
    void on_register_reads(std::vector<RegisterReadPeriod>& r) override {
      for (auto& x : r) records.register_reads.push_back(std::move(x));
    }
    void on_b2b_events(std::vector<B2BEvent>& e) override {
      for (auto& x : e) records.b2b_events.push_back(std::move(x));
    }
    FileRecords records;
  };
  Store store(dir_ / "data");
  std::uint64_t sequence = 0;
  for (const char* name :
       {"nem13_forward_estimate_250_550.csv", "nem13_meter_change_550_kW_demand.csv",
        "nem13_multi_nmi_excel_padded.csv", "spanmdp_real_365d_500_bursts.csv",
        "err_blank_intervaldate_excel_padded.csv",
        "embedded_network_10_meters_500_after_each_300.csv"}) {
    Collect sink;
    Nem12Reader reader(ReaderOptions{}, sink);
    reader.feed(meterd::test::read_file(shared / "data/nem12/samples" / name));
    reader.finish();
    sink.records.file_sequence = ++sequence;
    store.write_records(sink.records);
  }
  std::size_t reads = 0, events = 0;
  store.query_register_reads({}, [&](const auto& r) { reads += r.size(); });
  store.query_b2b_events({}, [&](const auto& e) { events += e.size(); });
  ASSERT_GT(reads, 10u);
  ASSERT_GT(events, 500u);
  const std::string winners[] = {
      "SELECT count(*) n FROM (SELECT row_number() OVER (PARTITION BY nmi, suffix, register_id, "
      "meter_serial, current_read_datetime ORDER BY update_datetime DESC NULLS LAST, "
      "file_created DESC NULLS LAST, line DESC) AS rn FROM t) WHERE rn = 1",
      "SELECT count(*) n FROM (SELECT row_number() OVER (PARTITION BY nmi, suffix, "
      "interval_date, trans_code, ret_service_order, read_datetime ORDER BY file_created DESC "
      "NULLS LAST, line DESC, index_read DESC) AS rn FROM t) WHERE rn = 1"};
  for (int pass = 0; pass < 2; ++pass) {
    std::string types;
    for (const auto& part : store.record_parts()) expect_read_alike(part.path, part.rows, &types);
    for (int table = 0; table < 2; ++table) {
      const char* dir = table == 0 ? "register_reads" : "b2b_events";
      const auto r = read_with("duckdb", dir_ / "data" / dir / "*" / "*.parquet", winners[table]);
      ASSERT_EQ(r.status, 0) << r.json;
      const std::string n = std::to_string(table == 0 ? reads : events);
      EXPECT_NE(r.json.find("\"n\":\"" + n + "\""), std::string::npos) << dir << ": " << r.json;
    }
    store.compact();
  }
}

}  // namespace
}  // namespace meterd::storage::test
