// meterd ingest --data-dir DIR [--config FILE] [--reports DIR] [--strict] [--no-progress]
//               [--verbose] FILE...
//
// The daemon's pipeline in this process, over a list of files: read → batch → durable parts.
// Files are read in place (nothing is moved). A progress bar on a terminal, a closing summary.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "actors/config.hpp"
#include "actors/log.hpp"
#include "actors/pipeline.hpp"
#include "actors/rollup_control.hpp"
#include "app/arg_reader.hpp"
#include "app/commands.hpp"
#include "app/list_intake.hpp"
#include "storage/audit_log.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd ingest --data-dir DIR [--config FILE] [--reports DIR] [--strict]\n"
    "                     [--no-progress] [--verbose] FILE...\n"
    "  Ingests NEM12/NEM13 files into DIR through the same actor pipeline as `meterd serve`\n"
    "  and exits when every reading is durable.\n"
    "  --config FILE   pipeline options (conf/meterd.conf format); data_dir is overridden\n"
    "  --reports DIR   write a JSON ingest report per file into DIR\n"
    "  --strict        spec-exact checking\n"
    "  --no-progress   no progress bar (it is shown only on a terminal anyway)\n"
    "  --verbose       JSON log lines on stderr (default: warnings and errors only)\n"
    "  exit status: 0 clean, 1 some data rejected (the rest is stored), 2 a file could not be\n"
    "  read or stored at all, or a usage error\n";

void progress_line(const actors::Metrics& m, std::uint64_t total_bytes, double seconds) {
  const double done = static_cast<double>(m.reader.bytes.get());
  const double frac = total_bytes ? std::min(1.0, done / static_cast<double>(total_bytes)) : 0;
  const int width = 30, filled = static_cast<int>(frac * width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  // The figures of GET /v1/ingests/{id}/events: bytes read, readings parsed (sent on),
  // readings durable, rejects (counted as each file ends).
  std::fprintf(stderr,
               "\r[%s] %5.1f%%  %llu/%llu files  read %.1f MB  parsed %llu  durable %llu  "
               "rejects %llu  %.1f M readings/s  ",
               bar.c_str(), frac * 100,
               static_cast<unsigned long long>(m.files.durable.get() + m.files.rejected.get()),
               static_cast<unsigned long long>(m.files.claimed.get()), done / 1e6,
               static_cast<unsigned long long>(m.reader.readings.get()),
               static_cast<unsigned long long>(m.writer.readings.get()),
               static_cast<unsigned long long>(m.reader.rejects.get()),
               seconds > 0 ? static_cast<double>(m.writer.readings.get()) / seconds / 1e6 : 0.0);
  std::fflush(stderr);
}

}  // namespace

int run_ingest(int argc, char** argv) {
  std::string data_dir, config_path, reports;
  bool strict = false, progress = true, verbose = false;
  std::vector<std::filesystem::path> files;
  try {
    for (ArgReader args(argc, argv); args.next();) {
      if (args.is("--help") || args.is("-h")) {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (args.is("--data-dir")) {
        data_dir = args.value();
      } else if (args.is("--config")) {
        config_path = args.value();
      } else if (args.is("--reports")) {
        reports = args.value();
      } else if (args.is("--strict")) {
        strict = true;
      } else if (args.is("--no-progress")) {
        progress = false;
      } else if (args.is("--verbose")) {
        verbose = true;
      } else if (args.is_option()) {
        args.unknown();
      } else {
        files.emplace_back(args.arg());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd ingest: %s\n%s", e.what(), kUsage);
    return 2;
  }
  if (data_dir.empty() || files.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  try {
    actors::Config config =
        config_path.empty() ? actors::Config{} : actors::Config::load(config_path);
    config.data_dir = data_dir;
    config.strict = config.strict || strict;
    if (!verbose && config.log_level == "info") config.log_level = "warn";
    config.metrics_interval_ms = verbose ? config.metrics_interval_ms : 0;

    std::uint64_t total_bytes = 0;
    for (const auto& f : files) {
      std::error_code ec;
      total_bytes += std::filesystem::file_size(f, ec);
    }
    auto store = actors::open_store(config.data_dir);
    storage::AuditLog audit(config.data_dir);  // after the store: under its lock
    ListIntake intake(files, reports, &audit);
    actors::Metrics metrics;
    actors::RunOptions options;
    actors::RollupControl rollups(config.rollup_definitions);
    if (!config.rollup_definitions.empty()) options.rollups = &rollups;
    const auto t0 = std::chrono::steady_clock::now();
    const bool tty = progress && ::isatty(STDERR_FILENO);
    if (tty)
      options.on_progress = [&] {
        progress_line(metrics, total_bytes,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      };
    auto result = actors::run_pipeline(config, *store, intake, metrics, options);
    if (tty) {
      progress_line(metrics, total_bytes, result.seconds);
      std::fputc('\n', stderr);
    }

    std::uint64_t readings = 0, rejects = 0, unreadable = 0, not_durable = 0, fatal = 0,
                  duplicates = 0, register_reads = 0, b2b_events = 0;
    for (const auto& d : intake.outcomes()) {
      readings += d.readings;
      if (d.status == actors::FileStatus::durable || d.status == actors::FileStatus::rejected)
        register_reads += d.register_reads, b2b_events += d.b2b_events;
      rejects += d.rejects;
      if (!d.error.empty()) {
        ++unreadable;
        std::fprintf(stderr, "meterd ingest: %s: %s\n", d.file.name.c_str(), d.error.c_str());
      } else if (d.fatal) {
        ++fatal;
      }
      if (d.status == actors::FileStatus::duplicate) ++duplicates;
      if (d.status != actors::FileStatus::durable && d.status != actors::FileStatus::rejected &&
          d.status != actors::FileStatus::duplicate)
        ++not_durable;
    }
    const double secs = result.seconds > 0 ? result.seconds : 1e-9;
    std::printf(
        "files: %zu  readings: %llu  rejects: %llu  unreadable: %llu  not durable: %llu  "
        "already ingested: %llu\n"
        "register reads: %llu  B2B events: %llu\n"
        "time: %.3f s  %.2f M readings/s  %.1f MB/s  peak RSS: %.1f MiB\n",
        files.size(), static_cast<unsigned long long>(readings),
        static_cast<unsigned long long>(rejects), static_cast<unsigned long long>(unreadable),
        static_cast<unsigned long long>(not_durable), static_cast<unsigned long long>(duplicates),
        static_cast<unsigned long long>(register_reads),
        static_cast<unsigned long long>(b2b_events), result.seconds,
        static_cast<double>(readings) / secs / 1e6,
        static_cast<double>(metrics.reader.bytes.get()) / secs / 1e6,
        static_cast<double>(actors::peak_rss_bytes()) / (1024.0 * 1024.0));
    if (!result.ok || unreadable > 0 || not_durable > 0 || result.interrupted) return 2;
    return rejects > 0 || fatal > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd ingest: %s\n", e.what());
    return 2;
  }
}

}  // namespace meterd::app
