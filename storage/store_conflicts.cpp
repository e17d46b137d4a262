// Store::conflicts_with_stored: a batch about to be written against the readings already in its
// partition. Each key's winner in the batch is compared with every other source's last stored
// reading of that key with the same UpdateDateTime and file DateTime. A part is read only if its
// footer's source pairs (storage/part_sources) show another file with one of the batch's streams
// and file DateTimes, and then only the row groups whose statistics allow it: files read
// together and a large file's own earlier seals are not read back.
#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>

#include "storage/part_sources.hpp"
#include "storage/partition.hpp"
#include "storage/store_impl.hpp"

namespace meterd::storage {
namespace {

struct Probe {  // the batch's winner of one key: reading k of run `run`
  std::uint32_t run, k;
};

bool key_less(std::string_view nmi_a, std::string_view suffix_a, epoch_seconds start_a,
              std::string_view nmi_b, std::string_view suffix_b, epoch_seconds start_b) {
  if (int c = nmi_a.compare(nmi_b)) return c < 0;
  if (int c = suffix_a.compare(suffix_b)) return c < 0;
  return start_a < start_b;
}

// Between two readings of one key, update and file time that differ in value, quality or
// method, this is exactly where the version order (storage/version) decides.
int compare_rest(const ConflictSide& a, std::uint8_t method_a, const ConflictSide& b,
                 std::uint8_t method_b) {
  if (a.line != b.line) return a.line < b.line ? -1 : 1;
  if (a.value != b.value) return a.value < b.value ? -1 : 1;
  const auto qa = static_cast<unsigned char>(a.quality), qb = static_cast<unsigned char>(b.quality);
  if (qa != qb) return qa < qb ? -1 : 1;
  if (method_a != method_b) return method_a < method_b ? -1 : 1;
  return 0;
}

// Pairs of (key, other source) compared at most per batch: the work's memory stays bounded
// when a whole stored month contradicts a batch.
constexpr std::size_t kMaxPairs = 1 << 20;

struct StoredSide {
  ConflictSide side;
  std::uint8_t method = kNoMethod;
};

// Does `part` hold a source other than the batch's with one of the batch's streams and file
// DateTimes?
bool shares_a_stream_with_another_source(const SourcePairs& batch, const SourcePairs& part) {
  for (const auto& [hash, sequence] : batch) {
    auto it = std::lower_bound(part.begin(), part.end(), std::make_pair(hash, std::uint64_t{0}));
    for (; it != part.end() && it->first == hash; ++it)
      if (it->second != sequence) return true;
  }
  return false;
}

}  // namespace

StoredConflicts Store::conflicts_with_stored(const PartitionBatch& partition,
                                             std::size_t max_conflicts,
                                             std::uint64_t row_budget) const {
  StoredConflicts out;
  const ReadingBatch& batch = partition.batch;
  // What the batch spans, from its runs alone: most batches stop here.
  std::vector<epoch_seconds> created;
  std::int64_t min_update = std::numeric_limits<std::int64_t>::max(), max_update = kNoTime;
  epoch_seconds min_start = std::numeric_limits<epoch_seconds>::max(), max_start = kNoTime;
  std::uint64_t min_seq = std::numeric_limits<std::uint64_t>::max(), max_seq = 0;
  bool absent_created = false, absent_update = false;
  const ReadingRun *first = nullptr, *last = nullptr;
  for (const ReadingRun& run : batch.runs) {
    if (run.count == 0) continue;
    if (!first) first = &run;
    last = &run;
    created.push_back(run.file_created);
    absent_created |= run.file_created == kNoTime;
    absent_update |= run.update_datetime == kNoTime;
    if (run.update_datetime != kNoTime) {
      min_update = std::min<std::int64_t>(min_update, run.update_datetime);
      max_update = std::max<std::int64_t>(max_update, run.update_datetime);
    }
    min_start = std::min(min_start, run.first_start);
    max_start = std::max(max_start, run.interval_start(run.count - 1));
    min_seq = std::min(min_seq, run.file_sequence);
    max_seq = std::max(max_seq, run.file_sequence);
  }
  if (!first) return out;
  std::sort(created.begin(), created.end());
  created.erase(std::unique(created.begin(), created.end()), created.end());
  const std::string_view min_nmi = batch.strings[first->nmi], max_nmi = batch.strings[last->nmi];

  // Could a row group hold a stored reading of another source with a version of the batch?
  auto candidate = [&](const RowGroupInfo& g) {
    if (g.max_start() < min_start || g.min_start() > max_start) return false;
    if (g.max_string(kNmi) < min_nmi || g.min_string(kNmi) > max_nmi) return false;
    std::int64_t lo = 0, hi = 0;
    if (g.int_range(kFileSequence, lo, hi) && min_seq == max_seq && lo == hi &&
        static_cast<std::uint64_t>(lo) == min_seq)
      return false;  // only the batch's own source (an earlier seal of the same file)
    if (g.int_range(kFileCreated, lo, hi)) {
      const auto in = std::lower_bound(created.begin(), created.end(), lo);
      if (!absent_created && (in == created.end() || *in > hi)) return false;
    }
    if (g.int_range(kUpdateDatetime, lo, hi) && !absent_update &&
        (hi < min_update || lo > max_update))
      return false;
    return true;
  };
  // Only the batch's own tenant: another tenant's readings of the same stream are another
  // stream, and never a conflict.
  const auto parts = impl_->manifest->parts_of(partition_name(partition.tenant, partition.month));
  const auto readers = impl_->open_parts(parts);
  SourcePairsBuilder batch_builder;
  for (const ReadingRun& run : batch.runs) batch_builder.add(batch.strings, run);
  const SourcePairs batch_keys = batch_builder.finish();
  std::vector<std::pair<const PartReader*, std::size_t>> candidates;
  DecodedRowGroup rg;
  std::uint64_t rows_read = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const PartReader& reader = *readers[i];
    bool any_candidate = false;
    for (const RowGroupInfo& info : reader.row_groups()) any_candidate |= candidate(info);
    if (!any_candidate) continue;
    std::shared_ptr<const SourcePairs> keys = reader.sources();
    if (!keys) {
      std::lock_guard lock(impl_->cache_mutex);
      if (auto it = impl_->legacy_sources.find(parts[i]->key()); it != impl_->legacy_sources.end())
        keys = it->second;
    }
    if (!keys) {  // a part from before its footer said so: read it once
      if (rows_read + reader.rows() > row_budget) {
        out.complete = false;
        continue;
      }
      SourcePairsBuilder made;
      for (std::size_t g = 0; g < reader.row_groups().size(); ++g) {
        reader.read(g, rg);
        rows_read += rg.rows;
        for (std::size_t r = 0; r < rg.rows; ++r)
          made.add(stream_source_hash(rg.str[kNmi].dict[rg.str[kNmi].idx[r]],
                                      rg.str[kSuffix].dict[rg.str[kSuffix].idx[r]],
                                      rg.num[kFileCreated][r]),
                   static_cast<std::uint64_t>(rg.num[kFileSequence][r]));
      }
      keys = std::make_shared<const SourcePairs>(made.finish());
      std::lock_guard lock(impl_->cache_mutex);
      impl_->legacy_sources[parts[i]->key()] = keys;
    }
    if (!shares_a_stream_with_another_source(batch_keys, *keys)) continue;
    for (std::size_t g = 0; g < reader.row_groups().size(); ++g)
      if (candidate(reader.row_groups()[g])) candidates.emplace_back(&reader, g);
  }
  if (candidates.empty()) return out;

  // Each key's winner in the batch (row order puts it last), 8 bytes a key.
  std::vector<Probe> probes;
  for (std::uint32_t r = 0; r < batch.runs.size(); ++r) {
    const ReadingRun& run = batch.runs[r];
    for (std::uint32_t k = 0; k < run.count; ++k) {
      if (!probes.empty()) {
        const ReadingRun& prev = batch.runs[probes.back().run];
        if (prev.nmi == run.nmi && prev.suffix == run.suffix &&
            prev.interval_start(probes.back().k) == run.interval_start(k)) {
          probes.back() = {r, k};
          continue;
        }
      }
      probes.push_back({r, k});
    }
  }
  auto row_of = [&](const Probe& p) { return batch.row(batch.runs[p.run], p.k); };

  std::map<std::pair<std::size_t, std::uint64_t>, StoredSide> best;  // (probe, source) -> last
  for (const auto& [reader, g] : candidates) {
    const RowGroupInfo& info = reader->row_groups()[g];
    if (rows_read + static_cast<std::uint64_t>(info.rows) > row_budget) {
      out.complete = false;
      continue;
    }
    rows_read += static_cast<std::uint64_t>(info.rows);
    ++out.row_groups_read;
    // A page at a time: a compacted part's row group decoded whole is ~30 MiB per check.
    for_each_page(*reader, g, rg, [&](const DecodedRowGroup& page) {
      for (std::size_t r = 0; r < page.rows; ++r) {
        const epoch_seconds row_created = page.num[kFileCreated][r];
        if (!std::binary_search(created.begin(), created.end(), row_created)) continue;
        const std::string_view nmi = page.str[kNmi].dict[page.str[kNmi].idx[r]];
        // Most rows of a candidate lie outside the batch's NMIs (a neighbouring request's part
        // shares one NMI with it): two compares instead of a search over every probe.
        if (nmi < min_nmi || nmi > max_nmi) continue;
        const std::string_view suffix = page.str[kSuffix].dict[page.str[kSuffix].idx[r]];
        const epoch_seconds start = page.num[kIntervalStart][r];
        const auto at = std::lower_bound(probes.begin(), probes.end(), 0, [&](const Probe& p, int) {
          const ReadingRun& run = batch.runs[p.run];
          return key_less(batch.strings[run.nmi], batch.strings[run.suffix],
                          run.interval_start(p.k), nmi, suffix, start);
        });
        if (at == probes.end()) continue;
        const ReadingRow probe = row_of(*at);
        if (probe.nmi != nmi || probe.suffix != suffix || probe.interval_start != start) continue;
        const auto sequence = static_cast<std::uint64_t>(page.num[kFileSequence][r]);
        if (sequence == probe.file_sequence || row_created != probe.file_created ||
            page.num[kUpdateDatetime][r] != probe.update_datetime)
          continue;
        const std::string_view quality = page.str[kQuality].dict[page.str[kQuality].idx[r]];
        StoredSide stored;
        stored.side.file_sequence = sequence;
        stored.side.line = static_cast<std::uint32_t>(page.num[kLine][r]);
        stored.side.value = page.value[r];
        stored.side.quality = quality.empty() ? ' ' : quality[0];
        stored.method = static_cast<std::uint8_t>(page.num[kMethod][r]);
        const auto slot = std::make_pair(static_cast<std::size_t>(at - probes.begin()), sequence);
        if (best.size() >= kMaxPairs && !best.count(slot)) {
          out.complete = false;
          continue;
        }
        auto [it, inserted] = best.try_emplace(slot, stored);
        if (!inserted &&
            compare_rest(stored.side, stored.method, it->second.side, it->second.method) > 0)
          it->second = stored;  // that source's later reading of the key
      }
    });
  }

  // The other sources' names, from the ledger (one pass over it).
  std::unordered_map<std::uint64_t, std::string> names;
  for (const auto& [slot, stored] : best) names.emplace(slot.second, std::string());
  impl_->ledger->for_each([&](const LedgerEntry& e) {
    if (auto it = names.find(e.file_sequence); it != names.end()) it->second = e.name;
  });

  // In (source, probe) order, so that one source's consecutive intervals coalesce.
  std::vector<std::pair<std::uint64_t, std::size_t>> order;
  for (const auto& [slot, stored] : best) order.emplace_back(slot.second, slot.first);
  std::sort(order.begin(), order.end());
  for (const auto& [sequence, index] : order) {
    const StoredSide& stored = best.at({index, sequence});
    const ReadingRow probe = row_of(probes[index]);
    ConflictSide batch_side{probe.file_sequence, probe.line, probe.value, probe.quality, {}};
    if (stored.side.value == probe.value && stored.side.quality == probe.quality &&
        stored.method == probe.method)
      continue;  // the same reading in substance
    ConflictSide stored_side = stored.side;
    stored_side.source = names[sequence];
    const bool batch_kept = compare_rest(batch_side, probe.method, stored_side, stored.method) > 0;
    const ConflictSide& kept = batch_kept ? batch_side : stored_side;
    const ConflictSide& superseded = batch_kept ? stored_side : batch_side;
    if (!add_conflict(out.conflicts, probe, kept, superseded, max_conflicts)) break;
  }
  return out;
}

}  // namespace meterd::storage
