// Rollups over the real daemon and CLI, checked against an oracle that shares no code with
// meterd (tests/parquet/rollup-oracle.mjs: DuckDB SQL over `meterd query` output): every
// shipped rollup after the real samples; after generated files sent in shuffled order, with
// re-sent days, versions that disagree and a kill -9 of the daemon mid-ingest, both while it
// runs (within seconds) and after; a definition added by a reload is backfilled to the same
// rows as one kept up from the start; a bad set is refused and the old one stays in force.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "protocol/nem12_generator.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

const char* kShipped[] = {"daily_energy", "monthly_energy", "monthly_peak_demand",
                          "daily_completeness"};

bool have_oracle() {
  return fs::exists(source_dir() / "tests" / "parquet" / "node_modules" / "@duckdb" / "node-api") &&
         std::system("node --version > /dev/null 2>&1") == 0;
}

#define REQUIRE_ORACLE()                                                                 \
  do {                                                                                   \
    if (!have_oracle()) {                                                                \
      if (running_in_ci()) FAIL() << "node and tests/parquet/node_modules are required"; \
      GTEST_SKIP() << "no node or DuckDB: run scripts/install-test-deps.sh";             \
    }                                                                                    \
  } while (0)

std::string run_out(const std::vector<std::string>& args, const fs::path& scratch) {
  const auto out = scratch / "run.out";
  const int rc = run_to_file(args, out, scratch / "run.err");
  EXPECT_EQ(rc, 0) << read_file(scratch / "run.err");
  return read_file(out);
}

// What the oracle computes from `meterd query`'s readings of `data` (tenant ""), sorted.
std::vector<std::string> oracle(const fs::path& data, const std::string& rollup,
                                const fs::path& scratch) {
  const auto readings = scratch / "readings.csv";
  std::ofstream(readings) << run_out(
      {meterd_binary().string(), "query", "--data-dir", data.string()}, scratch);
  return sorted_lines(
      run_out({"/usr/bin/env", "node", (source_dir() / "tests/parquet/rollup-oracle.mjs").string(),
               readings.string(), rollup},
              scratch),
      true);
}

std::vector<std::string> meterd_rollup(const fs::path& data, const std::string& rollup,
                                       const fs::path& scratch) {
  return sorted_lines(
      run_out({meterd_binary().string(), "query", "--data-dir", data.string(), "--rollup", rollup},
              scratch),
      true);
}

// Equal line by line; numbers as numbers (sums may round differently in the last bits).
::testing::AssertionResult same_rows(const std::vector<std::string>& want,
                                     const std::vector<std::string>& got) {
  if (want.size() != got.size())
    return ::testing::AssertionFailure() << want.size() << " rows expected, " << got.size();
  auto cells = [](const std::string& line) {
    std::vector<std::string> out(1);
    for (char c : line) {
      if (c == ',')
        out.emplace_back();
      else
        out.back().push_back(c);
    }
    return out;
  };
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == got[i]) continue;
    const auto a = cells(want[i]), b = cells(got[i]);
    bool same = a.size() == b.size();
    for (std::size_t k = 0; same && k < a.size(); ++k) {
      if (a[k] == b[k]) continue;
      char* end_a = nullptr;
      char* end_b = nullptr;
      const double x = std::strtod(a[k].c_str(), &end_a), y = std::strtod(b[k].c_str(), &end_b);
      same = *end_a == 0 && *end_b == 0 && !a[k].empty() &&
             std::abs(x - y) <= 1e-9 * std::max({1.0, std::abs(x), std::abs(y)});
    }
    if (!same)
      return ::testing::AssertionFailure()
             << "row " << i << ": oracle '" << want[i] << "', meterd '" << got[i] << "'";
  }
  return ::testing::AssertionSuccess();
}

TEST(RollupOracleTest, EveryShippedRollupOfTheSamplesEqualsTheOracle) {
  REQUIRE_ORACLE();
  const fs::path samples = source_dir().parent_path() / "shared" / "data" / "nem12" / "samples";
  if (!fs::is_directory(samples)) GTEST_SKIP() << "no ../shared samples";
  const auto dir = make_temp_dir("meterd-rollup-samples");
  std::vector<std::string> args = {meterd_binary().string(), "ingest", "--data-dir",
                                   (dir / "data").string()};
  for (const auto& e : fs::directory_iterator(samples))
    if (e.is_regular_file() && e.path().filename() != "README.md") args.push_back(e.path());
  run_to_file(args, dir / "ingest.out", dir / "ingest.err");  // 1: some samples have rejects
  for (const char* rollup : kShipped) {
    const auto want = oracle(dir / "data", rollup, dir);
    ASSERT_GT(want.size(), 100u) << rollup;
    EXPECT_TRUE(same_rows(want, meterd_rollup(dir / "data", rollup, dir))) << rollup;
  }
  if (!std::getenv("METERD_KEEP_TEST_DIRS") && !HasFailure()) fs::remove_all(dir);
}

std::string generated(const fs::path& dir, std::uint64_t seed, std::uint32_t nmis,
                      std::uint32_t days) {
  GeneratorOptions g;
  g.seed = seed;
  g.nmis = nmis;
  g.days = days;
  g.resent_day_fraction = 0.1;  // newer versions of days inside the file
  g.interval_minutes = seed % 2 ? 30 : 15;
  const auto path = dir / ("gen-" + std::to_string(seed) + ".csv");
  generate_nem12_file(g, path);
  return read_file(path);
}

TEST(RollupOracleTest, KeptExactThroughShuffledResentSupersededFilesAndAKillNine) {
  REQUIRE_ORACLE();
  const auto dir = make_temp_dir("meterd-rollup-daemon");
  std::vector<std::string> files;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) files.push_back(generated(dir, seed, 20, 40));
  // Versions of file 1 that disagree with it: the same keys and versions, other values (the
  // greater content wins, docs/storage.md), and the same file once more.
  files.push_back(replaced(files[0], ",0.", ",7."));
  files.push_back(files[0]);
  const std::string big_file = generated(dir, 9, 100, 60);  // the kill -9 comes as it is read
  files.push_back(big_file);
  std::shuffle(files.begin(), files.end(), std::mt19937(7));

  HttpDaemon daemon(dir / "central");
  daemon.settings = {"rollup_interval_ms=200"};
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  std::size_t sent = 0;
  for (; sent < files.size(); ++sent) {
    if (files[sent] == big_file) break;
    ASSERT_EQ(daemon.post("/v1/files", files[sent]).status, 200);
  }
  ASSERT_LT(sent, files.size());
  auto big = std::async(std::launch::async, [&] { return daemon.post("/v1/files", files[sent]); });
  ASSERT_TRUE(wait_until([&] { return daemon.count("\"file_claimed\"") > sent; },
                         std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  daemon.kill9();
  big.wait();
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  for (; sent < files.size(); ++sent) {
    auto r = daemon.post("/v1/files", files[sent]);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // While it runs: each rollup over HTTP equals the oracle within seconds.
  for (const char* rollup : kShipped) {
    const auto want = oracle(daemon.data, rollup, dir);
    ASSERT_GT(want.size(), 100u);
    std::vector<std::string> got;
    const bool caught_up = wait_until(
        [&] {
          auto r = daemon.get(std::string("/v1/rollups/") + rollup + "?format=csv");
          got = sorted_lines(r.body, true);
          return r.status == 200 && same_rows(want, got);
        },
        std::chrono::seconds(20));
    EXPECT_TRUE(caught_up) << rollup << ": " << same_rows(want, got).message();
  }
  auto metrics = daemon.get("/metrics").body;
  EXPECT_NE(metrics.find("meterd_rollup_definitions 4\n"), std::string::npos);
  EXPECT_NE(metrics.find("meterd_rollup_partitions_behind 0\n"), std::string::npos);
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);
  for (const char* rollup : kShipped)
    EXPECT_TRUE(
        same_rows(oracle(daemon.data, rollup, dir), meterd_rollup(daemon.data, rollup, dir)))
        << rollup;
  if (!std::getenv("METERD_KEEP_TEST_DIRS") && !HasFailure()) fs::remove_all(dir);
}

TEST(RollupReloadTest, ANewDefinitionIsBackfilledABadSetIsRefusedARemovedOneStops) {
  const auto dir = make_temp_dir("meterd-rollup-reload");
  const auto defs = dir / "rollups.conf";
  std::ofstream(defs) << "daily_energy = sum by nmi,suffix,uom per day\n";
  HttpDaemon daemon(dir / "central");
  daemon.settings = {"rollups=" + defs.string(), "rollup_interval_ms=200"};
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  ASSERT_EQ(daemon.post("/v1/files", generated(dir, 1, 10, 20)).status, 200);
  auto rollup = [&](const std::string& name) {
    return daemon.get("/v1/rollups/" + name + "?format=csv");
  };
  const auto caught_up = [&] {
    return daemon.get("/metrics").body.find("meterd_rollup_partitions_behind 0\n") !=
           std::string::npos;
  };
  ASSERT_TRUE(wait_until([&] { return rollup("daily_energy").body.size() > 1000 && caught_up(); },
                         std::chrono::seconds(20)));
  EXPECT_EQ(rollup("daily_copy").status, 404);

  // Added by a reload: built from the stored readings, the same rows as the one kept up.
  std::ofstream(defs) << "daily_energy = sum by nmi,suffix,uom per day\n"
                         "daily_copy = sum by uom,nmi,suffix per day\n";
  auto r = daemon.post("/v1/admin/reload", "");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(wait_until([&] { return rollup("daily_copy").status == 200 && caught_up(); },
                         std::chrono::seconds(20)));
  EXPECT_EQ(rollup("daily_copy").body, rollup("daily_energy").body);

  // A bad set: refused with its line, over HTTP and by SIGHUP; the old one stays in force.
  std::ofstream(defs) << "daily_energy = sum by nmi,suffix,uom per day\n"
                         "broken = median by nmi per day\n";
  r = daemon.post("/v1/admin/reload", "");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("rollups.conf:2"), std::string::npos) << r.body;
  ::kill(daemon.pid, SIGHUP);
  ASSERT_TRUE(wait_until([&] { return daemon.count("\"reload_refused\"") >= 2; },
                         std::chrono::seconds(10)));
  ASSERT_EQ(daemon.post("/v1/files", generated(dir, 2, 10, 20)).status, 200);
  ASSERT_TRUE(wait_until(
      [&] { return rollup("daily_copy").body == rollup("daily_energy").body && caught_up(); },
      std::chrono::seconds(20)));
  const std::string both = rollup("daily_energy").body;

  // Removed by SIGHUP: it stops (its rows stay as they were), the other goes on.
  std::ofstream(defs) << "daily_energy = sum by nmi,suffix,uom per day\n";
  ::kill(daemon.pid, SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] {
        return daemon.get("/metrics").body.find("meterd_rollup_definitions 1\n") !=
               std::string::npos;
      },
      std::chrono::seconds(10)));
  ASSERT_EQ(daemon.post("/v1/files", generated(dir, 3, 10, 20)).status, 200);
  ASSERT_TRUE(wait_until([&] { return rollup("daily_energy").body != both && caught_up(); },
                         std::chrono::seconds(20)));
  EXPECT_EQ(rollup("daily_copy").body, both);
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);
  // Each reload is in the audit trail, applied or refused.
  const auto audit = run_out({meterd_binary().string(), "audit", "show", "--data-dir",
                              daemon.data.string(), "--kind", "admin"},
                             dir);
  std::size_t applied = 0, refused = 0;
  for (auto at = audit.find("\"applied\""); at != std::string::npos;
       at = audit.find("\"applied\"", at + 1))
    ++applied;
  for (auto at = audit.find("\"refused\""); at != std::string::npos;
       at = audit.find("\"refused\"", at + 1))
    ++refused;
  EXPECT_EQ(applied, 2u) << audit;
  EXPECT_EQ(refused, 2u) << audit;
  if (!std::getenv("METERD_KEEP_TEST_DIRS") && !HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
