#include "storage/column_chunk_writer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "storage/checksum.hpp"
#include "storage/thrift_compact.hpp"

namespace meterd::storage {

void RowGroupBuffer::clear() {
  runs.clear(), values.clear(), rows = 0, any_line_step = false;
  for (int c = 0; c < kColumnCount; ++c) {
    idx[c].clear(), strs[c].clear(), ints[c].clear(), nulls[c] = 0;
  }
}

namespace {

// One compressor per thread, kept for its life: a daemon writes a part per partition of every
// request, and a compressor made per part allocated (and faulted in) its tables each time.
ZSTD_CCtx* thread_compressor() {
  struct Owner {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ~Owner() { ZSTD_freeCCtx(cctx); }
  };
  thread_local Owner owner;
  if (!owner.cctx) throw std::bad_alloc();
  return owner.cctx;
}

}  // namespace

ColumnChunkWriter::ColumnChunkWriter(OutputFile& out, std::size_t page_rows, int zstd_level)
    : out_(out), page_rows_(page_rows), zstd_level_(zstd_level), cctx_(thread_compressor()) {}

void ColumnChunkWriter::write(int c, const RowGroupBuffer& rg, ChunkMeta& cm) {
  if (c == kIntervalStart)
    write_interval_start(rg, cm);
  else if (c == kLine && rg.any_line_step)
    write_line(rg, cm);
  else if (c == kValue)
    write_value(rg, cm);
  else
    write_dict_column(c, rg, cm);
}

void ColumnChunkWriter::emit_page(ChunkMeta& cm, std::int32_t type, std::uint32_t num_values,
                                  std::int32_t enc) {
  const std::size_t bound = ZSTD_compressBound(body_.size());
  if (compressed_.size() < bound) compressed_.resize(bound);
  const std::size_t n =
      ZSTD_compressCCtx(cctx_, compressed_.data(), bound, body_.data(), body_.size(), zstd_level_);
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  const std::uint32_t crc = crc32_ieee(compressed_.data(), n);
  header_.clear();
  thrift::Writer w(header_);
  w.i32(1, type);
  w.i32(2, static_cast<std::int32_t>(body_.size()));
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
  const auto at = static_cast<std::int64_t>(out_.offset());
  if (type == pq::kDictionaryPage) {
    cm.dictionary_page_offset = at;
  } else {
    if (cm.num_values == 0) cm.data_page_offset = at;
    cm.pages.push_back({at, static_cast<std::int32_t>(header_.size() + n), cm.num_values});
  }
  out_.append(header_);
  out_.append(std::string_view(compressed_.data(), n));
  cm.uncompressed += static_cast<std::int64_t>(header_.size() + body_.size());
  cm.compressed += static_cast<std::int64_t>(header_.size() + n);
  if (type == pq::kDataPage) cm.num_values += num_values;
}

// Walks the row group's runs page by page, handing (run index, rows of it in this page).
template <class Fn>
void ColumnChunkWriter::for_each_page(const RowGroupBuffer& rg, Fn&& fn) {
  std::size_t r = 0, used = 0;  // run index, rows of runs[r] already consumed
  for (std::size_t p0 = 0; p0 < rg.rows; p0 += page_rows_) {
    const std::size_t p1 = std::min(rg.rows, p0 + page_rows_);
    std::size_t left = p1 - p0;
    auto segments = [&](auto&& seg) {
      while (left) {
        const std::size_t take = std::min<std::size_t>(left, rg.runs[r].count - used);
        seg(r, used, take);
        used += take, left -= take;
        if (used == rg.runs[r].count) ++r, used = 0;
      }
    };
    fn(p0, p1, segments);
  }
}

// A run-constant, dictionary-encoded column.
void ColumnChunkWriter::write_dict_column(int c, const RowGroupBuffer& rg, ChunkMeta& cm) {
  const ColumnSpec& spec = kColumns[c];
  std::uint32_t dict_size;
  body_.clear();
  if (spec.kind == Kind::kString) {
    dict_size = rg.strs[c].size;
    body_ = rg.strs[c].plain;
    if (dict_size) cm.has_minmax = true, cm.min = rg.strs[c].min, cm.max = rg.strs[c].max;
  } else {
    const auto& e = rg.ints[c].entries;
    dict_size = static_cast<std::uint32_t>(e.size());
    if (dict_size) {
      const auto [mn, mx] = std::minmax_element(e.begin(), e.end());
      cm.has_minmax = true;
      if (spec.kind == Kind::kInt32) {
        for (auto v : e) put_le(body_, static_cast<std::int32_t>(v));
        cm.min = le_bytes(static_cast<std::int32_t>(*mn));
        cm.max = le_bytes(static_cast<std::int32_t>(*mx));
      } else {
        for (auto v : e) put_le(body_, v);
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
  cm.null_count = rg.nulls[c];
  const int width = dict_size > 1 ? bit_width(dict_size - 1) : 0;
  const auto& ix = rg.idx[c];
  HybridEncoder enc;
  for_each_page(rg, [&](std::size_t p0, std::size_t p1, auto&& segments) {
    body_.clear();
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
      body_.append(4, '\0');
      enc.reset(&body_, 1);
      std::vector<std::pair<std::size_t, std::size_t>>& segs = page_segments_;
      segs.clear();
      segments([&](std::size_t r, std::size_t, std::size_t n) {
        segs.emplace_back(r, n);
        push(ix[r] != kNull, n);
      });
      if (cur_n) enc.run(cur, cur_n);
      enc.finish();
      const auto len = static_cast<std::uint32_t>(body_.size() - 4);
      std::memcpy(body_.data(), &len, 4);
      if (dict_size) {
        body_.push_back(static_cast<char>(width));
        enc.reset(&body_, width);
        cur_n = 0;
        for (auto [r, n] : segs)
          if (ix[r] != kNull) push(ix[r], n);
        if (cur_n) enc.run(cur, cur_n);
        enc.finish();
      }
    } else {
      body_.push_back(static_cast<char>(width));
      enc.reset(&body_, width);
      segments([&](std::size_t r, std::size_t, std::size_t n) { push(ix[r], n); });
      if (cur_n) enc.run(cur, cur_n);
      enc.finish();
    }
    emit_page(cm, pq::kDataPage, static_cast<std::uint32_t>(p1 - p0),
              dict_size ? pq::kRleDictionary : pq::kPlain);
  });
}

void ColumnChunkWriter::write_interval_start(const RowGroupBuffer& rg, ChunkMeta& cm) {
  cm.encodings = {pq::kDeltaBinaryPacked, pq::kRle};
  cm.has_minmax = true;
  cm.min = le_bytes(rg.min_start * kMicros);
  cm.max = le_bytes(rg.max_start * kMicros);
  for_each_page(rg, [&](std::size_t p0, std::size_t p1, auto&& segments) {
    starts_.resize(p1 - p0);
    std::int64_t* dst = starts_.data();
    segments([&](std::size_t r, std::size_t from, std::size_t n) {
      const std::int64_t step = std::int64_t{rg.runs[r].step_s} * kMicros;
      std::int64_t t =
          (rg.runs[r].first_start + static_cast<std::int64_t>(from) * rg.runs[r].step_s) * kMicros;
      for (std::size_t k = 0; k < n; ++k, t += step) *dst++ = t;
    });
    body_.clear();
    encode_delta(body_, starts_.data(), starts_.size());
    emit_page(cm, pq::kDataPage, static_cast<std::uint32_t>(p1 - p0), pq::kDeltaBinaryPacked);
  });
}

// Where a run of the row group has a reading per line (NDJSON), the line follows from the run like
// interval_start: DELTA_BINARY_PACKED, 0 bits per row. Otherwise (NEM12: a line per run) it is
// run-constant and dictionary-encoded like the other columns, which costs less to write.
void ColumnChunkWriter::write_line(const RowGroupBuffer& rg, ChunkMeta& cm) {
  cm.encodings = {pq::kDeltaBinaryPacked, pq::kRle};
  std::int64_t mn = 0, mx = 0;
  for (std::size_t r = 0; r < rg.runs.size(); ++r) {
    const RgRun& run = rg.runs[r];
    const std::int64_t first = run.line;
    const std::int64_t last = first + std::int64_t{run.count - 1} * run.line_step;
    if (r == 0 || first < mn) mn = first;
    if (r == 0 || last > mx) mx = last;
  }
  if (!rg.runs.empty()) cm.has_minmax = true, cm.min = le_bytes(mn), cm.max = le_bytes(mx);
  for_each_page(rg, [&](std::size_t p0, std::size_t p1, auto&& segments) {
    starts_.resize(p1 - p0);
    std::int64_t* dst = starts_.data();
    segments([&](std::size_t r, std::size_t from, std::size_t n) {
      const RgRun& run = rg.runs[r];
      std::int64_t line = run.line + static_cast<std::int64_t>(from) * run.line_step;
      for (std::size_t k = 0; k < n; ++k, line += run.line_step) *dst++ = line;
    });
    body_.clear();
    encode_delta(body_, starts_.data(), starts_.size());
    emit_page(cm, pq::kDataPage, static_cast<std::uint32_t>(p1 - p0), pq::kDeltaBinaryPacked);
  });
}

void ColumnChunkWriter::write_value(const RowGroupBuffer& rg, ChunkMeta& cm) {
  // Statistics: numeric order, NaN excluded, zero min as -0.0 and zero max as +0.0.
  double mn = INFINITY, mx = -INFINITY;
  bool any = false;
  for (double v : rg.values)
    if (!std::isnan(v)) mn = std::min(mn, v), mx = std::max(mx, v), any = true;
  if (any) {
    if (mn == 0) mn = -0.0;
    if (mx == 0) mx = 0.0;
    cm.has_minmax = true, cm.min = le_bytes(mn), cm.max = le_bytes(mx);
  }
  value_dict_.clear(rg.rows);
  value_idx_.resize(rg.rows);
  // Dictionary when it pays: entries + bit-packed indices well under PLAIN's 8 bytes/row
  // (meter values with 3 decimals repeat a lot; a high-cardinality group goes PLAIN).
  bool dict = value_dict_.build(rg.values.data(), rg.rows, value_idx_.data());
  if (dict) {
    const std::size_t n = value_dict_.entries.size();
    const std::size_t bits = n > 1 ? static_cast<std::size_t>(bit_width(n - 1)) : 0;
    dict = n * 8 + rg.rows * bits / 8 < rg.rows * 8 * 4 / 5;
  }
  if (dict) {
    body_.assign(reinterpret_cast<const char*>(value_dict_.entries.data()),
                 value_dict_.entries.size() * sizeof(double));
    emit_page(cm, pq::kDictionaryPage, static_cast<std::uint32_t>(value_dict_.entries.size()),
              pq::kPlain);
    cm.encodings = {pq::kPlain, pq::kRle, pq::kRleDictionary};
  } else {
    cm.encodings = {pq::kPlain, pq::kRle};
  }
  const auto size = static_cast<std::uint32_t>(value_dict_.entries.size());
  const int width = size > 1 ? bit_width(size - 1) : 0;
  for (std::size_t p0 = 0; p0 < rg.rows; p0 += page_rows_) {
    const std::size_t n = std::min(rg.rows, p0 + page_rows_) - p0;
    body_.clear();
    if (dict) {
      // One bit-packed run for the whole page: zstd finds the repeats.
      body_.push_back(static_cast<char>(width));
      put_varint(body_, (((n + 7) / 8) << 1) | 1);
      bit_pack(body_, value_idx_.data() + p0, n, width);
    } else {
      body_.assign(reinterpret_cast<const char*>(rg.values.data() + p0), n * sizeof(double));
    }
    emit_page(cm, pq::kDataPage, static_cast<std::uint32_t>(n),
              dict ? pq::kRleDictionary : pq::kPlain);
  }
}

}  // namespace meterd::storage
