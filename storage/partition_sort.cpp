#include "storage/partition_sort.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>

#include "storage/version.hpp"

namespace meterd::storage {
namespace {

// A malformed batch (a hand-edited journal, a bad tool) must not become out-of-bounds reads or
// a corrupt part.
void check_refers_inside(const ReadingRun& run, const ReadingBatch& batch) {
  const auto strings = batch.strings.size();
  if (std::uint64_t{run.first_value} + run.count > batch.values.size() || run.nmi >= strings ||
      run.suffix >= strings || run.register_id >= strings || run.meter_serial >= strings ||
      run.uom >= strings || run.reason_description >= strings)
    throw std::invalid_argument("run refers outside its batch");
}

epoch_seconds last_start(const ReadingRun& run) {
  return run.interval_start(run.count - 1);
}

// Ranks of the strings used as nmi or suffix, in string order (equal strings share a rank),
// so that sorting compares integers instead of strings.
std::vector<std::uint32_t> stream_string_ranks(const StringTable& strings,
                                               const std::vector<ReadingRun>& runs) {
  constexpr std::uint32_t kUsed = 1;
  std::vector<std::uint32_t> rank(strings.size(), 0);
  for (const ReadingRun& run : runs) rank[run.nmi] = rank[run.suffix] = kUsed;
  std::vector<std::uint32_t> used;
  for (std::uint32_t id = 0; id < rank.size(); ++id)
    if (rank[id] == kUsed) used.push_back(id);
  std::sort(used.begin(), used.end(),
            [&](std::uint32_t a, std::uint32_t b) { return strings[a] < strings[b]; });
  std::uint32_t next = 0;
  for (std::size_t i = 0; i < used.size(); ++i) {
    if (i > 0 && strings[used[i]] != strings[used[i - 1]]) ++next;
    rank[used[i]] = next;
  }
  return rank;
}

// A run's place in row order. `position` (its index in the input) makes the order total, so
// that an unstable sort gives what a stable one would.
// Runs that tie up to `position` start on one interval of one stream, so they overlap and are
// split into readings, which are ordered by their full version.
struct RunKey {
  std::uint32_t nmi, suffix;  // string ranks
  epoch_seconds first_start, update_datetime, file_created;
  std::uint32_t line, position;

  bool same_stream(const RunKey& o) const { return nmi == o.nmi && suffix == o.suffix; }
  auto tied() const {
    return std::tie(nmi, suffix, first_start, update_datetime, file_created, line, position);
  }
  friend bool operator<(const RunKey& a, const RunKey& b) { return a.tied() < b.tied(); }
};

// Single readings (runs of one) of one stream: interval start, then the version order.
// What the version order needs of a batch besides its runs.
struct BatchText {
  const StringTable& strings;
  const std::vector<double>& values;
};

bool reading_before(const BatchText& batch, const ReadingRun& a, const ReadingRun& b) {
  if (a.first_start != b.first_start) return a.first_start < b.first_start;
  if (int c = compare_version_prefix(a.update_datetime, a.file_created, a.line, b.update_datetime,
                                     b.file_created, b.line))
    return c < 0;
  return compare_versions(version_of(batch.strings, a, batch.values[a.first_value], 0),
                          version_of(batch.strings, b, batch.values[b.first_value], 0)) < 0;
}

// Appends the readings of runs [first, last) of one stream as single-reading runs in row order.
// Readings equal in their whole version are the same reading: their order does not matter.
void append_split(const BatchText& batch, const std::vector<ReadingRun>& runs, const RunKey* first,
                  const RunKey* last, std::vector<ReadingRun>& out) {
  const auto begin = static_cast<std::ptrdiff_t>(out.size());
  for (const RunKey* key = first; key != last; ++key) {
    const ReadingRun& run = runs[key->position];
    for (std::uint32_t k = 0; k < run.count; ++k) out.push_back(run.readings(k, 1));
  }
  std::stable_sort(out.begin() + begin, out.end(), [&](const ReadingRun& a, const ReadingRun& b) {
    return reading_before(batch, a, b);
  });
}

// Puts runs (all of one month, none empty, all referring inside their batch) into row order.
// Returns whether runs of one stream overlapped (and were split into single readings).
bool sort_runs(const BatchText& batch, std::vector<ReadingRun>& runs) {
  const std::vector<std::uint32_t> rank = stream_string_ranks(batch.strings, runs);
  std::vector<RunKey> keys;
  keys.reserve(runs.size());
  for (std::uint32_t i = 0; i < runs.size(); ++i) {
    const ReadingRun& r = runs[i];
    keys.push_back(
        {rank[r.nmi], rank[r.suffix], r.first_start, r.update_datetime, r.file_created, r.line, i});
  }
  const bool was_sorted = std::is_sorted(keys.begin(), keys.end());
  if (!was_sorted) std::sort(keys.begin(), keys.end());

  bool any_overlap = false;
  for (std::size_t i = 1; i < keys.size() && !any_overlap; ++i)
    any_overlap = keys[i].same_stream(keys[i - 1]) &&
                  keys[i].first_start <= last_start(runs[keys[i - 1].position]);
  if (!any_overlap && was_sorted) return false;

  std::vector<ReadingRun> sorted;
  sorted.reserve(runs.size());
  for (std::size_t i = 0; i < keys.size();) {
    // One stream: a later run overlaps if it starts before an earlier one ends.
    std::size_t j = i + 1;
    bool overlap = false;
    epoch_seconds end = last_start(runs[keys[i].position]);
    for (; j < keys.size() && keys[j].same_stream(keys[i]); ++j) {
      const ReadingRun& run = runs[keys[j].position];
      overlap = overlap || run.first_start <= end;
      end = std::max(end, last_start(run));
    }
    if (overlap) {
      append_split(batch, runs, keys.data() + i, keys.data() + j, sorted);
    } else {
      for (std::size_t k = i; k < j; ++k) sorted.push_back(runs[keys[k].position]);
    }
    i = j;
  }
  runs.swap(sorted);
  return any_overlap;
}

[[noreturn]] void throw_out_of_order(std::size_t run) {
  throw std::invalid_argument("run " + std::to_string(run) +
                              " breaks the row order of its partition");
}

}  // namespace

PartitionBatch sort_partition(MonthKey month, ReadingBatch&& batch) {
  const epoch_seconds begin = month_start(month), end = month_start(month + 1);
  for (const ReadingRun& run : batch.runs) {
    if (run.count == 0) continue;
    check_refers_inside(run, batch);
    if (run.first_start < begin || last_start(run) >= end)
      throw std::invalid_argument("run outside " + partition_name(month));
  }
  PartitionBatch out;
  out.month = month;
  out.batch = std::move(batch);
  std::erase_if(out.batch.runs, [](const ReadingRun& run) { return run.count == 0; });
  out.may_have_duplicates = sort_runs({out.batch.strings, out.batch.values}, out.batch.runs);
  return out;
}

RowOrderCheck check_row_order(const PartitionBatch& partition) {
  const ReadingBatch& batch = partition.batch;
  const StringTable& strings = batch.strings;
  const epoch_seconds begin = month_start(partition.month);
  const epoch_seconds end = month_start(partition.month + 1);
  RowOrderCheck found;
  const ReadingRun* prev = nullptr;
  for (std::size_t i = 0; i < batch.runs.size(); ++i) {
    const ReadingRun& run = batch.runs[i];
    if (run.count == 0) continue;
    check_refers_inside(run, batch);
    if (run.first_start < begin || last_start(run) >= end)
      throw std::invalid_argument("run " + std::to_string(i) + " outside " +
                                  partition_name(partition.tenant, partition.month));
    found.rows += run.count;
    if (run.interval_minutes == 0 && run.count > 1) found.shared_key = true;  // one start
    if (prev) {
      // Equal ids are equal strings; different ids may still be (a batch not interned).
      int order = 0;
      if (prev->nmi != run.nmi) order = strings[prev->nmi].compare(strings[run.nmi]);
      if (order == 0 && prev->suffix != run.suffix)
        order = strings[prev->suffix].compare(strings[run.suffix]);
      if (order > 0) throw_out_of_order(i);
      if (order == 0) {
        const epoch_seconds prev_last = last_start(*prev);
        if (run.first_start < prev_last) throw_out_of_order(i);
        if (run.first_start == prev_last) {
          const auto newer = version_of(strings, run, batch.values[run.first_value], 0);
          const auto older = version_of(
              strings, *prev, batch.values[prev->first_value + prev->count - 1], prev->count - 1);
          if (compare_versions(newer, older) < 0) throw_out_of_order(i);
          found.shared_key = true;
        }
      }
    }
    prev = &run;
  }
  return found;
}

std::vector<MonthRuns> sort_into_partitions(const ReadingBatch& batch) {
  std::map<MonthKey, std::vector<ReadingRun>> months;
  for (const ReadingRun& run : batch.runs) {
    if (run.count == 0) continue;
    check_refers_inside(run, batch);
    // A run is one NEM day and never crosses a month, but a batch from a tool might.
    for (std::uint32_t k = 0; k < run.count;) {
      const MonthKey month = month_of(run.interval_start(k));
      std::uint32_t end = run.count;
      if (month_of(last_start(run)) != month) {
        const epoch_seconds next = month_start(month + 1);
        end = k;
        while (end < run.count && run.interval_start(end) < next) ++end;
      }
      months[month].push_back(run.readings(k, end - k));
      k = end;
    }
  }
  std::vector<MonthRuns> out;
  out.reserve(months.size());
  for (auto& [month, runs] : months) {
    const bool duplicates = sort_runs({batch.strings, batch.values}, runs);
    out.push_back({month, std::move(runs), duplicates});
  }
  return out;
}

}  // namespace meterd::storage
