// Validated readings in meterd's own binary form. The HTTP API decodes and validates an NDJSON
// request once, then hands the pipeline this file through the spool, so the pipeline does not
// decode the JSON a second time (and the spool holds ~10 instead of ~390 bytes per reading).
//
//   file    := magic u64 source_lines u64 source_bytes frame* u32 0 (the end frame)
//   magic   := "MTRDRB03" (frames of layout v3) | "MTRDRB02" (layout v2) | "MTRDRB01" (layout
//              v1); the older two are read, no longer written
//   frame   := u32 payload_bytes payload                      (one ReadingBatch, batch_codec.hpp)
//
// Little-endian. The reader trusts nothing: a file dropped into the spool by hand is checked
// against the structural rules and the rules of the NDJSON schema (docs/http.md), and a frame
// that breaks them, or holds no reading, ends the file with a fatal issue (what came before it
// is kept, as for any file). The file_sequence a v2 or v3 frame carries is replaced by the reader's
// options.file_sequence: the pipeline stamps its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/file_report.hpp"
#include "protocol/nem12_reader.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd {

// What BatchFileWriter writes; BatchFileReader also reads the older magics (a spool may hold
// such files at an upgrade).
inline constexpr std::string_view kBatchFileMagic = "MTRDRB03";
inline constexpr std::string_view kBatchFileMagicV2 = "MTRDRB02";
inline constexpr std::string_view kBatchFileMagicV1 = "MTRDRB01";

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
