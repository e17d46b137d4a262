#include "actors/batch_assembler.hpp"

#include <algorithm>
#include <limits>

namespace meterd::actors {

BatchAssembler::Partition& BatchAssembler::open(std::string_view tenant, storage::MonthKey month,
                                                Clock::time_point now) {
  auto [it, inserted] = partitions_.try_emplace(storage::PartitionKey{std::string(tenant), month});
  if (inserted) it->second.opened = now;
  return it->second;
}

void BatchAssembler::add(StreamId stream, ReadingBatch& input, Clock::time_point now,
                         std::string_view tenant) {
  if (input.runs.empty()) {
    input.clear();
    return;
  }
  const std::uint64_t n = input.readings();
  buffered_ += n;

  // Fast path: the whole input is one month and that partition is empty -> take it as is.
  const storage::MonthKey first = storage::month_of(input.runs.front().first_start);
  bool one_month = std::all_of(input.runs.begin(), input.runs.end(), [&](const ReadingRun& r) {
    return storage::month_of(r.first_start) == first;
  });
  if (one_month) {
    Partition& p = open(tenant, first, now);
    p.shares[stream] += n;
    if (p.batch.runs.empty()) {
      p.batch = std::move(input);
      input.clear();
      return;
    }
  }

  // General path: copy each run into its partition, re-interning its strings once per
  // (input, partition) pair through a remap table.
  std::map<storage::MonthKey, std::vector<std::uint32_t>> remaps;
  for (const ReadingRun& run : input.runs) {
    const storage::MonthKey month = one_month ? first : storage::month_of(run.first_start);
    Partition& p = open(tenant, month, now);
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

std::optional<storage::PartitionKey> BatchAssembler::full(std::uint64_t readings) const {
  for (const auto& [key, p] : partitions_)
    if (p.batch.readings() >= readings) return key;
  return std::nullopt;
}

std::optional<storage::PartitionKey> BatchAssembler::largest() const {
  std::optional<storage::PartitionKey> best;
  std::size_t most = 0;
  for (const auto& [key, p] : partitions_)
    if (!best || p.batch.readings() > most) best = key, most = p.batch.readings();
  return best;
}

std::optional<storage::PartitionKey> BatchAssembler::older_than(Clock::time_point cutoff) const {
  for (const auto& [key, p] : partitions_)
    if (p.opened <= cutoff) return key;
  return std::nullopt;
}

SealedBatch BatchAssembler::seal(const storage::PartitionKey& key) {
  auto it = partitions_.find(key);
  SealedBatch out;
  out.id = next_id_++;
  ReadingBatch batch;
  if (it != partitions_.end()) {
    batch = std::move(it->second.batch);
    for (auto [stream, readings] : it->second.shares) out.shares.push_back({stream, readings});
    partitions_.erase(it);
    buffered_ -= batch.readings();
  }
  storage::PartitionBatch sorted = storage::sort_partition(key.month, std::move(batch));
  sorted.tenant = key.tenant;
  out.partition = std::make_shared<const storage::PartitionBatch>(std::move(sorted));
  out.conflicts = storage::find_version_conflicts(*out.partition);
  return out;
}

}  // namespace meterd::actors
