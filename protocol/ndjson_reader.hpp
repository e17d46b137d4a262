// Streaming NDJSON reader: one reading per line, chunks in, column batches out — the same shape
// as Nem12Reader, so the pipeline's reader actor drives either (see reading_decoder.hpp).
//
// A line is one JSON object with the field names of `meterd parse --format json` /
// `meterd query --format json` (docs/http.md "NDJSON schema"): required nmi, suffix,
// interval_start, interval_minutes, value, uom, quality; optional method, reason_code,
// reason_description, update_datetime, msats_load_datetime, register_id, meter_serial,
// file_created, line. So a query's JSON output can be posted back as it is.
//
// Decoding: simdjson On Demand, one parser reused for the whole input, complete lines only,
// parsed as a document stream over a padded buffer; a block holding a malformed document is
// re-read line by line so that every error names its line. Consecutive lines of one stream
// (same attributes, consecutive intervals of one NEM day) become one run of the batch.
// A bad line is rejected on its own (scope "record", with line, field and reason); the HTTP
// API refuses a whole request when its report has any reject (all or none, docs/http.md).
#pragma once

#include <memory>
#include <string_view>

#include "protocol/file_report.hpp"
#include "protocol/nem12_reader.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd {

class NdjsonReader {
 public:
  NdjsonReader(ReaderOptions options, ReadingSink& sink);
  ~NdjsonReader();
  NdjsonReader(const NdjsonReader&) = delete;
  NdjsonReader& operator=(const NdjsonReader&) = delete;

  void feed(std::string_view chunk);
  // As feed, without copying complete lines: kPadding bytes after `padded` must be readable
  // (their content does not matter); nothing of `padded` is kept after the call.
  void feed_in_place(std::string_view padded);
  static constexpr std::size_t kPadding = 64;
  // End of input: decodes a last line without a newline, flushes the batch, completes the report.
  void finish();

  const FileReport& report() const;
  FileReport& report();

  // Longest accepted line; a longer one is rejected without being buffered whole.
  static constexpr std::size_t kMaxLineBytes = 256u << 10;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meterd
