// Compaction: merges the parts of a partition into fewer, duplicate-free parts and swaps them
// in one manifest record. compact() does every partition to the end (offline); compact_step()
// one bounded merge for a running daemon.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "storage/fs_util.hpp"
#include "storage/store_impl.hpp"

namespace meterd::storage {

std::uint64_t Store::Impl::merge_group(const std::string& partition,
                                       const std::vector<const ManifestPart*>& parts,
                                       bool defer_removal) {
  const auto readers = open_parts(parts);
  std::vector<const PartReader*> ptrs;
  std::vector<std::string> removed;
  for (const auto& r : readers) ptrs.push_back(r.get());
  for (const ManifestPart* p : parts) removed.push_back(p->key());
  std::vector<Staged> staged;
  try {
    staged.push_back(stage_part(partition, [&](PartWriter& w) {
      merge_parts(
          ptrs, QueryFilter{},
          [&](const ReadingBatch& b, std::span<const std::int64_t> ingest) { w.add(b, ingest); },
          merge_options());
    }));
  } catch (const std::system_error&) {
    unstage(staged);
    throw;
  }
  publish(staged, removed);
  forget(removed);
  const std::uint64_t rows_out = staged.front().part.rows;
  if (defer_removal) {
    const auto now = std::chrono::steady_clock::now();
    for (const auto& key : removed) superseded.push_back({readings / key, now});
    return rows_out;
  }
  // The old files are now orphans; recovery would remove them too if we crashed here.
  std::error_code ec;
  for (const auto& key : removed) std::filesystem::remove(readings / key, ec);
  fs::fsync_dir(readings / partition);
  hook(LifecycleStep::kOldPartsRemoved, readings / partition);
  return rows_out;
}

// The parts of one step: the smallest (by rows) up to the fan-in, so that parts already
// compacted are not rewritten on every step. A part bigger than all the others chosen
// together stays out (size-tiered: a row is rewritten about log(parts) times, not once per
// step). A non-contiguous choice is sound: the merge orders by key and version
// (update_datetime, file_created, file_sequence), not by part; the part ordinal only breaks
// exact version ties (one key with one version in two parts: a replayed batch, or one file
// with a key twice across batches), and those already follow the merged part's new id when
// compact() merges more than kMaxFanIn parts. Returned in manifest (id) order, as
// merge_parts expects.
std::vector<const ManifestPart*> Store::Impl::smallest_parts(
    std::vector<const ManifestPart*> parts) {
  std::stable_sort(parts.begin(), parts.end(),
                   [](const ManifestPart* a, const ManifestPart* b) { return a->rows < b->rows; });
  if (parts.size() > kMaxFanIn) parts.resize(kMaxFanIn);
  std::uint64_t total = 0;
  for (const ManifestPart* p : parts) total += p->rows;
  while (parts.size() > 2 && parts.back()->rows > total - parts.back()->rows) {
    total -= parts.back()->rows;
    parts.pop_back();
  }
  std::sort(parts.begin(), parts.end(),
            [](const ManifestPart* a, const ManifestPart* b) { return a->id < b->id; });
  return parts;
}

void Store::Impl::remove_expired_superseded() {
  const auto now = std::chrono::steady_clock::now();
  std::error_code ec;
  std::erase_if(superseded, [&](const Superseded& s) {
    if (now - s.at < opt.superseded_grace) return false;
    std::filesystem::remove(s.path, ec);  // not durable on purpose: recovery removes orphans
    return true;
  });
}

std::optional<CompactionStep> Store::Impl::compact_step(std::size_t min_parts) {
  check_writable();
  remove_expired_superseded();
  min_parts = std::max<std::size_t>(min_parts, 2);
  std::map<std::string, std::size_t> counts;
  for (const auto& [key, p] : manifest->parts()) ++counts[p.partition];
  std::string partition;
  std::size_t most = 0;
  for (const auto& [name, n] : counts)
    if (n > most) most = n, partition = name;
  if (most < min_parts) return std::nullopt;
  const auto chosen = smallest_parts(manifest->parts_of(partition));
  CompactionStep step;
  step.partition = partition;
  step.parts_in = chosen.size();
  for (const ManifestPart* p : chosen) step.rows_in += p->rows;
  step.rows_out = merge_group(partition, chosen, /*defer_removal=*/true);
  step.parts_left = most - chosen.size() + 1;
  return step;
}

std::uint64_t Store::Impl::compact() {
  check_writable();
  std::set<std::string> partitions;
  for (const auto& [key, p] : manifest->parts()) partitions.insert(p.partition);
  std::uint64_t compacted = 0;
  for (const auto& partition : partitions) {
    bool merged = false;
    // Until one duplicate-free part is left (a lone part can hold several versions of a key
    // when one batch carried them).
    for (auto parts = manifest->parts_of(partition);
         parts.size() > 1 || (parts.size() == 1 && parts[0]->may_have_duplicates);
         parts = manifest->parts_of(partition)) {
      if (parts.size() > kMaxFanIn) parts.resize(kMaxFanIn);
      merge_group(partition, parts);
      merged = true;
    }
    compacted += merged;
  }
  return compacted;
}

}  // namespace meterd::storage
