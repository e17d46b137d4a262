// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-21T21:03:04.123Z","level":"info","event":"file_durable","file":"x.csv",...}
// Thread-safe; lines are written whole.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace meterd::actors::log {

enum class Level { debug, info, warn, error };

using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
struct Field {
  std::string_view key;
  Value value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(std::int64_t{v}) {}
  Field(std::string_view k, std::uint64_t v) : key(k), value(v) {}
  Field(std::string_view k, std::uint32_t v) : key(k), value(std::uint64_t{v}) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
};

void set_level(Level level);
void set_level(std::string_view name);
// Raw JSON appended as the value of `key` (for a metrics object); skip when empty.
void write(Level level, std::string_view event, std::initializer_list<Field> fields,
           std::string_view raw_key = {}, std::string_view raw_json = {});

inline void info(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::info, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::warn, event, fields);
}
inline void error(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::error, event, fields);
}
inline void debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::debug, event, fields);
}

}  // namespace meterd::actors::log
