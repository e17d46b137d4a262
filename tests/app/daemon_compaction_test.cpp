// Background compaction in the real daemon: many small files, one part each, make a month
// partition cross compact_min_parts; the daemon's compactor brings it back below while it
// runs, and `meterd query` answers exactly what the same files give a daemon that never
// compacts (which keeps one part per file: the test could not pass without the compactor).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "protocol/nem12_generator.hpp"
#include "storage/store.hpp"
#include "tests/app/subprocess.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

constexpr int kFiles = 24;
constexpr std::size_t kMinParts = 4;

// Small January files: five NMI sets, start days 1..12 (overlapping days, so newer versions
// and re-sent days supersede readings across files), no two with the same bytes.
std::vector<fs::path> small_files(const fs::path& dir) {
  fs::create_directories(dir);
  std::vector<fs::path> out;
  for (int i = 0; i < kFiles; ++i) {
    GeneratorOptions o;
    o.seed = 3 + static_cast<std::uint64_t>(i % 5);
    o.nmis = 3;
    o.days = 10;
    o.resent_day_fraction = 0.1;
    char date[16], name[32];
    std::snprintf(date, sizeof date, "202401%02d", 1 + i % 12);
    std::snprintf(name, sizeof name, "s%03d.csv", i);
    o.start_date = date;
    generate_nem12_file(o, dir / name);
    out.push_back(dir / name);
  }
  return out;
}

// Parts per partition, from the manifest (files of replaced parts may linger on disk for
// readers, so the directory listing is not the truth).
std::map<std::string, std::size_t> parts_per_partition(const fs::path& data) {
  storage::StoreOptions ro;
  ro.read_only = true;
  std::map<std::string, std::size_t> out;
  for (const auto& p : storage::Store(data, ro).parts()) ++out[p.partition];
  return out;
}

std::size_t most_parts(const fs::path& data) {
  std::size_t most = 0;
  for (const auto& [partition, n] : parts_per_partition(data)) most = std::max(most, n);
  return most;
}

struct RunResult {
  std::vector<std::string> query;  // `meterd query` CSV, header first, rows sorted
  std::size_t most_parts_seen = 0, most_parts_at_end = 0;
  std::string log;
  std::string audit_compactions, audit_ingests;  // `meterd audit show --kind ...`
  int exit_code = -1;
};

// Boots `meterd serve`, feeds the files one at a time (each becomes its own part), waits for
// `settled` (if given), stops with SIGTERM and queries the data directory.
RunResult run_daemon(const fs::path& dir, const std::vector<fs::path>& files,
                     std::uint32_t compact_interval_ms,
                     const std::function<bool(const fs::path&)>& settled = {}) {
  const fs::path spool = dir / "spool", data = dir / "data", log = dir / "daemon.log";
  fs::create_directories(spool / "incoming");
  const pid_t pid = spawn_process(
      {meterd_binary().string(), "serve", "--config",
       (source_dir() / "conf" / "meterd.conf").string(), "--data-dir", data.string(), "--spool-dir",
       spool.string(), "--set", "flush_interval_ms=50", "--set",
       "compact_interval_ms=" + std::to_string(compact_interval_ms), "--set",
       "compact_min_parts=" + std::to_string(kMinParts), "--set", "metrics_interval_ms=500"},
      log);
  RunResult r;
  for (std::size_t i = 0; i < files.size(); ++i) {
    fs::copy_file(files[i], spool / "incoming" / files[i].filename());
    const bool done = wait_until([&] { return count_files(spool / "reports") >= i + 1; },
                                 std::chrono::seconds(60));
    EXPECT_TRUE(done) << "file " << i << " not reported\n" << read_file(log);
    if (!done) break;
    if (fs::exists(data / "manifest"))
      r.most_parts_seen = std::max(r.most_parts_seen, most_parts(data));
  }
  if (settled) {
    EXPECT_TRUE(wait_until([&] { return settled(data); }, std::chrono::seconds(60)))
        << "parts per partition never settled: " << most_parts(data) << "\n"
        << read_file(log);
  }
  r.most_parts_at_end = most_parts(data);
  ::kill(pid, SIGTERM);
  r.exit_code = wait_process(pid);
  r.log = read_file(log);

  const fs::path out = dir / "query.csv";
  EXPECT_EQ(run_to_file({meterd_binary().string(), "query", "--data-dir", data.string()}, out,
                        dir / "query.log"),
            0)
      << read_file(dir / "query.log");
  std::istringstream in(read_file(out));
  for (std::string line; std::getline(in, line);) r.query.push_back(line);
  auto audit = [&](const char* kind) {
    const fs::path shown = dir / "audit.txt";
    EXPECT_EQ(run_to_file({meterd_binary().string(), "audit", "show", "--data-dir", data.string(),
                           "--kind", kind},
                          shown, dir / "audit.log"),
              0);
    return read_file(shown);
  };
  r.audit_compactions = audit("compaction");
  r.audit_ingests = audit("ingest");
  if (!r.query.empty()) std::sort(r.query.begin() + 1, r.query.end());
  return r;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(DaemonCompactionTest, BackgroundMergesKeepPartsBelowThresholdAndAnswersUnchanged) {
  const fs::path dir = make_temp_dir("meterd-compaction");
  const auto files = small_files(dir / "files");

  // Without compaction every file stays its own part.
  const RunResult plain = run_daemon(dir / "plain", files, 0);
  EXPECT_EQ(plain.exit_code, 0) << plain.log;
  EXPECT_GE(plain.most_parts_at_end, static_cast<std::size_t>(kFiles)) << plain.log;
  EXPECT_EQ(count(plain.log, "\"compaction\""), 0u);

  const RunResult compacted = run_daemon(dir / "compacted", files, 1500, [](const fs::path& data) {
    return most_parts(data) < kMinParts;
  });
  EXPECT_EQ(compacted.exit_code, 0) << compacted.log;
  EXPECT_LT(compacted.most_parts_at_end, kMinParts) << compacted.log;
  EXPECT_GT(count(compacted.log, "\"compaction\""), 0u) << compacted.log;
  EXPECT_EQ(count(compacted.log, "compaction_failed"), 0u) << compacted.log;
  // Each merge is an admin action in the audit trail, beside every file it rearranged. The
  // store records a merge as it commits it; the compactor logs it when the answer comes, which
  // a drain can overtake: at most one merge is in the trail and not in the log.
  const auto audited = count(compacted.audit_compactions, "\"kind\":\"compaction\"");
  const auto logged = count(compacted.log, "\"compaction\"");
  EXPECT_GE(audited, logged) << compacted.audit_compactions;
  EXPECT_LE(audited, logged + 1) << compacted.audit_compactions;
  EXPECT_NE(compacted.audit_compactions.find("\"partition\":\"month=2024-01\""), std::string::npos)
      << compacted.audit_compactions;
  EXPECT_EQ(count(compacted.audit_ingests, "\"kind\":\"ingest\""), std::size_t{kFiles});
  EXPECT_EQ(count(plain.audit_compactions, "\"kind\""), 0u);
  EXPECT_GE(compacted.most_parts_seen, kMinParts) << "the threshold was never reached";
  // The closing metrics line counts the merges.
  const std::string key = "\"compactor\":{\"compactions\":";
  const auto at = compacted.log.rfind(key);
  ASSERT_NE(at, std::string::npos) << compacted.log;
  EXPECT_GT(std::stoull(compacted.log.substr(at + key.size())), 0u);

  ASSERT_GT(plain.query.size(), 1u);
  EXPECT_EQ(compacted.query.size(), plain.query.size());
  EXPECT_TRUE(compacted.query == plain.query) << "first difference: " << [&] {
    auto m = std::mismatch(compacted.query.begin(), compacted.query.end(), plain.query.begin(),
                           plain.query.end());
    return (m.first == compacted.query.end() ? std::string("<end>") : *m.first) + "\n vs " +
           (m.second == plain.query.end() ? std::string("<end>") : *m.second);
  }();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
