// meterd bench [--nmis N] [--days D] [--interval M] [--files F] [--dir DIR] [--keep]
//              [--rollups on|off|both] [--repeat R]
//
// End to end: generates NEM12 data (deterministic), ingests it through the actor pipeline into
// a fresh data directory (file -> durable parts) and prints readings/s, MB/s and peak RSS.
// Generation is not timed.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "actors/config.hpp"
#include "actors/pipeline.hpp"
#include "actors/rollup_control.hpp"
#include "app/arg_reader.hpp"
#include "app/bench_daemon.hpp"
#include "app/commands.hpp"
#include "app/generator_args.hpp"
#include "app/list_intake.hpp"
#include "app/nem12_file.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd bench [--nmis N] [--days D] [--interval 5|15|30] [--files F] [--dir DIR]\n"
    "                    [--config FILE] [--keep] [--rollups on|off|both] [--repeat R]\n"
    "  Generates F files of N NMIs x D days (2 suffixes) of M-minute data, ingests them end\n"
    "  to end into DIR/data (default: a fresh temporary directory) and prints readings/s,\n"
    "  MB/s and peak RSS. Defaults: 1000 NMIs, 365 days, 30 minutes, 1 file (~35 M readings).\n"
    "  --rollups: with the config's rollups kept up (on, the default), without (off), or\n"
    "  both, alternating, R times each (default 1), with the medians and their ratio.\n";

}  // namespace

int run_bench(int argc, char** argv) {
  // `meterd bench http ...`: forwarded readings over loopback (cmd_bench_http.cpp).
  if (argc > 1 && std::string_view(argv[1]) == "http") return run_bench_http(argc - 1, argv + 1);
  // `meterd bench rollups ...`: drop-to-rollup-visible latency (cmd_bench_rollups.cpp).
  if (argc > 1 && std::string_view(argv[1]) == "rollups")
    return run_bench_rollups(argc - 1, argv + 1);
  GeneratorOptions gen;
  gen.nmis = 1000;
  gen.days = 365;
  gen.interval_minutes = 30;
  std::uint32_t nfiles = 1;
  std::filesystem::path dir;
  std::string config_path;
  bool keep = false;
  std::string rollups = "on";
  std::uint32_t repeat = 1;
  try {
    for (ArgReader args(argc, argv); args.next();) {
      if (args.is("--help") || args.is("-h")) {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (read_generator_option(args, gen)) {
      } else if (args.is("--files")) {
        nfiles = args.number<std::uint32_t>(1);
      } else if (args.is("--dir")) {
        dir = args.value();
      } else if (args.is("--config")) {
        config_path = args.value();
      } else if (args.is("--keep")) {
        keep = true;
      } else if (args.is("--rollups")) {
        rollups = args.value();
        if (rollups != "on" && rollups != "off" && rollups != "both")
          throw std::invalid_argument("--rollups: expected on|off|both");
      } else if (args.is("--repeat")) {
        repeat = args.number<std::uint32_t>(1, 100);
      } else {
        args.unknown();
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd bench: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    const bool temporary = dir.empty();
    if (temporary)
      dir = std::filesystem::temp_directory_path() / ("meterd-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "input");
    std::filesystem::remove_all(dir / "data");

    std::vector<std::filesystem::path> files;
    std::uint64_t expected = 0, bytes = 0;
    for (std::uint32_t f = 0; f < nfiles; ++f) {
      auto opts = gen;
      opts.seed = gen.seed + f;
      auto path = dir / "input" / ("bench-" + std::to_string(f) + ".csv");
      auto stats = generate_nem12_file(opts, path);
      expected += stats.readings;
      bytes += stats.bytes;
      files.push_back(path);
    }
    std::printf("generated %u file(s): %.1f MB, %llu readings (%u NMIs x %u days, %u-min)\n",
                nfiles, static_cast<double>(bytes) / 1e6, static_cast<unsigned long long>(expected),
                gen.nmis, gen.days, gen.interval_minutes);
    std::fflush(stdout);

    actors::Config base =
        config_path.empty() ? actors::Config{} : actors::Config::load(config_path);
    base.data_dir = dir / "data";
    base.log_level = "warn";
    base.metrics_interval_ms = 0;
    std::vector<bool> modes;
    for (std::uint32_t r = 0; r < repeat; ++r) {
      if (rollups != "on") modes.push_back(false);
      if (rollups != "off") modes.push_back(true);
    }
    std::map<bool, std::vector<double>> rates;
    bool ok = true;
    std::uint64_t readings = 0;
    for (const bool with_rollups : modes) {
      std::filesystem::remove_all(base.data_dir);
      actors::Config config = base;
      if (!with_rollups) config.rollup_definitions.clear();
      auto store = actors::open_store(config.data_dir);
      ListIntake intake(files);
      actors::Metrics metrics;
      actors::RollupControl control(config.rollup_definitions);
      actors::RunOptions options;
      if (!config.rollup_definitions.empty()) options.rollups = &control;
      const double cpu0 = own_cpu_seconds();
      auto result = actors::run_pipeline(config, *store, intake, metrics, options);
      const double cpu = own_cpu_seconds() - cpu0;
      readings = 0;
      for (const auto& d : intake.outcomes()) readings += d.readings;
      ok = ok && result.ok && readings == expected;
      const double secs = result.seconds > 0 ? result.seconds : 1e-9;
      rates[with_rollups].push_back(static_cast<double>(readings) / secs / 1e6);
      const auto& w = metrics.writer;
      std::printf(
          "%singested %llu readings in %.3f s: %.2f M readings/s, %.1f MB/s, peak RSS %.1f MiB\n"
          "writer: %llu batches, %llu parts, %.1f MB written, mean write %.1f ms, max %.1f ms\n"
          "stalls: reader %llu, batcher %llu\n"
          "cpu: %.2f s user+sys = %.2f cores busy on average; writer busy %.0f%% of the time\n",
          rollups == "both" ? (with_rollups ? "[rollups on] " : "[rollups off] ") : "",
          static_cast<unsigned long long>(readings), result.seconds,
          static_cast<double>(readings) / secs / 1e6, static_cast<double>(bytes) / secs / 1e6,
          static_cast<double>(actors::peak_rss_bytes()) / (1024.0 * 1024.0),
          static_cast<unsigned long long>(w.batches.get()),
          static_cast<unsigned long long>(w.parts.get()), static_cast<double>(w.bytes.get()) / 1e6,
          w.batches.get() ? static_cast<double>(w.latency_us_sum.get()) / w.batches.get() / 1e3
                          : 0.0,
          static_cast<double>(w.latency_us_max.get()) / 1e3,
          static_cast<unsigned long long>(metrics.reader.credit_stalls.get()),
          static_cast<unsigned long long>(metrics.batcher.credit_stalls.get()), cpu, cpu / secs,
          100.0 * static_cast<double>(w.latency_us_sum.get()) / 1e6 / secs);
      if (with_rollups)
        std::printf("rollups: %llu kept, %llu refreshes, %llu readings read, %llu rows written\n",
                    static_cast<unsigned long long>(metrics.rollups.definitions.get()),
                    static_cast<unsigned long long>(metrics.rollups.refreshes.get()),
                    static_cast<unsigned long long>(metrics.rollups.readings_read.get()),
                    static_cast<unsigned long long>(metrics.rollups.rows_written.get()));
      std::fflush(stdout);
    }
    if (rollups == "both")
      std::printf(
          "median of %u: rollups off %.2f M readings/s, on %.2f M readings/s: on/off %.2f\n",
          repeat, percentile(rates[false], 0.5), percentile(rates[true], 0.5),
          percentile(rates[false], 0.5) > 0
              ? percentile(rates[true], 0.5) / percentile(rates[false], 0.5)
              : 0.0);
    if (temporary && !keep) std::filesystem::remove_all(dir);
    if (!ok) {
      std::fprintf(stderr, "meterd bench: expected %llu readings, stored %llu\n",
                   static_cast<unsigned long long>(expected),
                   static_cast<unsigned long long>(readings));
      return 2;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd bench: %s\n", e.what());
    return 2;
  }
}

}  // namespace meterd::app
