#include "protocol/batch_codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "protocol/little_endian.hpp"
#include "protocol/nem_time.hpp"

namespace meterd {

namespace {

constexpr std::size_t kCountsBytes = 4 * 4;
constexpr std::size_t kRunBytesV1 = 4 + 6 * 4 + 2 + 1 + 1 + 2 + 4 + 4 * 8;
constexpr std::size_t kRunBytesV2 = kRunBytesV1 + 8;
constexpr std::size_t kRunBytesV3 = kRunBytesV2 + 1;
// Times an NDJSON line can carry and a query can print: years 0000 to 9999 (ISO-8601 with
// four-digit years), a day of slack for the UTC offset. Keeps interval arithmetic far from
// overflow.
constexpr epoch_seconds kMinTime = -62167219200 - 86400, kMaxTime = 253402300800 + 86400;

std::size_t run_bytes(FrameLayout layout) {
  return layout == FrameLayout::v1   ? kRunBytesV1
         : layout == FrameLayout::v2 ? kRunBytesV2
                                     : kRunBytesV3;
}

bool valid_time(epoch_seconds t) {
  return t == kNoTime || (t >= kMinTime && t <= kMaxTime);
}

bool string_ids_in(const ReadingRun& r, std::size_t strings) {
  for (auto id : {r.nmi, r.suffix, r.register_id, r.meter_serial, r.uom, r.reason_description})
    if (id >= strings) return false;
  return true;
}

// The structural rules of one run whose count, string ids and values are already known good.
std::string check_structure(const ReadingRun& r, const double* values) {
  if (r.interval_minutes != 5 && r.interval_minutes != 15 && r.interval_minutes != 30)
    return "interval_minutes not 5, 15 or 30";
  if (r.first_start == kNoTime || !valid_time(r.first_start) || !valid_time(r.update_datetime) ||
      !valid_time(r.msats_load_datetime) || !valid_time(r.file_created))
    return "time out of range";
  const epoch_seconds step = r.interval_minutes * 60;
  if ((r.first_start + kNemOffsetSeconds) % step != 0) return "interval_start not aligned";
  if (nem_day_number(r.interval_start(r.count - 1)) != nem_day_number(r.first_start))
    return "run crosses a NEM day";
  for (std::uint32_t k = 0; k < r.count; ++k)
    if (!std::isfinite(values[k])) return "value not finite";
  return {};
}

// The NDJSON schema's rules for one run (docs/http.md) beyond the structural ones.
std::string check_schema(const ReadingRun& r, const StringTable& strings, const double* values) {
  const auto nmi = strings[r.nmi].size(), suffix = strings[r.suffix].size();
  if (nmi == 0 || nmi > 10) return "nmi not 1 to 10 characters";
  if (suffix == 0 || suffix > 3) return "suffix not 1 to 3 characters";
  if (strings[r.uom].empty()) return "empty uom";
  if (!is_quality_flag(r.quality)) return "quality not A, E, F, S, N, V";
  if (r.method > 99) return "method over 99";
  if (r.reason_code < kNoReasonCode || r.reason_code > 999) return "reason_code out of range";
  for (std::uint32_t k = 0; k < r.count; ++k)
    if (values[k] < 0) return "value negative";
  return {};
}

std::string check_run(const ReadingRun& r, const StringTable& strings, const double* values,
                      FrameChecks checks) {
  if (auto why = check_structure(r, values); !why.empty()) return why;
  if (checks == FrameChecks::ndjson_schema) return check_schema(r, strings, values);
  return {};
}

}  // namespace

void append_batch_frame(std::string& out, const ReadingBatch& batch) {
  const std::size_t strings = batch.strings.size();
  std::uint64_t values = 0;
  for (const auto& r : batch.runs) {
    if (std::uint64_t{r.first_value} + r.count > batch.values.size() || !string_ids_in(r, strings))
      throw std::invalid_argument("append_batch_frame: a run refers outside its batch");
    values += r.count;
  }
  const std::uint64_t payload = kCountsBytes + 4ull * strings + batch.strings.bytes() +
                                std::uint64_t{kRunBytesV3} * batch.runs.size() + 8 * values;
  if (payload > kMaxFramePayloadBytes || values > 0xffffffffu)
    throw std::length_error("append_batch_frame: batch larger than a frame can hold");
  const std::size_t at = out.size();
  out.resize(at + kFrameLengthBytes + payload);
  char* p = out.data() + at;
  little_endian::store(p, static_cast<std::uint32_t>(payload));
  little_endian::store(p, static_cast<std::uint32_t>(strings));
  little_endian::store(p, static_cast<std::uint32_t>(batch.runs.size()));
  little_endian::store(p, static_cast<std::uint32_t>(values));
  little_endian::store(p, static_cast<std::uint32_t>(batch.strings.bytes()));
  for (std::uint32_t i = 0; i < strings; ++i)
    little_endian::store(p, static_cast<std::uint32_t>(batch.strings[i].size()));
  for (std::uint32_t i = 0; i < strings; ++i) {
    const std::string_view s = batch.strings[i];
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  for (const auto& r : batch.runs) {
    little_endian::store(p, r.count);
    for (auto id : {r.nmi, r.suffix, r.register_id, r.meter_serial, r.uom, r.reason_description})
      little_endian::store(p, id);
    little_endian::store(p, r.interval_minutes);
    little_endian::store(p, static_cast<std::uint8_t>(r.quality));
    little_endian::store(p, r.method);
    little_endian::store(p, r.reason_code);
    little_endian::store(p, r.line);
    for (auto t : {r.first_start, r.update_datetime, r.msats_load_datetime, r.file_created})
      little_endian::store(p, t);
    little_endian::store(p, r.file_sequence);
    little_endian::store(p, r.line_step);
  }
  for (const auto& r : batch.runs) {
    if (r.count == 0) continue;
    std::memcpy(p, batch.values.data() + r.first_value, 8ull * r.count);
    p += 8ull * r.count;
  }
}

std::uint32_t batch_frame_length(std::string_view frame) {
  std::uint32_t length;
  std::memcpy(&length, frame.data(), sizeof length);
  return length;
}

bool take_batch_frame(std::string_view& bytes, std::string_view& payload) {
  if (bytes.size() < kFrameLengthBytes) return false;
  const std::uint64_t length = batch_frame_length(bytes);
  if (bytes.size() - kFrameLengthBytes < length) return false;
  payload = bytes.substr(kFrameLengthBytes, length);
  bytes.remove_prefix(kFrameLengthBytes + length);
  return true;
}

std::string decode_batch_frame(std::string_view payload, ReadingBatch& out, FrameRules rules) {
  out.clear();
  const char* p = payload.data();
  if (payload.size() < kCountsBytes) return "frame shorter than its counts";
  const auto strings = little_endian::load<std::uint32_t>(p),
             runs = little_endian::load<std::uint32_t>(p);
  const auto values = little_endian::load<std::uint32_t>(p),
             text_bytes = little_endian::load<std::uint32_t>(p);
  const std::size_t one_run = run_bytes(rules.layout);
  const std::uint64_t expected =
      kCountsBytes + 4ull * strings + text_bytes + std::uint64_t{one_run} * runs + 8ull * values;
  if (expected != payload.size()) return "counts do not match the frame size";

  // A hand-made frame may repeat a string: its ids map to the batch's interned ones.
  std::vector<std::uint32_t> string_ids;
  string_ids.reserve(strings);
  const char* text = p + 4ull * strings;
  std::uint64_t text_used = 0;
  for (std::uint32_t i = 0; i < strings; ++i) {
    const auto length = little_endian::load<std::uint32_t>(p);
    if (length > text_bytes - text_used) return "string outside the frame";
    string_ids.push_back(out.strings.intern(std::string_view(text + text_used, length)));
    text_used += length;
  }
  if (text_used != text_bytes) return "string bytes do not add up";
  p = text + text_bytes;

  out.runs.reserve(runs);
  std::uint64_t next_value = 0;
  for (std::uint32_t i = 0; i < runs; ++i) {
    ReadingRun r;
    r.count = little_endian::load<std::uint32_t>(p);
    std::uint32_t* ids[] = {&r.nmi,          &r.suffix, &r.register_id,
                            &r.meter_serial, &r.uom,    &r.reason_description};
    for (auto* id : ids) {
      const auto file_id = little_endian::load<std::uint32_t>(p);
      if (file_id >= strings) return "string id out of range";
      *id = string_ids[file_id];
    }
    r.interval_minutes = little_endian::load<std::uint16_t>(p);
    r.quality = static_cast<char>(little_endian::load<std::uint8_t>(p));
    r.method = little_endian::load<std::uint8_t>(p);
    r.reason_code = little_endian::load<std::int16_t>(p);
    r.line = little_endian::load<std::uint32_t>(p);
    r.first_start = little_endian::load<epoch_seconds>(p);
    r.update_datetime = little_endian::load<epoch_seconds>(p);
    r.msats_load_datetime = little_endian::load<epoch_seconds>(p);
    r.file_created = little_endian::load<epoch_seconds>(p);
    r.file_sequence = rules.layout == FrameLayout::v1 ? 0 : little_endian::load<std::uint64_t>(p);
    r.line_step = rules.layout == FrameLayout::v3 ? little_endian::load<std::uint8_t>(p) : 0;
    if (r.line_step > 1) return "line_step not 0 or 1";
    if (r.count == 0 || r.count > values - next_value) return "run count out of range";
    r.first_value = static_cast<std::uint32_t>(next_value);
    next_value += r.count;
    out.runs.push_back(r);
  }
  if (next_value != values) return "runs do not cover the values";
  out.values.resize(values);
  if (values > 0) std::memcpy(out.values.data(), p, 8ull * values);
  for (const auto& r : out.runs)
    if (auto why = check_run(r, out.strings, out.values.data() + r.first_value, rules.checks);
        !why.empty())
      return why;
  return {};
}

std::string check_batch(const ReadingBatch& batch, FrameChecks checks) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;  // first_value, count
  spans.reserve(batch.runs.size());
  for (const auto& r : batch.runs) {
    if (!string_ids_in(r, batch.strings.size())) return "string id out of range";
    if (r.count == 0 || std::uint64_t{r.first_value} + r.count > batch.values.size())
      return "run count out of range";
    spans.emplace_back(r.first_value, r.count);
  }
  std::sort(spans.begin(), spans.end());
  std::uint64_t next = 0;
  for (const auto& [first, count] : spans) {
    if (first != next) return "runs do not cover the values";
    next += count;
  }
  if (next != batch.values.size()) return "runs do not cover the values";
  for (const auto& r : batch.runs)
    if (auto why = check_run(r, batch.strings, batch.values.data() + r.first_value, checks);
        !why.empty())
      return why;
  return {};
}

}  // namespace meterd
