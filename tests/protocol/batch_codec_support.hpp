// What the batch codec tests share: comparing two batches reading by reading, field by field,
// value bits included.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "protocol/batch_codec.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd::test {

// Bytes of one run in each frame layout (batch_codec.hpp): v3 today, v2 without the u8
// line_step at its end, v1 without the u64 file_sequence before it as well.
inline constexpr std::size_t kRunBytesV3 = 79, kRunBytesV2 = 78, kRunBytesV1 = 70;

// A layout-v3 frame payload as an older layout wrote it: each run cut to its first `run_bytes`.
inline std::string payload_in_older_layout(std::string_view payload, std::size_t run_bytes) {
  std::uint32_t counts[4];  // strings, runs, values, string bytes
  std::memcpy(counts, payload.data(), sizeof counts);
  const std::size_t run_at = 16 + 4ull * counts[0] + counts[3];
  std::string out(payload.substr(0, run_at));
  for (std::size_t i = 0; i < counts[1]; ++i)
    out.append(payload.substr(run_at + i * kRunBytesV3, run_bytes));
  out.append(payload.substr(run_at + std::size_t{counts[1]} * kRunBytesV3));
  return out;
}

inline std::uint64_t value_bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// "" when `b` has the runs of `a` in the same order with every field (strings by text, values by
// bits) equal, first_value aside (a decoded batch numbers its values in run order); else the
// first difference.
inline std::string first_difference(const ReadingBatch& a, const ReadingBatch& b) {
  if (a.runs.size() != b.runs.size())
    return "runs " + std::to_string(a.runs.size()) + " vs " + std::to_string(b.runs.size());
  for (std::size_t i = 0; i < a.runs.size(); ++i) {
    const ReadingRun &x = a.runs[i], &y = b.runs[i];
    const std::string at = "run " + std::to_string(i) + ": ";
    const std::uint32_t ReadingRun::*ids[] = {
        &ReadingRun::nmi,          &ReadingRun::suffix, &ReadingRun::register_id,
        &ReadingRun::meter_serial, &ReadingRun::uom,    &ReadingRun::reason_description};
    for (auto id : ids)
      if (a.strings[x.*id] != b.strings[y.*id])
        return at + "string " + std::string(a.strings[x.*id]);
    if (x.count != y.count || x.interval_minutes != y.interval_minutes || x.quality != y.quality ||
        x.method != y.method || x.reason_code != y.reason_code || x.line != y.line ||
        x.first_start != y.first_start || x.update_datetime != y.update_datetime ||
        x.msats_load_datetime != y.msats_load_datetime || x.file_created != y.file_created ||
        x.file_sequence != y.file_sequence)
      return at + "a field differs";
    for (std::uint32_t k = 0; k < x.count; ++k)
      if (value_bits(a.values[x.first_value + k]) != value_bits(b.values[y.first_value + k]))
        return at + "value " + std::to_string(k);
  }
  return "";
}

// Encodes `batch` as a frame and decodes it back with `checks`; "" or what went wrong.
inline std::string round_trip(const ReadingBatch& batch, ReadingBatch& decoded,
                              FrameChecks checks = FrameChecks::structural) {
  std::string frame;
  append_batch_frame(frame, batch);
  std::string_view bytes = frame, payload;
  if (!take_batch_frame(bytes, payload) || !bytes.empty()) return "frame length";
  if (auto why = decode_batch_frame(payload, decoded, {checks, FrameLayout::v3}); !why.empty())
    return "decode: " + why;
  return first_difference(batch, decoded);
}

}  // namespace meterd::test
