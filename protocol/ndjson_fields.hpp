// One NDJSON line's JSON object decoded under the NDJSON schema (docs/http.md): the field
// decoding of NdjsonReader (ndjson_reader.hpp), which owns the parser, the buffering and the
// runs. Internal to the two.
#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reading_batch.hpp"

namespace meterd::ndjson {

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
  std::string_view tenant;        // "tenant", when the line names one
  bool has_tenant = false;
};

struct Problem {
  std::string field, reason;
  bool json = false;  // malformed JSON (not a schema problem)
};

// Both return false, so that a check can `return fail(...)`. A json problem (malformed JSON) is
// not a schema problem: the reader then re-reads the block line by line.
bool fail(Problem& p, std::string field, std::string reason);
bool json_fail(Problem& p, std::string_view field, simdjson::error_code e);

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

struct TimeCaches {
  CachedTime update_datetime, msats_load_datetime, file_created;
};

// Decodes the fields of `object` into `line` and checks the schema's rules (required fields,
// ranges, the interval grid, a run inside one NEM day); false with `p` set when one is broken.
// Unknown keys are ignored, refused when `strict`.
bool decode_object(od::object& object, Line& line, Problem& p, bool strict, TimeCaches& times);

// The same for one line [text.data(), text.data() + text.size()) without simdjson (FlatLine,
// ndjson_flat.hpp: the '\n' at the end and 16 bytes of padding after it, UTF-8 checked): true
// only for a line that decode_object accepts too, with the same result. False says nothing of
// the line: the caller decodes it with decode_object.
bool decode_flat(std::string_view text, Line& line, bool strict, TimeCaches& times);

}  // namespace meterd::ndjson
