#include "storage/version_conflicts.hpp"

#include <charconv>
#include <optional>

#include "protocol/nem_time.hpp"

namespace meterd::storage {
namespace {

bool same_key(const ReadingRow& a, const ReadingRow& b) {
  return a.interval_start == b.interval_start && a.nmi == b.nmi && a.suffix == b.suffix;
}

ConflictSide side_of(const ReadingRow& row) {
  return {row.file_sequence, row.line, row.value, row.quality, {}};
}

// Rows of one key in row order: the last is the one merge-on-read keeps. Each other source's
// own last row (its earlier rows are corrections within that source) with the kept row's
// UpdateDateTime and file DateTime that says something else is a conflict.
void conflicts_of_key(const std::vector<ReadingRow>& rows, std::vector<VersionConflict>& out,
                      std::size_t max_conflicts) {
  const ReadingRow& kept = rows.back();
  for (std::size_t i = 0; i + 1 < rows.size(); ++i) {
    const ReadingRow& other = rows[i];
    bool source_has_later_row = false;
    for (std::size_t k = i + 1; k + 1 < rows.size() && !source_has_later_row; ++k)
      source_has_later_row = rows[k].file_sequence == other.file_sequence;
    if (source_has_later_row || other.file_sequence == kept.file_sequence ||
        other.update_datetime != kept.update_datetime || other.file_created != kept.file_created)
      continue;
    if (other.value == kept.value && other.quality == kept.quality && other.method == kept.method)
      continue;  // the same reading in substance: nothing to tell
    if (!add_conflict(out, kept, side_of(kept), side_of(other), max_conflicts)) return;
  }
}

}  // namespace

bool add_conflict(std::vector<VersionConflict>& out, const ReadingRow& reading,
                  const ConflictSide& kept, const ConflictSide& superseded,
                  std::size_t max_conflicts) {
  if (!out.empty()) {
    VersionConflict& last = out.back();
    const bool continues = last.nmi == reading.nmi && last.suffix == reading.suffix &&
                           last.interval_minutes == reading.interval_minutes &&
                           last.first_start + static_cast<epoch_seconds>(last.intervals) *
                                                  reading.interval_minutes * 60 ==
                               reading.interval_start &&
                           last.kept.file_sequence == kept.file_sequence &&
                           last.kept.line == kept.line &&
                           last.superseded.file_sequence == superseded.file_sequence &&
                           last.superseded.line == superseded.line;
    if (continues) {
      ++last.intervals;
      return true;
    }
  }
  if (out.size() >= max_conflicts) return false;
  VersionConflict c;
  c.nmi = reading.nmi;
  c.suffix = reading.suffix;
  c.first_start = reading.interval_start;
  c.interval_minutes = reading.interval_minutes;
  c.intervals = 1;
  c.update_datetime = reading.update_datetime;
  c.file_created = reading.file_created;
  c.kept = kept;
  c.superseded = superseded;
  out.push_back(std::move(c));
  return true;
}

std::vector<VersionConflict> find_version_conflicts(const PartitionBatch& partition,
                                                    std::size_t max_conflicts) {
  std::vector<VersionConflict> out;
  if (!partition.may_have_duplicates) return out;
  std::vector<ReadingRow> key_rows;  // the rows of the current key (a few at most)
  auto close_key = [&] {
    if (key_rows.size() > 1) conflicts_of_key(key_rows, out, max_conflicts);
    key_rows.clear();
  };
  partition.batch.for_each([&](const ReadingRow& row) {
    if (!key_rows.empty() && !same_key(key_rows.back(), row)) close_key();
    key_rows.push_back(row);
  });
  close_key();
  return out;
}

Issue conflict_warning(const VersionConflict& c, std::uint64_t this_sequence,
                       std::string_view other_name, bool mdff) {
  const bool kept_here = c.kept.file_sequence == this_sequence;
  const ConflictSide& here = kept_here ? c.kept : c.superseded;
  const ConflictSide& there = kept_here ? c.superseded : c.kept;
  auto says = [](const ConflictSide& side) {
    char value[32];
    const auto end = std::to_chars(value, value + sizeof value, side.value).ptr;  // shortest exact
    return std::string(value, end) + " (" + std::string(1, side.quality ? side.quality : '?') + ")";
  };
  auto when = [](epoch_seconds t) {
    return t == kNoTime ? std::string("absent") : format_nem_time(t);
  };
  Issue issue;
  issue.severity = Severity::warning;
  issue.line = here.line;
  issue.record = mdff ? "300" : "";
  issue.field = mdff ? "IntervalValue" : "value";
  issue.nmi = c.nmi;
  issue.suffix = c.suffix;
  issue.interval_date = format_nem_date(c.first_start);
  issue.reason = "version conflict: " + std::string(other_name) + " line " +
                 std::to_string(there.line) + " claims " + std::to_string(c.intervals) +
                 " interval(s) from " + format_nem_time(c.first_start) +
                 " with the same UpdateDateTime (" + when(c.update_datetime) +
                 ") and file DateTime (" + when(c.file_created) + "): " + says(here) + " here, " +
                 says(there) + " there; kept: " + (kept_here ? "this file's" : "the other's") +
                 " (the version order's content tie-break: line, then value, then the rest)";
  return issue;
}

}  // namespace meterd::storage
