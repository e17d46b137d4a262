// meterd serve --config FILE [--data-dir DIR] [--spool-dir DIR]
//
// The daemon: watches the spool directory, ingests every file dropped into incoming/, and on
// SIGTERM/SIGINT drains (stop intake, flush every batch, commit) and exits 0.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <mutex>
#include <string>

#include "actors/config.hpp"
#include "actors/log.hpp"
#include "actors/pipeline.hpp"
#include "actors/rollup_control.hpp"
#include "app/arg_reader.hpp"
#include "app/commands.hpp"
#include "app/http_server.hpp"
#include "app/spool_intake.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd serve [--config FILE] [--data-dir DIR] [--spool-dir DIR] [--set KEY=VALUE]\n"
    "  Runs the ingest daemon. Without --config, every option has its default (see\n"
    "  conf/meterd.conf): data in ./meterd-data, spool in ./meterd-spool.\n"
    "  Drop files into SPOOL/incoming/ (write elsewhere, then rename in). SIGTERM or SIGINT\n"
    "  drains and exits 0. Logs are JSON lines on stderr.\n"
    "  exit status: 0 after a clean drain, 2 on a usage/config error or if it gave up\n";

}  // namespace

int run_serve(int argc, char** argv) {
  actors::Config config;
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> overrides;
  try {
    for (ArgReader args(argc, argv); args.next();) {
      if (args.is("--help") || args.is("-h")) {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (args.is("--config")) {
        config_path = args.value();
        config = actors::Config::load(config_path);
      } else if (args.is("--data-dir")) {
        overrides.emplace_back("data_dir", args.value());
      } else if (args.is("--spool-dir")) {
        overrides.emplace_back("spool_dir", args.value());
      } else if (args.is("--set")) {
        overrides.push_back(args.key_value());
      } else {
        args.unknown();
      }
    }
    for (const auto& [k, v] : overrides) config.set(k, v);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd serve: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    // From here on a SIGTERM/SIGINT is held until the pipeline waits for it, so that one sent
    // during start-up (store recovery can take a moment) still means "drain", not "die".
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);  // a reload, once the pipeline waits for signals
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    actors::log::set_level(config.log_level);
    actors::log::info("start", {{"data_dir", config.data_dir.string()},
                                {"spool_dir", config.spool_dir.string()},
                                {"files_in_flight", config.files_in_flight},
                                {"pid", static_cast<std::int64_t>(::getpid())}});
    auto store = actors::open_store(config.data_dir);
    storage::AuditLog audit(config.data_dir);
    if (audit.torn_bytes_cut() > 0)
      actors::log::warn("audit_torn_tail_cut", {{"bytes", audit.torn_bytes_cut()}});
    SpoolIntake intake(config, &audit);
    actors::Metrics metrics;
    actors::RollupControl rollups(config.rollup_definitions);
    // SIGHUP and POST /v1/admin/reload: the file again, with the same command-line overrides.
    // Only a configuration that loads whole is applied; today that is its rollups (the rest
    // keeps the values the daemon started with).
    std::mutex reloading;
    auto reload = [&](const std::string& token_id) -> std::string {
      std::lock_guard lock(reloading);
      std::string error, names;
      try {
        actors::Config fresh =
            config_path.empty() ? actors::Config{} : actors::Config::load(config_path);
        for (const auto& [k, v] : overrides) fresh.set(k, v);
        for (const auto& d : fresh.rollup_definitions) names += (names.empty() ? "" : ",") + d.name;
        rollups.offer(fresh.rollup_definitions);
        actors::log::info("reload", {{"rollups", names}});
      } catch (const std::exception& e) {
        error = e.what();
        actors::log::error("reload_refused", {{"error", error}});
      }
      std::string fields = "\"action\":\"reload\",\"outcome\":";
      fields += error.empty() ? "\"applied\",\"rollups\":" : "\"refused\",\"error\":";
      append_json_string(fields, error.empty() ? names : error);
      try {
        audit.append("admin", "", token_id, fields);
      } catch (const std::exception& e) {
        actors::log::error("audit_write_failed", {{"kind", "admin"}, {"error", e.what()}});
      }
      return error;
    };
    // The HTTP API (docs/http.md), when http_listen is set: its requests join the spool.
    auto http = HttpFront::start(config, intake, metrics, &audit, reload);
    actors::log::info("ready", {{"incoming", intake.dir("incoming").string()}});
    actors::RunOptions options;
    options.background_compaction = true;  // a daemon's parts must not pile up (storage.md)
    options.audit = &audit;
    options.rollups = &rollups;
    options.on_reload = [&] { reload("signal"); };
    auto result =
        actors::run_pipeline(config, *store, http ? http->intake() : intake, metrics, options);
    actors::log::info("exit", {{"ok", result.ok}, {"seconds", result.seconds}});
    return result.ok ? 0 : 2;
  } catch (const std::exception& e) {
    actors::log::error("fatal", {{"error", e.what()}});
    return 2;
  }
}

}  // namespace meterd::app
