#include "actors/config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "actors/defaults.hpp"
#include "storage/partition.hpp"

namespace meterd::actors {
namespace {

// One entry per key: how to set it from text and how to print it.
struct Field {
  const char* key;
  std::function<void(Config&, const std::string&)> set;
  std::function<std::string(const Config&)> get;
};

std::uint64_t parse_u64(const std::string& key, const std::string& text, std::uint64_t max) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v > max)
    throw std::invalid_argument(key + ": expected a non-negative integer, got '" + text + "'");
  return v;
}

std::uint32_t parse_u32(const std::string& key, const std::string& text) {
  return static_cast<std::uint32_t>(parse_u64(key, text, 0xffffffffu));
}

bool parse_bool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "yes" || text == "1") return true;
  if (text == "false" || text == "no" || text == "0") return false;
  throw std::invalid_argument(key + ": expected true or false, got '" + text + "'");
}

template <class T>
Field u32(const char* key, std::uint32_t T::*member) {
  return {key, [=](Config& c, const std::string& v) { c.*member = parse_u32(key, v); },
          [=](const Config& c) { return std::to_string(c.*member); }};
}

template <class T>
Field u64(const char* key, std::uint64_t T::*member) {
  return {key, [=](Config& c, const std::string& v) { c.*member = parse_u64(key, v, ~0ull); },
          [=](const Config& c) { return std::to_string(c.*member); }};
}

std::string trim(const std::string& s);

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < v.size();) {
    const auto comma = std::min(v.find(',', at), v.size());
    if (auto item = trim(v.substr(at, comma - at)); !item.empty()) out.push_back(std::move(item));
    at = comma + 1;
  }
  return out;
}

// sha256:<64 hex>[@TENANT][/ROLE+ROLE] (the hash of a token, never the token).
TokenBinding parse_token(const std::string& item) {
  const auto expected = [&](const std::string& what) {
    return std::invalid_argument("http_tokens: expected " + what + ", got '" +
                                 item.substr(0, std::min<std::size_t>(item.size(), 16)) + "...'");
  };
  if (item.size() < 71 || item.compare(0, 7, "sha256:") != 0 ||
      item.find_first_not_of("0123456789abcdefABCDEF", 7) < 71)
    throw expected("sha256:<64 hex digits>");
  TokenBinding b;
  for (char c : item.substr(7, 64)) b.hash += static_cast<char>(c >= 'A' && c <= 'F' ? c + 32 : c);
  std::string rest = item.substr(71);
  const auto slash = rest.find('/');
  if (!rest.empty() && rest[0] != '@' && rest[0] != '/')
    throw expected("sha256:<hex>[@TENANT][/ROLE+ROLE]");
  if (!rest.empty() && rest[0] == '@') {
    b.tenant = rest.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
    if (b.tenant != "*" && !storage::valid_tenant(b.tenant))
      throw expected("@TENANT naming a tenant (or @*)");
  }
  if (slash != std::string::npos) {
    b.roles = 0;
    const std::string roles = rest.substr(slash + 1);
    for (std::size_t at = 0; at <= roles.size();) {
      const auto plus = std::min(roles.find('+', at), roles.size());
      const std::string role = roles.substr(at, plus - at);
      if (role == "ingest")
        b.roles |= kRoleIngest;
      else if (role == "query")
        b.roles |= kRoleQuery;
      else if (role == "admin")
        b.roles |= kRoleAdmin;
      else
        throw expected("roles ingest, query or admin joined by +");
      at = plus + 1;
    }
  }
  if (b.tenant == "*" && !(b.roles & kRoleAdmin)) throw expected("@* only with the admin role");
  return b;
}

const std::vector<Field>& fields() {
  static const std::vector<Field> all = {
      {"data_dir", [](Config& c, const std::string& v) { c.data_dir = v; },
       [](const Config& c) { return c.data_dir.string(); }},
      {"spool_dir", [](Config& c, const std::string& v) { c.spool_dir = v; },
       [](const Config& c) { return c.spool_dir.string(); }},
      {"journal_dir", [](Config& c, const std::string& v) { c.journal_dir = v; },
       [](const Config& c) { return c.journal_dir.string(); }},
      {"done_mode",
       [](Config& c, const std::string& v) {
         if (v != "move" && v != "delete")
           throw std::invalid_argument("done_mode: expected move or delete, got '" + v + "'");
         c.done_mode = v;
       },
       [](const Config& c) { return c.done_mode; }},
      u32("files_in_flight", &Config::files_in_flight),
      u32("rescan_interval_ms", &Config::rescan_interval_ms),
      u32("watch_poll_ms", &Config::watch_poll_ms),
      u32("settle_ms", &Config::settle_ms),
      u32("read_chunk_bytes", &Config::read_chunk_bytes),
      u32("reader_batch_readings", &Config::reader_batch_readings),
      u32("reader_window", &Config::reader_window),
      u32("reader_records_per_write", &Config::reader_records_per_write),
      {"strict", [](Config& c, const std::string& v) { c.strict = parse_bool("strict", v); },
       [](const Config& c) { return std::string(c.strict ? "true" : "false"); }},
      {"skip_known_files",
       [](Config& c, const std::string& v) {
         c.skip_known_files = parse_bool("skip_known_files", v);
       },
       [](const Config& c) { return std::string(c.skip_known_files ? "true" : "false"); }},
      u32("batch_readings", &Config::batch_readings),
      u32("batcher_max_readings", &Config::batcher_max_readings),
      u32("flush_interval_ms", &Config::flush_interval_ms),
      u32("writer_window", &Config::writer_window),
      u32("retry_initial_ms", &Config::retry_initial_ms),
      u32("retry_max_ms", &Config::retry_max_ms),
      u32("max_retries", &Config::max_retries),
      u32("restart_initial_ms", &Config::restart_initial_ms),
      u32("restart_max_ms", &Config::restart_max_ms),
      u32("max_restarts", &Config::max_restarts),
      u32("compact_interval_ms", &Config::compact_interval_ms),
      u32("compact_min_parts", &Config::compact_min_parts),
      u32("compact_steps_per_tick", &Config::compact_steps_per_tick),
      u32("scheduler_threads", &Config::scheduler_threads),
      u32("metrics_interval_ms", &Config::metrics_interval_ms),
      {"log_level",
       [](Config& c, const std::string& v) {
         if (v != "debug" && v != "info" && v != "warn" && v != "error")
           throw std::invalid_argument("log_level: expected debug|info|warn|error, got '" + v +
                                       "'");
         c.log_level = v;
       },
       [](const Config& c) { return c.log_level; }},
      // ---- HTTP API (docs/http.md) ----
      {"http_listen", [](Config& c, const std::string& v) { c.http_listen = v; },
       [](const Config& c) { return c.http_listen; }},
      {"http_tokens",
       [](Config& c, const std::string& v) {
         for (const std::string& item : split_list(v)) parse_token(item);
         c.http_tokens = v;
       },
       [](const Config& c) { return c.http_tokens; }},
      {"http_tls_cert", [](Config& c, const std::string& v) { c.http_tls_cert = v; },
       [](const Config& c) { return c.http_tls_cert.string(); }},
      {"http_tls_key", [](Config& c, const std::string& v) { c.http_tls_key = v; },
       [](const Config& c) { return c.http_tls_key.string(); }},
      {"http_allow_insecure",
       [](Config& c, const std::string& v) {
         c.http_allow_insecure = parse_bool("http_allow_insecure", v);
       },
       [](const Config& c) { return std::string(c.http_allow_insecure ? "true" : "false"); }},
      u32("http_threads", &Config::http_threads),
      u32("http_max_connections", &Config::http_max_connections),
      u32("http_max_header_bytes", &Config::http_max_header_bytes),
      u32("http_max_body_bytes", &Config::http_max_body_bytes),
      u64("http_max_file_bytes", &Config::http_max_file_bytes),
      u64("spool_reserve_bytes", &Config::spool_reserve_bytes),
      u32("http_request_timeout_ms", &Config::http_request_timeout_ms),
      u32("http_ack_timeout_ms", &Config::http_ack_timeout_ms),
      u32("http_max_inflight_requests", &Config::http_max_inflight_requests),
      u32("http_max_inflight_bytes", &Config::http_max_inflight_bytes),
      u32("http_rate_limit_rps", &Config::http_rate_limit_rps),
      u32("http_rate_limit_burst", &Config::http_rate_limit_burst),
      // ---- tenants (docs/daemon.md "Tenants") ----
      {"tenants",
       [](Config& c, const std::string& v) {
         std::vector<Tenant> tenants;
         for (const std::string& item : split_list(v)) {
           const auto colon = item.find(':');
           Tenant t{trim(item.substr(0, colon)), {}};
           if (!storage::valid_tenant(t.name))
             throw std::invalid_argument("tenants: '" + t.name +
                                         "' is not a tenant name (1-32 of a-z 0-9 _ -)");
           for (const auto& other : tenants)
             if (other.name == t.name)
               throw std::invalid_argument("tenants: '" + t.name + "' given twice");
           if (colon != std::string::npos)
             for (std::size_t at = colon + 1; at <= item.size();) {
               const auto plus = std::min(item.find('+', at), item.size());
               std::string code = trim(item.substr(at, plus - at));
               if (code.empty() || code.size() > 10 ||
                   code.find_first_of(" \t/\\") != std::string::npos)
                 throw std::invalid_argument("tenants: '" + t.name +
                                             "': expected participant ids of 1-10 characters");
               t.participants.push_back(std::move(code));
               at = plus + 1;
             }
           tenants.push_back(std::move(t));
         }
         c.tenants = std::move(tenants);
       },
       [](const Config& c) {
         std::string out;
         for (const auto& t : c.tenants) {
           if (!out.empty()) out += ", ";
           out += t.name;
           for (std::size_t i = 0; i < t.participants.size(); ++i)
             out += (i ? "+" : ":") + t.participants[i];
         }
         return out;
       }},
      {"tenant_participant_field",
       [](Config& c, const std::string& v) {
         if (v != "to" && v != "from" && v != "either" && v != "none")
           throw std::invalid_argument(
               "tenant_participant_field: expected to|from|either|none, got '" + v + "'");
         c.tenant_participant_field = v;
       },
       [](const Config& c) { return c.tenant_participant_field; }},
      u32("retention_months", &Config::retention_months),
      {"tenant_retention",
       [](Config& c, const std::string& v) {
         std::vector<std::pair<std::string, std::uint32_t>> rules;
         for (const std::string& item : split_list(v)) {
           const auto colon = item.find(':');
           const std::string name = trim(item.substr(0, colon));
           if (!storage::valid_tenant(name) || colon == std::string::npos)
             throw std::invalid_argument("tenant_retention: expected TENANT:MONTHS, got '" + item +
                                         "'");
           rules.emplace_back(name, parse_u32("tenant_retention", trim(item.substr(colon + 1))));
         }
         c.tenant_retention = std::move(rules);
       },
       [](const Config& c) {
         std::string out;
         for (const auto& [name, months] : c.tenant_retention)
           out += (out.empty() ? "" : ", ") + name + ":" + std::to_string(months);
         return out;
       }},
      {"retention_archive_dir",
       [](Config& c, const std::string& v) { c.retention_archive_dir = v; },
       [](const Config& c) { return c.retention_archive_dir.string(); }},
      {"rollups",
       [](Config& c, const std::string& v) {
         c.rollups = v;
         c.load_rollups();
       },
       [](const Config& c) { return c.rollups; }},
      u32("rollup_interval_ms", &Config::rollup_interval_ms),
  };
  return all;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

Config::Config()
    : data_dir(std::string(defaults::data_dir)),
      spool_dir(std::string(defaults::spool_dir)),
      journal_dir(std::string(defaults::journal_dir)),
      done_mode(defaults::done_mode),
      files_in_flight(defaults::files_in_flight),
      rescan_interval_ms(defaults::rescan_interval_ms),
      watch_poll_ms(defaults::watch_poll_ms),
      settle_ms(defaults::settle_ms),
      read_chunk_bytes(defaults::read_chunk_bytes),
      reader_batch_readings(defaults::reader_batch_readings),
      reader_window(defaults::reader_window),
      strict(defaults::strict),
      skip_known_files(defaults::skip_known_files),
      batch_readings(defaults::batch_readings),
      batcher_max_readings(defaults::batcher_max_readings),
      flush_interval_ms(defaults::flush_interval_ms),
      writer_window(defaults::writer_window),
      retry_initial_ms(defaults::retry_initial_ms),
      retry_max_ms(defaults::retry_max_ms),
      max_retries(defaults::max_retries),
      restart_initial_ms(defaults::restart_initial_ms),
      restart_max_ms(defaults::restart_max_ms),
      max_restarts(defaults::max_restarts),
      scheduler_threads(defaults::scheduler_threads),
      metrics_interval_ms(defaults::metrics_interval_ms),
      log_level(defaults::log_level) {
  load_rollups();
}

const Tenant* Config::tenant(std::string_view name) const {
  for (const Tenant& t : tenants)
    if (t.name == name) return &t;
  return nullptr;
}

std::uint32_t Config::months_kept(std::string_view name) const {
  for (const auto& [tenant, months] : tenant_retention)
    if (tenant == name) return months;
  return retention_months;
}

std::vector<TokenBinding> Config::token_bindings() const {
  std::vector<TokenBinding> out;
  for (const std::string& item : split_list(http_tokens)) out.push_back(parse_token(item));
  return out;
}

std::filesystem::path Config::effective_journal_dir() const {
  return journal_dir.empty() ? spool_dir / "journal" : journal_dir;
}

void Config::set(const std::string& key, const std::string& value) {
  for (const auto& f : fields())
    if (key == f.key) {
      f.set(*this, value);
      return;
    }
  throw std::invalid_argument("unknown option '" + key + "'");
}

void Config::load_rollups() {
  if (rollups == "none") {
    rollup_definitions.clear();
  } else if (rollups.empty()) {
    rollup_definitions = storage::parse_rollups(std::string(defaults::shipped_rollups), "shipped");
  } else {
    std::filesystem::path file = rollups;
    if (file.is_relative() && !config_dir.empty()) file = config_dir / file;
    std::ifstream in(file);
    if (!in) throw std::invalid_argument("rollups: cannot read " + file.string());
    std::ostringstream text;
    text << in.rdbuf();
    rollup_definitions = storage::parse_rollups(text.str(), file.string());
  }
}

Config Config::parse(const std::string& text, const std::string& origin,
                     const std::filesystem::path& base_dir) {
  Config config;
  config.config_dir = base_dir;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      throw std::invalid_argument(origin + ":" + std::to_string(number) +
                                  ": expected `key = value`");
    try {
      config.set(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(origin + ":" + std::to_string(number) + ": " + e.what());
    }
  }
  // Zero windows or sizes would deadlock the pipeline: refuse them here, not at run time.
  for (auto [key, value] : {std::pair{"files_in_flight", config.files_in_flight},
                            {"reader_window", config.reader_window},
                            {"reader_records_per_write", config.reader_records_per_write},
                            {"writer_window", config.writer_window},
                            {"read_chunk_bytes", config.read_chunk_bytes},
                            {"reader_batch_readings", config.reader_batch_readings},
                            {"batch_readings", config.batch_readings},
                            {"scheduler_threads", config.scheduler_threads},
                            {"compact_steps_per_tick", config.compact_steps_per_tick}})
    if (value == 0) throw std::invalid_argument(origin + ": " + key + " must be at least 1");
  // Tenants and tokens are checked together: in a multi-tenant install every token is bound.
  for (const TokenBinding& b : config.token_bindings()) {
    const std::string id = "http_tokens: sha256:" + b.hash.substr(0, 12) + "...";
    if (config.tenants.empty() && !b.tenant.empty() && b.tenant != "*")
      throw std::invalid_argument(origin + ": " + id + " names tenant '" + b.tenant +
                                  "', but no tenants are configured");
    if (!config.tenants.empty() && b.tenant.empty())
      throw std::invalid_argument(origin + ": " + id +
                                  " must be bound to a tenant (@TENANT/ROLES or @*/admin)");
    if (!b.tenant.empty() && b.tenant != "*" && !config.tenant(b.tenant))
      throw std::invalid_argument(origin + ": " + id + " names unknown tenant '" + b.tenant + "'");
  }
  for (const auto& [name, months] : config.tenant_retention)
    if (!config.tenant(name))
      throw std::invalid_argument(origin + ": tenant_retention names unknown tenant '" + name +
                                  "'");
  // One part is always compacted already; a merge needs two.
  if (config.compact_min_parts < 2)
    throw std::invalid_argument(origin + ": compact_min_parts must be at least 2");
  if (config.rollup_interval_ms == 0 && !config.rollup_definitions.empty())
    throw std::invalid_argument(origin +
                                ": rollup_interval_ms must be at least 1 (rollups = none: off)");
  return config;
}

Config Config::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read config file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string(), path.parent_path());
}

std::vector<std::string> Config::keys() {
  std::vector<std::string> out;
  for (const auto& f : fields()) out.emplace_back(f.key);
  return out;
}

std::string Config::render() const {
  std::string out;
  for (const auto& f : fields()) out += std::string(f.key) + " = " + f.get(*this) + "\n";
  return out;
}

}  // namespace meterd::actors
