#include "storage/part_writer.hpp"

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/checksum.hpp"
#include "storage/encoding.hpp"
#include "storage/output_file.hpp"
#include "storage/parquet_schema.hpp"
#include "storage/thrift_compact.hpp"

namespace meterd::storage {
namespace {

constexpr std::uint32_t kNull = 0xffffffffu;
constexpr std::uint32_t kUnset = 0xfffffffeu;
constexpr std::int64_t kMicros = 1'000'000;

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
  static constexpr int kBits = 19;
  static constexpr std::uint32_t kMaxEntries = 1u << 18;  // load factor <= 0.5
  std::vector<std::uint64_t> keys = std::vector<std::uint64_t>(1u << kBits);
  std::vector<std::uint32_t> slots = std::vector<std::uint32_t>(1u << kBits, kNull);
  std::vector<double> entries;

  void clear() {
    std::fill(slots.begin(), slots.end(), kNull);
    entries.clear();
  }
  // False when the dictionary is full (fall back to PLAIN).
  bool build(const double* v, std::size_t n, std::uint32_t* idx) {
    constexpr std::uint32_t mask = (1u << kBits) - 1;
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t bits;
      std::memcpy(&bits, &v[i], 8);
      std::uint32_t h = static_cast<std::uint32_t>((bits * 0x9E3779B97F4A7C15ull) >> (64 - kBits));
      while (slots[h] != kNull && keys[h] != bits) h = (h + 1) & mask;
      if (slots[h] == kNull) {
        if (entries.size() == kMaxEntries) return false;
        keys[h] = bits;
        slots[h] = static_cast<std::uint32_t>(entries.size());
        entries.push_back(v[i]);
      }
      idx[i] = slots[h];
    }
    return true;
  }
};

struct ChunkMeta {
  std::vector<std::int32_t> encodings;
  std::int64_t num_values = 0, uncompressed = 0, compressed = 0;
  std::int64_t data_page_offset = 0, dictionary_page_offset = -1;
  std::int64_t null_count = 0;
  bool has_minmax = false;
  std::string min, max;  // statistics bytes (PLAIN without length prefix)
};

struct RowGroupMeta {
  std::int64_t rows = 0, file_offset = 0, uncompressed = 0, compressed = 0;
  std::vector<ChunkMeta> chunks;
};

// One (possibly partial) batch run as buffered in the current row group.
struct RgRun {
  std::uint32_t count;
  std::int32_t step_s;
  epoch_seconds first_start;
};

template <class T>
std::string le_bytes(T v) {
  std::string s(sizeof v, '\0');
  std::memcpy(s.data(), &v, sizeof v);
  return s;
}

bool is_string(int c) {
  return kColumns[c].kind == Kind::kString;
}

}  // namespace

struct PartWriter::Impl {
  PartWriterOptions opt;
  OutputFile out;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();

  // Current row group.
  std::vector<RgRun> runs;
  std::vector<double> values;
  std::vector<std::uint32_t> idx[kColumnCount];  // per run, for the run-constant columns
  StrDict strs[kColumnCount];
  IntDict ints[kColumnCount];
  std::int64_t nulls[kColumnCount] = {};
  std::size_t rows = 0;
  epoch_seconds rg_min_start = 0, rg_max_start = 0;

  // Whole file.
  std::vector<RowGroupMeta> groups;
  PartSummary summary;

  // Scratch, reused across pages and row groups.
  std::string body, compressed, header;
  std::vector<std::uint32_t> value_idx;
  std::vector<std::int64_t> starts;
  ValueDict value_dict;

  Impl(int fd, PartWriterOptions o) : opt(o), out(fd) {
    if (!cctx) throw std::bad_alloc();
    if (opt.row_group_rows == 0 || opt.page_rows == 0)
      throw std::invalid_argument("row_group_rows and page_rows must be > 0");
    out.append("PAR1");
  }
  ~Impl() { ZSTD_freeCCtx(cctx); }

  void reset_caches(std::size_t strings) {
    for (int c = 0; c < kColumnCount; ++c)
      if (is_string(c) && c != kQuality) strs[c].cache.assign(strings, kUnset);
  }

  void add(const StringTable& strings, std::span<const ReadingRun> in_runs, const double* vals,
           std::span<const std::int64_t> ingest) {
    if (ingest.size() != 1 && ingest.size() != in_runs.size())
      throw std::invalid_argument("PartWriter::add: ingest times must be 1 or one per run");
    reset_caches(strings.size());
    for (std::size_t r = 0; r < in_runs.size(); ++r) {
      const ReadingRun& run = in_runs[r];
      const std::int64_t ingest_us = ingest.size() == 1 ? ingest[0] : ingest[r];
      for (std::uint32_t done = 0; done < run.count;) {
        const auto take = static_cast<std::uint32_t>(
            std::min<std::size_t>(run.count - done, opt.row_group_rows - rows));
        append_run(strings, vals, run, done, take, ingest_us);
        done += take;
        if (rows == opt.row_group_rows) {
          flush_row_group();
          reset_caches(strings.size());
        }
      }
    }
  }

  void put_int(int c, std::int64_t v) { idx[c].push_back(ints[c].lookup(v)); }
  void put_nullable(int c, bool present, std::int64_t v, std::uint32_t count) {
    if (present) {
      put_int(c, v);
    } else {
      idx[c].push_back(kNull);
      nulls[c] += count;
    }
  }
  static std::int64_t micros(epoch_seconds t) { return t * kMicros; }
  void put_time(int c, epoch_seconds t, std::uint32_t count) {
    put_nullable(c, t != kNoTime, t == kNoTime ? 0 : micros(t), count);
  }

  void append_run(const StringTable& s, const double* vals, const ReadingRun& run,
                  std::uint32_t from, std::uint32_t count, std::int64_t ingest_us) {
    const epoch_seconds first = run.interval_start(from);
    const epoch_seconds last = run.interval_start(from + count - 1);
    if (rows == 0 || first < rg_min_start) rg_min_start = first;
    if (rows == 0 || last > rg_max_start) rg_max_start = last;
    runs.push_back({count, static_cast<std::int32_t>(run.interval_minutes) * 60, first});
    const double* v = vals + run.first_value + from;
    values.insert(values.end(), v, v + count);
    idx[kNmi].push_back(strs[kNmi].lookup(s, run.nmi));
    idx[kSuffix].push_back(strs[kSuffix].lookup(s, run.suffix));
    idx[kRegisterId].push_back(strs[kRegisterId].lookup(s, run.register_id));
    idx[kMeterSerial].push_back(strs[kMeterSerial].lookup(s, run.meter_serial));
    idx[kUom].push_back(strs[kUom].lookup(s, run.uom));
    idx[kReasonDescription].push_back(strs[kReasonDescription].lookup(s, run.reason_description));
    idx[kQuality].push_back(strs[kQuality].lookup(std::string_view(&run.quality, 1)));
    put_int(kIntervalMinutes, run.interval_minutes);
    put_nullable(kMethod, run.method != kNoMethod, run.method, count);
    put_nullable(kReasonCode, run.reason_code != kNoReasonCode, run.reason_code, count);
    put_time(kUpdateDatetime, run.update_datetime, count);
    put_time(kMsatsLoadDatetime, run.msats_load_datetime, count);
    put_time(kFileCreated, run.file_created, count);
    put_int(kLine, run.line);
    put_int(kFileSequence, static_cast<std::int64_t>(run.file_sequence));
    put_int(kIngestTime, ingest_us);
    rows += count;
  }

  // --- pages ---------------------------------------------------------------------------

  void emit_page(ChunkMeta& cm, std::int32_t type, std::uint32_t num_values, std::int32_t enc) {
    const std::size_t bound = ZSTD_compressBound(body.size());
    if (compressed.size() < bound) compressed.resize(bound);
    const std::size_t n =
        ZSTD_compressCCtx(cctx, compressed.data(), bound, body.data(), body.size(), opt.zstd_level);
    if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    const std::uint32_t crc = crc32_ieee(compressed.data(), n);
    header.clear();
    thrift::Writer w(header);
    w.i32(1, type);
    w.i32(2, static_cast<std::int32_t>(body.size()));
    w.i32(3, static_cast<std::int32_t>(n));
    w.i32(4, static_cast<std::int32_t>(crc));
    if (type == pq::kDataPage) {
      w.begin_struct(5);
      w.i32(1, static_cast<std::int32_t>(num_values));
      w.i32(2, enc);
      w.i32(3, pq::kRle);
      w.i32(4, pq::kRle);
      w.end_struct();
    } else {
      w.begin_struct(7);
      w.i32(1, static_cast<std::int32_t>(num_values));
      w.i32(2, pq::kPlain);
      w.end_struct();
    }
    w.stop();
    if (type == pq::kDictionaryPage)
      cm.dictionary_page_offset = static_cast<std::int64_t>(out.offset());
    else if (cm.num_values == 0)
      cm.data_page_offset = static_cast<std::int64_t>(out.offset());
    out.append(header);
    out.append(std::string_view(compressed.data(), n));
    cm.uncompressed += static_cast<std::int64_t>(header.size() + body.size());
    cm.compressed += static_cast<std::int64_t>(header.size() + n);
    if (type == pq::kDataPage) cm.num_values += num_values;
  }

  // Walks the row group's runs page by page, handing (run index, rows of it in this page).
  template <class Fn>
  void for_each_page(Fn&& fn) {
    std::size_t r = 0, used = 0;  // run index, rows of runs[r] already consumed
    for (std::size_t p0 = 0; p0 < rows; p0 += opt.page_rows) {
      const std::size_t p1 = std::min(rows, p0 + opt.page_rows);
      std::size_t left = p1 - p0;
      auto segments = [&](auto&& seg) {
        while (left) {
          const std::size_t take = std::min<std::size_t>(left, runs[r].count - used);
          seg(r, used, take);
          used += take, left -= take;
          if (used == runs[r].count) ++r, used = 0;
        }
      };
      fn(p0, p1, segments);
    }
  }

  // A run-constant, dictionary-encoded column.
  void write_dict_column(int c, ChunkMeta& cm) {
    const ColumnSpec& spec = kColumns[c];
    std::uint32_t dict_size;
    body.clear();
    if (spec.kind == Kind::kString) {
      dict_size = strs[c].size;
      body = strs[c].plain;
      if (dict_size) cm.has_minmax = true, cm.min = strs[c].min, cm.max = strs[c].max;
    } else {
      const auto& e = ints[c].entries;
      dict_size = static_cast<std::uint32_t>(e.size());
      if (dict_size) {
        const auto [mn, mx] = std::minmax_element(e.begin(), e.end());
        cm.has_minmax = true;
        if (spec.kind == Kind::kInt32) {
          for (auto v : e) put_le(body, static_cast<std::int32_t>(v));
          cm.min = le_bytes(static_cast<std::int32_t>(*mn));
          cm.max = le_bytes(static_cast<std::int32_t>(*mx));
        } else {
          for (auto v : e) put_le(body, v);
          cm.min = le_bytes(*mn), cm.max = le_bytes(*mx);
        }
      }
    }
    if (dict_size) {
      emit_page(cm, pq::kDictionaryPage, dict_size, pq::kPlain);
      cm.encodings = {pq::kPlain, pq::kRle, pq::kRleDictionary};
    } else {
      cm.encodings = {pq::kPlain, pq::kRle};  // all null: levels only
    }
    cm.null_count = nulls[c];
    const int width = dict_size > 1 ? bit_width(dict_size - 1) : 0;
    const auto& ix = idx[c];
    HybridEncoder enc;
    for_each_page([&](std::size_t p0, std::size_t p1, auto&& segments) {
      body.clear();
      // Consecutive runs often share a value (same nmi for a month): merge them first.
      std::uint32_t cur = kNull;
      std::uint64_t cur_n = 0;
      auto push = [&](std::uint32_t v, std::uint64_t n) {
        if (cur_n && v == cur) {
          cur_n += n;
          return;
        }
        if (cur_n) enc.run(cur, cur_n);
        cur = v, cur_n = n;
      };
      if (spec.optional) {
        // Definition levels first (v1: u32 length prefix), then the indices of present rows.
        // Remember where this page's runs begin so the second pass can replay them.
        body.append(4, '\0');
        enc.reset(&body, 1);
        std::vector<std::pair<std::size_t, std::size_t>>& segs = page_segments;
        segs.clear();
        segments([&](std::size_t r, std::size_t, std::size_t n) {
          segs.emplace_back(r, n);
          push(ix[r] != kNull, n);
        });
        if (cur_n) enc.run(cur, cur_n);
        enc.finish();
        const auto len = static_cast<std::uint32_t>(body.size() - 4);
        std::memcpy(body.data(), &len, 4);
        if (dict_size) {
          body.push_back(static_cast<char>(width));
          enc.reset(&body, width);
          cur_n = 0;
          for (auto [r, n] : segs)
            if (ix[r] != kNull) push(ix[r], n);
          if (cur_n) enc.run(cur, cur_n);
          enc.finish();
        }
      } else {
        body.push_back(static_cast<char>(width));
        enc.reset(&body, width);
        segments([&](std::size_t r, std::size_t, std::size_t n) { push(ix[r], n); });
        if (cur_n) enc.run(cur, cur_n);
        enc.finish();
      }
      emit_page(cm, pq::kDataPage, static_cast<std::uint32_t>(p1 - p0),
                dict_size ? pq::kRleDictionary : pq::kPlain);
    });
  }
  std::vector<std::pair<std::size_t, std::size_t>> page_segments;

  void write_interval_start(ChunkMeta& cm) {
    cm.encodings = {pq::kDeltaBinaryPacked, pq::kRle};
    cm.has_minmax = true;
    cm.min = le_bytes(rg_min_start * kMicros);
    cm.max = le_bytes(rg_max_start * kMicros);
    for_each_page([&](std::size_t p0, std::size_t p1, auto&& segments) {
      starts.resize(p1 - p0);
      std::int64_t* dst = starts.data();
      segments([&](std::size_t r, std::size_t from, std::size_t n) {
        const std::int64_t step = std::int64_t{runs[r].step_s} * kMicros;
        std::int64_t t =
            (runs[r].first_start + static_cast<std::int64_t>(from) * runs[r].step_s) * kMicros;
        for (std::size_t k = 0; k < n; ++k, t += step) *dst++ = t;
      });
      body.clear();
      encode_delta(body, starts.data(), starts.size());
      emit_page(cm, pq::kDataPage, static_cast<std::uint32_t>(p1 - p0), pq::kDeltaBinaryPacked);
    });
  }

  void write_value(ChunkMeta& cm) {
    // Statistics: numeric order, NaN excluded, zero min as -0.0 and zero max as +0.0.
    double mn = INFINITY, mx = -INFINITY;
    bool any = false;
    for (double v : values)
      if (!std::isnan(v)) mn = std::min(mn, v), mx = std::max(mx, v), any = true;
    if (any) {
      if (mn == 0) mn = -0.0;
      if (mx == 0) mx = 0.0;
      cm.has_minmax = true, cm.min = le_bytes(mn), cm.max = le_bytes(mx);
    }
    value_dict.clear();
    value_idx.resize(rows);
    // Dictionary when it pays: entries + bit-packed indices well under PLAIN's 8 bytes/row
    // (meter values with 3 decimals repeat a lot; a high-cardinality group goes PLAIN).
    bool dict = value_dict.build(values.data(), rows, value_idx.data());
    if (dict) {
      const std::size_t n = value_dict.entries.size();
      const std::size_t bits = n > 1 ? static_cast<std::size_t>(bit_width(n - 1)) : 0;
      dict = n * 8 + rows * bits / 8 < rows * 8 * 4 / 5;
    }
    if (dict) {
      body.assign(reinterpret_cast<const char*>(value_dict.entries.data()),
                  value_dict.entries.size() * sizeof(double));
      emit_page(cm, pq::kDictionaryPage, static_cast<std::uint32_t>(value_dict.entries.size()),
                pq::kPlain);
      cm.encodings = {pq::kPlain, pq::kRle, pq::kRleDictionary};
    } else {
      cm.encodings = {pq::kPlain, pq::kRle};
    }
    const auto size = static_cast<std::uint32_t>(value_dict.entries.size());
    const int width = size > 1 ? bit_width(size - 1) : 0;
    for (std::size_t p0 = 0; p0 < rows; p0 += opt.page_rows) {
      const std::size_t n = std::min(rows, p0 + opt.page_rows) - p0;
      body.clear();
      if (dict) {
        // One bit-packed run for the whole page: zstd finds the repeats.
        body.push_back(static_cast<char>(width));
        put_varint(body, (((n + 7) / 8) << 1) | 1);
        bit_pack(body, value_idx.data() + p0, n, width);
      } else {
        body.assign(reinterpret_cast<const char*>(values.data() + p0), n * sizeof(double));
      }
      emit_page(cm, pq::kDataPage, static_cast<std::uint32_t>(n),
                dict ? pq::kRleDictionary : pq::kPlain);
    }
  }

  void flush_row_group() {
    if (rows == 0) return;
    RowGroupMeta rg;
    rg.rows = static_cast<std::int64_t>(rows);
    rg.file_offset = static_cast<std::int64_t>(out.offset());
    rg.chunks.resize(kColumnCount);
    for (int c = 0; c < kColumnCount; ++c) {
      ChunkMeta& cm = rg.chunks[c];
      if (c == kIntervalStart)
        write_interval_start(cm);
      else if (c == kValue)
        write_value(cm);
      else
        write_dict_column(c, cm);
      rg.uncompressed += cm.uncompressed;
      rg.compressed += cm.compressed;
    }
    if (summary.rows == 0 || rg_min_start < summary.min_start) summary.min_start = rg_min_start;
    if (summary.rows == 0 || rg_max_start > summary.max_start) summary.max_start = rg_max_start;
    summary.rows += rows;
    groups.push_back(std::move(rg));
    // Reset the row group.
    runs.clear(), values.clear(), rows = 0;
    for (int c = 0; c < kColumnCount; ++c) {
      idx[c].clear(), strs[c].clear(), ints[c].clear(), nulls[c] = 0;
    }
  }

  // --- footer --------------------------------------------------------------------------

  void write_schema_element(thrift::Writer& w, const ColumnSpec& spec) {
    w.begin_element();
    w.i32(1, physical_type(spec.kind));
    w.i32(3, spec.optional ? pq::kOptional : pq::kRequired);
    w.binary(4, spec.name);
    if (spec.kind == Kind::kString) {
      w.i32(6, pq::kUtf8);
      w.begin_struct(10);  // LogicalType
      w.begin_struct(1);   // STRING
      w.end_struct();
      w.end_struct();
    } else if (spec.kind == Kind::kTimestamp) {
      w.i32(6, pq::kTimestampMicros);
      w.begin_struct(10);  // LogicalType
      w.begin_struct(8);   // TIMESTAMP
      w.boolean(1, true);  // isAdjustedToUTC: instants
      w.begin_struct(2);   // unit
      w.begin_struct(2);   // MICROS
      w.end_struct();
      w.end_struct();
      w.end_struct();
      w.end_struct();
    }
    w.end_struct();
  }

  void write_footer() {
    std::string footer;
    thrift::Writer w(footer);
    w.i32(1, 1);
    w.begin_list(2, thrift::kStruct, kColumnCount + 1);
    w.begin_element();
    w.i32(3, pq::kRequired);
    w.binary(4, "schema");
    w.i32(5, kColumnCount);
    w.end_struct();
    for (const auto& spec : kColumns) write_schema_element(w, spec);
    w.i64(3, static_cast<std::int64_t>(summary.rows));
    w.begin_list(4, thrift::kStruct, static_cast<std::uint32_t>(groups.size()));
    for (const RowGroupMeta& rg : groups) {
      w.begin_element();
      w.begin_list(1, thrift::kStruct, kColumnCount);
      for (int c = 0; c < kColumnCount; ++c) {
        const ChunkMeta& cm = rg.chunks[c];
        w.begin_element();
        w.i64(2, 0);  // file_offset: deprecated but required
        w.begin_struct(3);
        w.i32(1, physical_type(kColumns[c].kind));
        w.begin_list(2, thrift::kI32, static_cast<std::uint32_t>(cm.encodings.size()));
        for (auto e : cm.encodings) w.elem_i32(e);
        w.begin_list(3, thrift::kBinary, 1);
        w.elem_binary(kColumns[c].name);
        w.i32(4, pq::kZstd);
        w.i64(5, cm.num_values);
        w.i64(6, cm.uncompressed);
        w.i64(7, cm.compressed);
        w.i64(9, cm.data_page_offset);
        if (cm.dictionary_page_offset >= 0) w.i64(11, cm.dictionary_page_offset);
        w.begin_struct(12);  // Statistics
        w.i64(3, cm.null_count);
        if (cm.has_minmax) {
          w.binary(5, cm.max);
          w.binary(6, cm.min);
          w.boolean(7, true);
          w.boolean(8, true);
        }
        w.end_struct();
        w.end_struct();  // ColumnMetaData
        w.end_struct();  // ColumnChunk
      }
      w.i64(2, rg.uncompressed);
      w.i64(3, rg.rows);
      // sorting_columns: nmi, suffix, interval_start ascending.
      w.begin_list(4, thrift::kStruct, 3);
      for (int c : {kNmi, kSuffix, kIntervalStart}) {
        w.begin_element();
        w.i32(1, c);
        w.boolean(2, false);
        w.boolean(3, false);
        w.end_struct();
      }
      w.i64(5, rg.file_offset);
      w.i64(6, rg.compressed);
      w.end_struct();
    }
    w.begin_list(5, thrift::kStruct, 3);
    auto kv = [&](std::string_view k, std::string_view v) {
      w.begin_element();
      w.binary(1, k);
      w.binary(2, v);
      w.end_struct();
    };
    kv("meterd.schema_version", kSchemaVersion);
    kv("meterd.sort_key", kSortKey);
    kv("meterd.writer_version", kWriterVersion);
    w.binary(6, kCreatedBy);
    w.begin_list(7, thrift::kStruct, kColumnCount);
    for (int c = 0; c < kColumnCount; ++c) {
      w.begin_element();
      w.begin_struct(1);  // TYPE_ORDER
      w.end_struct();
      w.end_struct();
    }
    w.stop();
    summary.footer_crc32c = crc32c(footer);
    out.append(footer);
    const auto len = static_cast<std::uint32_t>(footer.size());
    out.append(std::string_view(reinterpret_cast<const char*>(&len), 4));
    out.append("PAR1");
  }
};

PartWriter::PartWriter(int fd, PartWriterOptions options)
    : impl_(std::make_unique<Impl>(fd, options)) {}
PartWriter::~PartWriter() = default;

void PartWriter::add(const StringTable& strings, std::span<const ReadingRun> runs,
                     const double* values, std::span<const std::int64_t> ingest_us) {
  impl_->add(strings, runs, values, ingest_us);
}

PartSummary PartWriter::finish() {
  impl_->flush_row_group();
  impl_->write_footer();
  impl_->out.flush();
  PartSummary s = impl_->summary;
  s.bytes = impl_->out.offset();
  s.crc32c = impl_->out.crc32c();
  s.row_groups = impl_->groups.size();
  return s;
}

}  // namespace meterd::storage
