#include "protocol/ndjson_reader.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/iso_time.hpp"
#include "protocol/nem_time.hpp"

namespace meterd {
namespace {

namespace od = simdjson::ondemand;

// One decoded line. String views point into the parser's string buffer: valid until the next
// document, so they are interned before the next line is read.
struct Line {
  std::string_view nmi, suffix, register_id, meter_serial, uom, reason_description;
  epoch_seconds interval_start = kNoTime, update_datetime = kNoTime;
  epoch_seconds msats_load_datetime = kNoTime, file_created = kNoTime;
  std::int64_t interval_minutes = -1;
  double value = 0;
  bool has_value = false, has_nmi = false, has_suffix = false, has_uom = false;
  // "values": consecutive intervals of one NEM day from interval_start (the compact form).
  std::vector<double>* values = nullptr;  // buffer owned by the reader, reused
  bool has_values = false;
  char quality = 0;
  std::uint8_t method = kNoMethod;
  std::int16_t reason_code = kNoReasonCode;
  std::int64_t source_line = -1;  // "line": where the reading came from originally
};

struct Problem {
  std::string field, reason;
  bool json = false;  // malformed JSON (not a schema problem)
};

bool fail(Problem& p, std::string field, std::string reason) {
  p.field = std::move(field);
  p.reason = std::move(reason);
  return false;
}

bool json_fail(Problem& p, std::string_view field, simdjson::error_code e) {
  p.json = true;
  p.field = std::string(field);
  p.reason = std::string("malformed JSON: ") + simdjson::error_message(e);
  return false;
}

// The raw text of the value's token (a string with its quotes, a number, null…) without
// consuming it: the input buffer itself, so field data is never copied.
std::string_view peek_token(od::value& v) {
  return v.raw_json_token();
}

// Reads a string, or "" for null when `nullable`. A string without escapes (the usual case) is
// a view into the input buffer; only one with escapes is unescaped by simdjson.
bool get_text(od::value& v, std::string_view key, std::string_view& out, Problem& p,
              bool nullable) {
  const std::string_view token = peek_token(v);
  if (!token.empty() && token[0] == '"') {
    const auto close = token.rfind('"');
    const std::string_view text = token.substr(1, close == 0 ? 0 : close - 1);
    if (close > 0 && text.find('\\') == std::string_view::npos) {
      od::raw_json_string skipped;
      if (auto e = v.get_raw_json_string().get(skipped)) return json_fail(p, key, e);
      out = text;
      return true;
    }
    if (auto e = v.get_string().get(out)) return json_fail(p, key, e);
    return true;
  }
  od::json_type t;
  if (auto e = v.type().get(t)) return json_fail(p, key, e);
  if (t == od::json_type::null && nullable) {
    bool is_null = false;
    if (auto e = v.is_null().get(is_null)) return json_fail(p, key, e);
    out = {};
    return true;
  }
  return fail(p, std::string(key), "expected a string");
}

// The last text of one time field and its value: consecutive lines usually repeat
// update_datetime, msats_load_datetime and file_created, so most are a compare, not a parse.
struct CachedTime {
  std::array<char, 40> text{};
  std::size_t size = 0;
  epoch_seconds value = kNoTime;
  bool lookup(std::string_view s, epoch_seconds& out) const {
    if (s.size() != size || size == 0 || std::memcmp(s.data(), text.data(), size) != 0)
      return false;
    out = value;
    return true;
  }
  void store(std::string_view s, epoch_seconds v) {
    if (s.size() > text.size()) return;
    std::memcpy(text.data(), s.data(), s.size());
    size = s.size();
    value = v;
  }
};

// An ISO-8601 instant, or kNoTime for null when `nullable`.
bool get_time(od::value& v, std::string_view key, epoch_seconds& out, Problem& p, bool nullable,
              CachedTime* cache = nullptr) {
  std::string_view text;
  if (!get_text(v, key, text, p, nullable)) return false;
  if (text.empty() && nullable) {
    out = kNoTime;
    return true;
  }
  if (cache && cache->lookup(text, out)) return true;
  if (!parse_iso_time(text, out, /*nem_if_no_offset=*/true))
    return fail(p, std::string(key),
                "expected an ISO-8601 time like 2005-03-01T00:30:00+10:00, got '" +
                    std::string(text.substr(0, 64)) + "'");
  if (cache) cache->store(text, out);
  return true;
}

// An integer in [lo, hi], or `none` for null when nullable.
bool get_int(od::value& v, std::string_view key, std::int64_t lo, std::int64_t hi,
             std::int64_t& out, Problem& p, bool nullable, std::int64_t none = 0) {
  const std::string_view token = peek_token(v);
  if (nullable && !token.empty() && token[0] == 'n') {
    bool is_null = false;
    if (auto e = v.is_null().get(is_null)) return json_fail(p, key, e);
    if (is_null) {
      out = none;
      return true;
    }
  }
  std::int64_t n = 0;
  if (v.get_int64().get(n) != simdjson::SUCCESS) {
    od::json_type t;
    if (auto e = v.type().get(t)) return json_fail(p, key, e);
    if (t != od::json_type::number) return fail(p, std::string(key), "expected an integer");
    return fail(p, std::string(key),
                "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  if (n < lo || n > hi)
    return fail(p, std::string(key),
                "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  out = n;
  return true;
}

// The key of a field: a view into the input buffer unless it has escapes (then unescaped).
// Known keys are short: a byte loop beats two memchr calls (the padding makes the reads safe).
bool get_key(od::field& field, std::string_view& key, Problem& p) {
  const char* raw = field.key().raw();
  for (std::size_t i = 0; raw && i < 24; ++i) {
    if (raw[i] == '"') {
      key = std::string_view(raw, i);
      return true;
    }
    if (raw[i] == '\\') break;
  }
  if (auto e = field.unescaped_key().get(key)) return json_fail(p, "", e);
  return true;
}

struct TimeCaches {
  CachedTime update_datetime, msats_load_datetime, file_created;
};

bool decode(od::object& object, Line& line, Problem& p, bool strict, TimeCaches& times) {
  for (auto field_result : object) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return json_fail(p, "", e);
    std::string_view key;
    if (!get_key(field, key, p)) return false;
    od::value& v = field.value();
    std::int64_t n = 0;
    switch (key.size()) {
      case 3:
        if (key == "nmi") {
          if (!get_text(v, key, line.nmi, p, false)) return false;
          line.has_nmi = true;
          continue;
        }
        if (key == "uom") {
          if (!get_text(v, key, line.uom, p, false)) return false;
          line.has_uom = true;
          continue;
        }
        break;
      case 4:
        if (key == "line") {
          if (!get_int(v, key, 0, 0xffffffffll, n, p, true, -1)) return false;
          line.source_line = n;
          continue;
        }
        break;
      case 5:
        if (key == "value") {
          const std::string_view token = peek_token(v);
          if (token.empty() || (token[0] != '-' && (token[0] < '0' || token[0] > '9'))) {
            od::json_type t;
            if (auto e = v.type().get(t)) return json_fail(p, key, e);
            return fail(p, "value", "expected a number");
          }
          if (auto e = v.get_double().get(line.value)) return json_fail(p, key, e);
          if (!std::isfinite(line.value) || line.value < 0)
            return fail(p, "value", "expected a finite, non-negative number");
          line.has_value = true;
          continue;
        }
        break;
      case 6:
        if (key == "values") {
          od::json_type t;
          if (auto e = v.type().get(t)) return json_fail(p, key, e);
          if (t != od::json_type::array) return fail(p, "values", "expected an array of numbers");
          od::array array;
          if (auto e = v.get_array().get(array)) return json_fail(p, key, e);
          line.values->clear();
          for (auto element : array) {
            double d = 0;
            if (auto e = element.get_double().get(d)) {
              if (e == simdjson::INCORRECT_TYPE)
                return fail(p, "values", "expected an array of numbers");
              return json_fail(p, key, e);
            }
            if (!std::isfinite(d) || d < 0)
              return fail(p, "values", "expected finite, non-negative numbers");
            line.values->push_back(d);
          }
          line.has_values = true;
          continue;
        }
        if (key == "suffix") {
          if (!get_text(v, key, line.suffix, p, false)) return false;
          line.has_suffix = true;
          continue;
        }
        if (key == "method") {
          if (!get_int(v, key, 1, 99, n, p, true, kNoMethod)) return false;
          line.method = static_cast<std::uint8_t>(n);
          continue;
        }
        break;
      case 7:
        if (key == "quality") {
          std::string_view q;
          if (!get_text(v, key, q, p, false)) return false;
          if (q.size() != 1 || std::string_view("AEFSN").find(q[0]) == std::string_view::npos)
            return fail(p, "quality", "expected one of A, E, F, S, N");
          line.quality = q[0];
          continue;
        }
        break;
      case 11:
        if (key == "reason_code") {
          if (!get_int(v, key, 0, 999, n, p, true, kNoReasonCode)) return false;
          line.reason_code = static_cast<std::int16_t>(n);
          continue;
        }
        if (key == "register_id") {
          if (!get_text(v, key, line.register_id, p, true)) return false;
          continue;
        }
        break;
      case 12:
        if (key == "meter_serial") {
          if (!get_text(v, key, line.meter_serial, p, true)) return false;
          continue;
        }
        if (key == "file_created") {
          if (!get_time(v, key, line.file_created, p, true, &times.file_created)) return false;
          continue;
        }
        break;
      case 14:
        if (key == "interval_start") {
          if (!get_time(v, key, line.interval_start, p, false)) return false;
          continue;
        }
        break;
      case 15:
        if (key == "update_datetime") {
          if (!get_time(v, key, line.update_datetime, p, true, &times.update_datetime))
            return false;
          continue;
        }
        break;
      case 16:
        if (key == "interval_minutes") {
          if (!get_int(v, key, 0, 1440, n, p, false)) return false;
          line.interval_minutes = n;
          continue;
        }
        break;
      case 18:
        if (key == "reason_description") {
          if (!get_text(v, key, line.reason_description, p, true)) return false;
          continue;
        }
        break;
      case 19:
        if (key == "msats_load_datetime") {
          if (!get_time(v, key, line.msats_load_datetime, p, true, &times.msats_load_datetime))
            return false;
          continue;
        }
        break;
      default:
        break;
    }
    // Unknown keys are ignored (forward compatibility), refused in strict mode.
    if (strict) return fail(p, std::string(key), "unknown field");
  }
  // Required fields and the rules the NEM12 reader applies to the same data.
  if (!line.has_nmi) return fail(p, "nmi", "missing");
  if (line.nmi.empty() || line.nmi.size() > 10)
    return fail(p, "nmi", "expected 1 to 10 characters");
  if (!line.has_suffix) return fail(p, "suffix", "missing");
  if (line.suffix.empty() || line.suffix.size() > 3)
    return fail(p, "suffix", "expected 1 to 3 characters");
  if (line.interval_start == kNoTime) return fail(p, "interval_start", "missing");
  if (line.interval_minutes < 0) return fail(p, "interval_minutes", "missing");
  if (line.interval_minutes != 5 && line.interval_minutes != 15 && line.interval_minutes != 30)
    return fail(p, "interval_minutes", "expected 5, 15 or 30");
  if ((line.interval_start + kNemOffsetSeconds) % (line.interval_minutes * 60) != 0)
    return fail(p, "interval_start",
                "not at the start of a " + std::to_string(line.interval_minutes) +
                    "-minute interval (NEM time)");
  if (line.has_values) {
    if (line.has_value) return fail(p, "values", "give value or values, not both");
    if (line.values->empty()) return fail(p, "values", "empty");
    const epoch_seconds last =
        line.interval_start +
        static_cast<epoch_seconds>(line.values->size() - 1) * line.interval_minutes * 60;
    if (nem_day_number(last) != nem_day_number(line.interval_start))
      return fail(p, "values", "runs past the end of the NEM day of interval_start");
  } else if (!line.has_value) {
    return fail(p, "value", "missing");
  }
  if (!line.has_uom || line.uom.empty()) return fail(p, "uom", "missing");
  if (line.quality == 0) return fail(p, "quality", "missing");
  if ((line.quality == 'F' || line.quality == 'S') && line.reason_code == kNoReasonCode)
    return fail(p, "reason_code", "required for quality F and S");
  return true;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

// Newlines in [p, p + n): memchr is vectorised, a byte loop is not (it was a fifth of the time).
std::uint64_t count_newlines(const char* p, std::size_t n) {
  std::uint64_t lines = 0;
  const char* end = p + n;
  while (p < end) {
    p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (!p) break;
    ++lines;
    ++p;
  }
  return lines;
}

// Interns a string once per change: consecutive lines usually share every string.
struct CachedString {
  std::string text;
  std::uint32_t id = 0;
  bool valid = false;
  std::uint32_t get(StringTable& table, std::string_view s) {
    if (!valid || s != text) {
      text.assign(s);
      id = table.intern(s);
      valid = true;
    }
    return id;
  }
};

}  // namespace

struct NdjsonReader::Impl {
  ReaderOptions options;
  ReadingSink& sink;
  FileReport report;
  ReadingBatch batch;
  od::parser parser;
  std::vector<char> buffer;  // pending bytes; capacity always len + SIMDJSON_PADDING or more
  std::size_t buffered = 0;
  std::uint64_t next_line = 1;  // line number of buffer[0]
  bool skipping_long_line = false, started = false;
  std::array<CachedString, 6> strings;  // nmi, suffix, register, serial, uom, reason text
  bool run_open = false, run_line_given = false;
  QualityTally qualities;
  std::vector<double> values_buffer;  // "values" of the current line
  TimeCaches times;

  Impl(ReaderOptions o, ReadingSink& s) : options(std::move(o)), sink(s) {
    report.name = options.name;
    report.version_header = "NDJSON";
  }

  void reserve(std::size_t n) {
    if (buffer.size() < n + simdjson::SIMDJSON_PADDING)
      buffer.resize(std::max(n + simdjson::SIMDJSON_PADDING, buffer.size() * 2));
  }

  void reject(std::uint64_t line_no, const Problem& p, std::string_view nmi = {}) {
    Issue issue;
    issue.severity = Severity::reject;
    issue.line = static_cast<std::uint32_t>(line_no);
    issue.record = "ndjson";
    issue.field = p.field;
    issue.reason = p.reason;
    issue.scope = "record";
    issue.nmi = std::string(nmi);
    issue.readings_dropped = 1;
    report.add(std::move(issue));
    ++report.rejected_records;
    ++report.readings_rejected;
  }

  void flush() {
    if (batch.empty()) return;
    sink.on_readings(batch);
    batch.clear();
    for (auto& s : strings) s.valid = false;
    run_open = false;
  }

  // A line of the compact form is its readings one after the other (they extend one run).
  void commit_line(Line& l, std::uint64_t line_no) {
    if (!l.has_values) return commit(l, line_no);
    const epoch_seconds step = l.interval_minutes * 60;
    const epoch_seconds first = l.interval_start;
    for (std::size_t k = 0; k < values_buffer.size(); ++k) {
      l.value = values_buffer[k];
      l.interval_start = first + static_cast<epoch_seconds>(k) * step;
      commit(l, line_no);
    }
  }

  void commit(const Line& l, std::uint64_t line_no) {
    const std::uint32_t ids[6] = {strings[0].get(batch.strings, l.nmi),
                                  strings[1].get(batch.strings, l.suffix),
                                  strings[2].get(batch.strings, l.register_id),
                                  strings[3].get(batch.strings, l.meter_serial),
                                  strings[4].get(batch.strings, l.uom),
                                  strings[5].get(batch.strings, l.reason_description)};
    const auto minutes = static_cast<std::uint16_t>(l.interval_minutes);
    const bool line_given = l.source_line >= 0;
    if (run_open) {
      auto& r = batch.runs.back();
      const epoch_seconds day = nem_day_number(r.first_start);
      if (r.nmi == ids[0] && r.suffix == ids[1] && r.register_id == ids[2] &&
          r.meter_serial == ids[3] && r.uom == ids[4] && r.reason_description == ids[5] &&
          r.interval_minutes == minutes && r.quality == l.quality && r.method == l.method &&
          r.reason_code == l.reason_code && r.update_datetime == l.update_datetime &&
          r.msats_load_datetime == l.msats_load_datetime && r.file_created == l.file_created &&
          run_line_given == line_given &&
          (!line_given || r.line == static_cast<std::uint32_t>(l.source_line)) &&
          l.interval_start == r.interval_start(r.count) &&
          nem_day_number(l.interval_start) == day) {
        ++r.count;
        batch.values.push_back(l.value);
        return count(l);
      }
    }
    ReadingRun r;
    r.first_value = static_cast<std::uint32_t>(batch.values.size());
    r.count = 1;
    r.nmi = ids[0];
    r.suffix = ids[1];
    r.register_id = ids[2];
    r.meter_serial = ids[3];
    r.uom = ids[4];
    r.reason_description = ids[5];
    r.interval_minutes = minutes;
    r.quality = l.quality;
    r.method = l.method;
    r.reason_code = l.reason_code;
    r.line = static_cast<std::uint32_t>(line_given ? l.source_line : line_no);
    r.first_start = l.interval_start;
    r.update_datetime = l.update_datetime;
    r.msats_load_datetime = l.msats_load_datetime;
    r.file_created = l.file_created;
    r.file_sequence = options.file_sequence;
    batch.runs.push_back(r);
    batch.values.push_back(l.value);
    run_open = true;
    run_line_given = line_given;
    ++report.blocks;
    count(l);
  }

  void count(const Line& l) {
    ++report.readings;
    report.value_sum += l.value;
    qualities.add(l.quality, l.method, 1);
  }

  void after_line() {
    if (batch.values.size() >= options.batch_readings) flush();
  }

  // One line on its own (the slow path: exact error positions). [b, e) excludes the newline.
  void line_by_line(std::size_t b, std::size_t e, std::uint64_t line_no) {
    while (b < e && (is_space(buffer[b]) || buffer[b] == '\n')) ++b;
    while (e > b && is_space(buffer[e - 1])) --e;
    if (b == e) return;  // blank line
    Problem p;
    Line line;
    line.values = &values_buffer;
    od::document doc;
    auto e1 = parser.iterate(buffer.data() + b, e - b, buffer.size() - b).get(doc);
    if (e1) return reject(line_no, (json_fail(p, "", e1), p));
    od::object object;
    if (auto e2 = doc.get_object().get(object)) {
      if (e2 == simdjson::INCORRECT_TYPE)
        return reject(line_no, (fail(p, "", "expected a JSON object"), p));
      return reject(line_no, (json_fail(p, "", e2), p));
    }
    if (!decode(object, line, p, options.strict, times)) return reject(line_no, p, line.nmi);
    if (doc.current_location().error() == simdjson::SUCCESS)  // more tokens after the object
      return reject(line_no, (fail(p, "", "more than one JSON value on the line"), p), line.nmi);
    commit_line(line, line_no);
    after_line();
  }

  // Complete lines in buffer[0, len): the fast path is a document stream; at the first doubt
  // (malformed JSON, a value spanning lines, two values on a line) the rest of the block is
  // read line by line.
  void block(std::size_t len) {
    std::size_t good_end = 0;  // start of the first line not yet handled
    std::uint64_t good_line = next_line;
    bool fallback = false;
    od::document_stream stream;
    if (parser.iterate_many(buffer.data(), len, std::max<std::size_t>(len, 1 << 20)).get(stream)) {
      fallback = true;
    } else {
      std::size_t scan = 0;
      std::uint64_t scan_line = next_line;
      for (auto it = stream.begin(); it != stream.end(); ++it) {
        const std::size_t at = it.current_index();
        if (it.error() || at < good_end) {
          fallback = true;
          break;
        }
        scan_line += count_newlines(buffer.data() + scan, at - scan);
        scan = at;
        // Blank lines between documents are fine; the document must fill the rest of its line.
        const std::string_view source = it.source();
        if (source.find('\n') != std::string_view::npos) {
          fallback = true;
          break;
        }
        std::size_t end = at + source.size();
        while (end < len && is_space(buffer[end])) ++end;
        if (end < len && buffer[end] != '\n') {
          fallback = true;
          break;
        }
        Problem p;
        Line line;
        line.values = &values_buffer;
        auto doc = *it;
        od::object object;
        if (auto e = doc.get_object().get(object)) {
          if (e != simdjson::INCORRECT_TYPE) {
            fallback = true;
            break;
          }
          reject(scan_line, (fail(p, "", "expected a JSON object"), p));
        } else if (!decode(object, line, p, options.strict, times)) {
          if (p.json) {
            fallback = true;
            break;
          }
          reject(scan_line, p, line.nmi);
        } else {
          commit_line(line, scan_line);
          after_line();
        }
        good_end = end < len ? end + 1 : len;
        good_line = scan_line + 1;
        scan = good_end;
        scan_line = good_line;
      }
    }
    // A stream that stopped early (an unclosed document swallows the rest of the batch) leaves
    // lines unhandled: they are read one by one too.
    if (!fallback)
      for (std::size_t i = good_end; i < len && !fallback; ++i)
        fallback = !is_space(buffer[i]) && buffer[i] != '\n';
    if (!fallback) {  // what follows the last document is blank lines only
      next_line = good_line + count_newlines(buffer.data() + good_end, len - good_end);
      return;
    }
    std::size_t b = good_end;
    std::uint64_t line_no = good_line;
    while (b < len) {  // the block ends with a newline: one line per turn
      const char* nl = static_cast<const char*>(std::memchr(buffer.data() + b, '\n', len - b));
      const std::size_t e = nl ? static_cast<std::size_t>(nl - buffer.data()) : len;
      line_by_line(b, e, line_no);
      b = e + 1;
      ++line_no;
    }
    next_line = line_no;
  }

  void feed(std::string_view chunk) {
    report.bytes += chunk.size();
    if (!started) {
      started = true;
      if (chunk.substr(0, 3) == "\xEF\xBB\xBF") chunk.remove_prefix(3);
    }
    while (!chunk.empty()) {
      if (skipping_long_line) {  // drop bytes up to the end of an over-long line
        auto nl = chunk.find('\n');
        if (nl == std::string_view::npos) return;
        chunk.remove_prefix(nl + 1);
        skipping_long_line = false;
        ++next_line;
        continue;
      }
      // Take up to the last newline of this chunk (at most 1 MiB at a time).
      std::string_view take = chunk.substr(0, 1u << 20);
      auto last_nl = take.rfind('\n');
      if (last_nl == std::string_view::npos) {
        if (buffered + take.size() > kMaxLineBytes) {
          Problem p;
          reject(next_line,
                 (fail(p, "", "line longer than " + std::to_string(kMaxLineBytes) + " bytes"), p));
          buffered = 0;
          skipping_long_line = true;
        } else {
          reserve(buffered + take.size());
          std::memcpy(buffer.data() + buffered, take.data(), take.size());
          buffered += take.size();
        }
        chunk.remove_prefix(take.size());
        continue;
      }
      take = take.substr(0, last_nl + 1);
      reserve(buffered + take.size());
      std::memcpy(buffer.data() + buffered, take.data(), take.size());
      block(buffered + take.size());
      buffered = 0;
      chunk.remove_prefix(take.size());
    }
  }

  void finish() {
    if (buffered > 0) {
      reserve(buffered + 1);
      buffer[buffered] = '\n';
      ++buffered;
      block(buffered);
      buffered = 0;
    }
    flush();
    report.lines = next_line - 1;
    qualities.fold_into(report);
  }
};

NdjsonReader::NdjsonReader(ReaderOptions options, ReadingSink& sink)
    : impl_(std::make_unique<Impl>(std::move(options), sink)) {}
NdjsonReader::~NdjsonReader() = default;
void NdjsonReader::feed(std::string_view chunk) {
  impl_->feed(chunk);
}
void NdjsonReader::finish() {
  impl_->finish();
}
const FileReport& NdjsonReader::report() const {
  return impl_->report;
}
FileReport& NdjsonReader::report() {
  return impl_->report;
}

}  // namespace meterd
