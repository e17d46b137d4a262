// Retention in the real `meterd serve`, with queries running: the months past a tenant's
// retention leave whole (every answer holds all of such a month or none of it), another
// tenant's months stay, each drop is in the audit trail, and `meterd retention --dry-run`
// listed beforehand exactly what went.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "protocol/nem12_generator.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

// "YYYYMM01" of the month `back` months before the current one (UTC+10, as NEM time).
std::string month_start_back(int back) {
  const std::time_t now = std::time(nullptr) + 10 * 3600;
  std::tm t{};
  gmtime_r(&now, &t);
  int month = t.tm_year * 12 + t.tm_mon - back;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02d01", 1900 + month / 12, month % 12 + 1);
  return buf;
}

// Readings per "YYYY-MM" of a CSV answer (interval_start is the third column).
std::map<std::string, std::size_t> per_month(const std::string& csv) {
  std::map<std::string, std::size_t> out;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto first = line.find(','), second = line.find(',', first + 1);
    if (second != std::string::npos) ++out[line.substr(second + 1, 7)];
  }
  return out;
}

std::string run_meterd(const fs::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> all = {meterd_binary().string()};
  all.insert(all.end(), args.begin(), args.end());
  run_to_file(all, dir / "cmd.out", dir / "cmd.err");
  return read_file(dir / "cmd.out");
}

TEST(RetentionDaemonTest, MonthsPastRetentionLeaveWholeWhileQueriesRun) {
  const auto dir = make_temp_dir("meterd-retention-daemon");
  GeneratorOptions g;
  g.nmis = 20;
  g.days = 95;  // from the first of three months ago into the current month
  g.start_date = month_start_back(3);
  const auto file = dir / "old.csv";
  generate_nem12_file(g, file);
  const std::string text = read_file(file);
  HttpDaemon daemon(dir / "central");
  const std::vector<std::string> tenants = {"tenants=a:GENRETAIL, b:GENRETAIL"};
  daemon.settings = tenants;
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  const std::vector<std::string> as_a = {"X-Meterd-Tenant: a"}, as_b = {"X-Meterd-Tenant: b"};
  ASSERT_EQ(daemon.post("/v1/files", text, as_a).status, 200);
  ASSERT_EQ(daemon.post("/v1/files", text, as_b).status, 200);
  const auto before = per_month(daemon.get("/v1/readings?format=csv", as_a).body);
  ASSERT_EQ(before.size(), 4u);  // three months back to the current one
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);

  // a keeps two months (the current one and the one before), b forever.
  const std::vector<std::string> retention = {"tenant_retention=a:2", "compact_interval_ms=100"};
  const auto config = dir / "retention.conf";
  {
    std::ofstream out(config);
    out << "data_dir = " << daemon.data.string() << "\ntenants = a:GENRETAIL, b:GENRETAIL\n"
        << "tenant_retention = a:2\n";
  }
  const std::string dry = run_meterd(dir, {"retention", "--config", config.string(), "--dry-run"});
  const auto oldest = before.begin()->first, second = std::next(before.begin())->first;
  EXPECT_NE(dry.find("would drop readings/tenant=a/month=" + oldest), std::string::npos) << dry;
  EXPECT_NE(dry.find("would drop readings/tenant=a/month=" + second), std::string::npos) << dry;
  EXPECT_EQ(dry.find("tenant=b"), std::string::npos) << dry;

  daemon.settings = tenants;
  daemon.settings.insert(daemon.settings.end(), retention.begin(), retention.end());
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  std::atomic<bool> stop{false};
  std::atomic<int> partial{0}, answers{0};
  std::thread queries([&] {
    while (!stop) {
      const auto r = daemon.get("/v1/readings?format=csv", as_a);
      if (r.status != 200) continue;
      ++answers;
      for (const auto& [month, n] : per_month(r.body))
        if (n != before.at(month)) ++partial;  // a month is all there or not at all
    }
  });
  const bool gone = wait_until(
      [&] { return per_month(daemon.get("/v1/readings?format=csv", as_a).body).size() == 2; },
      std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  queries.join();
  ASSERT_TRUE(gone) << read_file(daemon.log);
  EXPECT_GT(answers.load(), 0);
  EXPECT_EQ(partial.load(), 0);
  const auto after = per_month(daemon.get("/v1/readings?format=csv", as_a).body);
  EXPECT_EQ(after.count(oldest), 0u);
  EXPECT_EQ(after.count(second), 0u);
  EXPECT_EQ(per_month(daemon.get("/v1/readings?format=csv", as_b).body), before);
  const std::string audit = run_meterd(
      dir, {"audit", "show", "--data-dir", daemon.data.string(), "--kind", "retention_drop"});
  EXPECT_NE(audit.find("tenant=a/month=" + oldest), std::string::npos) << audit;
  EXPECT_NE(audit.find("tenant=a/month=" + second), std::string::npos) << audit;
  EXPECT_EQ(audit.find("tenant=b/"), std::string::npos) << audit;
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);
  EXPECT_EQ(run_meterd(dir, {"retention", "--config", config.string(), "--dry-run"}), "");
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
