#include "storage/partition_sort.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <tuple>

#include "protocol/nem_time.hpp"

namespace meterd::storage {
namespace {

// A slice of a batch run that falls in one partition.
struct Piece {
  int month;
  ReadingRun run;  // first_value/first_start/count already narrowed to the slice
  epoch_seconds last_start() const { return run.interval_start(run.count - 1); }
};

// Runs of one (partition, nmi, suffix) normally follow each other without overlap, so the
// run order is the row order. Where they overlap (two versions of a day in one batch, or
// mixed interval lengths), split that group into single readings and sort those.
// Returns the months where runs overlapped (their parts may hold several versions of a key).
std::set<int> explode_overlaps(std::vector<Piece>& pieces, const StringTable& st) {
  std::set<int> months;
  bool any = false;
  for (std::size_t i = 1; i < pieces.size() && !any; ++i) {
    const Piece& a = pieces[i - 1];
    const Piece& b = pieces[i];
    any = a.month == b.month && a.run.nmi == b.run.nmi && a.run.suffix == b.run.suffix &&
          b.run.first_start <= a.last_start();
  }
  if (!any) return months;
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (std::size_t i = 0; i < pieces.size();) {
    std::size_t j = i + 1;
    bool overlap = false;
    epoch_seconds last = pieces[i].last_start();
    while (j < pieces.size() && pieces[j].month == pieces[i].month &&
           st[pieces[j].run.nmi] == st[pieces[i].run.nmi] &&
           st[pieces[j].run.suffix] == st[pieces[i].run.suffix]) {
      if (pieces[j].run.first_start <= last) overlap = true;
      last = std::max(last, pieces[j].last_start());
      ++j;
    }
    if (overlap) months.insert(pieces[i].month);
    if (!overlap) {
      out.insert(out.end(), pieces.begin() + static_cast<std::ptrdiff_t>(i),
                 pieces.begin() + static_cast<std::ptrdiff_t>(j));
    } else {
      const std::size_t first = out.size();
      for (std::size_t p = i; p < j; ++p)
        for (std::uint32_t k = 0; k < pieces[p].run.count; ++k) {
          Piece one = pieces[p];
          one.run.first_value += k;
          one.run.first_start = pieces[p].run.interval_start(k);
          one.run.count = 1;
          out.push_back(one);
        }
      std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                       [](const Piece& a, const Piece& b) {
                         return std::tie(a.run.first_start, a.run.update_datetime,
                                         a.run.file_created, a.run.file_sequence) <
                                std::tie(b.run.first_start, b.run.update_datetime,
                                         b.run.file_created, b.run.file_sequence);
                       });
    }
    i = j;
  }
  pieces.swap(out);
  return months;
}

}  // namespace

int nem_month(epoch_seconds t) {
  using namespace std::chrono;
  const auto local = t + kNemOffsetSeconds;
  const auto days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  return static_cast<int>(ymd.year()) * 12 + static_cast<int>(static_cast<unsigned>(ymd.month())) -
         1;
}

// First second (UTC epoch) of NEM month m.
epoch_seconds month_start(int m) {
  return days_from_civil(m / 12, static_cast<unsigned>(m % 12 + 1), 1) * 86400 - kNemOffsetSeconds;
}

std::string partition_name(int m) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "month=%04d-%02d", m / 12, m % 12 + 1);
  return buf;
}

std::vector<PartitionRuns> sort_into_partitions(const ReadingBatch& batch) {
  // Cut runs into per-partition pieces (a run never crosses a NEM day, but be safe).
  std::vector<Piece> pieces;
  pieces.reserve(batch.runs.size());
  const auto nstrings = batch.strings.size();
  for (const ReadingRun& run : batch.runs) {
    if (run.count == 0) continue;
    // A malformed batch must not become out-of-bounds reads (or a corrupt part).
    if (std::uint64_t{run.first_value} + run.count > batch.values.size() || run.nmi >= nstrings ||
        run.suffix >= nstrings || run.register_id >= nstrings || run.meter_serial >= nstrings ||
        run.uom >= nstrings || run.reason_description >= nstrings)
      throw std::invalid_argument("Store::write: run refers outside its batch");
    std::uint32_t k = 0;
    while (k < run.count) {
      const int m = nem_month(run.interval_start(k));
      std::uint32_t end = run.count;
      if (nem_month(run.interval_start(run.count - 1)) != m) {
        const epoch_seconds next = month_start(m + 1);
        end = k;
        while (end < run.count && run.interval_start(end) < next) ++end;
      }
      Piece p{m, run};
      p.run.first_value = run.first_value + k;
      p.run.first_start = run.interval_start(k);
      p.run.count = end - k;
      pieces.push_back(p);
      k = end;
    }
  }
  const StringTable& st = batch.strings;
  auto key = [&](const Piece& p) {
    return std::make_tuple(p.month, st[p.run.nmi], st[p.run.suffix], p.run.first_start,
                           p.run.update_datetime, p.run.file_created, p.run.file_sequence);
  };
  std::stable_sort(pieces.begin(), pieces.end(),
                   [&](const Piece& a, const Piece& b) { return key(a) < key(b); });
  const std::set<int> overlapping = explode_overlaps(pieces, st);

  std::vector<PartitionRuns> out;
  for (std::size_t i = 0; i < pieces.size();) {
    PartitionRuns p{partition_name(pieces[i].month), {}, overlapping.count(pieces[i].month) > 0};
    std::size_t j = i;
    while (j < pieces.size() && pieces[j].month == pieces[i].month)
      p.runs.push_back(pieces[j++].run);
    out.push_back(std::move(p));
    i = j;
  }
  return out;
}

PartitionBatch sort_partition(std::int32_t month, ReadingBatch&& batch) {
  PartitionBatch out;
  out.month = month;
  auto sorted = sort_into_partitions(batch);
  out.batch = std::move(batch);
  out.batch.runs.clear();
  for (auto& p : sorted) {
    out.may_have_duplicates = out.may_have_duplicates || p.may_have_duplicates;
    out.batch.runs.insert(out.batch.runs.end(), p.runs.begin(), p.runs.end());
  }
  return out;
}

}  // namespace meterd::storage
