// Reads our own readings parts back: footer validation, row-group statistics (for pruning),
// and decoding of a row group into columns. Every page's CRC and size is checked, and every
// length is bounded, so a corrupt part raises CorruptPart instead of serving wrong data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/parquet_schema.hpp"
#include "storage/part_sources.hpp"

namespace meterd::storage {

struct CorruptPart : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ChunkInfo {
  std::int64_t start = 0, size = 0;  // byte range of the column chunk
  std::int64_t num_values = 0;
  std::int32_t codec = 0;
  bool has_minmax = false;
  std::string min, max;  // statistics bytes
};

struct RowGroupInfo {
  std::int64_t rows = 0;
  std::int64_t begin = 0, end = 0;  // byte range covering all chunks
  std::vector<ChunkInfo> chunks;    // kColumnCount, schema order
  // Pruning helpers from statistics (false if the stats do not exclude the range).
  std::string_view min_string(int c) const { return chunks[c].min; }
  std::string_view max_string(int c) const { return chunks[c].max; }
  epoch_seconds min_start() const;
  epoch_seconds max_start() const;
  // [lo, hi] of the non-null values of an integer or timestamp column (timestamps in epoch
  // seconds); false when the chunk has no statistics (all null, or not written).
  bool int_range(int c, std::int64_t& lo, std::int64_t& hi) const;
};

// One decoded row group, column by column. Strings are dictionary entries plus a per-row
// index; integers and timestamps (in epoch seconds, µs for ingest_time) are widened to
// int64 with the ReadingBatch "absent" sentinels for nulls.
struct DecodedRowGroup {
  std::size_t rows = 0;
  struct Strings {
    std::string arena;  // the decompressed dictionary page
    std::vector<std::string_view> dict;
    std::vector<std::uint32_t> idx;  // per row
  };
  Strings str[kColumnCount];
  std::vector<std::int64_t> num[kColumnCount];
  std::vector<double> value;
  std::vector<std::uint8_t> run_start;  // 1 where a row may not continue the previous row's run
  std::uint64_t serial = 0;             // unique per read(): tells reused buffers apart
};

// What the manifest says about a part; checked on open when given.
struct PartExpectation {
  std::uint64_t bytes = 0;
  std::uint32_t footer_crc32c = 0;
};

class PartReader {
 public:
  // Opens and validates the footer. Throws CorruptPart (or std::system_error for I/O).
  explicit PartReader(const std::filesystem::path& path, const PartExpectation* expect = nullptr);
  ~PartReader();
  PartReader(PartReader&&) noexcept;
  PartReader& operator=(PartReader&&) noexcept;

  const std::filesystem::path& path() const { return path_; }
  std::uint64_t rows() const { return rows_; }
  const std::vector<RowGroupInfo>& row_groups() const { return groups_; }
  // Decodes row group g into out (buffers reused). Throws CorruptPart.
  void read(std::size_t g, DecodedRowGroup& out) const;
  // The files the part holds, stream by stream (storage/part_sources.hpp); null for a part
  // written before the footer said so.
  const std::shared_ptr<const SourcePairs>& sources() const { return sources_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t rows_ = 0, size_ = 0;
  std::vector<RowGroupInfo> groups_;
  std::shared_ptr<const SourcePairs> sources_;
};

}  // namespace meterd::storage
