// The column encoders of PartWriter (internal to storage/): what one row group buffers, and
// the writer that turns each of its columns into a column chunk of pages (dictionary page, then
// data pages, ZSTD per page). part_writer.cpp assembles the file: it fills the row-group buffer
// run by run, calls the encoders per column, and writes the footer.
#pragma once

#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/encoding.hpp"
#include "storage/output_file.hpp"
#include "storage/parquet_schema.hpp"

namespace meterd::storage {

inline constexpr std::uint32_t kNull = 0xffffffffu;
inline constexpr std::uint32_t kUnset = 0xfffffffeu;
inline constexpr std::int64_t kMicros = 1'000'000;

// Transparent hashing: look strings up by string_view without building a std::string.
struct SvHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Dictionary of one string column within one row group.
struct StrDict {
  std::unordered_map<std::string, std::uint32_t, SvHash, std::equal_to<>> map;
  std::string plain;  // dictionary page body: PLAIN BYTE_ARRAY entries
  std::uint32_t size = 0;
  std::string min, max;
  std::vector<std::uint32_t> cache;  // batch string id -> dictionary index (per add())

  std::uint32_t lookup(std::string_view s) {
    auto it = map.find(s);
    if (it != map.end()) return it->second;
    if (size == 0 || s < min) min = s;
    if (size == 0 || s > max) max = s;
    put_le(plain, static_cast<std::uint32_t>(s.size()));
    plain.append(s);
    map.emplace(std::string(s), size);
    return size++;
  }
  std::uint32_t lookup(const StringTable& strings, std::uint32_t id) {
    if (id >= cache.size()) return lookup(strings[id]);
    std::uint32_t& slot = cache[id];
    if (slot == kUnset) slot = lookup(strings[id]);
    return slot;
  }
  void clear() { map.clear(), plain.clear(), size = 0; }
};

// Dictionary of one integer column within one row group.
struct IntDict {
  std::unordered_map<std::int64_t, std::uint32_t> map;
  std::vector<std::int64_t> entries;
  std::int64_t last_key = 0;
  std::uint32_t last_idx = kNull;

  std::uint32_t lookup(std::int64_t v) {
    if (last_idx != kNull && v == last_key) return last_idx;  // runs mostly repeat
    auto [it, inserted] = map.try_emplace(v, static_cast<std::uint32_t>(entries.size()));
    if (inserted) entries.push_back(v);
    last_key = v, last_idx = it->second;
    return it->second;
  }
  void clear() { map.clear(), entries.clear(), last_idx = kNull; }
};

// Open-addressing dictionary for doubles keyed by bit pattern (so -0.0 and NaNs round-trip).
struct ValueDict {
  static constexpr int kMaxBits = 19;  // 2^18 entries: a default row group of distinct values
  int bits = 0;
  std::uint32_t max_entries = 0;  // load factor <= 0.5
  std::vector<std::uint64_t> keys;
  std::vector<std::uint32_t> slots;
  std::vector<double> entries;

  // Empties the dictionary, sized for `rows` values: a small row group fills a small table.
  void clear(std::size_t rows) {
    int b = 10;
    while (b < kMaxBits && (std::size_t{1} << (b - 1)) < rows) ++b;
    if (b != bits) {
      bits = b;
      keys.assign(std::size_t{1} << b, 0);
      slots.assign(std::size_t{1} << b, kNull);
    } else {
      std::fill(slots.begin(), slots.end(), kNull);
    }
    max_entries = 1u << (b - 1);
    entries.clear();
  }
  // False when the dictionary is full (fall back to PLAIN).
  bool build(const double* v, std::size_t n, std::uint32_t* idx) {
    const std::uint32_t mask = (1u << bits) - 1;
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t key;
      std::memcpy(&key, &v[i], 8);
      std::uint32_t h = static_cast<std::uint32_t>((key * 0x9E3779B97F4A7C15ull) >> (64 - bits));
      while (slots[h] != kNull && keys[h] != key) h = (h + 1) & mask;
      if (slots[h] == kNull) {
        if (entries.size() == max_entries) return false;
        keys[h] = key;
        slots[h] = static_cast<std::uint32_t>(entries.size());
        entries.push_back(v[i]);
      }
      idx[i] = slots[h];
    }
    return true;
  }
};

// Where a data page is: the Parquet OffsetIndex entry (offset and size include the header).
struct PageLocation {
  std::int64_t offset = 0;
  std::int32_t size = 0;
  std::int64_t first_row = 0;
};

struct ChunkMeta {
  std::vector<std::int32_t> encodings;
  std::vector<PageLocation> pages;  // data pages, for the OffsetIndex
  std::int64_t offset_index_offset = -1, offset_index_length = 0;
  std::int64_t num_values = 0, uncompressed = 0, compressed = 0;
  std::int64_t data_page_offset = 0, dictionary_page_offset = -1;
  std::int64_t null_count = 0;
  bool has_minmax = false;
  std::string min, max;  // statistics bytes (PLAIN without length prefix)
};

// One (possibly partial) batch run as buffered in the current row group.
struct RgRun {
  std::uint32_t count;
  std::int32_t step_s;
  epoch_seconds first_start;
  std::uint32_t line;      // of the first row
  std::uint8_t line_step;  // 1: a row per source line (ReadingRun::line_step)
};

// The current row group: per run, the dictionary index of every run-constant column; per row,
// only the value (interval_start follows from the run).
struct RowGroupBuffer {
  std::vector<RgRun> runs;
  std::vector<double> values;
  std::vector<std::uint32_t> idx[kColumnCount];  // per run, for the run-constant columns
  StrDict strs[kColumnCount];
  IntDict ints[kColumnCount];
  std::int64_t nulls[kColumnCount] = {};
  std::size_t rows = 0;
  epoch_seconds min_start = 0, max_start = 0;
  bool any_line_step = false;  // some run has a reading per line: the line column is per row

  void clear();
};

// Writes the column chunks of row groups to `out`, page by page, with the compressor of the
// thread that made it (a page is compressed in one call, so writers on one thread share it
// safely; a writer must not move to another thread). Holds the scratch buffers reused across
// pages and row groups.
class ColumnChunkWriter {
 public:
  ColumnChunkWriter(OutputFile& out, std::size_t page_rows, int zstd_level);
  ColumnChunkWriter(const ColumnChunkWriter&) = delete;
  ColumnChunkWriter& operator=(const ColumnChunkWriter&) = delete;

  // Writes column c of the row group in `rg` and describes it in `cm`.
  void write(int c, const RowGroupBuffer& rg, ChunkMeta& cm);

 private:
  void emit_page(ChunkMeta& cm, std::int32_t type, std::uint32_t num_values, std::int32_t enc);
  template <class Fn>
  void for_each_page(const RowGroupBuffer& rg, Fn&& fn);
  void write_dict_column(int c, const RowGroupBuffer& rg, ChunkMeta& cm);
  void write_interval_start(const RowGroupBuffer& rg, ChunkMeta& cm);
  void write_line(const RowGroupBuffer& rg, ChunkMeta& cm);
  void write_value(const RowGroupBuffer& rg, ChunkMeta& cm);

  OutputFile& out_;
  std::size_t page_rows_;
  int zstd_level_;
  ZSTD_CCtx* cctx_;  // this thread's (not owned)
  std::string body_, compressed_, header_;
  std::vector<std::uint32_t> value_idx_;
  std::vector<std::int64_t> starts_;
  std::vector<std::pair<std::size_t, std::size_t>> page_segments_;
  ValueDict value_dict_;
};

template <class T>
std::string le_bytes(T v) {
  std::string s(sizeof v, '\0');
  std::memcpy(s.data(), &v, sizeof v);
  return s;
}

}  // namespace meterd::storage
