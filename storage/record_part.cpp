#include "storage/record_part.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "storage/checksum.hpp"
#include "storage/encoding.hpp"
#include "storage/output_file.hpp"
#include "storage/parquet_metadata.hpp"
#include "storage/part_reader.hpp"
#include "storage/thrift_compact.hpp"

namespace meterd::storage {
namespace {

constexpr std::int64_t kMicros = 1'000'000;
constexpr std::string_view kRecordWriterVersion = "meterd-records 1";

bool is_null(const RecordColumn& c, const RecordCell& cell) {
  return c.optional && c.kind != Kind::kString && c.kind != Kind::kDouble && cell.i == c.null_value;
}

// The body of column c's one data page: definition levels (optional columns), then the
// PLAIN values of the non-null cells.
std::string page_body(const RecordColumn& c, std::size_t column, std::span<const RecordRow> rows,
                      std::int64_t& nulls) {
  std::string body;
  nulls = 0;
  if (c.optional) {
    std::string levels;
    HybridEncoder enc;
    enc.reset(&levels, 1);
    for (const RecordRow& r : rows) {
      const bool null = is_null(c, r[column]);
      nulls += null;
      enc.run(null ? 0 : 1, 1);
    }
    enc.finish();
    put_le(body, static_cast<std::uint32_t>(levels.size()));
    body += levels;
  }
  for (const RecordRow& r : rows) {
    const RecordCell& cell = r[column];
    if (is_null(c, cell)) continue;
    switch (c.kind) {
      case Kind::kString:
        put_le(body, static_cast<std::uint32_t>(cell.s.size()));
        body += cell.s;
        break;
      case Kind::kTimestamp:
        put_le(body, cell.i * kMicros);
        break;
      case Kind::kInt32:
        put_le(body, static_cast<std::int32_t>(cell.i));
        break;
      case Kind::kInt64:
        put_le(body, cell.i);
        break;
      case Kind::kDouble:
        put_le(body, cell.d);
        break;
    }
  }
  return body;
}

void read_exact(int fd, char* buf, std::size_t n, std::uint64_t offset, const std::string& path) {
  while (n) {
    const ssize_t got = ::pread(fd, buf, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw std::system_error(errno, std::generic_category(), "read " + path);
    if (got == 0) throw CorruptPart(path + ": truncated");
    buf += got, n -= static_cast<std::size_t>(got), offset += static_cast<std::uint64_t>(got);
  }
}

struct Fd {
  int fd;
  ~Fd() { ::close(fd); }
};

// Decodes one column's PLAIN values (and levels) into the rows.
class PageDecoder {
 public:
  PageDecoder(const std::string& path, std::string_view body, std::size_t rows)
      : path_(path), in_(body), rows_(rows) {}

  void decode(const RecordColumn& c, std::size_t column, std::vector<RecordRow>& out) {
    std::vector<std::uint32_t> defined(rows_, 1);
    if (c.optional) {
      const std::uint32_t len = take<std::uint32_t>();
      if (len > in_.size()) fail("definition levels out of bounds");
      if (!decode_hybrid(in_.substr(0, len), 1, rows_, defined.data()))
        fail("definition levels malformed");
      in_.remove_prefix(len);
    }
    for (std::size_t r = 0; r < rows_; ++r) {
      RecordCell& cell = out[r][column];
      if (!defined[r]) {
        if (!c.optional || c.kind == Kind::kString || c.kind == Kind::kDouble)
          fail("null in a column that has no null");
        cell.i = c.null_value;
        continue;
      }
      switch (c.kind) {
        case Kind::kString: {
          const std::uint32_t len = take<std::uint32_t>();
          if (len > in_.size()) fail("string out of bounds");
          cell.s.assign(in_.substr(0, len));
          in_.remove_prefix(len);
          break;
        }
        case Kind::kTimestamp:
          cell.i = take<std::int64_t>() / kMicros;
          break;
        case Kind::kInt32:
          cell.i = take<std::int32_t>();
          break;
        case Kind::kInt64:
          cell.i = take<std::int64_t>();
          break;
        case Kind::kDouble:
          cell.d = take<double>();
          break;
      }
    }
    if (!in_.empty()) fail(std::string("trailing bytes in column ") + std::string(c.name));
  }

 private:
  template <class T>
  T take() {
    if (in_.size() < sizeof(T)) fail("page truncated");
    T v;
    std::memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return v;
  }
  [[noreturn]] void fail(const std::string& what) { throw CorruptPart(path_ + ": " + what); }

  const std::string& path_;
  std::string_view in_;
  std::size_t rows_;
};

}  // namespace

RecordPartSummary write_record_part(int fd, std::span<const RecordColumn> columns,
                                    std::string_view sort_key, std::span<const RecordRow> rows) {
  OutputFile out(fd);
  out.append("PAR1");
  struct Chunk {
    std::int64_t offset, size, nulls;
  };
  std::vector<Chunk> chunks;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    std::int64_t nulls = 0;
    const std::string body = page_body(columns[c], c, rows, nulls);
    std::string header;
    thrift::Writer w(header);
    w.i32(1, pq::kDataPage);
    w.i32(2, static_cast<std::int32_t>(body.size()));
    w.i32(3, static_cast<std::int32_t>(body.size()));
    w.i32(4, static_cast<std::int32_t>(crc32_ieee(body.data(), body.size())));
    w.begin_struct(5);
    w.i32(1, static_cast<std::int32_t>(rows.size()));
    w.i32(2, pq::kPlain);
    w.i32(3, pq::kRle);
    w.i32(4, pq::kRle);
    w.end_struct();
    w.stop();
    chunks.push_back({static_cast<std::int64_t>(out.offset()),
                      static_cast<std::int64_t>(header.size() + body.size()), nulls});
    out.append(header);
    out.append(body);
  }
  std::string footer;
  thrift::Writer w(footer);
  w.i32(1, 1);
  w.begin_list(2, thrift::kStruct, static_cast<std::uint32_t>(columns.size() + 1));
  w.begin_element();
  w.i32(3, pq::kRequired);
  w.binary(4, "schema");
  w.i32(5, static_cast<std::int32_t>(columns.size()));
  w.end_struct();
  for (const RecordColumn& c : columns) write_schema_element(w, c.name, c.kind, c.optional);
  w.i64(3, static_cast<std::int64_t>(rows.size()));
  std::int64_t total = 0;
  for (const Chunk& ch : chunks) total += ch.size;
  w.begin_list(4, thrift::kStruct, 1);
  w.begin_element();
  w.begin_list(1, thrift::kStruct, static_cast<std::uint32_t>(columns.size()));
  for (std::size_t c = 0; c < columns.size(); ++c) {
    w.begin_element();
    w.i64(2, 0);  // file_offset: deprecated but required
    w.begin_struct(3);
    w.i32(1, physical_type(columns[c].kind));
    w.begin_list(2, thrift::kI32, 2);
    w.elem_i32(pq::kPlain);
    w.elem_i32(pq::kRle);
    w.begin_list(3, thrift::kBinary, 1);
    w.elem_binary(columns[c].name);
    w.i32(4, 0);  // UNCOMPRESSED: a few hundred rows compress to little
    w.i64(5, static_cast<std::int64_t>(rows.size()));
    w.i64(6, chunks[c].size);
    w.i64(7, chunks[c].size);
    w.i64(9, chunks[c].offset);
    w.begin_struct(12);  // Statistics
    w.i64(3, chunks[c].nulls);
    w.end_struct();
    w.end_struct();  // ColumnMetaData
    w.end_struct();  // ColumnChunk
  }
  w.i64(2, total);
  w.i64(3, static_cast<std::int64_t>(rows.size()));
  w.i64(5, chunks.empty() ? 4 : chunks.front().offset);
  w.i64(6, total);
  w.end_struct();
  w.begin_list(5, thrift::kStruct, 2);
  for (auto [k, v] : {std::pair<std::string_view, std::string_view>{"meterd.sort_key", sort_key},
                      {"meterd.writer_version", kRecordWriterVersion}}) {
    w.begin_element();
    w.binary(1, k);
    w.binary(2, v);
    w.end_struct();
  }
  w.binary(6, kCreatedBy);
  w.stop();
  RecordPartSummary summary;
  summary.rows = rows.size();
  summary.footer_crc32c = crc32c(footer);
  out.append(footer);
  const auto len = static_cast<std::uint32_t>(footer.size());
  out.append(std::string_view(reinterpret_cast<const char*>(&len), 4));
  out.append("PAR1");
  out.flush();
  summary.bytes = out.offset();
  summary.crc32c = out.crc32c();
  return summary;
}

std::vector<RecordRow> read_record_part(const std::filesystem::path& file,
                                        std::span<const RecordColumn> columns,
                                        std::uint64_t expected_bytes, std::uint32_t footer_crc32c) {
  const std::string path = file.string();
  auto fail = [&](const std::string& what) -> void { throw CorruptPart(path + ": " + what); };
  Fd f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
  struct stat st;
  if (::fstat(f.fd, &st) != 0) throw std::system_error(errno, std::generic_category(), "stat");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (expected_bytes && size != expected_bytes) fail("size differs from the manifest");
  if (size < 12) fail("too small to be Parquet");
  std::string bytes(size, '\0');
  read_exact(f.fd, bytes.data(), size, 0, path);
  if (bytes.compare(0, 4, "PAR1") != 0 || bytes.compare(size - 4, 4, "PAR1") != 0)
    fail("no PAR1 magic");
  std::uint32_t footer_len;
  std::memcpy(&footer_len, bytes.data() + size - 8, 4);
  if (std::uint64_t{footer_len} + 12 > size) fail("footer length out of bounds");
  const std::string_view footer(bytes.data() + size - 8 - footer_len, footer_len);
  if (footer_crc32c && crc32c(footer) != footer_crc32c) fail("footer checksum mismatch");
  std::vector<RecordRow> rows;
  try {
    thrift::Value fm;
    thrift::parse_struct(reinterpret_cast<const std::uint8_t*>(footer.data()), footer.size(), fm);
    const auto& schema = fm.need(2).elems;
    if (schema.size() != columns.size() + 1) fail("not a meterd record part (schema)");
    for (std::size_t c = 0; c < columns.size(); ++c)
      if (schema[c + 1].need(4).bin != columns[c].name ||
          schema[c + 1].need(1).i != physical_type(columns[c].kind))
        fail("not a meterd record part (column " + std::string(columns[c].name) + ")");
    const std::int64_t num_rows = fm.need(3).i;
    const auto& groups = fm.need(4).elems;
    // Bounded by the file: a row takes at least 4 bytes in a required column.
    if (num_rows < 0 || static_cast<std::uint64_t>(num_rows) * 4 > size || groups.size() > 1 ||
        (groups.empty() && num_rows != 0))
      fail("row groups");
    rows.assign(static_cast<std::size_t>(num_rows), RecordRow(columns.size()));
    if (groups.empty()) return rows;
    const auto& chunks = groups[0].need(1).elems;
    if (chunks.size() != columns.size() || groups[0].need(3).i != num_rows) fail("row group");
    const std::uint64_t data_end = size - 8 - footer_len;
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const auto& md = chunks[c].need(3);
      const std::int64_t offset = md.need(9).i, chunk_size = md.need(7).i;
      if (md.need(4).i != 0 || md.need(5).i != num_rows) fail("column chunk");
      if (offset < 4 || chunk_size < 0 ||
          static_cast<std::uint64_t>(offset + chunk_size) > data_end)
        fail("column chunk out of bounds");
      const auto* at = reinterpret_cast<const std::uint8_t*>(bytes.data() + offset);
      thrift::Value h;
      const std::size_t header = thrift::parse_struct(at, static_cast<std::size_t>(chunk_size), h);
      const std::int64_t body_size = h.need(3).i;
      if (h.need(1).i != pq::kDataPage || body_size < 0 ||
          static_cast<std::uint64_t>(body_size) !=
              static_cast<std::uint64_t>(chunk_size) - header ||
          h.need(5).need(1).i != num_rows || h.need(5).need(2).i != pq::kPlain)
        fail("page of column " + std::string(columns[c].name));
      const std::string_view body(bytes.data() + offset + header,
                                  static_cast<std::size_t>(body_size));
      const thrift::Value* crc = h.field(4);
      if (!crc || static_cast<std::uint32_t>(crc->i) != crc32_ieee(body.data(), body.size()))
        fail("page CRC missing or wrong in column " + std::string(columns[c].name));
      PageDecoder(path, body, rows.size()).decode(columns[c], c, rows);
    }
  } catch (const thrift::ThriftError& e) {
    fail(std::string("footer: ") + e.what());
  }
  return rows;
}

}  // namespace meterd::storage
