#include "storage/merge.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "storage/part_writer.hpp"
#include "storage/spill_file.hpp"
#include "storage/version.hpp"

namespace meterd::storage {
namespace {

constexpr std::uint32_t kNone = 0xffffffffu;
constexpr int kStringColumns[] = {kNmi,         kSuffix, kRegisterId,
                                  kMeterSerial, kUom,    kReasonDescription};

// Rows of one part, restricted to the filter, one decoded page (of every column) at a time, or
// one row group for a part without page locations. Two buffers: the row just handed out stays
// valid while the cursor loads the next page.
class Cursor {
 public:
  Cursor(const PartReader& part, const QueryFilter& filter, std::uint32_t ordinal,
         MergeStats& stats)
      : part_(part), filter_(filter), ordinal_(ordinal), stats_(stats) {
    if (filter.nmi) filter_columns_ |= 1u << kNmi;
    if (filter.suffix) filter_columns_ |= 1u << kSuffix;
    if (filter.from || filter.to) filter_columns_ |= 1u << kIntervalStart;
    for (std::size_t g = 0; g < part.row_groups().size(); ++g) {
      if (may_match(part.row_groups()[g]))
        groups_.push_back(g);
      else
        ++stats_.row_groups_skipped;
    }
  }

  bool selected() const { return !groups_.empty(); }
  bool valid() const { return valid_; }
  std::uint32_t ordinal() const { return ordinal_; }
  int buffer() const { return cur_; }
  std::size_t row() const { return row_; }
  const DecodedRowGroup& data(int b) const { return buf_[b].rg; }
  std::vector<std::uint32_t>* out_ids(int b) { return buf_[b].out_ids; }
  std::uint64_t& out_generation(int b) { return buf_[b].generation; }

  std::string_view str(int c) const {
    const auto& s = buf_[cur_].rg.str[c];
    return s.dict[s.idx[row_]];
  }
  std::int64_t num(int c) const { return buf_[cur_].rg.num[c][row_]; }

  void start() {
    row_ = 0;
    valid_ = false;
    load_next(true);
  }

  void advance() {
    ++row_;
    if (!skip_within_page()) load_next(false);
  }

 private:
  struct Buffer {
    DecodedRowGroup rg;
    std::vector<std::uint32_t> out_ids[kColumnCount];  // dictionary index -> output id
    std::uint64_t generation = ~0ull;
    std::uint64_t ids_group = 0;  // the row group whose dictionary indices out_ids maps
  };

  bool may_match(const RowGroupInfo& rg) const {
    const auto& nmi = rg.chunks[kNmi];
    const auto& suffix = rg.chunks[kSuffix];
    if (filter_.nmi && nmi.has_minmax && (*filter_.nmi < nmi.min || *filter_.nmi > nmi.max))
      return false;
    if (filter_.suffix && suffix.has_minmax &&
        (*filter_.suffix < suffix.min || *filter_.suffix > suffix.max))
      return false;
    if (rg.chunks[kIntervalStart].has_minmax) {
      if (filter_.from && rg.max_start() < *filter_.from) return false;
      if (filter_.to && rg.min_start() >= *filter_.to) return false;
    }
    return rg.rows > 0;
  }

  static std::uint32_t find(std::span<const std::string_view> dict, std::string_view s) {
    for (std::size_t i = 0; i < dict.size(); ++i)
      if (dict[i] == s) return static_cast<std::uint32_t>(i);
    return kNone - 1;  // matches no row
  }

  // The dictionary indices the filter wants, found once per row group.
  void find_wanted(const DecodedRowGroup& rg) {
    if (want_group_ == rg.group_serial) return;
    want_group_ = rg.group_serial;
    want_nmi_ = filter_.nmi ? find(rg.str[kNmi].dict, *filter_.nmi) : kNone;
    want_suffix_ = filter_.suffix ? find(rg.str[kSuffix].dict, *filter_.suffix) : kNone;
  }

  // Rows of a part are in nmi order: past the wanted nmi, nothing more of this row group can
  // match.
  bool past_wanted_nmi(const DecodedRowGroup& rg) const {
    if (!filter_.nmi || rg.rows == 0) return false;
    const auto& s = rg.str[kNmi];
    return s.dict[s.idx[rg.rows - 1]] > *filter_.nmi;
  }

  // Loads the next page (or row group) with a matching row into the buffer not handed out.
  void load_next(bool first) {
    const int b = first ? cur_ : cur_ ^ 1;
    Buffer& buf = buf_[b];
    for (;;) {
      if (paged_ && next_page_ < pages_.pages()) {
        const std::size_t p = next_page_++;
        if (filter_columns_) {
          part_.read_page(pages_, p, filter_columns_, buf.rg);
          find_wanted(buf.rg);
          if (want_nmi_ == kNone - 1 || want_suffix_ == kNone - 1) {
            next_page_ = pages_.pages();  // the row group does not hold the wanted strings
            continue;
          }
          if (past_wanted_nmi(buf.rg)) next_page_ = pages_.pages();
          if (!show(b, 0)) continue;
        }
        part_.read_page(pages_, p, kAllColumns, buf.rg);
        find_wanted(buf.rg);  // no filter columns were read before
        stats_.rows_in += buf.rg.rows;
        if (show(b, 0)) return;
        continue;
      }
      if (next_group_ >= groups_.size()) {
        valid_ = false;
        pages_.close();
        return;
      }
      const std::size_t g = groups_[next_group_++];
      ++stats_.row_groups_read;
      paged_ = part_.open_pages(g, pages_);
      next_page_ = 0;
      if (paged_) continue;
      part_.read(g, buf.rg);
      stats_.rows_in += buf.rg.rows;
      find_wanted(buf.rg);
      if (show(b, 0)) return;
    }
  }

  // Makes buffer b current at its first matching row from `row`; false (and not valid) if none.
  bool show(int b, std::size_t row) {
    Buffer& buf = buf_[b];
    if (buf.ids_group != buf.rg.group_serial) {
      buf.generation = ~0ull;  // other dictionary indices: forget the cached output ids
      buf.ids_group = buf.rg.group_serial;
    }
    cur_ = b;
    row_ = row;
    valid_ = skip_within_page();
    return valid_;
  }

  bool row_matches() const {
    const DecodedRowGroup& rg = buf_[cur_].rg;
    if (want_nmi_ != kNone && rg.str[kNmi].idx[row_] != want_nmi_) return false;
    if (want_suffix_ != kNone && rg.str[kSuffix].idx[row_] != want_suffix_) return false;
    if (filter_.from || filter_.to) {
      const std::int64_t t = rg.num[kIntervalStart][row_];
      if (filter_.from && t < *filter_.from) return false;
      if (filter_.to && t >= *filter_.to) return false;
    }
    return true;
  }

  // Moves row_ to the next matching row of the current buffer; false if none is left.
  bool skip_within_page() {
    const std::size_t rows = buf_[cur_].rg.rows;
    if (filter_columns_)
      while (row_ < rows && !row_matches()) ++row_;
    return row_ < rows;
  }

  const PartReader& part_;
  const QueryFilter& filter_;
  std::uint32_t ordinal_;
  MergeStats& stats_;
  std::uint32_t filter_columns_ = 0;
  std::vector<std::size_t> groups_;
  std::size_t next_group_ = 0;
  PagedRowGroup pages_;
  bool paged_ = false;
  std::size_t next_page_ = 0;
  std::uint64_t want_group_ = 0;
  std::uint32_t want_nmi_ = kNone, want_suffix_ = kNone;
  Buffer buf_[2];
  int cur_ = 0;
  std::size_t row_ = 0;
  bool valid_ = false;
};

// A row handed out by a cursor: stays readable until that cursor advances twice.
struct RowRef {
  Cursor* cursor;
  int buffer;
  std::size_t row;
  std::string_view str(int c) const {
    const auto& s = cursor->data(buffer).str[c];
    return s.dict[s.idx[row]];
  }
  std::int64_t num(int c) const { return cursor->data(buffer).num[c][row]; }
};

// The version of a row (storage/version.hpp), built only where the cheap prefix ties.
VersionFields version_of_row(const RowRef& r) {
  VersionFields v;
  v.update_datetime = r.num(kUpdateDatetime);
  v.file_created = r.num(kFileCreated);
  v.line = r.num(kLine);
  v.value = r.cursor->data(r.buffer).value[r.row];
  const std::string_view q = r.str(kQuality);
  v.quality = q.empty() ? ' ' : q[0];
  v.method = static_cast<std::uint8_t>(r.num(kMethod));
  v.reason_code = static_cast<std::int16_t>(r.num(kReasonCode));
  v.interval_minutes = static_cast<std::uint16_t>(r.num(kIntervalMinutes));
  v.uom = r.str(kUom);
  v.reason_description = r.str(kReasonDescription);
  v.register_id = r.str(kRegisterId);
  v.meter_serial = r.str(kMeterSerial);
  v.msats_load_datetime = r.num(kMsatsLoadDatetime);
  return v;
}

// Key then version, a total order decided by content; the part ordinal only orders rows that
// are the same reading.
int compare_key(const RowRef& a, const RowRef& b) {
  if (int c = a.str(kNmi).compare(b.str(kNmi))) return c;
  if (int c = a.str(kSuffix).compare(b.str(kSuffix))) return c;
  const std::int64_t x = a.num(kIntervalStart), y = b.num(kIntervalStart);
  return x < y ? -1 : x > y;
}
bool less_row(const RowRef& a, const RowRef& b) {
  if (int c = compare_key(a, b)) return c < 0;
  if (int c = compare_version_prefix(a.num(kUpdateDatetime), a.num(kFileCreated), a.num(kLine),
                                     b.num(kUpdateDatetime), b.num(kFileCreated), b.num(kLine)))
    return c < 0;
  if (int c = compare_versions(version_of_row(a), version_of_row(b))) return c < 0;
  return a.cursor->ordinal() < b.cursor->ordinal();
}
RowRef current(Cursor* c) {
  return {c, c->buffer(), c->row()};
}

// Same key? Within one decoded row group, dictionary indices compare for the strings.
bool same_key(const RowRef& a, const RowRef& b) {
  const DecodedRowGroup& x = a.cursor->data(a.buffer);
  const DecodedRowGroup& y = b.cursor->data(b.buffer);
  if (x.num[kIntervalStart][a.row] != y.num[kIntervalStart][b.row]) return false;
  if (&x == &y)
    return x.str[kNmi].idx[a.row] == y.str[kNmi].idx[b.row] &&
           x.str[kSuffix].idx[a.row] == y.str[kSuffix].idx[b.row];
  return a.str(kNmi) == b.str(kNmi) && a.str(kSuffix) == b.str(kSuffix);
}

// Re-forms runs from the merged rows: consecutive rows with equal attributes and evenly
// spaced starts extend the last run, so output batches keep the run structure.
class RunBuilder {
  // The next row's line continues the run: the same line (a NEM12 day), or the next one (NDJSON,
  // a reading per line).
  static bool extends_lines(const ReadingRun& run, std::uint32_t line) {
    return line == run.line_of(run.count) || (run.count == 1 && line == run.line + 1);
  }

 public:
  RunBuilder(const MergeSink& sink, std::size_t batch_rows) : sink_(sink), limit_(batch_rows) {}

  void append(const RowRef& r) {
    const DecodedRowGroup& d = r.cursor->data(r.buffer);
    // Fast path: the next row of the same decoded run extends the output run as it is.
    // (Not for a run whose readings are on consecutive lines: the next row's line is the same.)
    if (d.serial == last_serial_ && r.row == last_row_ + 1 && !d.run_start[r.row] &&
        !batch_.runs.empty() && batch_.runs.back().line_step == 0) {
      ++batch_.runs.back().count;
      batch_.values.push_back(d.value[r.row]);
      last_row_ = r.row;
      return;
    }
    last_serial_ = d.serial, last_row_ = r.row;
    std::uint32_t ids[kColumnCount];
    std::uint64_t& gen = r.cursor->out_generation(r.buffer);
    std::vector<std::uint32_t>* cache = r.cursor->out_ids(r.buffer);
    if (gen != generation_) {  // output strings were cleared: forget cached ids
      for (int c : kStringColumns) cache[c].assign(d.str[c].dict.size(), kNone);
      gen = generation_;
    }
    for (int c : kStringColumns) {
      const std::uint32_t di = d.str[c].idx[r.row];
      std::uint32_t& id = cache[c][di];
      if (id == kNone) id = batch_.strings.intern(d.str[c].dict[di]);
      ids[c] = id;
    }
    const std::string_view q = r.str(kQuality);
    const char quality = q.empty() ? ' ' : q[0];
    const auto minutes = static_cast<std::uint16_t>(r.num(kIntervalMinutes));
    const epoch_seconds start = r.num(kIntervalStart);
    const std::int64_t ingest = r.num(kIngestTime);
    if (!batch_.runs.empty()) {
      ReadingRun& last = batch_.runs.back();
      if (last.nmi == ids[kNmi] && last.suffix == ids[kSuffix] &&
          last.register_id == ids[kRegisterId] && last.meter_serial == ids[kMeterSerial] &&
          last.uom == ids[kUom] && last.reason_description == ids[kReasonDescription] &&
          last.interval_minutes == minutes && last.quality == quality &&
          last.method == static_cast<std::uint8_t>(r.num(kMethod)) &&
          last.reason_code == static_cast<std::int16_t>(r.num(kReasonCode)) &&
          extends_lines(last, static_cast<std::uint32_t>(r.num(kLine))) &&
          last.update_datetime == r.num(kUpdateDatetime) &&
          last.msats_load_datetime == r.num(kMsatsLoadDatetime) &&
          last.file_created == r.num(kFileCreated) &&
          last.file_sequence == static_cast<std::uint64_t>(r.num(kFileSequence)) &&
          ingest_.back() == ingest && last.interval_start(last.count) == start) {
        if (last.count == 1) last.line_step = static_cast<std::uint8_t>(r.num(kLine) - last.line);
        ++last.count;
        batch_.values.push_back(d.value[r.row]);
        return;
      }
    }
    if (batch_.values.size() >= limit_) {
      flush();
      return append(r);  // ids were from the flushed batch
    }
    ReadingRun run;
    run.first_value = static_cast<std::uint32_t>(batch_.values.size());
    run.count = 1;
    run.nmi = ids[kNmi], run.suffix = ids[kSuffix], run.register_id = ids[kRegisterId];
    run.meter_serial = ids[kMeterSerial], run.uom = ids[kUom];
    run.reason_description = ids[kReasonDescription];
    run.interval_minutes = minutes;
    run.quality = quality;
    run.method = static_cast<std::uint8_t>(r.num(kMethod));
    run.reason_code = static_cast<std::int16_t>(r.num(kReasonCode));
    run.line = static_cast<std::uint32_t>(r.num(kLine));
    run.first_start = start;
    run.update_datetime = r.num(kUpdateDatetime);
    run.msats_load_datetime = r.num(kMsatsLoadDatetime);
    run.file_created = r.num(kFileCreated);
    run.file_sequence = static_cast<std::uint64_t>(r.num(kFileSequence));
    batch_.runs.push_back(run);
    ingest_.push_back(ingest);
    batch_.values.push_back(d.value[r.row]);
  }

  void flush() {
    if (!batch_.values.empty()) {
      rows_ += batch_.values.size();
      sink_(batch_, ingest_);
    }
    batch_.clear();
    ingest_.clear();
    ++generation_;
    last_serial_ = 0;
  }
  std::uint64_t rows() const { return rows_; }

 private:
  const MergeSink& sink_;
  std::size_t limit_;
  ReadingBatch batch_;
  std::vector<std::int64_t> ingest_;
  std::uint64_t generation_ = 0, rows_ = 0;
  std::uint64_t last_serial_ = 0;  // the decoded row group the last appended row came from
  std::size_t last_row_ = 0;
};

// The k-way merge of the cursors (all of them started here); returns the rows sent to sink.
std::uint64_t merge_cursors(std::span<Cursor* const> cursors, const MergeSink& sink,
                            std::size_t batch_rows) {
  // Min-heap on (key, version, ordinal): std heap functions build a max-heap, so invert.
  auto heap_less = [](Cursor* a, Cursor* b) { return less_row(current(b), current(a)); };
  std::vector<Cursor*> heap;
  for (Cursor* c : cursors) {
    c->start();
    if (c->valid()) heap.push_back(c);
  }
  std::make_heap(heap.begin(), heap.end(), heap_less);
  RunBuilder out(sink, batch_rows);
  // One source left: no heap; a row is superseded iff its own next row has the same key.
  auto drain = [&](Cursor* c) {
    for (;;) {
      const RowRef r = current(c);
      c->advance();
      if (!c->valid()) return out.append(r);
      if (!same_key(current(c), r)) out.append(r);
    }
  };
  while (heap.size() > 1) {
    std::pop_heap(heap.begin(), heap.end(), heap_less);
    Cursor* c = heap.back();
    const RowRef row = current(c);
    c->advance();
    if (c->valid()) {
      std::push_heap(heap.begin(), heap.end(), heap_less);
    } else {
      heap.pop_back();
    }
    // The smallest remaining row is the next version of this key, if there is one: then
    // `row` is superseded. Rows of a key arrive oldest first, so the last one is kept.
    if (!same_key(current(heap.front()), row)) out.append(row);
  }
  if (heap.size() == 1) drain(heap.front());
  out.flush();
  return out.rows();
}

// Merges the parts' selected rows; returns the rows sent to sink. Beyond the fan-in, groups of
// consecutive parts are merged into spill parts first: the newest version of a key is the same
// whichever group its versions fall in, and a group keeps its parts' order, so the final
// merge's tie-break by ordinal chooses as one merge of all the parts would.
std::uint64_t merge_level(const std::vector<const PartReader*>& parts, const QueryFilter& filter,
                          const MergeSink& sink, const MergeOptions& options, MergeStats& stats) {
  std::vector<std::unique_ptr<Cursor>> cursors;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto c = std::make_unique<Cursor>(*parts[i], filter, static_cast<std::uint32_t>(i), stats);
    if (c->selected()) cursors.push_back(std::move(c));
  }
  std::vector<Cursor*> all;
  for (auto& c : cursors) all.push_back(c.get());
  const std::size_t fan_in = std::max<std::size_t>(options.max_fan_in, 2);
  if (all.size() <= fan_in) return merge_cursors(all, sink, options.batch_rows);

  const std::filesystem::path dir =
      options.spill_dir.empty() ? std::filesystem::temp_directory_path() : options.spill_dir;
  // Spill parts are only read back here, so they skip the fsync and the manifest.
  std::vector<std::unique_ptr<SpillFile>> files;
  std::vector<std::unique_ptr<PartReader>> spilled;
  for (std::size_t i = 0; i < all.size(); i += fan_in) {
    const std::size_t n = std::min(fan_in, all.size() - i);
    auto file = std::make_unique<SpillFile>(dir);
    PartSummary summary;
    {
      PartWriterOptions small;  // one spill part is written at a time, next to the cursors
      small.row_group_rows = 1 << 16, small.write_buffer_bytes = 1 << 20;
      PartWriter writer(file->fd(), small);
      merge_cursors(
          std::span<Cursor* const>(all.data() + i, n),
          [&](const ReadingBatch& b, std::span<const std::int64_t> ingest_us) {
            writer.add(b, ingest_us);
          },
          options.batch_rows);
      summary = writer.finish();
    }
    for (std::size_t k = i; k < i + n; ++k) cursors[k].reset();  // their pages are done with
    ++stats.spill_parts;
    stats.spill_rows += summary.rows;
    if (summary.rows == 0) continue;
    spilled.push_back(std::make_unique<PartReader>(file->path()));
    files.push_back(std::move(file));
  }
  std::vector<const PartReader*> next;
  for (const auto& r : spilled) next.push_back(r.get());
  MergeStats again;  // rows of spill parts are not rows read from the store
  const std::uint64_t rows = merge_level(next, QueryFilter{}, sink, options, again);
  stats.spill_parts += again.spill_parts, stats.spill_rows += again.spill_rows;
  return rows;
}

}  // namespace

MergeStats merge_parts(const std::vector<const PartReader*>& parts, const QueryFilter& filter,
                       const MergeSink& sink, const MergeOptions& options) {
  MergeStats stats;
  stats.rows_out = merge_level(parts, filter, sink, options, stats);
  return stats;
}

}  // namespace meterd::storage
