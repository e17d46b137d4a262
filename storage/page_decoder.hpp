// Decodes the pages of our readings parts (internal to storage/; part_reader.cpp drives it):
// one page at a time, header, CRC, ZSTD, levels and values, every length bounded. A column's
// dictionary lives apart from the decoded rows, so the pages of a row group can be decoded one
// by one against the dictionary read once.
#pragma once

#include <zstd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/parquet_schema.hpp"
#include "storage/part_reader.hpp"

namespace meterd::storage {

struct ColumnDictionary {
  std::string bytes;                      // the decompressed dictionary page of a string column
  std::vector<std::string_view> strings;  // into bytes
  std::vector<std::int64_t> ints;
  std::vector<double> doubles;
  bool present = false;
  std::size_t size(Kind kind) const {
    return kind == Kind::kString   ? strings.size()
           : kind == Kind::kDouble ? doubles.size()
                                   : ints.size();
  }
};

struct RowGroupDictionaries {
  ColumnDictionary column[kColumnCount];
};

// Per-thread scratch: buffers and the zstd context are reused across pages.
class PageDecoder {
 public:
  PageDecoder();
  ~PageDecoder();
  PageDecoder(const PageDecoder&) = delete;
  PageDecoder& operator=(const PageDecoder&) = delete;

  std::string path;   // for messages
  std::string bytes;  // raw bytes read from the file: a row group or a page

  // Decodes the page at data[0, size) of column c. A dictionary page fills dict; a data page
  // fills rows [row, row + its values) of out, which must be sized. Returns the bytes the page
  // takes and sets values (0 for a dictionary page). Pages of other kinds are skipped.
  std::size_t page(int c, std::int32_t codec, const char* data, std::size_t size,
                   ColumnDictionary& dict, std::size_t row, std::size_t rows, DecodedRowGroup& out,
                   std::size_t& values);
  // Sizes out's vector of column c for `rows` rows.
  static void size_column(int c, std::size_t rows, DecodedRowGroup& out);
  // Marks where a row may not continue the previous row's run (DecodedRowGroup::run_start).
  static void mark_run_starts(DecodedRowGroup& out);

  [[noreturn]] void fail(const std::string& what) const;

 private:
  void read_dictionary(Kind kind, std::string& buf, std::size_t entries, ColumnDictionary& dict);
  void data_page(int c, std::size_t n, std::int64_t enc, std::size_t row,
                 const ColumnDictionary& dict, DecodedRowGroup& out);

  ZSTD_DCtx* dctx_;
  std::string page_;  // decompressed page body
  std::vector<std::uint32_t> levels_, indices_;
  std::vector<std::int64_t> ints_;
};

}  // namespace meterd::storage
