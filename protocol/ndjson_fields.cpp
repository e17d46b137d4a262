#include "protocol/ndjson_fields.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "protocol/iso_time.hpp"
#include "protocol/ndjson_flat.hpp"
#include "protocol/nem_time.hpp"

namespace meterd::ndjson {

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

namespace {

// Unknown fields are read to their end; deeper nesting than this is refused, not recursed.
constexpr int kMaxUnknownDepth = 64;

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

// Reads a value the schema does not know, to its end. On demand, a value nobody reads is skipped
// without being checked, and whether a malformed one slips through then depends on what else
// is in the parser's window (reading_decoder_fuzz found a line kept in one chunking and refused
// in another): reading it makes it refused alike everywhere.
simdjson::error_code read_unknown(od::value& v, int depth) {
  if (depth > kMaxUnknownDepth) return simdjson::DEPTH_ERROR;
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::array: {
      od::array array;
      if (auto e = v.get_array().get(array)) return e;
      for (auto element : array) {
        od::value inner;
        if (auto e = std::move(element).get(inner)) return e;
        if (auto e = read_unknown(inner, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object object;
      if (auto e = v.get_object().get(object)) return e;
      for (auto field_result : object) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        if (auto e = read_unknown(field.value(), depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      od::number n;
      return v.get_number().get(n);
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::boolean: {
      bool b = false;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// The fields of one object through the simdjson On Demand parser (any JSON).
class SimdjsonFields {
 public:
  SimdjsonFields(od::object& object, Problem& p) : it_(object.begin()), end_(object.end()), p_(p) {}

  FlatLine::Next next(std::string_view& key) {
    if (started_) ++it_;
    started_ = true;
    if (!(it_ != end_)) return FlatLine::Next::end;
    if (auto e = std::move(*it_).get(field_)) return json_fail(p_, "", e), FlatLine::Next::other;
    return get_key(field_, key, p_) ? FlatLine::Next::key : FlatLine::Next::other;
  }
  bool text(std::string_view key, std::string_view& out, bool nullable) {
    return get_text(field_.value(), key, out, p_, nullable);
  }
  bool integer(std::string_view key, std::int64_t lo, std::int64_t hi, std::int64_t& out,
               bool nullable, std::int64_t none = 0) {
    return get_int(field_.value(), key, lo, hi, out, p_, nullable, none);
  }
  bool number(std::string_view key, double& out) {
    od::value& v = field_.value();
    const std::string_view token = peek_token(v);
    if (token.empty() || (token[0] != '-' && (token[0] < '0' || token[0] > '9'))) {
      od::json_type t;
      if (auto e = v.type().get(t)) return json_fail(p_, key, e);
      return fail(p_, "value", "expected a number");
    }
    if (auto e = v.get_double().get(out)) return json_fail(p_, key, e);
    if (!std::isfinite(out) || out < 0)
      return fail(p_, "value", "expected a finite, non-negative number");
    return true;
  }
  bool numbers(std::string_view key, std::vector<double>& out) {
    od::value& v = field_.value();
    od::json_type t;
    if (auto e = v.type().get(t)) return json_fail(p_, key, e);
    if (t != od::json_type::array) return fail(p_, "values", "expected an array of numbers");
    od::array array;
    if (auto e = v.get_array().get(array)) return json_fail(p_, key, e);
    out.clear();
    for (auto element : array) {
      double d = 0;
      if (auto e = element.get_double().get(d)) {
        if (e == simdjson::INCORRECT_TYPE)
          return fail(p_, "values", "expected an array of numbers");
        return json_fail(p_, key, e);
      }
      if (!std::isfinite(d) || d < 0)
        return fail(p_, "values", "expected finite, non-negative numbers");
      out.push_back(d);
    }
    return true;
  }
  bool skip(std::string_view key) {
    if (auto e = read_unknown(field_.value(), 0)) return json_fail(p_, key, e);
    return true;
  }

 private:
  decltype(std::declval<od::object&>().begin()) it_;
  decltype(std::declval<od::object&>().end()) end_;
  od::field field_;
  Problem& p_;
  bool started_ = false;
};

// The fields of one line through FlatLine (the usual line, no parser): any false sends the line
// to SimdjsonFields, so its problems are never reported and need no words.
class FlatFields {
 public:
  FlatFields(std::string_view text) : line_(text.data(), text.data() + text.size()) {}

  FlatLine::Next next(std::string_view& key) { return line_.next(key); }
  bool text(std::string_view, std::string_view& out, bool nullable) {
    return line_.text(out, nullable);
  }
  bool integer(std::string_view, std::int64_t lo, std::int64_t hi, std::int64_t& out, bool nullable,
               std::int64_t none = 0) {
    return line_.integer(lo, hi, out, nullable, none);
  }
  bool number(std::string_view, double& out) { return line_.number(out); }
  bool numbers(std::string_view, std::vector<double>& out) { return line_.numbers(out); }
  bool skip(std::string_view) { return line_.skip(); }
  bool at_line_end() { return line_.at_line_end(); }

 private:
  FlatLine line_;
};

// An ISO-8601 instant, or kNoTime for null when `nullable`.
template <class Fields>
bool get_time(Fields& f, std::string_view key, epoch_seconds& out, Problem& p, bool nullable,
              CachedTime* cache = nullptr) {
  std::string_view text;
  if (!f.text(key, text, nullable)) return false;
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

// Required fields and the rules the NEM12 reader applies to the same data.
bool check_line(const Line& line, Problem& p, bool strict) {
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
  // Tolerated by default as in NEM12 files (the quality is kept with an empty reason).
  if (strict && (line.quality == 'F' || line.quality == 'S') && line.reason_code == kNoReasonCode)
    return fail(p, "reason_code", "required for quality F and S (strict mode)");
  return true;
}

// The schema over the fields of one object, in document order, whichever reader gives them.
template <class Fields>
bool decode_fields(Fields& f, Line& line, Problem& p, bool strict, TimeCaches& times) {
  std::string_view key;
  for (;;) {
    const auto next = f.next(key);
    if (next == FlatLine::Next::end) break;
    if (next == FlatLine::Next::other) return false;
    std::int64_t n = 0;
    switch (key.size()) {
      case 3:
        if (key == "nmi") {
          if (!f.text(key, line.nmi, false)) return false;
          line.has_nmi = true;
          continue;
        }
        if (key == "uom") {
          if (!f.text(key, line.uom, false)) return false;
          line.has_uom = true;
          continue;
        }
        break;
      case 4:
        if (key == "line") {
          if (!f.integer(key, 0, 0xffffffffll, n, true, -1)) return false;
          line.source_line = n;
          continue;
        }
        break;
      case 5:
        if (key == "value") {
          if (!f.number(key, line.value)) return false;
          line.has_value = true;
          continue;
        }
        break;
      case 6:
        if (key == "values") {
          if (!f.numbers(key, *line.values)) return false;
          line.has_values = true;
          continue;
        }
        if (key == "suffix") {
          if (!f.text(key, line.suffix, false)) return false;
          line.has_suffix = true;
          continue;
        }
        if (key == "tenant") {
          if (!f.text(key, line.tenant, false)) return false;
          line.has_tenant = true;
          continue;
        }
        if (key == "method") {
          if (!f.integer(key, 1, 99, n, true, kNoMethod)) return false;
          line.method = static_cast<std::uint8_t>(n);
          continue;
        }
        break;
      case 7:
        if (key == "quality") {
          std::string_view q;
          if (!f.text(key, q, false)) return false;
          if (q.size() != 1 || !is_quality_flag(q[0]))
            return fail(p, "quality", "expected one of A, E, F, S, N, V");
          line.quality = q[0];
          continue;
        }
        break;
      case 11:
        if (key == "reason_code") {
          if (!f.integer(key, 0, 999, n, true, kNoReasonCode)) return false;
          line.reason_code = static_cast<std::int16_t>(n);
          continue;
        }
        if (key == "register_id") {
          if (!f.text(key, line.register_id, true)) return false;
          continue;
        }
        break;
      case 12:
        if (key == "meter_serial") {
          if (!f.text(key, line.meter_serial, true)) return false;
          continue;
        }
        if (key == "file_created") {
          if (!get_time(f, key, line.file_created, p, true, &times.file_created)) return false;
          continue;
        }
        break;
      case 14:
        if (key == "interval_start") {
          if (!get_time(f, key, line.interval_start, p, false)) return false;
          continue;
        }
        break;
      case 15:
        if (key == "update_datetime") {
          if (!get_time(f, key, line.update_datetime, p, true, &times.update_datetime))
            return false;
          continue;
        }
        break;
      case 16:
        if (key == "interval_minutes") {
          if (!f.integer(key, 0, 1440, n, false)) return false;
          line.interval_minutes = n;
          continue;
        }
        break;
      case 18:
        if (key == "reason_description") {
          if (!f.text(key, line.reason_description, true)) return false;
          continue;
        }
        break;
      case 19:
        if (key == "msats_load_datetime") {
          if (!get_time(f, key, line.msats_load_datetime, p, true, &times.msats_load_datetime))
            return false;
          continue;
        }
        break;
      default:
        break;
    }
    // Unknown keys are ignored (forward compatibility), refused in strict mode.
    if (strict) return fail(p, std::string(key), "unknown field");
    if (!f.skip(key)) return false;
  }
  return check_line(line, p, strict);
}

}  // namespace

bool decode_object(od::object& object, Line& line, Problem& p, bool strict, TimeCaches& times) {
  SimdjsonFields fields(object, p);
  return decode_fields(fields, line, p, strict, times);
}

bool decode_flat(std::string_view text, Line& line, bool strict, TimeCaches& times) {
  Problem unused;
  FlatFields fields(text);
  return decode_fields(fields, line, unused, strict, times) && fields.at_line_end();
}

}  // namespace meterd::ndjson
