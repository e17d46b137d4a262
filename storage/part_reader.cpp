#include "storage/part_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "storage/checksum.hpp"
#include "storage/encoding.hpp"
#include "storage/thrift_compact.hpp"

namespace meterd::storage {
namespace {

constexpr std::int64_t kMicros = 1'000'000;

void read_exact(int fd, void* buf, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (n) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "read part");
    }
    if (r == 0) throw CorruptPart("part shorter than its footer says");
    p += r, n -= static_cast<std::size_t>(r), offset += static_cast<std::uint64_t>(r);
  }
}

std::int64_t le64(std::string_view s) {
  std::int64_t v = 0;
  if (s.size() == 8) std::memcpy(&v, s.data(), 8);
  return v;
}

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

// Per-thread decoding scratch: buffers and the zstd context are reused across row groups.
struct Decoder {
  Decoder() = default;
  Decoder(const Decoder&) = delete;
  std::string path;
  std::string bytes;  // the row group's column chunks
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::string page;  // decompressed page body
  std::vector<std::uint32_t> levels, indices;
  std::vector<std::int64_t> ints, dict_ints;
  std::vector<double> dict_doubles;
  ~Decoder() { ZSTD_freeDCtx(dctx); }

  [[noreturn]] void fail(const std::string& what) { throw CorruptPart(path + ": " + what); }

  void column(int c, const ChunkInfo& ci, const char* chunk, std::size_t rows,
              DecodedRowGroup& out) {
    const ColumnSpec& spec = kColumns[c];
    const Kind kind = spec.kind;
    auto& strs = out.str[c];
    auto& num = out.num[c];
    if (kind == Kind::kString)
      strs.dict.clear(), strs.idx.resize(rows);
    else if (kind == Kind::kDouble)
      out.value.resize(rows);
    else
      num.resize(rows);
    bool have_dict = false;
    dict_ints.clear(), dict_doubles.clear();
    std::size_t row = 0;
    std::size_t pos = 0;
    const auto size = static_cast<std::size_t>(ci.size);
    while (pos < size) {
      thrift::Value h;
      try {
        pos +=
            thrift::parse_struct(reinterpret_cast<const std::uint8_t*>(chunk + pos), size - pos, h);
      } catch (const thrift::ThriftError& e) {
        fail(std::string("page header: ") + e.what());
      }
      const std::int64_t type = h.need(1).i, usize = h.need(2).i, csize = h.need(3).i;
      if (csize < 0 || usize < 0 || static_cast<std::size_t>(csize) > size - pos)
        fail("page size out of bounds");
      const char* body = chunk + pos;
      pos += static_cast<std::size_t>(csize);
      // meterd always writes page CRCs, so a missing one is itself a sign of corruption.
      const thrift::Value* crc = h.field(4);
      if (!crc ||
          static_cast<std::uint32_t>(crc->i) != crc32_ieee(body, static_cast<std::size_t>(csize)))
        fail("page CRC missing or wrong in column " + std::string(spec.name));
      std::string& buf = (type == pq::kDictionaryPage && kind == Kind::kString) ? strs.arena : page;
      if (ci.codec == pq::kZstd) {
        buf.resize(static_cast<std::size_t>(usize));
        const std::size_t n = ZSTD_decompressDCtx(dctx, buf.data(), buf.size(), body,
                                                  static_cast<std::size_t>(csize));
        if (ZSTD_isError(n) || n != static_cast<std::size_t>(usize)) fail("zstd page");
      } else if (ci.codec == 0) {
        buf.assign(body, static_cast<std::size_t>(csize));
      } else {
        fail("unsupported codec");
      }
      if (type == pq::kDictionaryPage) {
        const std::int64_t entries = h.need(7).need(1).i;
        if (h.need(7).int_or(2, -1) != pq::kPlain) fail("dictionary page not PLAIN");
        if (entries < 0 || have_dict) fail("bad dictionary page");
        have_dict = true;
        read_dictionary(kind, buf, static_cast<std::size_t>(entries), strs);
        continue;
      }
      if (type != pq::kDataPage) continue;  // index pages etc.: not ours, skip
      const thrift::Value& dp = h.need(5);
      const std::int64_t n = dp.need(1).i, enc = dp.need(2).i;
      if (dp.need(3).i != pq::kRle || dp.need(4).i != pq::kRle) fail("unexpected level encoding");
      if (n < 0 || row + static_cast<std::size_t>(n) > rows) fail("page rows exceed row group");
      data_page(c, static_cast<std::size_t>(n), enc, row, out);
      row += static_cast<std::size_t>(n);
    }
    if (row != rows) fail("column " + std::string(spec.name) + " has too few values");
  }

  void read_dictionary(Kind kind, const std::string& buf, std::size_t entries,
                       DecodedRowGroup::Strings& strs) {
    if (kind == Kind::kString) {
      strs.dict.reserve(entries);
      std::size_t p = 0;
      for (std::size_t e = 0; e < entries; ++e) {
        std::uint32_t len;
        if (buf.size() - p < 4) fail("dictionary truncated");
        std::memcpy(&len, buf.data() + p, 4);
        p += 4;
        if (len > buf.size() - p) fail("dictionary entry out of bounds");
        strs.dict.emplace_back(buf.data() + p, len);
        p += len;
      }
    } else if (kind == Kind::kDouble) {
      if (buf.size() != entries * 8) fail("dictionary size");
      dict_doubles.resize(entries);
      std::memcpy(dict_doubles.data(), buf.data(), buf.size());
    } else {
      const std::size_t w = kind == Kind::kInt32 ? 4 : 8;
      if (buf.size() != entries * w) fail("dictionary size");
      dict_ints.resize(entries);
      for (std::size_t e = 0; e < entries; ++e) {
        if (w == 4) {
          std::int32_t v;
          std::memcpy(&v, buf.data() + e * 4, 4);
          dict_ints[e] = v;
        } else {
          std::memcpy(&dict_ints[e], buf.data() + e * 8, 8);
        }
      }
    }
  }

  void data_page(int c, std::size_t n, std::int64_t enc, std::size_t row, DecodedRowGroup& out) {
    const ColumnSpec& spec = kColumns[c];
    std::string_view in(page);
    std::size_t present = n;
    if (spec.optional) {
      if (in.size() < 4) fail("levels truncated");
      std::uint32_t len;
      std::memcpy(&len, in.data(), 4);
      if (len > in.size() - 4) fail("levels out of bounds");
      levels.resize(n);
      if (!decode_hybrid(in.substr(4, len), 1, n, levels.data())) fail("bad levels");
      in.remove_prefix(4 + len);
      present = static_cast<std::size_t>(std::count(levels.begin(), levels.end(), 1u));
    }
    // Values of present rows into `indices` (dictionary) or `ints`/value directly.
    const bool dict = enc == pq::kRleDictionary || enc == 2;
    std::size_t dict_size = spec.kind == Kind::kString   ? out.str[c].dict.size()
                            : spec.kind == Kind::kDouble ? dict_doubles.size()
                                                         : dict_ints.size();
    ints.resize(present);
    if (dict) {
      if (in.empty()) {
        if (present) fail("missing bit width");
      } else {
        const int width = static_cast<unsigned char>(in[0]);
        indices.resize(present);
        if (!decode_hybrid(in.substr(1), width, present, indices.data())) fail("bad indices");
        for (std::size_t i = 0; i < present; ++i)
          if (indices[i] >= dict_size) fail("dictionary index out of range");
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
            ints[i] = v;
          } else {
            std::memcpy(&ints[i], in.data() + i * 8, 8);
          }
        }
      }
    } else if (enc == pq::kDeltaBinaryPacked) {
      if (spec.kind != Kind::kInt32 && spec.kind != Kind::kInt64 && spec.kind != Kind::kTimestamp)
        fail("DELTA on a non-integer column");
      if (present && !decode_delta(in, present, ints.data())) fail("bad DELTA_BINARY_PACKED");
    } else {
      fail("unsupported encoding " + std::to_string(enc));
    }
    // Scatter to rows.
    if (spec.kind == Kind::kString) {
      if (spec.optional) fail("optional strings are not in the schema");
      std::memcpy(out.str[c].idx.data() + row, indices.data(), n * 4);
      return;
    }
    if (spec.kind == Kind::kDouble) {
      if (dict)
        for (std::size_t i = 0; i < n; ++i) out.value[row + i] = dict_doubles[indices[i]];
      return;
    }
    if (dict)
      for (std::size_t i = 0; i < present; ++i) ints[i] = dict_ints[indices[i]];
    std::int64_t* dst = out.num[c].data() + row;
    const bool seconds = spec.kind == Kind::kTimestamp && c != kIngestTime;
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (spec.optional && levels[i] == 0) {
        dst[i] = null_value(c);
        continue;
      }
      const std::int64_t v = ints[k++];
      dst[i] = seconds ? v / kMicros : v;
    }
  }
};

}  // namespace

epoch_seconds RowGroupInfo::min_start() const {
  return le64(chunks[kIntervalStart].min) / kMicros;
}
epoch_seconds RowGroupInfo::max_start() const {
  return le64(chunks[kIntervalStart].max) / kMicros;
}
bool RowGroupInfo::int_range(int c, std::int64_t& lo, std::int64_t& hi) const {
  const ChunkInfo& chunk = chunks[static_cast<std::size_t>(c)];
  if (!chunk.has_minmax || chunk.min.size() < 8 || chunk.max.size() < 8) return false;
  const std::int64_t scale =
      kColumns[static_cast<std::size_t>(c)].kind == Kind::kTimestamp ? kMicros : 1;
  lo = le64(chunk.min) / scale;
  hi = le64(chunk.max) / scale;
  return true;
}

PartReader::PartReader(const std::filesystem::path& path, const PartExpectation* expect)
    : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
  try {
    struct stat st;
    if (::fstat(fd_, &st) != 0)
      throw std::system_error(errno, std::generic_category(), "stat part");
    size_ = static_cast<std::uint64_t>(st.st_size);
    const std::string name = path.string();
    auto fail = [&](const std::string& what) { throw CorruptPart(name + ": " + what); };
    if (expect && expect->bytes != size_) fail("size differs from the manifest");
    if (size_ < 12) fail("too small to be Parquet");
    char tail[8];
    read_exact(fd_, tail, 8, size_ - 8);
    char head[4];
    read_exact(fd_, head, 4, 0);
    if (std::memcmp(tail + 4, "PAR1", 4) != 0 || std::memcmp(head, "PAR1", 4) != 0)
      fail("no PAR1 magic");
    std::uint32_t footer_len;
    std::memcpy(&footer_len, tail, 4);
    if (static_cast<std::uint64_t>(footer_len) + 12 > size_) fail("footer length out of bounds");
    std::string footer(footer_len, '\0');
    read_exact(fd_, footer.data(), footer_len, size_ - 8 - footer_len);
    if (expect && crc32c(footer) != expect->footer_crc32c) fail("footer checksum mismatch");
    thrift::Value fm;
    try {
      thrift::parse_struct(reinterpret_cast<const std::uint8_t*>(footer.data()), footer.size(), fm);
      const auto& schema = fm.need(2).elems;
      if (schema.size() != kColumnCount + 1 || schema[0].int_or(5, -1) != kColumnCount)
        fail("not a meterd readings part (schema)");
      for (int c = 0; c < kColumnCount; ++c) {
        const auto& el = schema[c + 1];
        if (el.need(4).bin != kColumns[c].name || el.need(1).i != physical_type(kColumns[c].kind))
          fail("not a meterd readings part (column " + std::string(kColumns[c].name) + ")");
      }
      std::int64_t total = 0;
      for (const auto& rgv : fm.need(4).elems) {
        RowGroupInfo rg;
        rg.rows = rgv.need(3).i;
        const auto& cols = rgv.need(1).elems;
        if (cols.size() != kColumnCount || rg.rows < 0) fail("row group has wrong column count");
        rg.begin = INT64_MAX;
        for (const auto& cc : cols) {
          const auto& md = cc.need(3);
          ChunkInfo ci;
          const std::int64_t data_off = md.need(9).i;
          const std::int64_t dict_off = md.int_or(11, -1);
          ci.start = dict_off >= 0 ? std::min(dict_off, data_off) : data_off;
          ci.size = md.need(7).i;
          ci.num_values = md.need(5).i;
          ci.codec = static_cast<std::int32_t>(md.need(4).i);
          if (ci.start < 4 || ci.size < 0 ||
              static_cast<std::uint64_t>(ci.start + ci.size) > size_ - 8 - footer_len)
            fail("column chunk out of bounds");
          if (ci.num_values != rg.rows) fail("column chunk value count");
          if (const thrift::Value* stats = md.field(12)) {
            const thrift::Value* mn = stats->field(6);
            const thrift::Value* mx = stats->field(5);
            if (mn && mx) ci.has_minmax = true, ci.min = mn->bin, ci.max = mx->bin;
          }
          rg.begin = std::min(rg.begin, ci.start);
          rg.end = std::max(rg.end, ci.start + ci.size);
          rg.chunks.push_back(std::move(ci));
        }
        total += rg.rows;
        groups_.push_back(std::move(rg));
      }
      if (total != fm.need(3).i) fail("row counts do not add up");
      rows_ = static_cast<std::uint64_t>(total);
      if (const thrift::Value* metadata = fm.field(5))
        for (const auto& kv : metadata->elems) {
          const thrift::Value* key = kv.field(1);
          const thrift::Value* value = kv.field(2);
          if (!key || key->bin != kSourcesKey || !value) continue;
          SourcePairs pairs;
          if (!decode_source_pairs(value->bin, pairs))
            fail("footer: unreadable " + std::string(kSourcesKey));
          sources_ = std::make_shared<const SourcePairs>(std::move(pairs));
        }
    } catch (const thrift::ThriftError& e) {
      fail(std::string("footer: ") + e.what());
    }
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
  // Do not keep the descriptor: a query over thousands of uncompacted parts would otherwise
  // run out of file descriptors. read() opens the file for each row group.
  ::close(fd_);
  fd_ = -1;
}

PartReader::~PartReader() {
  if (fd_ >= 0) ::close(fd_);
}
PartReader::PartReader(PartReader&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(o.fd_),
      rows_(o.rows_),
      size_(o.size_),
      groups_(std::move(o.groups_)) {
  o.fd_ = -1;
}
PartReader& PartReader::operator=(PartReader&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_), fd_ = o.fd_, rows_ = o.rows_, size_ = o.size_;
    groups_ = std::move(o.groups_);
    o.fd_ = -1;
  }
  return *this;
}

void PartReader::read(std::size_t g, DecodedRowGroup& out) const {
  const RowGroupInfo& rg = groups_.at(g);
  thread_local Decoder d;
  d.path = path_.string();
  d.bytes.resize(static_cast<std::size_t>(rg.end - rg.begin));
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path_.string());
  try {
    struct stat st;
    if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != size_)
      throw CorruptPart(path_.string() + ": changed since it was opened");
    read_exact(fd, d.bytes.data(), d.bytes.size(), static_cast<std::uint64_t>(rg.begin));
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  out.rows = static_cast<std::size_t>(rg.rows);
  static std::atomic<std::uint64_t> serials{0};
  out.serial = ++serials;
  for (int c = 0; c < kColumnCount; ++c) {
    const ChunkInfo& ci = rg.chunks[c];
    d.column(c, ci, d.bytes.data() + (ci.start - rg.begin), out.rows, out);
  }
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
