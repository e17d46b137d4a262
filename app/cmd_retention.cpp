// meterd retention --config FILE | --data-dir DIR --months N  [--dry-run] [--now YYYY-MM]
//
// What the daemon's compactor does on its own schedule, at once: drops every month partition
// (readings, register reads, B2B events) older than its tenant keeps, whole, in one manifest
// record each; or, with --dry-run, lists what would go. Needs the data directory's lock for a
// drop (stop the daemon first); a dry run reads only.
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>

#include "actors/config.hpp"
#include "app/commands.hpp"
#include "protocol/reading_format.hpp"
#include "storage/audit_log.hpp"
#include "storage/partition.hpp"
#include "storage/store.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd retention (--config FILE | --data-dir DIR --months N) [--data-dir DIR]\n"
    "                        [--dry-run] [--now YYYY-MM]\n"
    "  Drops every month partition older than its tenant keeps (retention_months,\n"
    "  tenant_retention and retention_archive_dir of FILE, or --months N for every tenant),\n"
    "  counted back from the current NEM month (--now), which is kept. --dry-run lists what\n"
    "  would go and changes nothing. exit status: 0 ok, 2 usage error or failure\n";

bool parse_month(std::string_view text, storage::MonthKey& month) {
  return storage::month_of_partition("month=" + std::string(text), month);
}

}  // namespace

int run_retention(int argc, char** argv) {
  std::string config_path, data_dir, months_text, now_text;
  bool dry_run = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--dry-run") {
      dry_run = true;
    } else if (a == "--config" && has_value) {
      config_path = argv[++i];
    } else if (a == "--data-dir" && has_value) {
      data_dir = argv[++i];
    } else if (a == "--months" && has_value) {
      months_text = argv[++i];
    } else if (a == "--now" && has_value) {
      now_text = argv[++i];
    } else {
      std::fputs(kUsage, a == "--help" ? stdout : stderr);
      return a == "--help" ? 0 : 2;
    }
  }
  try {
    actors::Config config;
    if (!config_path.empty()) config = actors::Config::load(config_path);
    if (!months_text.empty()) {
      config.set("retention_months", months_text);
      config.tenant_retention.clear();
    }
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (config_path.empty() && months_text.empty()) {
      std::fprintf(stderr, "meterd retention: --config or --months is required\n%s", kUsage);
      return 2;
    }
    storage::MonthKey now = storage::month_of(static_cast<epoch_seconds>(std::time(nullptr)));
    if (!now_text.empty() && !parse_month(now_text, now)) {
      std::fprintf(stderr, "meterd retention: --now: expected YYYY-MM, got '%s'\n",
                   now_text.c_str());
      return 2;
    }
    const storage::MonthsKept kept = [&](std::string_view tenant) {
      return config.months_kept(tenant);
    };
    storage::StoreOptions options;
    options.read_only = dry_run;
    options.superseded_grace = std::chrono::seconds(0);  // no reader of ours goes on
    storage::Store store(config.data_dir, options);
    const auto plan = store.retention_plan(kept, now);
    std::optional<storage::AuditLog> audit;
    if (!dry_run) audit.emplace(config.data_dir);  // after the store: under its lock
    std::uint64_t rows = 0;
    for (const auto& planned : plan) {
      const auto done =
          dry_run ? planned : store.drop_partition(planned, config.retention_archive_dir);
      rows += done.rows;
      std::printf("%s %s/%s: %zu part(s), %llu row(s), %llu bytes\n",
                  dry_run ? "would drop" : "dropped", done.table.c_str(), done.partition.c_str(),
                  done.parts, static_cast<unsigned long long>(done.rows),
                  static_cast<unsigned long long>(done.bytes));
      if (!audit) continue;
      std::string fields = "\"source\":\"cli\",\"table\":";
      append_json_string(fields, done.table);
      fields += ",\"partition\":";
      append_json_string(fields, done.partition);
      fields += ",\"parts\":" + std::to_string(done.parts) +
                ",\"rows\":" + std::to_string(done.rows) + ",\"archive\":";
      append_json_string(fields, config.retention_archive_dir.string());
      const std::string tenant = storage::tenant_of_partition(done.partition);
      audit->append("retention_drop", storage::valid_tenant(tenant) ? tenant : "", "", fields);
    }
    // The dropped files: no reader of this process is left (grace 0), others read a
    // snapshot they opened, and recovery would remove them anyway.
    if (!dry_run) store.compact_step(~std::size_t{0});
    std::fprintf(stderr, "meterd retention: %zu partition(s) %s, %llu row(s)\n", plan.size(),
                 dry_run ? "would be dropped" : "dropped", static_cast<unsigned long long>(rows));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd retention: %s\n", e.what());
    return 2;
  }
}

}  // namespace meterd::app
