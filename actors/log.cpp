#include "actors/log.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "protocol/iso_time.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::actors::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_mutex;

const char* name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

}  // namespace

void set_level(Level level) {
  g_level = static_cast<int>(level);
}
void set_level(std::string_view n) {
  set_level(n == "debug"   ? Level::debug
            : n == "warn"  ? Level::warn
            : n == "error" ? Level::error
                           : Level::info);
}

void write(Level level, std::string_view event, std::initializer_list<Field> fields,
           std::string_view raw_key, std::string_view raw_json) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string line = "{\"ts\":\"";
  append_utc_now(line, 3);
  line += "\",\"level\":\"";
  line += name(level);
  line += "\",\"event\":";
  append_json_string(line, event);
  for (const auto& f : fields) {
    line += ',';
    append_json_string(line, f.key);
    line += ':';
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            append_json_string(line, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            line += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.6g", std::isfinite(v) ? v : 0.0);
            line += buf;
          } else {
            line += std::to_string(v);
          }
        },
        f.value);
  }
  if (!raw_key.empty()) {
    line += ',';
    append_json_string(line, raw_key);
    line += ':';
    line += raw_json;
  }
  line += "}\n";
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace meterd::actors::log
