// Parts of the record tables (NEM13 register reads, NEM12 B2B events): small, flat Parquet
// files of one row group, each column one PLAIN data page with a CRC, optional columns with
// RLE definition levels. Readable as is by DuckDB and hyparquet (docs/storage.md).
//
// These tables hold a record per register read or per 500 record, thousands of times fewer
// rows than the readings, so rows are plain structs of cells (an allocation per string cell is
// nothing next to the file's fsync); the readings keep their run-length column path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/parquet_schema.hpp"

namespace meterd::storage {

// One column of a record table. Optional columns are null where the cell holds null_value.
struct RecordColumn {
  std::string_view name;
  Kind kind;  // kString, kTimestamp (epoch seconds in the row, µs in the file), kInt32, kInt64,
              // kDouble
  bool optional = false;
  std::int64_t null_value = 0;
};

struct RecordCell {
  std::int64_t i = 0;
  double d = 0;
  std::string s;
};
using RecordRow = std::vector<RecordCell>;  // one cell per column, schema order

struct RecordPartSummary {
  std::uint64_t rows = 0, bytes = 0;
  std::uint32_t crc32c = 0, footer_crc32c = 0;
};

// Writes `rows` (already in the table's row order) to fd (not owned, not fsynced).
// Throws std::system_error on I/O failure.
RecordPartSummary write_record_part(int fd, std::span<const RecordColumn> columns,
                                    std::string_view sort_key, std::span<const RecordRow> rows);

// Reads a part written by write_record_part back. Throws CorruptPart (part_reader.hpp) when the
// file is not such a part, or is truncated or corrupt; std::system_error on I/O failure.
// footer_crc32c: checked when non-zero (the manifest's).
std::vector<RecordRow> read_record_part(const std::filesystem::path& path,
                                        std::span<const RecordColumn> columns,
                                        std::uint64_t expected_bytes = 0,
                                        std::uint32_t footer_crc32c = 0);

}  // namespace meterd::storage
