// The daemon's configuration: a `key = value` file with `#` comments (conf/meterd.conf).
// Every key starts from actors/defaults.hpp; unknown keys and bad values are errors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/defaults.hpp"
#include "storage/rollup.hpp"

namespace meterd::actors {

// A market participant's data, kept apart from every other's (docs/daemon.md "Tenants").
struct Tenant {
  std::string name;
  std::vector<std::string> participants;  // NEM participant ids its files may be addressed to
};

// What a bearer token may do (http_tokens).
enum Role : std::uint8_t { kRoleIngest = 1, kRoleQuery = 2, kRoleAdmin = 4 };
struct TokenBinding {
  std::string hash;    // lowercase hex of the token's sha256
  std::string tenant;  // "" = the default tenant; "*" = any (admin: names it per request)
  std::uint8_t roles = kRoleIngest | kRoleQuery | kRoleAdmin;
};

struct Config {
  std::filesystem::path data_dir, spool_dir, journal_dir;
  std::string done_mode;
  std::uint32_t files_in_flight, rescan_interval_ms, watch_poll_ms, settle_ms;
  std::uint32_t read_chunk_bytes, reader_batch_readings, reader_window;
  std::uint32_t reader_records_per_write = defaults::reader_records_per_write;
  bool strict, skip_known_files;
  std::uint32_t batch_readings, batcher_max_readings, flush_interval_ms, writer_window;
  std::uint32_t retry_initial_ms, retry_max_ms, max_retries;
  std::uint32_t restart_initial_ms, restart_max_ms, max_restarts;
  std::uint32_t compact_interval_ms = defaults::compact_interval_ms;
  std::uint32_t compact_min_parts = defaults::compact_min_parts;
  std::uint32_t compact_steps_per_tick = defaults::compact_steps_per_tick;
  std::uint32_t scheduler_threads, metrics_interval_ms;
  std::string log_level;
  // HTTP API (docs/http.md), see actors/defaults.hpp.
  std::string http_listen{defaults::http_listen}, http_tokens{defaults::http_tokens};
  std::filesystem::path http_tls_cert{std::string(defaults::http_tls_cert)};
  std::filesystem::path http_tls_key{std::string(defaults::http_tls_key)};
  bool http_allow_insecure = defaults::http_allow_insecure;
  std::uint32_t http_threads = defaults::http_threads;
  std::uint32_t http_max_connections = defaults::http_max_connections;
  std::uint32_t http_max_header_bytes = defaults::http_max_header_bytes;
  std::uint32_t http_max_body_bytes = defaults::http_max_body_bytes;
  std::uint64_t http_max_file_bytes = defaults::http_max_file_bytes;
  std::uint64_t spool_reserve_bytes = defaults::spool_reserve_bytes;
  std::uint32_t http_request_timeout_ms = defaults::http_request_timeout_ms;
  std::uint32_t http_ack_timeout_ms = defaults::http_ack_timeout_ms;
  std::uint32_t http_max_inflight_requests = defaults::http_max_inflight_requests;
  std::uint32_t http_max_inflight_bytes = defaults::http_max_inflight_bytes;
  std::uint32_t http_rate_limit_rps = defaults::http_rate_limit_rps;
  std::uint32_t http_rate_limit_burst = defaults::http_rate_limit_burst;
  std::vector<Tenant> tenants;  // none: single-tenant
  std::string tenant_participant_field{defaults::tenant_participant_field};
  std::uint32_t retention_months = defaults::retention_months;
  std::vector<std::pair<std::string, std::uint32_t>> tenant_retention;  // overrides per tenant
  std::filesystem::path retention_archive_dir{std::string(defaults::retention_archive_dir)};
  std::string rollups{defaults::rollups};  // the definitions file, "" (shipped) or "none"
  std::uint32_t rollup_interval_ms = defaults::rollup_interval_ms;
  std::vector<storage::RollupDefinition> rollup_definitions;  // loaded as `rollups` is set
  std::filesystem::path config_dir;  // of the file loaded (relative rollups files are in it)

  Config();  // all defaults

  const Tenant* tenant(std::string_view name) const;
  // Months kept of `tenant`'s data (0 = forever).
  std::uint32_t months_kept(std::string_view tenant) const;
  // http_tokens, parsed (validated when set and against the tenants by parse()).
  std::vector<TokenBinding> token_bindings() const;

  // Staging journal of the safety path (journal_dir, or <spool_dir>/journal when empty).
  std::filesystem::path effective_journal_dir() const;
  std::filesystem::path dead_letter_dir() const { return spool_dir / "dead_letter"; }

  // Applies one `key = value`; throws std::invalid_argument naming the key on a bad value.
  void set(const std::string& key, const std::string& value);
  // Reads a file; relative directories in it are resolved against the working directory.
  static Config load(const std::filesystem::path& path);
  // Parses the text of a config file (`origin` names it in error messages; a relative rollups
  // file is read from `base_dir`).
  static Config parse(const std::string& text, const std::string& origin,
                      const std::filesystem::path& base_dir = {});
  // Reads and checks the rollup definitions `rollups` names (throws std::invalid_argument); a
  // relative file is read from config_dir.
  void load_rollups();

  // Every key the loader knows, in file order (the docs test checks conf/meterd.conf has each).
  static std::vector<std::string> keys();
  // `key = value` lines of the effective configuration (logged at start-up).
  std::string render() const;
};

}  // namespace meterd::actors
