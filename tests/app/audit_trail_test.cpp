// The audit trail written by the real `meterd serve`: an ingest over HTTP (with the token's id,
// never the token), a file dropped in the spool, a query with the rows it returned and a 401 are
// each recorded; the log verifies across a kill -9, and `meterd audit verify` finds one changed
// byte and names its line. `meterd ingest` and `meterd compact` write the same trail.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "protocol/nem12_generator.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

struct Run {
  int rc = 0;
  std::string out;
};

Run meterd(const fs::path& scratch, std::vector<std::string> args) {
  args.insert(args.begin(), meterd_binary().string());
  const auto out = scratch / "audit-cmd.out";
  Run r;
  r.rc = run_to_file(args, out, scratch / "audit-cmd.log");
  r.out = read_file(out);
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string sha256_of(const fs::path& dir, const std::string& text) {
  const auto out = dir / "hash.txt";
  run_to_file({"/bin/sh", "-c", "printf %s '" + text + "' | sha256sum | cut -c1-64"}, out,
              dir / "hash.log");
  return read_file(out).substr(0, 64);
}

std::vector<std::string> shown(const fs::path& dir, const fs::path& data, const std::string& kind) {
  return lines_of(meterd(dir, {"audit", "show", "--data-dir", data.string(), "--kind", kind}).out);
}

TEST(AuditTrailTest, IngestsQueriesAndRefusalsAreRecordedAndTamperingIsFound) {
  const auto dir = make_temp_dir("meterd-http-audit");
  GeneratorOptions g;
  g.nmis = 4;
  g.days = 3;
  const auto file = dir / "a.csv";
  generate_nem12_file(g, file);
  const std::string token = "audit-token-1";
  const std::string hash = sha256_of(dir, token);

  HttpDaemon daemon(dir / "central");
  daemon.settings = {"http_tokens=sha256:" + hash};
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  const std::vector<std::string> auth = {"Authorization: Bearer " + token};

  const auto body = meterd(dir, {"parse", "--format", "json", file.string()}).out;
  auto r = daemon.post("/v1/readings", body, auth);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(daemon.post("/v1/readings", body, {"Authorization: Bearer wrong"}).status, 401);
  const auto first = lines_of(body).front();
  const auto nmi_at = first.find("\"nmi\":\"") + 7;
  const std::string nmi = first.substr(nmi_at, first.find('"', nmi_at) - nmi_at);
  auto q = daemon.get("/v1/readings?format=csv&nmi=" + nmi, auth);
  ASSERT_EQ(q.status, 200);
  const auto rows = lines_of(q.body).size() - 1;  // the header
  ASSERT_GT(rows, 0u);
  // A file dropped in the spool (no token).
  fs::copy_file(file, daemon.spool / "dropped.part");
  fs::rename(daemon.spool / "dropped.part", daemon.spool / "incoming" / "dropped.csv");
  ASSERT_TRUE(wait_until([&] { return shown(dir, daemon.data, "ingest").size() >= 2; },
                         std::chrono::seconds(30)));
  ASSERT_TRUE(wait_until([&] { return !shown(dir, daemon.data, "query").empty(); },
                         std::chrono::seconds(10)));

  const auto ingests = shown(dir, daemon.data, "ingest");
  ASSERT_EQ(ingests.size(), 2u);
  const std::string token_id = "\"token\":\"sha256:" + hash.substr(0, 12) + "\"";
  EXPECT_NE(ingests[0].find("\"source\":\"http\""), std::string::npos) << ingests[0];
  EXPECT_NE(ingests[0].find(token_id), std::string::npos) << ingests[0];
  EXPECT_NE(ingests[0].find("\"status\":\"durable\""), std::string::npos) << ingests[0];
  EXPECT_NE(ingests[1].find("\"file\":\"dropped.csv\""), std::string::npos) << ingests[1];
  EXPECT_NE(ingests[1].find("\"source\":\"spool\""), std::string::npos) << ingests[1];
  const auto readings = std::to_string(lines_of(body).size());  // a reading per NDJSON line
  EXPECT_NE(ingests[0].find("\"readings_durable\":" + readings + ","), std::string::npos)
      << ingests[0];
  EXPECT_NE(ingests[1].find("\"readings_durable\":" + readings + ","), std::string::npos)
      << ingests[1];
  const auto queries = shown(dir, daemon.data, "query");
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_NE(queries[0].find("\"rows\":" + std::to_string(rows)), std::string::npos) << queries[0];
  EXPECT_NE(queries[0].find("nmi=" + nmi), std::string::npos) << queries[0];
  EXPECT_NE(queries[0].find(token_id), std::string::npos) << queries[0];
  const auto refused = shown(dir, daemon.data, "refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_NE(refused[0].find("\"status\":401"), std::string::npos) << refused[0];
  EXPECT_NE(refused[0].find("\"path\":\"/v1/readings\""), std::string::npos) << refused[0];
  // The token itself is nowhere in the trail.
  EXPECT_EQ(read_file(daemon.data / "AUDIT").find(token), std::string::npos);

  // kill -9 and a restart: the trail is intact and goes on.
  daemon.kill9();
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  EXPECT_EQ(daemon.get("/metrics", {"Authorization: Bearer wrong"}).status, 401);
  ASSERT_TRUE(wait_until([&] { return shown(dir, daemon.data, "refused").size() == 2; },
                         std::chrono::seconds(10)));
  auto v = meterd(dir, {"audit", "verify", "--data-dir", daemon.data.string()});
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_NE(v.out.find("intact"), std::string::npos) << v.out;
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);

  // One byte of the query record changed: found, at its line.
  auto lines = lines_of(read_file(daemon.data / "AUDIT"));
  std::size_t at_line = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find("\"kind\":\"query\"") != std::string::npos) at_line = i;
  const auto digit = lines[at_line].find("\"rows\":") + 7;
  lines[at_line][digit] = lines[at_line][digit] == '9' ? '8' : '9';
  {
    std::ofstream out(daemon.data / "AUDIT", std::ios::binary | std::ios::trunc);
    for (const auto& l : lines) out << l << '\n';
  }
  v = meterd(dir, {"audit", "verify", "--data-dir", daemon.data.string()});
  EXPECT_EQ(v.rc, 1) << v.out;
  EXPECT_NE(v.out.find("line " + std::to_string(at_line + 1) + " "), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("altered"), std::string::npos) << v.out;
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

// meterd ingest and meterd compact write the same trail into the data directory they change.
TEST(AuditTrailTest, TheCommandLineIngestAndCompactAreRecordedToo) {
  const auto dir = make_temp_dir("meterd-cli-audit");
  GeneratorOptions g;
  g.nmis = 2;
  g.days = 2;
  const auto a = dir / "a.csv", b = dir / "b.csv";
  generate_nem12_file(g, a);
  g.seed = 7;
  generate_nem12_file(g, b);
  const auto data = dir / "data";
  ASSERT_EQ(meterd(dir, {"ingest", "--data-dir", data.string(), a.string(), b.string()}).rc, 0);
  ASSERT_EQ(meterd(dir, {"compact", "--data-dir", data.string()}).rc, 0);
  const auto ingests = shown(dir, data, "ingest");
  ASSERT_EQ(ingests.size(), 2u);
  for (const auto& line : ingests) {
    EXPECT_NE(line.find("\"source\":\"cli\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"status\":\"durable\""), std::string::npos) << line;
  }
  EXPECT_NE(ingests[0].find("a.csv"), std::string::npos) << ingests[0];
  EXPECT_NE(ingests[1].find("b.csv"), std::string::npos) << ingests[1];
  const auto compactions = shown(dir, data, "compaction");
  ASSERT_EQ(compactions.size(), 1u);
  EXPECT_NE(compactions[0].find("\"parts_left\":"), std::string::npos) << compactions[0];
  const auto v = meterd(dir, {"audit", "verify", "--data-dir", data.string()});
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_NE(v.out.find("3 records"), std::string::npos) << v.out;
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
