#include "actors/batch_assembler.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <numeric>

#include "protocol/nem_time.hpp"

namespace meterd::actors {

MonthKey month_of(epoch_seconds t) {
  const CivilDate date = nem_date_of(t);
  return static_cast<MonthKey>(date.year * 12 + (date.month - 1));
}

std::string partition_name(MonthKey month) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "month=%04d-%02d", month / 12, month % 12 + 1);
  return buf;
}

BatchAssembler::Partition& BatchAssembler::open(MonthKey month, Clock::time_point now) {
  auto [it, inserted] = partitions_.try_emplace(month);
  if (inserted) it->second.opened = now;
  return it->second;
}

void BatchAssembler::add(StreamId stream, ReadingBatch& input, Clock::time_point now) {
  if (input.runs.empty()) {
    input.clear();
    return;
  }
  const std::uint64_t n = input.readings();
  buffered_ += n;

  // Fast path: the whole input is one month and that partition is empty -> take it as is.
  const MonthKey first = month_of(input.runs.front().first_start);
  bool one_month = std::all_of(input.runs.begin(), input.runs.end(), [&](const ReadingRun& r) {
    return month_of(r.first_start) == first;
  });
  if (one_month) {
    Partition& p = open(first, now);
    p.shares[stream] += n;
    if (p.batch.runs.empty()) {
      p.batch = std::move(input);
      input.clear();
      return;
    }
  }

  // General path: copy each run into its partition, re-interning its strings once per
  // (input, partition) pair through a remap table.
  std::map<MonthKey, std::vector<std::uint32_t>> remaps;
  for (const ReadingRun& run : input.runs) {
    const MonthKey month = one_month ? first : month_of(run.first_start);
    Partition& p = open(month, now);
    if (!one_month) p.shares[stream] += run.count;
    auto& remap = remaps[month];
    if (remap.empty())
      remap.assign(input.strings.size(), std::numeric_limits<std::uint32_t>::max());
    auto map_id = [&](std::uint32_t id) {
      if (remap[id] == std::numeric_limits<std::uint32_t>::max())
        remap[id] = p.batch.strings.intern(input.strings[id]);
      return remap[id];
    };
    ReadingRun out = run;
    out.nmi = map_id(run.nmi);
    out.suffix = map_id(run.suffix);
    out.register_id = map_id(run.register_id);
    out.meter_serial = map_id(run.meter_serial);
    out.uom = map_id(run.uom);
    out.reason_description = map_id(run.reason_description);
    out.first_value = static_cast<std::uint32_t>(p.batch.values.size());
    p.batch.values.insert(p.batch.values.end(), input.values.begin() + run.first_value,
                          input.values.begin() + run.first_value + run.count);
    p.batch.runs.push_back(out);
  }
  input.clear();
}

std::optional<MonthKey> BatchAssembler::full(std::uint64_t readings) const {
  for (const auto& [month, p] : partitions_)
    if (p.batch.readings() >= readings) return month;
  return std::nullopt;
}

std::optional<MonthKey> BatchAssembler::largest() const {
  std::optional<MonthKey> best;
  std::size_t most = 0;
  for (const auto& [month, p] : partitions_)
    if (!best || p.batch.readings() > most) best = month, most = p.batch.readings();
  return best;
}

std::optional<MonthKey> BatchAssembler::older_than(Clock::time_point cutoff) const {
  for (const auto& [month, p] : partitions_)
    if (p.opened <= cutoff) return month;
  return std::nullopt;
}

SealedBatch BatchAssembler::seal(MonthKey month) {
  auto it = partitions_.find(month);
  SealedBatch out;
  out.id = next_id_++;
  out.month = month;
  if (it == partitions_.end()) return out;
  out.batch = std::move(it->second.batch);
  for (auto [stream, readings] : it->second.shares) out.shares.push_back({stream, readings});
  partitions_.erase(it);
  buffered_ -= out.batch.readings();
  sort_batch(out.batch);
  return out;
}

void sort_batch(ReadingBatch& batch) {
  const auto& s = batch.strings;
  auto less = [&](const ReadingRun& a, const ReadingRun& b) {
    if (a.nmi != b.nmi) {
      if (auto c = s[a.nmi].compare(s[b.nmi]); c != 0) return c < 0;
    }
    if (a.suffix != b.suffix) {
      if (auto c = s[a.suffix].compare(s[b.suffix]); c != 0) return c < 0;
    }
    if (a.first_start != b.first_start) return a.first_start < b.first_start;
    return a.line < b.line;
  };
  if (std::is_sorted(batch.runs.begin(), batch.runs.end(), less)) return;
  std::vector<std::uint32_t> order(batch.runs.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return less(batch.runs[a], batch.runs[b]); });
  std::vector<ReadingRun> runs;
  std::vector<double> values;
  runs.reserve(batch.runs.size());
  values.reserve(batch.values.size());
  for (auto i : order) {
    ReadingRun r = batch.runs[i];
    values.insert(values.end(), batch.values.begin() + r.first_value,
                  batch.values.begin() + r.first_value + r.count);
    r.first_value = static_cast<std::uint32_t>(values.size() - r.count);
    runs.push_back(r);
  }
  batch.runs = std::move(runs);
  batch.values = std::move(values);
}

}  // namespace meterd::actors
