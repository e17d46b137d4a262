// The one binary form of a ReadingBatch: a frame, used by the batch file (batch_file.hpp) and by
// the safety path's staging journal.
//
//   frame   := u32 payload_bytes payload
//   payload := u32 strings u32 runs u32 values u32 string_bytes
//              u32 string_length[strings] char text[string_bytes]
//              run[runs] f64 value[values]
//   run     := u32 count, u32 nmi suffix register_id meter_serial uom reason_description
//              (string ids), u16 interval_minutes, u8 quality, u8 method, i16 reason_code,
//              u32 line, i64 first_start update_datetime msats_load_datetime file_created,
//              u64 file_sequence (layouts v2 and v3; layout v1, the MTRDRB01 files, has none),
//              u8 line_step (layout v3: 0 or 1; older layouts have none, 0)
//
// Little-endian, no padding. The string table is written whole (id 0 is the empty string);
// values are written run after run, so a run takes the next `count` values and a batch whose
// runs are in any order (or share values) encodes; decoding gives first_value in run order.
//
// Decoding checks two levels of rules, because the readers legitimately keep readings that the
// NDJSON schema would refuse (the NEM12 reader keeps an NMI that is not 10 characters, with a
// warning):
//   structural, always: what every consumer relies on to stay in bounds and to mean something
//     (counts add up to the payload, string ids inside the table, runs not empty and covering
//     the values exactly, interval_minutes 5/15/30, times within years 0000-9999, interval
//     starts on the NEM interval grid, a run inside one NEM day, finite values);
//   ndjson_schema, for untrusted input (a batch file dropped into the spool by hand): the rules
//     of the NDJSON schema, docs/http.md (nmi 1-10 and suffix 1-3 characters, a uom, quality
//     A/E/F/S/N/V, method 0 (none) to 99, reason_code -1 (none) to 999, values >= 0).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/reading_batch.hpp"

namespace meterd {

enum class FrameLayout : std::uint8_t { v1, v2, v3 };
enum class FrameChecks : std::uint8_t { structural, ndjson_schema };

struct FrameRules {
  FrameChecks checks = FrameChecks::structural;
  FrameLayout layout = FrameLayout::v3;
};

inline constexpr std::size_t kFrameLengthBytes = 4;
// A frame's payload cannot exceed what its u32 length can say.
inline constexpr std::uint64_t kMaxFramePayloadBytes = 0xffffffffu;

// Appends `batch` as one frame (layout v3). A run outside the batch's values or a string id
// outside its table is a caller's bug: std::invalid_argument, and `out` is left as it was.
// A batch whose payload exceeds kMaxFramePayloadBytes: std::length_error.
void append_batch_frame(std::string& out, const ReadingBatch& batch);

// The payload length at the start of a frame; `frame` holds at least kFrameLengthBytes.
std::uint32_t batch_frame_length(std::string_view frame);

// Takes the whole frame at the front of `bytes`: its payload, and `bytes` advanced past it.
// False (nothing taken) when `bytes` does not hold a whole frame.
bool take_batch_frame(std::string_view& bytes, std::string_view& payload);

// Decodes one frame's payload into `out` (cleared first). Returns "" or the rule it breaks;
// `out` is unspecified then. Every file_sequence is the frame's (0 for layout v1).
std::string decode_batch_frame(std::string_view payload, ReadingBatch& out, FrameRules rules = {});

// The same rules on a batch in memory (what a reader emitted, what a journal is about to write):
// "" or the rule it breaks. Runs may be in any order but must cover the values exactly.
std::string check_batch(const ReadingBatch& batch, FrameChecks checks = FrameChecks::structural);

}  // namespace meterd
