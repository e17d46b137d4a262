// meterd bench rollups [--background-nmis N] [--days D] [--rate R] [--seconds S]
//                      [--set KEY=VALUE]... [--dir DIR] [--keep]
//
// Drop-to-rollup-visible latency: a `meterd serve` (a child process) holding a month of
// background readings takes a steady stream of small NEM12 files dropped into its spool, each
// of its own NMIs in that month; a reader polls daily_energy as an operator would (`meterd query
// --rollup`, read-only) and times each file from its rename into incoming/ to its NMI's row.
// Prints p50, p99 and max, and the daemon's CPU time.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "app/arg_reader.hpp"
#include "app/bench_daemon.hpp"
#include "app/commands.hpp"
#include "app/nem12_file.hpp"
#include "storage/rollup_store.hpp"

namespace meterd::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: meterd bench rollups [--background-nmis N] [--days D] [--rate R] [--seconds S]\n"
    "                            [--set KEY=VALUE]... [--dir DIR] [--keep]\n"
    "  Times small files from their drop into a daemon's spool to their rows in daily_energy,\n"
    "  R files a second for S seconds (defaults 4 and 30) over a month partition of N NMIs x D\n"
    "  days of background readings (defaults 500 and 31). Prints p50/p99/max latency.\n";

// The first NMI of a generated file: its first 200 record's second field.
std::string first_nmi(const std::string& text) {
  const auto at = text.find("\n200,");
  return at == std::string::npos ? "" : text.substr(at + 5, text.find(',', at + 5) - at - 5);
}

}  // namespace

int run_bench_rollups(int argc, char** argv) {
  std::uint32_t background_nmis = 500, days = 31, seconds = 30;
  double rate = 4;
  std::vector<std::string> settings;
  fs::path dir;
  bool keep = false;
  try {
    for (ArgReader args(argc, argv); args.next();) {
      if (args.is("--help") || args.is("-h")) {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (args.is("--background-nmis")) {
        background_nmis = args.number<std::uint32_t>(0, 100000);
      } else if (args.is("--days")) {
        days = args.number<std::uint32_t>(1, 31);
      } else if (args.is("--rate")) {
        rate = static_cast<double>(args.number<std::uint32_t>(1, 1000));
      } else if (args.is("--seconds")) {
        seconds = args.number<std::uint32_t>(1, 3600);
      } else if (args.is("--set")) {
        const auto [k, v] = args.key_value();
        settings.push_back(k + "=" + v);
      } else if (args.is("--dir")) {
        dir = args.value();
      } else if (args.is("--keep")) {
        keep = true;
      } else {
        args.unknown();
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd bench rollups: %s\n%s", e.what(), kUsage);
    return 2;
  }
  if (dir.empty())
    dir = fs::temp_directory_path() / ("meterd-bench-rollups-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "spool" / "incoming");
  fs::create_directories(dir / "staging");
  std::vector<std::string> daemon_settings = {"http_listen=127.0.0.1:0", "watch_poll_ms=10",
                                              "flush_interval_ms=100"};
  daemon_settings.insert(daemon_settings.end(), settings.begin(), settings.end());
  const auto daemon = start_child_daemon(dir, daemon_settings);
  if (!daemon) return 2;
  auto drop = [&](const GeneratorOptions& g, const std::string& name) {
    const auto staged = dir / "staging" / name;
    generate_nem12_file(g, staged);
    const std::string nmi = first_nmi(read_text(staged));
    fs::rename(staged, dir / "spool" / "incoming" / name);
    return nmi;
  };
  const fs::path data = dir / "data";
  // Whether rollup NAME of `data` has a row of `nmi` now (as a reader would ask).
  auto visible = [&](const std::string& nmi) {
    try {
      auto rollups = storage::RollupStore::open(data, "daily_energy");
      storage::QueryFilter filter;
      filter.nmi = nmi;
      bool found = false;
      rollups->query("daily_energy", filter,
                     [&](const std::vector<storage::RecordRow>& rows) { found |= !rows.empty(); });
      return found;
    } catch (const std::exception&) {
      return false;  // not there yet
    }
  };
  int rc = 0;
  GeneratorOptions g;
  g.start_date = "20240101";
  if (background_nmis > 0) {
    g.seed = 1'000'000;
    g.nmis = background_nmis;
    g.days = days;
    const auto t0 = Clock::now();
    const std::string nmi = drop(g, "background.csv");
    while (!visible(nmi) && Clock::now() - t0 < std::chrono::minutes(10))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::printf("background: %u NMIs x %u days in the month, in its rollups after %.2f s\n",
                background_nmis, days, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  // The stream: file k at k / rate seconds; the poller looks every 20 ms.
  const auto files = static_cast<std::uint32_t>(rate * seconds);
  std::map<std::string, Clock::time_point> pending;
  std::vector<double> latency;
  const double cpu0 = cpu_seconds(daemon->pid);
  const auto start = Clock::now();
  g.nmis = 2;
  g.days = 1;
  g.start_date = "20240115";
  for (std::uint32_t k = 0; k < files || !pending.empty();) {
    const auto now = Clock::now();
    if (k < files && now >= start + std::chrono::duration<double>(k / rate)) {
      g.seed = k + 1;
      pending[drop(g, "small-" + std::to_string(k) + ".csv")] = Clock::now();
      ++k;
      continue;
    }
    for (auto it = pending.begin(); it != pending.end();) {
      if (visible(it->first)) {
        latency.push_back(std::chrono::duration<double>(Clock::now() - it->second).count());
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    if (Clock::now() - start > std::chrono::seconds(seconds) + std::chrono::minutes(2)) {
      std::fprintf(stderr, "meterd bench rollups: %zu files never showed\n", pending.size());
      rc = 1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds(daemon->pid) - cpu0;
  std::printf(
      "%zu files (%.0f/s for %u s) from drop to their daily_energy rows: p50 %.2f s, p99 %.2f s, "
      "max %.2f s\n  daemon CPU %.2f s (%.2f cores) over %.1f s\n",
      latency.size(), rate, seconds, percentile(latency, 0.5), percentile(latency, 0.99),
      percentile(latency, 1.0), cpu, cpu / wall, wall);
  if (stop_child_daemon(*daemon) != 0) rc = 1;
  if (!keep) fs::remove_all(dir);
  return rc;
}

}  // namespace meterd::app
