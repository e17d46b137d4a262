#include "storage/part_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "storage/checksum.hpp"
#include "storage/page_decoder.hpp"
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
    data_end_ = size_ - 8 - footer_len;
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
          ci.offset_index_offset = cc.int_or(4, -1);
          ci.offset_index_length = cc.int_or(5, 0);
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
          if (key && value && key->bin == kOffsetIndexCrcKey) {
            if (value->bin.size() != 4 * groups_.size()) fail("footer: offset index checksums");
            offset_index_crcs_.resize(groups_.size());
            std::memcpy(offset_index_crcs_.data(), value->bin.data(), value->bin.size());
            continue;
          }
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
      data_end_(o.data_end_),
      groups_(std::move(o.groups_)),
      sources_(std::move(o.sources_)),
      offset_index_crcs_(std::move(o.offset_index_crcs_)) {
  o.fd_ = -1;
}
PartReader& PartReader::operator=(PartReader&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_), fd_ = o.fd_, rows_ = o.rows_, size_ = o.size_;
    data_end_ = o.data_end_;
    groups_ = std::move(o.groups_);
    sources_ = std::move(o.sources_);
    offset_index_crcs_ = std::move(o.offset_index_crcs_);
    o.fd_ = -1;
  }
  return *this;
}

namespace {

std::atomic<std::uint64_t> serials{0};

// Opens the part for reading and checks it is still the file whose footer was read.
int open_unchanged(const std::filesystem::path& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
  struct stat st;
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != size) {
    ::close(fd);
    throw CorruptPart(path.string() + ": changed since it was opened");
  }
  return fd;
}

// The per-thread decoding scratch, named for the part it is about to decode.
PageDecoder& decoder_for(const std::filesystem::path& part) {
  thread_local PageDecoder d;
  d.path = part.string();
  return d;
}

// The row group's dictionaries, emptied: out's own when no page or buffer shares them.
RowGroupDictionaries& fresh_dictionaries(DecodedRowGroup& out) {
  if (!out.dictionaries || out.dictionaries.use_count() != 1)
    out.dictionaries = std::make_shared<RowGroupDictionaries>();
  for (ColumnDictionary& d : out.dictionaries->column) d.present = false;
  return *out.dictionaries;
}

}  // namespace

void PagedRowGroup::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void PartReader::read(std::size_t g, DecodedRowGroup& out) const {
  const RowGroupInfo& rg = groups_.at(g);
  PageDecoder& d = decoder_for(path_);
  d.bytes.resize(static_cast<std::size_t>(rg.end - rg.begin));
  const int fd = open_unchanged(path_, size_);
  try {
    read_exact(fd, d.bytes.data(), d.bytes.size(), static_cast<std::uint64_t>(rg.begin));
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  out.rows = static_cast<std::size_t>(rg.rows);
  out.serial = ++serials;
  out.group_serial = out.serial, out.columns = kAllColumns;
  RowGroupDictionaries& dicts = fresh_dictionaries(out);
  for (int c = 0; c < kColumnCount; ++c) {
    const ChunkInfo& ci = rg.chunks[c];
    const char* chunk = d.bytes.data() + (ci.start - rg.begin);
    const auto size = static_cast<std::size_t>(ci.size);
    ColumnDictionary& dict = dicts.column[c];
    PageDecoder::size_column(c, out.rows, out);
    std::size_t row = 0;
    for (std::size_t pos = 0, values = 0; pos < size; row += values)
      pos += d.page(c, ci.codec, chunk + pos, size - pos, dict, row, out.rows, out, values);
    if (row != out.rows) d.fail("column " + std::string(kColumns[c].name) + " has too few values");
    if (kColumns[c].kind == Kind::kString) out.str[c].dict = dict.strings;
  }
  PageDecoder::mark_run_starts(out);
}

bool PartReader::open_pages(std::size_t g, PagedRowGroup& out) const {
  const RowGroupInfo& rg = groups_.at(g);
  auto fail = [&](const std::string& what) { throw CorruptPart(path_.string() + ": " + what); };
  if (offset_index_crcs_.empty()) return false;
  std::int64_t lo = INT64_MAX, hi = 0;
  for (const ChunkInfo& ci : rg.chunks) {
    if (ci.offset_index_offset < 0 || ci.offset_index_length <= 0) return false;
    lo = std::min(lo, ci.offset_index_offset);
    hi = std::max(hi, ci.offset_index_offset + ci.offset_index_length);
  }
  if (lo < 4 || static_cast<std::uint64_t>(hi) > data_end_ || hi - lo > (64 << 20))
    fail("offset index out of bounds");
  out.close();
  out.fd_ = open_unchanged(path_, size_);
  PageDecoder& d = decoder_for(path_);
  d.bytes.resize(static_cast<std::size_t>(hi - lo));
  read_exact(out.fd_, d.bytes.data(), d.bytes.size(), static_cast<std::uint64_t>(lo));
  if (crc32c(d.bytes) != offset_index_crcs_[g]) fail("offset index checksum mismatch");
  out.first_row_.clear();
  for (int c = 0; c < kColumnCount; ++c) {
    const ChunkInfo& ci = rg.chunks[c];
    auto& offsets = out.page_offset_[c];
    auto& sizes = out.page_size_[c];
    offsets.clear(), sizes.clear();
    thrift::Value index;
    try {
      thrift::parse_struct(
          reinterpret_cast<const std::uint8_t*>(d.bytes.data() + (ci.offset_index_offset - lo)),
          static_cast<std::size_t>(ci.offset_index_length), index);
      const auto& pages = index.need(1).elems;
      if (c > 0 && pages.size() != out.first_row_.size()) return false;  // not aligned
      for (std::size_t p = 0; p < pages.size(); ++p) {
        const std::int64_t at = pages[p].need(1).i, size = pages[p].need(2).i;
        const std::int64_t first = pages[p].need(3).i;
        if (at < ci.start || size <= 0 || at + size > ci.start + ci.size)
          fail("page outside its column chunk in the offset index");
        if (first < 0 || first >= rg.rows || (p == 0) != (first == 0) ||
            (p > 0 && first <= pages[p - 1].need(3).i))
          fail("page rows out of order in the offset index");
        if (c == 0)
          out.first_row_.push_back(first);
        else if (out.first_row_[p] != first)
          return false;  // pages not aligned across columns
        offsets.push_back(at);
        sizes.push_back(static_cast<std::int32_t>(size));
      }
    } catch (const thrift::ThriftError& e) {
      fail(std::string("offset index: ") + e.what());
    }
  }
  out.group_ = g;
  out.rows_ = static_cast<std::size_t>(rg.rows);
  out.serial_ = ++serials;
  out.dictionaries_ = std::make_shared<RowGroupDictionaries>();
  DecodedRowGroup none;  // a dictionary region holds no data page: nothing is decoded into it
  for (int c = 0; c < kColumnCount; ++c) {
    const ChunkInfo& ci = rg.chunks[c];
    const std::int64_t first_page =
        out.page_offset_[c].empty() ? ci.start + ci.size : out.page_offset_[c].front();
    if (first_page == ci.start) continue;
    d.bytes.resize(static_cast<std::size_t>(first_page - ci.start));
    read_exact(out.fd_, d.bytes.data(), d.bytes.size(), static_cast<std::uint64_t>(ci.start));
    ColumnDictionary& dict = out.dictionaries_->column[c];
    for (std::size_t pos = 0, values = 0; pos < d.bytes.size();)
      pos +=
          d.page(c, ci.codec, d.bytes.data() + pos, d.bytes.size() - pos, dict, 0, 0, none, values);
  }
  return true;
}

void PartReader::read_page(const PagedRowGroup& group, std::size_t p, std::uint32_t columns,
                           DecodedRowGroup& out) const {
  if (group.fd_ < 0 || p >= group.pages()) throw std::logic_error("read_page: no such page");
  PageDecoder& d = decoder_for(path_);
  const std::size_t rows = group.page_rows(p);
  if (out.group_serial != group.serial_ || out.page != p || out.columns == 0) {
    out.rows = rows;
    out.serial = ++serials;
    out.group_serial = group.serial_, out.page = p, out.columns = 0;
    out.dictionaries = group.dictionaries_;
  }
  const RowGroupInfo& rg = groups_[group.group_];
  for (int c = 0; c < kColumnCount; ++c) {
    const std::uint32_t bit = 1u << c;
    if (!(columns & bit) || (out.columns & bit)) continue;
    PageDecoder::size_column(c, rows, out);
    const auto size = static_cast<std::size_t>(group.page_size_[c][p]);
    d.bytes.resize(size);
    read_exact(group.fd_, d.bytes.data(), size,
               static_cast<std::uint64_t>(group.page_offset_[c][p]));
    ColumnDictionary& dict = group.dictionaries_->column[c];
    std::size_t values = 0;
    const std::size_t used =
        d.page(c, rg.chunks[c].codec, d.bytes.data(), size, dict, 0, rows, out, values);
    if (used != size || values != rows)
      d.fail("page of column " + std::string(kColumns[c].name) + " holds " +
             std::to_string(values) + " values, its offset index says " + std::to_string(rows));
    if (kColumns[c].kind == Kind::kString) out.str[c].dict = dict.strings;
    out.columns |= bit;
  }
  if (out.columns == kAllColumns) PageDecoder::mark_run_starts(out);
}

}  // namespace meterd::storage
