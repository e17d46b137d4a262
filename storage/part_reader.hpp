// Reads our own readings parts back: footer validation, row-group statistics (for pruning),
// and decoding of a row group into columns. Every page's CRC and size is checked, and every
// length is bounded, so a corrupt part raises CorruptPart instead of serving wrong data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
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
  std::int64_t offset_index_offset = -1, offset_index_length = 0;  // -1: no OffsetIndex
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

struct RowGroupDictionaries;  // storage/page_decoder.hpp

// Decoded rows of a row group, or of one page of it, column by column. Strings are dictionary
// entries plus a per-row index; integers and timestamps (in epoch seconds, µs for ingest_time)
// are widened to int64 with the ReadingBatch "absent" sentinels for nulls.
struct DecodedRowGroup {
  std::size_t rows = 0;
  struct Strings {
    std::span<const std::string_view> dict;  // into `dictionaries`
    std::vector<std::uint32_t> idx;          // per row
  };
  Strings str[kColumnCount];
  std::vector<std::int64_t> num[kColumnCount];
  std::vector<double> value;
  std::vector<std::uint8_t> run_start;  // 1 where a row may not continue the previous row's run
  std::uint64_t serial = 0;             // unique per row group or page read: tells buffers apart
  std::shared_ptr<RowGroupDictionaries> dictionaries;  // of the row group the rows are from
  // Which page of which opened row group, and which of its columns, are decoded here.
  std::uint64_t group_serial = 0;
  std::size_t page = 0;
  std::uint32_t columns = 0;
};

inline constexpr std::uint32_t kAllColumns = (1u << kColumnCount) - 1;

// One row group read a page at a time (PartReader::open_pages): its dictionaries and page
// locations, read once, and the part's file, open until the next open_pages or the end.
class PagedRowGroup {
 public:
  PagedRowGroup() = default;
  ~PagedRowGroup() { close(); }
  PagedRowGroup(const PagedRowGroup&) = delete;
  PagedRowGroup& operator=(const PagedRowGroup&) = delete;

  std::size_t pages() const { return first_row_.size(); }
  std::size_t first_row(std::size_t p) const { return static_cast<std::size_t>(first_row_[p]); }
  std::size_t page_rows(std::size_t p) const {
    return (p + 1 < pages() ? first_row(p + 1) : rows_) - first_row(p);
  }
  void close();

 private:
  friend class PartReader;
  int fd_ = -1;
  std::size_t group_ = 0, rows_ = 0;
  std::uint64_t serial_ = 0;
  std::vector<std::int64_t> first_row_;
  std::vector<std::int64_t> page_offset_[kColumnCount];
  std::vector<std::int32_t> page_size_[kColumnCount];
  std::shared_ptr<RowGroupDictionaries> dictionaries_;
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
  // Opens row group g to be read page by page: false when its pages do not start at the same
  // rows in every column or it has no OffsetIndex (parts written before 2026-12), to be read
  // whole. Throws CorruptPart.
  bool open_pages(std::size_t g, PagedRowGroup& out) const;
  // Decodes page p of the columns in `columns` (bit c: column c) into out. Asked again for the
  // page out holds, it adds the columns not yet there: a reader can decode the columns it
  // filters on first and the others only where a row matches. run_start is set once all
  // columns are in. Throws CorruptPart.
  void read_page(const PagedRowGroup& group, std::size_t p, std::uint32_t columns,
                 DecodedRowGroup& out) const;
  // The files the part holds, stream by stream (storage/part_sources.hpp); null for a part
  // written before the footer said so.
  const std::shared_ptr<const SourcePairs>& sources() const { return sources_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t rows_ = 0, size_ = 0, data_end_ = 0;  // data_end_: where the footer begins
  std::vector<RowGroupInfo> groups_;
  std::shared_ptr<const SourcePairs> sources_;
  std::vector<std::uint32_t> offset_index_crcs_;  // per row group; empty: pages not indexed
};

// Calls fn(rows) with the rows of row group g: a page at a time through the OffsetIndex, or the
// whole row group at once for a part without one. `rows` is reused from call to call.
template <class Fn>
void for_each_page(const PartReader& part, std::size_t g, DecodedRowGroup& rows, Fn&& fn) {
  PagedRowGroup pages;
  if (!part.open_pages(g, pages)) {
    part.read(g, rows);
    fn(static_cast<const DecodedRowGroup&>(rows));
    return;
  }
  for (std::size_t p = 0; p < pages.pages(); ++p) {
    part.read_page(pages, p, kAllColumns, rows);
    fn(static_cast<const DecodedRowGroup&>(rows));
  }
}

}  // namespace meterd::storage
