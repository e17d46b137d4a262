// decode_flat (the NDJSON reader's path without simdjson) against decode_object (simdjson) on
// lines near the usual ones: every byte of a valid line replaced by characters that matter to
// JSON or deleted. Whatever decode_flat takes, simdjson must take too, with the same result.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/ndjson_fields.hpp"

namespace meterd::test {
namespace {

using ndjson::Line;

// The line's string views point into the bytes decoded (and simdjson's unescaped strings into
// its parser), so both live here, with the result, and a Decoded is filled in place.
struct Decoded {
  Decoded() { line.values = &values; }
  Decoded(const Decoded&) = delete;
  Decoded& operator=(const Decoded&) = delete;
  bool ok = false;
  Line line;
  std::vector<double> values;
  std::string buffer;
  simdjson::padded_string padded;
  simdjson::ondemand::parser parser;
};

void with_simdjson(const std::string& text, bool strict, Decoded& d) {
  auto& parser = d.parser;
  d.padded = simdjson::padded_string(text);
  simdjson::ondemand::document doc;
  if (parser.iterate(d.padded).get(doc)) return;
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) return;
  ndjson::Problem p;
  ndjson::TimeCaches times;
  if (!ndjson::decode_object(object, d.line, p, strict, times)) return;
  if (doc.current_location().error() == simdjson::SUCCESS) return;  // more after the object
  d.ok = true;
}

void flat(const std::string& text, bool strict, Decoded& d) {
  if (!simdjson::validate_utf8(text.data(), text.size())) return;  // the reader checks first
  auto& buffer = d.buffer;
  buffer = text + "\n" + std::string(64, '\0');  // the reader's padding
  std::size_t b = 0, e = text.size();
  while (b < e && (buffer[b] == ' ' || buffer[b] == '\t' || buffer[b] == '\r')) ++b;
  while (e > b && (buffer[e - 1] == ' ' || buffer[e - 1] == '\t' || buffer[e - 1] == '\r')) --e;
  if (b == e) return;
  ndjson::TimeCaches times;
  d.ok = ndjson::decode_flat({buffer.data() + b, e - b}, d.line, strict, times);
}

// The same line as decoded, field by field (string views compared by content).
void expect_same(const Decoded& a, const Decoded& b, const std::string& text) {
  const Line &x = a.line, &y = b.line;
  EXPECT_TRUE(x.nmi == y.nmi && x.suffix == y.suffix && x.register_id == y.register_id &&
              x.meter_serial == y.meter_serial && x.uom == y.uom &&
              x.reason_description == y.reason_description &&
              x.interval_start == y.interval_start && x.update_datetime == y.update_datetime &&
              x.msats_load_datetime == y.msats_load_datetime && x.file_created == y.file_created &&
              x.interval_minutes == y.interval_minutes &&
              std::signbit(x.value) == std::signbit(y.value) && x.value == y.value &&
              x.has_value == y.has_value && x.has_values == y.has_values && a.values == b.values &&
              x.quality == y.quality && x.method == y.method && x.reason_code == y.reason_code &&
              x.source_line == y.source_line)
      << text;
}

const std::vector<std::string>& base_lines() {
  static const std::vector<std::string> lines = {
      R"({"nmi":"NMI0000001","suffix":"E1","interval_start":"2024-01-01T00:30:00+10:00",)"
      R"("interval_minutes":30,"value":1.25,"uom":"KWH","quality":"A","method":null,)"
      R"("reason_code":null,"reason_description":"","update_datetime":"2024-01-02T03:04:05+10:00",)"
      R"("msats_load_datetime":null,"register_id":"","meter_serial":"","file_created":null,)"
      R"("line":17})",
      R"({"nmi":"Q1","suffix":"B1","interval_start":"2024-03-01T00:05:00Z","interval_minutes":5,)"
      R"("value":0,"uom":"kWh","quality":"F","method":14,"reason_code":51,)"
      R"("reason_description":"déjà vu","extra":[1],"other":{"a":true},"x":-1.5e-3,"y":false})",
      R"({"nmi":"N","suffix":"E1","interval_start":"2024-01-01T00:00:00","interval_minutes":15,)"
      R"("values":[0.5,1e2,3E-1,0,1234567890123456789],"uom":"KWH","quality":"S","line":null})",
  };
  return lines;
}

TEST(NdjsonFlatTest, TakesTheUsualLinesWithTheSameResultAsSimdjson) {
  for (const auto& text : base_lines()) {
    for (bool strict : {false, true}) {
      Decoded a, b;
      flat(text, strict, a);
      with_simdjson(text, strict, b);
      if (!strict) {
        EXPECT_TRUE(b.ok) << text;
        if (text.find('[') == std::string::npos || text.find("values") != std::string::npos) {
          EXPECT_TRUE(a.ok) << "the flat path should take " << text;
        }
      }
      if (a.ok && b.ok) expect_same(a, b, text);
    }
  }
}

TEST(NdjsonFlatTest, NeverTakesWhatSimdjsonRefusesNorReadsItOtherwise) {
  const std::string replacements[] = {
      "\\", "\"", " ", "\t", "\r", ",", ":",    "{",    "}",    "[",    "]",  "0",     "1",    "-",
      ".",  "e",  "E", "+",  "n",  "x", "\x01", "\x7f", "\xc3", "\xff", "00", "1e999", "\"\"", ""};
  std::size_t taken = 0, tried = 0;
  for (const auto& base : base_lines())
    for (std::size_t at = 0; at < base.size(); ++at)
      for (const auto& r : replacements)
        for (bool strict : {false, true}) {
          std::string text = base;
          text.replace(at, 1, r);
          ++tried;
          Decoded a, b;
          flat(text, strict, a);
          if (!a.ok) continue;
          ++taken;
          with_simdjson(text, strict, b);
          ASSERT_TRUE(b.ok) << "taken by the flat path, refused by simdjson: " << text;
          expect_same(a, b, text);
        }
  EXPECT_GT(taken, 1000u) << tried;  // the flat path took many lines: the check was exercised
}

}  // namespace
}  // namespace meterd::test
