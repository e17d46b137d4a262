// Tenants over the real HTTP API and spool of `meterd serve`: the same NMIs ingested by two
// tenants stay two streams in readings/tenant=X/; every way of reaching across (another tenant's
// name in the query, a role the token lacks, another tenant's ingest id, a NEM12 file addressed
// to another participant, a symbolic link or a file outside the tenants' folders in the spool)
// is refused, changes nothing of the other tenant's, and is in the audit trail.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "protocol/nem12_generator.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

std::string sha256_hex(const fs::path& dir, const std::string& text) {
  const auto out = dir / "hash.txt";
  run_to_file({"/bin/sh", "-c", "printf %s '" + text + "' | sha256sum | cut -c1-64"}, out,
              dir / "hash.log");
  return read_file(out).substr(0, 64);
}

std::vector<std::string> audit_records(const fs::path& scratch, const fs::path& data,
                                       const std::string& kind) {
  const auto out = scratch / "audit.out";
  run_to_file(
      {meterd_binary().string(), "audit", "show", "--data-dir", data.string(), "--kind", kind}, out,
      scratch / "audit.log");
  std::vector<std::string> lines;
  std::istringstream in(read_file(out));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::size_t line_count(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

struct Tenants : ::testing::Test {
  void SetUp() override {
    dir = make_temp_dir("meterd-tenants");
    daemon = std::make_unique<HttpDaemon>(dir / "central");
    auto bind = [&](const std::string& token, const std::string& binding) {
      return "sha256:" + sha256_hex(dir, token) + binding;
    };
    // The generator addresses its files to GENRETAIL: tenant a's participant id.
    daemon->settings = {"tenants=a:GENRETAIL, b:OTHERRET",
                        "http_tokens=" + bind("token-a", "@a/ingest+query") + "," +
                            bind("token-b", "@b/ingest+query") + "," +
                            bind("token-a-query", "@a/query") + "," +
                            bind("token-admin", "@*/admin")};
    ASSERT_TRUE(daemon->start()) << read_file(daemon->log);
  }
  void TearDown() override {
    if (daemon) {
      EXPECT_EQ(daemon->stop(), 0) << read_file(daemon->log);
    }
    if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
  }
  static std::vector<std::string> as(const std::string& token) {
    return {"Authorization: Bearer " + token};
  }
  std::string nem12(std::uint64_t seed) const {
    GeneratorOptions g;
    g.seed = seed;
    g.nmis = 3;
    g.days = 2;
    const auto path = dir / ("gen-" + std::to_string(seed) + ".csv");
    generate_nem12_file(g, path);
    return read_file(path);
  }
  std::string readings(const std::string& token) const {
    auto r = daemon->get("/v1/readings?format=csv", as(token));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  fs::path dir;
  std::unique_ptr<HttpDaemon> daemon;
};

TEST_F(Tenants, TheSameNmisInTwoTenantsStayTwoStreamsAndNothingReachesAcross) {
  const std::string file_a = nem12(1);
  // Tenant b's file: the same NMIs and intervals, other values (every one below 1 gets 9
  // added: ",0." is only ever a value), addressed to b.
  const std::string file_b = replaced(replaced(file_a, ",0.", ",9."), "GENRETAIL", "OTHERRET");
  auto posted = daemon->post("/v1/files", file_a, as("token-a"));
  ASSERT_EQ(posted.status, 200) << posted.body;
  const auto id_a_at = posted.body.find("\"id\":\"") + 6;
  const std::string id_a = posted.body.substr(id_a_at, 64);
  const std::string a_before = readings("token-a");
  ASSERT_GT(line_count(a_before), 100u);
  EXPECT_EQ(line_count(readings("token-b")), 1u);  // the header only: b has nothing yet

  ASSERT_EQ(daemon->post("/v1/files", file_b, as("token-b")).status, 200);
  const std::string b_rows = readings("token-b");
  EXPECT_EQ(line_count(b_rows), line_count(a_before));  // the same keys...
  EXPECT_NE(b_rows, a_before);                          // ...with b's values
  EXPECT_EQ(readings("token-a"), a_before);             // and a's unchanged
  EXPECT_TRUE(fs::is_directory(daemon->data / "readings" / "tenant=a"));
  EXPECT_TRUE(fs::is_directory(daemon->data / "readings" / "tenant=b"));
  EXPECT_FALSE(fs::exists(daemon->data / "readings" / "month=2024-01"));

  // Reaching across, each refused:
  // b's token naming tenant a, in the query string and in the header;
  EXPECT_EQ(daemon->get("/v1/readings?tenant=a", as("token-b")).status, 403);
  auto header = as("token-b");
  header.push_back("X-Meterd-Tenant: a");
  EXPECT_EQ(daemon->get("/v1/readings", header).status, 403);
  // a query-only token ingesting;
  EXPECT_EQ(daemon->post("/v1/files", file_a, as("token-a-query")).status, 403);
  // b sending a file addressed to a's participant (superseding a's readings, if taken);
  auto forged = daemon->post("/v1/files", nem12(3), as("token-b"));
  EXPECT_EQ(forged.status, 403) << forged.body;
  // b's NDJSON naming tenant a (its readings would be b's anyway: refused, not re-homed);
  const std::string line_b =
      "{\"tenant\":\"a\",\"nmi\":\"6356465786\",\"suffix\":\"E1\","
      "\"interval_start\":\"2024-01-01T00:00:00+10:00\",\"interval_minutes\":30,"
      "\"value\":1234.5,\"uom\":\"kWh\",\"quality\":\"A\"}\n";
  auto forged_line = daemon->post("/v1/readings", line_b, as("token-b"));
  EXPECT_EQ(forged_line.status, 422) << forged_line.body;
  EXPECT_NE(forged_line.body.find("names tenant 'a'"), std::string::npos) << forged_line.body;
  // b asking for a's ingest id;
  EXPECT_EQ(daemon->get("/v1/ingests/" + id_a, as("token-b")).status, 404);
  EXPECT_EQ(daemon->get("/v1/ingests/" + id_a, as("token-a")).status, 200);
  // an admin without a tenant, and with one it may act on.
  EXPECT_EQ(daemon->get("/v1/readings", as("token-admin")).status, 403);
  auto admin_a = daemon->get("/v1/readings?format=csv&tenant=a", as("token-admin"));
  EXPECT_EQ(admin_a.status, 200);
  EXPECT_EQ(admin_a.body, a_before);

  EXPECT_EQ(readings("token-a"), a_before);
  EXPECT_EQ(readings("token-b"), b_rows);
  // Rollups are the tenant's too: the same keys, each tenant's sums; b naming a is refused.
  std::string rollup_a, rollup_b;
  ASSERT_TRUE(wait_until(
      [&] {
        rollup_a = daemon->get("/v1/rollups/daily_energy?format=csv", as("token-a")).body;
        rollup_b = daemon->get("/v1/rollups/daily_energy?format=csv", as("token-b")).body;
        return line_count(rollup_a) > 1 && line_count(rollup_b) == line_count(rollup_a);
      },
      std::chrono::seconds(20)));
  EXPECT_NE(rollup_a, rollup_b);
  EXPECT_EQ(daemon->get("/v1/rollups/daily_energy?tenant=a", as("token-b")).status, 403);
  ASSERT_TRUE(wait_until([&] { return audit_records(dir, daemon->data, "refused").size() >= 7; },
                         std::chrono::seconds(10)));
  const auto refused = audit_records(dir, daemon->data, "refused");
  // The two 403s of b, the query token, admin, the NDJSON line, the lookup, the rollup.
  ASSERT_EQ(refused.size(), 7u);
  std::size_t status_403 = 0, status_404 = 0, status_422 = 0;
  for (const auto& r : refused) {
    status_403 += r.find("\"status\":403") != std::string::npos;
    status_404 += r.find("\"status\":404") != std::string::npos;
    status_422 += r.find("\"status\":422") != std::string::npos;
  }
  EXPECT_EQ(status_403, 5u);
  EXPECT_EQ(status_404, 1u);
  EXPECT_EQ(status_422, 1u);
  // The forged file is on record as an ingest refused as forbidden, of tenant b.
  bool forged_recorded = false;
  for (const auto& r : audit_records(dir, daemon->data, "ingest"))
    forged_recorded =
        forged_recorded || (r.find("\"refused\":\"forbidden\"") != std::string::npos &&
                            r.find("\"tenant\":\"b\"") != std::string::npos);
  EXPECT_TRUE(forged_recorded);
}

// The figure after `name{tenant="t"} ` in a metrics text; -1 when there is no such sample.
long long tenant_sample(const std::string& text, const std::string& name, const std::string& t) {
  const std::string key = "meterd_" + name + "{tenant=\"" + t + "\"} ";
  const auto at = text.find(key);
  return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + key.size());
}

TEST_F(Tenants, MetricsAreScopedToTheTokensTenant) {
  auto posted = daemon->post("/v1/files", nem12(1), as("token-a"));
  ASSERT_EQ(posted.status, 200) << posted.body;
  const long long readings_a =
      std::atoll(posted.body.c_str() + posted.body.find("\"readings\":") + 11);
  ASSERT_GT(readings_a, 0);
  ASSERT_EQ(
      daemon->post("/v1/files", replaced(nem12(2), "GENRETAIL", "OTHERRET"), as("token-b")).status,
      200);
  EXPECT_EQ(daemon->get("/v1/readings?tenant=a", as("token-b")).status, 403);
  ASSERT_EQ(daemon->get("/v1/readings", as("token-a-query")).status, 200);

  auto a = daemon->get("/metrics", as("token-a-query"));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(tenant_sample(a.body, "tenant_files_durable_total", "a"), 1);
  EXPECT_EQ(tenant_sample(a.body, "tenant_readings_durable_total", "a"), readings_a);
  EXPECT_EQ(tenant_sample(a.body, "tenant_ingest_requests_total", "a"), 1);
  EXPECT_EQ(tenant_sample(a.body, "tenant_queries_total", "a"), 1);
  EXPECT_EQ(tenant_sample(a.body, "tenant_query_rows_total", "a"), readings_a);
  EXPECT_EQ(tenant_sample(a.body, "tenant_files_durable_total", "b"), -1);    // nothing of b's
  EXPECT_EQ(a.body.find("meterd_writer_readings_total"), std::string::npos);  // nor the daemon's

  auto b = daemon->get("/metrics", as("token-b"));
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(tenant_sample(b.body, "tenant_forbidden_total", "b"), 1);
  EXPECT_EQ(tenant_sample(b.body, "tenant_files_durable_total", "a"), -1);
  EXPECT_EQ(daemon->get("/metrics?tenant=a", as("token-b")).status, 403);

  // An admin: the whole daemon and every tenant, or the one it names.
  auto all = daemon->get("/metrics", as("token-admin"));
  ASSERT_EQ(all.status, 200);
  EXPECT_NE(all.body.find("meterd_writer_readings_total"), std::string::npos);
  EXPECT_EQ(tenant_sample(all.body, "tenant_files_durable_total", "a"), 1);
  EXPECT_EQ(tenant_sample(all.body, "tenant_files_durable_total", "b"), 1);
  auto only_b = daemon->get("/metrics?tenant=b", as("token-admin"));
  ASSERT_EQ(only_b.status, 200);
  EXPECT_EQ(tenant_sample(only_b.body, "tenant_files_durable_total", "b"), 1);
  EXPECT_EQ(tenant_sample(only_b.body, "tenant_files_durable_total", "a"), -1);
  if (std::system("command -v promtool > /dev/null 2>&1") == 0) {  // Prometheus reads them
    for (const auto* text : {&all.body, &a.body}) {
      std::ofstream(dir / "metrics.txt") << *text;
      EXPECT_EQ(
          run_to_file({"/bin/sh", "-c",
                       "promtool check metrics < '" + (dir / "metrics.txt").string() + "' 2>&1"},
                      dir / "promtool.txt", dir / "promtool.log"),
          0)
          << read_file(dir / "promtool.txt");
    }
  }
}

TEST_F(Tenants, TheSpoolTakesFilesPerTenantAndRefusesLinksAndFilesOfNoTenant) {
  const auto incoming = daemon->spool / "incoming";
  ASSERT_TRUE(fs::is_directory(incoming / "a"));
  ASSERT_TRUE(fs::is_directory(incoming / "b"));
  const std::string file_a = nem12(1);
  const auto outside = dir / "outside.csv";
  { std::ofstream(outside) << file_a; }
  // A symbolic link in a's folder (it could point into b's), and a file of no tenant.
  fs::create_symlink(outside, incoming / "a" / "link.csv");
  { std::ofstream(dir / "root.part") << file_a; }
  fs::rename(dir / "root.part", incoming / "root.csv");
  { std::ofstream(dir / "a.part") << file_a; }
  fs::rename(dir / "a.part", incoming / "a" / "dropped.csv");
  ASSERT_TRUE(
      wait_until([&] { return line_count(readings("token-a")) > 100; }, std::chrono::seconds(30)));
  ASSERT_TRUE(wait_until([&] { return fs::exists(daemon->spool / "rejected" / "root.csv"); },
                         std::chrono::seconds(10)));
  ASSERT_TRUE(
      wait_until([&] { return fs::is_symlink(daemon->spool / "rejected" / "a" / "link.csv"); },
                 std::chrono::seconds(10)));
  EXPECT_NE(read_file(daemon->spool / "rejected" / "root.csv.json").find("no tenant"),
            std::string::npos);
  EXPECT_EQ(line_count(readings("token-b")), 1u);
  EXPECT_TRUE(fs::exists(daemon->spool / "reports" / "a"));
  const auto refused = audit_records(dir, daemon->data, "refused");
  EXPECT_EQ(refused.size(), 2u);
}

}  // namespace
}  // namespace meterd::test
