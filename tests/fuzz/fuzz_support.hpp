// What the libFuzzer targets share: a broken invariant aborts (libFuzzer then keeps the input),
// and readings fold into order-sensitive fingerprints for comparing two decodes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "protocol/batch_codec.hpp"
#include "protocol/reading_batch.hpp"
#include "tests/protocol/batch_codec_support.hpp"

namespace meterd::fuzz {

// Set by each target to its own name, for the abort message.
inline const char* target_name = "fuzz";

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "%s: invariant violated: %s\n", target_name, what);
  std::abort();
}

inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

inline std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}

inline std::uint64_t mix(std::uint64_t h, std::string_view text) {
  for (char c : text) h = mix(h, static_cast<unsigned char>(c));
  return mix(h, text.size());
}

inline std::uint64_t bits_of(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// What every reader's run must keep whatever the format: readings, a place inside the batch's
// values, and string ids inside its table.
inline void check_run_bounds(const ReadingBatch& batch, const ReadingRun& run) {
  check(run.count > 0, "empty run");
  check(std::uint64_t{run.first_value} + run.count <= batch.values.size(),
        "run outside the batch's values");
  for (std::uint32_t id :
       {run.nmi, run.suffix, run.register_id, run.meter_serial, run.uom, run.reason_description})
    check(id < batch.strings.size(), "string id outside the batch's string table");
}

// What the batch codec must carry: a reader's batch keeps its rules (`checks`) and comes back
// from a frame field for field, bit for bit (the staging journal replays batches this way).
inline void check_frame_round_trip(const ReadingBatch& batch, FrameChecks checks) {
  check(check_batch(batch, checks).empty(), "a reader's batch breaks the batch codec's rules");
  static ReadingBatch decoded;
  check(test::round_trip(batch, decoded, checks).empty(),
        "a reader's batch does not round-trip through a frame");
}

}  // namespace meterd::fuzz
