// PartWriter: assembles the file (header, row groups, footer) and buffers each row group run
// by run; column_chunk_writer.cpp encodes the columns of a row group into pages.
#include "storage/part_writer.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/checksum.hpp"
#include "storage/column_chunk_writer.hpp"
#include "storage/output_file.hpp"
#include "storage/parquet_metadata.hpp"
#include "storage/parquet_schema.hpp"
#include "storage/part_sources.hpp"
#include "storage/thrift_compact.hpp"

namespace meterd::storage {
namespace {

struct RowGroupMeta {
  std::int64_t rows = 0, file_offset = 0, uncompressed = 0, compressed = 0;
  std::vector<ChunkMeta> chunks;
};

bool is_string(int c) {
  return kColumns[c].kind == Kind::kString;
}

}  // namespace

struct PartWriter::Impl {
  PartWriterOptions opt;
  OutputFile out;
  ColumnChunkWriter columns;
  RowGroupBuffer current;  // the row group being filled

  // Whole file.
  std::vector<RowGroupMeta> groups;
  PartSummary summary;
  SourcePairsBuilder sources;

  Impl(int fd, PartWriterOptions o)
      : opt(o), out(fd, o.write_buffer_bytes), columns(out, opt.page_rows, opt.zstd_level) {
    if (opt.row_group_rows == 0 || opt.page_rows == 0)
      throw std::invalid_argument("row_group_rows and page_rows must be > 0");
    out.append("PAR1");
  }

  void reset_caches(std::size_t strings) {
    for (int c = 0; c < kColumnCount; ++c)
      if (is_string(c) && c != kQuality) current.strs[c].cache.assign(strings, kUnset);
  }

  void add(const StringTable& strings, std::span<const ReadingRun> in_runs, const double* vals,
           std::span<const std::int64_t> ingest) {
    if (ingest.size() != 1 && ingest.size() != in_runs.size())
      throw std::invalid_argument("PartWriter::add: ingest times must be 1 or one per run");
    reset_caches(strings.size());
    for (std::size_t r = 0; r < in_runs.size(); ++r) {
      const ReadingRun& run = in_runs[r];
      const std::int64_t ingest_us = ingest.size() == 1 ? ingest[0] : ingest[r];
      sources.add(strings, run);
      for (std::uint32_t done = 0; done < run.count;) {
        const auto take = static_cast<std::uint32_t>(
            std::min<std::size_t>(run.count - done, opt.row_group_rows - current.rows));
        append_run(strings, vals, run, done, take, ingest_us);
        done += take;
        if (current.rows == opt.row_group_rows) {
          flush_row_group();
          reset_caches(strings.size());
        }
      }
    }
  }

  void put_int(int c, std::int64_t v) { current.idx[c].push_back(current.ints[c].lookup(v)); }
  void put_nullable(int c, bool present, std::int64_t v, std::uint32_t count) {
    if (present) {
      put_int(c, v);
    } else {
      current.idx[c].push_back(kNull);
      current.nulls[c] += count;
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
    if (current.rows == 0 || first < current.min_start) current.min_start = first;
    if (current.rows == 0 || last > current.max_start) current.max_start = last;
    current.runs.push_back({count, static_cast<std::int32_t>(run.interval_minutes) * 60, first,
                            run.line_of(from), run.line_step});
    current.any_line_step = current.any_line_step || (run.line_step != 0 && count > 1);
    const double* v = vals + run.first_value + from;
    current.values.insert(current.values.end(), v, v + count);
    current.idx[kNmi].push_back(current.strs[kNmi].lookup(s, run.nmi));
    current.idx[kSuffix].push_back(current.strs[kSuffix].lookup(s, run.suffix));
    current.idx[kRegisterId].push_back(current.strs[kRegisterId].lookup(s, run.register_id));
    current.idx[kMeterSerial].push_back(current.strs[kMeterSerial].lookup(s, run.meter_serial));
    current.idx[kUom].push_back(current.strs[kUom].lookup(s, run.uom));
    current.idx[kReasonDescription].push_back(
        current.strs[kReasonDescription].lookup(s, run.reason_description));
    current.idx[kQuality].push_back(
        current.strs[kQuality].lookup(std::string_view(&run.quality, 1)));
    put_int(kIntervalMinutes, run.interval_minutes);
    put_nullable(kMethod, run.method != kNoMethod, run.method, count);
    put_nullable(kReasonCode, run.reason_code != kNoReasonCode, run.reason_code, count);
    put_time(kUpdateDatetime, run.update_datetime, count);
    put_time(kMsatsLoadDatetime, run.msats_load_datetime, count);
    put_time(kFileCreated, run.file_created, count);
    put_int(kLine, run.line_of(from));
    put_int(kFileSequence, static_cast<std::int64_t>(run.file_sequence));
    put_int(kIngestTime, ingest_us);
    current.rows += count;
  }

  void flush_row_group() {
    if (current.rows == 0) return;
    RowGroupMeta rg;
    rg.rows = static_cast<std::int64_t>(current.rows);
    rg.file_offset = static_cast<std::int64_t>(out.offset());
    rg.chunks.resize(kColumnCount);
    for (int c = 0; c < kColumnCount; ++c) {
      ChunkMeta& cm = rg.chunks[c];
      columns.write(c, current, cm);
      rg.uncompressed += cm.uncompressed;
      rg.compressed += cm.compressed;
    }
    if (summary.rows == 0 || current.min_start < summary.min_start)
      summary.min_start = current.min_start;
    if (summary.rows == 0 || current.max_start > summary.max_start)
      summary.max_start = current.max_start;
    summary.rows += current.rows;
    groups.push_back(std::move(rg));
    current.clear();
  }

  // --- footer --------------------------------------------------------------------------

  // The OffsetIndex of every column chunk, row group by row group, just before the footer: a
  // reader finds the pages of a row group's columns with one read.
  void write_offset_indexes() {
    std::string index, group_index;
    for (RowGroupMeta& rg : groups) {
      group_index.clear();
      for (ChunkMeta& cm : rg.chunks) {
        index.clear();
        thrift::Writer w(index);
        w.begin_list(1, thrift::kStruct, static_cast<std::uint32_t>(cm.pages.size()));
        for (const PageLocation& page : cm.pages) {
          w.begin_element();
          w.i64(1, page.offset);
          w.i32(2, page.size);
          w.i64(3, page.first_row);
          w.end_struct();
        }
        w.stop();
        cm.offset_index_offset = static_cast<std::int64_t>(out.offset());
        cm.offset_index_length = static_cast<std::int64_t>(index.size());
        out.append(index);
        group_index += index;
      }
      const std::uint32_t crc = crc32c(group_index);
      offset_index_crcs.append(reinterpret_cast<const char*>(&crc), 4);
    }
  }
  std::string offset_index_crcs;

  void write_footer() {
    write_offset_indexes();
    std::string footer;
    thrift::Writer w(footer);
    w.i32(1, 1);
    w.begin_list(2, thrift::kStruct, kColumnCount + 1);
    w.begin_element();
    w.i32(3, pq::kRequired);
    w.binary(4, "schema");
    w.i32(5, kColumnCount);
    w.end_struct();
    for (const auto& spec : kColumns) write_schema_element(w, spec.name, spec.kind, spec.optional);
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
        w.i64(4, cm.offset_index_offset);
        w.i32(5, static_cast<std::int32_t>(cm.offset_index_length));
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
    w.begin_list(5, thrift::kStruct, 5);  // the key-value pairs below
    auto kv = [&](std::string_view k, std::string_view v) {
      w.begin_element();
      w.binary(1, k);
      w.binary(2, v);
      w.end_struct();
    };
    kv("meterd.schema_version", kSchemaVersion);
    kv("meterd.sort_key", kSortKey);
    kv("meterd.writer_version", kWriterVersion);
    kv(kSourcesKey, encode_source_pairs(sources.finish()));
    kv(kOffsetIndexCrcKey, offset_index_crcs);
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