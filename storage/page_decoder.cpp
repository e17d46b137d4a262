#include "storage/page_decoder.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "storage/checksum.hpp"
#include "storage/encoding.hpp"
#include "storage/thrift_compact.hpp"

namespace meterd::storage {
namespace {

constexpr std::int64_t kMicros = 1'000'000;

// Null sentinel of an optional numeric column, in the units DecodedRowGroup uses.
std::int64_t null_value(int c) {
  switch (c) {
    case kMethod:
      return kNoMethod;
    case kReasonCode:
      return kNoReasonCode;
    default:
      return kNoTime;
  }
}

}  // namespace

PageDecoder::PageDecoder() : dctx_(ZSTD_createDCtx()) {
  if (!dctx_) throw std::bad_alloc();
}
PageDecoder::~PageDecoder() {
  ZSTD_freeDCtx(dctx_);
}

void PageDecoder::fail(const std::string& what) const {
  throw CorruptPart(path + ": " + what);
}

void PageDecoder::size_column(int c, std::size_t rows, DecodedRowGroup& out) {
  switch (kColumns[c].kind) {
    case Kind::kString:
      out.str[c].idx.resize(rows);
      break;
    case Kind::kDouble:
      out.value.resize(rows);
      break;
    default:
      out.num[c].resize(rows);
  }
}

std::size_t PageDecoder::page(int c, std::int32_t codec, const char* data, std::size_t size,
                              ColumnDictionary& dict, std::size_t row, std::size_t rows,
                              DecodedRowGroup& out, std::size_t& values) {
  const ColumnSpec& spec = kColumns[c];
  values = 0;
  thrift::Value h;
  std::size_t pos = 0;
  try {
    pos = thrift::parse_struct(reinterpret_cast<const std::uint8_t*>(data), size, h);
  } catch (const thrift::ThriftError& e) {
    fail(std::string("page header: ") + e.what());
  }
  const std::int64_t type = h.need(1).i, usize = h.need(2).i, csize = h.need(3).i;
  if (csize < 0 || usize < 0 || static_cast<std::size_t>(csize) > size - pos)
    fail("page size out of bounds");
  const char* body = data + pos;
  pos += static_cast<std::size_t>(csize);
  // meterd always writes page CRCs, so a missing one is itself a sign of corruption.
  const thrift::Value* crc = h.field(4);
  if (!crc ||
      static_cast<std::uint32_t>(crc->i) != crc32_ieee(body, static_cast<std::size_t>(csize)))
    fail("page CRC missing or wrong in column " + std::string(spec.name));
  if (type != pq::kDictionaryPage && type != pq::kDataPage) return pos;  // index pages etc.
  std::string& buf =
      (type == pq::kDictionaryPage && spec.kind == Kind::kString) ? dict.bytes : page_;
  if (codec == pq::kZstd) {
    buf.resize(static_cast<std::size_t>(usize));
    const std::size_t n =
        ZSTD_decompressDCtx(dctx_, buf.data(), buf.size(), body, static_cast<std::size_t>(csize));
    if (ZSTD_isError(n) || n != static_cast<std::size_t>(usize)) fail("zstd page");
  } else if (codec == 0) {
    buf.assign(body, static_cast<std::size_t>(csize));
  } else {
    fail("unsupported codec");
  }
  if (type == pq::kDictionaryPage) {
    const std::int64_t entries = h.need(7).need(1).i;
    if (h.need(7).int_or(2, -1) != pq::kPlain) fail("dictionary page not PLAIN");
    if (entries < 0 || dict.present) fail("bad dictionary page");
    read_dictionary(spec.kind, buf, static_cast<std::size_t>(entries), dict);
    return pos;
  }
  const thrift::Value& dp = h.need(5);
  const std::int64_t n = dp.need(1).i, enc = dp.need(2).i;
  if (dp.need(3).i != pq::kRle || dp.need(4).i != pq::kRle) fail("unexpected level encoding");
  if (n < 0 || row + static_cast<std::size_t>(n) > rows) fail("page rows exceed row group");
  data_page(c, static_cast<std::size_t>(n), enc, row, dict, out);
  values = static_cast<std::size_t>(n);
  return pos;
}

void PageDecoder::read_dictionary(Kind kind, std::string& buf, std::size_t entries,
                                  ColumnDictionary& dict) {
  dict.present = true;
  dict.strings.clear(), dict.ints.clear(), dict.doubles.clear();
  if (kind == Kind::kString) {
    dict.strings.reserve(std::min(entries, buf.size() / 4));
    std::size_t p = 0;
    for (std::size_t e = 0; e < entries; ++e) {
      std::uint32_t len;
      if (buf.size() - p < 4) fail("dictionary truncated");
      std::memcpy(&len, buf.data() + p, 4);
      p += 4;
      if (len > buf.size() - p) fail("dictionary entry out of bounds");
      dict.strings.emplace_back(buf.data() + p, len);
      p += len;
    }
  } else if (kind == Kind::kDouble) {
    if (buf.size() != entries * 8) fail("dictionary size");
    dict.doubles.resize(entries);
    std::memcpy(dict.doubles.data(), buf.data(), buf.size());
  } else {
    const std::size_t w = kind == Kind::kInt32 ? 4 : 8;
    if (buf.size() != entries * w) fail("dictionary size");
    dict.ints.resize(entries);
    for (std::size_t e = 0; e < entries; ++e) {
      if (w == 4) {
        std::int32_t v;
        std::memcpy(&v, buf.data() + e * 4, 4);
        dict.ints[e] = v;
      } else {
        std::memcpy(&dict.ints[e], buf.data() + e * 8, 8);
      }
    }
  }
}

void PageDecoder::data_page(int c, std::size_t n, std::int64_t enc, std::size_t row,
                            const ColumnDictionary& dict, DecodedRowGroup& out) {
  const ColumnSpec& spec = kColumns[c];
  std::string_view in(page_);
  std::size_t present = n;
  if (spec.optional) {
    if (in.size() < 4) fail("levels truncated");
    std::uint32_t len;
    std::memcpy(&len, in.data(), 4);
    if (len > in.size() - 4) fail("levels out of bounds");
    levels_.resize(n);
    if (!decode_hybrid(in.substr(4, len), 1, n, levels_.data())) fail("bad levels");
    in.remove_prefix(4 + len);
    present = static_cast<std::size_t>(std::count(levels_.begin(), levels_.end(), 1u));
  }
  // Values of present rows into `indices_` (dictionary) or `ints_`/value directly.
  const bool with_dict = enc == pq::kRleDictionary || enc == 2;
  const std::size_t dict_size = dict.size(spec.kind);
  ints_.resize(present);
  if (with_dict) {
    if (in.empty()) {
      if (present) fail("missing bit width");
    } else {
      const int width = static_cast<unsigned char>(in[0]);
      indices_.resize(present);
      if (!decode_hybrid(in.substr(1), width, present, indices_.data())) fail("bad indices");
      for (std::size_t i = 0; i < present; ++i)
        if (indices_[i] >= dict_size) fail("dictionary index out of range");
    }
  } else if (enc == pq::kPlain) {
    const std::size_t w = spec.kind == Kind::kInt32 ? 4 : 8;
    if (spec.kind == Kind::kString) fail("PLAIN strings are not written by meterd");
    if (in.size() < present * w) fail("PLAIN values truncated");
    if (spec.kind == Kind::kDouble) {
      std::memcpy(out.value.data() + row, in.data(), present * 8);  // value is REQUIRED
    } else {
      for (std::size_t i = 0; i < present; ++i) {
        if (w == 4) {
          std::int32_t v;
          std::memcpy(&v, in.data() + i * 4, 4);
          ints_[i] = v;
        } else {
          std::memcpy(&ints_[i], in.data() + i * 8, 8);
        }
      }
    }
  } else if (enc == pq::kDeltaBinaryPacked) {
    if (spec.kind != Kind::kInt32 && spec.kind != Kind::kInt64 && spec.kind != Kind::kTimestamp)
      fail("DELTA on a non-integer column");
    if (present && !decode_delta(in, present, ints_.data())) fail("bad DELTA_BINARY_PACKED");
  } else {
    fail("unsupported encoding " + std::to_string(enc));
  }
  // Scatter to rows.
  if (spec.kind == Kind::kString) {
    if (spec.optional) fail("optional strings are not in the schema");
    if (!with_dict) fail("strings not dictionary-encoded");
    std::memcpy(out.str[c].idx.data() + row, indices_.data(), n * 4);
    return;
  }
  if (spec.kind == Kind::kDouble) {
    if (with_dict)
      for (std::size_t i = 0; i < n; ++i) out.value[row + i] = dict.doubles[indices_[i]];
    return;
  }
  if (with_dict)
    for (std::size_t i = 0; i < present; ++i) ints_[i] = dict.ints[indices_[i]];
  std::int64_t* dst = out.num[c].data() + row;
  const bool seconds = spec.kind == Kind::kTimestamp && c != kIngestTime;
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (spec.optional && levels_[i] == 0) {
      dst[i] = null_value(c);
      continue;
    }
    const std::int64_t v = ints_[k++];
    dst[i] = seconds ? v / kMicros : v;
  }
}

void PageDecoder::mark_run_starts(DecodedRowGroup& out) {
  // Where a new writer run may start: any run-constant column changes, or the interval step
  // breaks. The merge extends its output run without comparing fields when this is 0.
  auto& starts = out.run_start;
  starts.assign(out.rows, 0);
  if (out.rows) starts[0] = 1;
  for (int c = 0; c < kColumnCount; ++c) {
    if (c == kIntervalStart || c == kValue) continue;
    if (kColumns[c].kind == Kind::kString) {
      const std::uint32_t* v = out.str[c].idx.data();
      for (std::size_t i = 1; i < out.rows; ++i) starts[i] |= v[i] != v[i - 1];
    } else {
      const std::int64_t* v = out.num[c].data();
      for (std::size_t i = 1; i < out.rows; ++i) starts[i] |= v[i] != v[i - 1];
    }
  }
  const std::int64_t* t = out.num[kIntervalStart].data();
  const std::int64_t* m = out.num[kIntervalMinutes].data();
  for (std::size_t i = 1; i < out.rows; ++i) starts[i] |= t[i] != t[i - 1] + m[i] * 60;
}

}  // namespace meterd::storage
