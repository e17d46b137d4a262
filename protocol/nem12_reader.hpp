// Streaming NEM12/NEM13 reader: bytes in (chunks of any size), column batches out.
//
// Pure: no I/O, no global state. Records may straddle chunks; lines wholly inside a chunk are
// parsed in place (views into the caller's buffer), only a straddling line is copied.
// A day (300 + its 400s) is committed to the batch only when complete, so a reject removes
// exactly that day and nothing around it.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "protocol/file_report.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd {

// Receives output. Called once per batch, never per reading.
class ReadingSink {
 public:
  virtual ~ReadingSink() = default;
  // The sink may move from `batch`; the reader clears it afterwards either way.
  virtual void on_readings(ReadingBatch& batch) = 0;
  virtual void on_b2b_events(std::vector<B2BEvent>& events) { events.clear(); }
  virtual void on_register_reads(std::vector<RegisterReadPeriod>& reads) { reads.clear(); }
};

struct ReaderOptions {
  bool strict = false;                   // spec-exact: real-world quirks become errors
  std::uint32_t batch_readings = 65536;  // flush a batch at about this many readings
  std::uint64_t file_sequence = 0;       // stamped on every run
  std::string name;                      // for the report
  // Whose input this is: an NDJSON line whose "tenant" names another is rejected (a
  // single-tenant install reads for "").
  std::string tenant;
};

class Nem12Reader {
 public:
  Nem12Reader(ReaderOptions options, ReadingSink& sink);
  ~Nem12Reader();
  Nem12Reader(const Nem12Reader&) = delete;
  Nem12Reader& operator=(const Nem12Reader&) = delete;

  // Push the next bytes of the file. After a fatal error further input is ignored.
  void feed(std::string_view chunk);
  // End of input: completes the last line/day, flushes every batch, finalises the report.
  void finish();

  const FileReport& report() const;
  FileReport& report();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meterd
