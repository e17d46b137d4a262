// Writes sorted readings as one Parquet file (parquet-writer-guide.md profile: flat schema,
// v1 data pages, ZSTD per page, statistics, column orders, key-value metadata).
//
// The input keeps the batch's run structure all the way down: every column except
// interval_start and value is constant within a run, so it is dictionary-encoded and written
// as one RLE run per batch run (no per-row work at all). interval_start is an arithmetic
// progression per run: DELTA_BINARY_PACKED, mostly zero-width miniblocks. value is the only
// real per-row column: dictionary-encoded (meter values repeat a lot) with a PLAIN fallback
// when a row group has too many distinct values.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "protocol/reading_batch.hpp"

namespace meterd::storage {

struct PartWriterOptions {
  // 256k rows: big enough for scans and zstd. Pages start at the same rows in every column and
  // an OffsetIndex says where, so a merge cursor decodes one page of each column at a time
  // (~125 bytes/row decoded, 0.5 MiB a page): the page size, not the row group, sets a cursor's
  // memory.
  std::size_t row_group_rows = 1 << 18;
  std::size_t page_rows = 1 << 12;
  int zstd_level = 1;
  std::size_t write_buffer_bytes = 8 << 20;  // bytes gathered before each write(2)
};

struct PartSummary {
  std::uint64_t rows = 0, bytes = 0, row_groups = 0;
  std::uint32_t crc32c = 0;         // of the whole file
  std::uint32_t footer_crc32c = 0;  // of the footer (FileMetaData) bytes
  epoch_seconds min_start = 0, max_start = 0;
};

class PartWriter {
 public:
  // Writes to fd (not owned, not fsynced: the caller owns the part lifecycle).
  explicit PartWriter(int fd, PartWriterOptions options = {});
  ~PartWriter();
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  // Appends the readings of `batch`. Its runs must already be in row order
  // (nmi, suffix, interval_start, version) and continue the order of previous calls.
  // ingest_us: ingest time (µs since epoch) of each run, or one value for all runs.
  void add(const ReadingBatch& batch, std::span<const std::int64_t> ingest_us) {
    add(batch.strings, batch.runs, batch.values.data(), ingest_us);
  }
  void add(const ReadingBatch& batch, std::int64_t ingest_us) {
    add(batch, std::span<const std::int64_t>(&ingest_us, 1));
  }
  // The same from parts of a batch: runs index into values and strings.
  void add(const StringTable& strings, std::span<const ReadingRun> runs, const double* values,
           std::span<const std::int64_t> ingest_us);
  // Flushes the last row group and the footer. Throws std::system_error on I/O failure.
  PartSummary finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meterd::storage
