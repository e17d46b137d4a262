// Validated readings in meterd's own binary form. The HTTP API decodes and validates an NDJSON
// request once, then hands the pipeline this file through the spool, so the pipeline does not
// decode the JSON a second time (and the spool holds ~10 instead of ~390 bytes per reading).
//
//   file    := "MTRDRB01" u64 source_lines u64 source_bytes frame* u32 0 (the end frame)
//   frame   := u32 payload_bytes payload                      (one ReadingBatch)
//   payload := u32 strings u32 runs u32 values u32 string_bytes
//              u32 string_length[strings] char text[string_bytes]
//              run[runs] f64 value[values]
//   run     := u32 count, u32 nmi suffix register_id meter_serial uom reason_description
//              (string ids), u16 interval_minutes, u8 quality, u8 method, i16 reason_code,
//              u32 line, i64 first_start update_datetime msats_load_datetime file_created
//
// Little-endian. Runs take their values in order. The reader trusts nothing: a file dropped into
// the spool by hand is checked against the rules of the NDJSON schema (docs/http.md), and a
// frame that breaks them ends the file with a fatal issue (what came before it is kept, as for
// any file). file_sequence is not stored: the pipeline stamps its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/file_report.hpp"
#include "protocol/nem12_reader.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd {

inline constexpr std::string_view kBatchFileMagic = "MTRDRB01";

class BatchFileWriter {
 public:
  BatchFileWriter();
  void append(const ReadingBatch& batch);
  // The whole file; `source_lines`/`source_bytes` describe the request it came from.
  std::string finish(std::uint64_t source_lines, std::uint64_t source_bytes);

 private:
  std::string out_;
};

class BatchFileReader {
 public:
  BatchFileReader(ReaderOptions options, ReadingSink& sink);
  ~BatchFileReader();
  BatchFileReader(const BatchFileReader&) = delete;
  BatchFileReader& operator=(const BatchFileReader&) = delete;

  void feed(std::string_view chunk);
  void finish();
  const FileReport& report() const;
  FileReport& report();

  // A frame larger than this is refused without being buffered.
  static constexpr std::uint32_t kMaxFrameBytes = 64u << 20;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meterd
