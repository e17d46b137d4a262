// Store: the part lifecycle (write, recover, compact) over Manifest, Ledger, PartWriter and
// merge_parts. Partitions are NEM-time months of interval_start: NEM days never straddle
// them, so a run (one day) always lands in exactly one partition.
#include "storage/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>

#include "storage/checksum.hpp"
#include "storage/fs_util.hpp"
#include "storage/ledger.hpp"
#include "storage/manifest.hpp"
#include "storage/merge.hpp"
#include "storage/part_writer.hpp"
#include "storage/partition_sort.hpp"

namespace meterd::storage {

const char* to_string(LifecycleStep step) {
  switch (step) {
    case LifecycleStep::kTempWritten:
      return "temp_written";
    case LifecycleStep::kTempSynced:
      return "temp_synced";
    case LifecycleStep::kRenamed:
      return "renamed";
    case LifecycleStep::kDirSynced:
      return "dir_synced";
    case LifecycleStep::kRecorded:
      return "recorded";
    case LifecycleStep::kOldPartsRemoved:
      return "old_parts_removed";
  }
  return "?";
}

namespace {

std::string part_file_name(std::uint64_t id) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "part-%012llu.parquet", static_cast<unsigned long long>(id));
  return buf;
}

std::int64_t now_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

PartInfo to_info(const std::filesystem::path& readings, const ManifestPart& p) {
  PartInfo info;
  info.partition = p.partition;
  info.path = readings / p.partition / p.file;
  info.rows = p.rows, info.bytes = p.bytes;
  info.min_start = p.min_start, info.max_start = p.max_start;
  return info;
}

bool is_temporary(const std::string& name) {
  return name.size() > 4 && name[0] == '.' && name.ends_with(".tmp");
}

std::uint32_t file_crc32c(const std::filesystem::path& path) {
  const int fd = fs::open_file(path, O_RDONLY);
  std::string buf(1 << 20, '\0');
  std::uint32_t crc = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "read " + path.string());
    }
    if (n == 0) break;
    crc = crc32c(buf.data(), static_cast<std::size_t>(n), crc);
  }
  ::close(fd);
  return crc;
}

}  // namespace

struct Store::Impl {
  std::filesystem::path dir, readings;
  StoreOptions opt;
  int lock_fd = -1;
  std::unique_ptr<Manifest> manifest;
  std::unique_ptr<Ledger> ledger;
  RecoveryReport report;
  std::uint64_t next_id = 1;

  Impl(std::filesystem::path d, StoreOptions o)
      : dir(std::move(d)), readings(dir / "readings"), opt(std::move(o)) {
    if (!opt.read_only) {
      fs::make_dirs(readings);
      lock_fd = fs::open_file(dir / "LOCK", O_RDWR | O_CREAT);
      if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(lock_fd);
        throw std::system_error(err, std::generic_category(),
                                "data directory " + dir.string() + " is in use by another process");
      }
    }
    manifest = std::make_unique<Manifest>(dir, !opt.read_only);
    ledger = std::make_unique<Ledger>(dir, !opt.read_only);
    if (!opt.read_only) recover();
    next_id = manifest->max_id() + 1;
  }
  ~Impl() {
    if (lock_fd >= 0) ::close(lock_fd);
  }

  void hook(LifecycleStep step, const std::filesystem::path& path) const {
    if (opt.fault_hook) opt.fault_hook(step, path);
  }

  // --- recovery --------------------------------------------------------------------------

  void recover() {
    if (manifest->bad_records())
      report.messages.push_back("manifest: dropped " + std::to_string(manifest->bad_records()) +
                                " torn or corrupt record(s)");
    const auto& parts = manifest->parts();
    std::error_code ec;
    // Leftovers of an interrupted atomic replace (manifest checkpoint, sequence mark).
    for (const char* sub : {"manifest", "ledger"})
      for (const auto& f : std::filesystem::directory_iterator(dir / sub, ec))
        if (is_temporary(f.path().filename().string())) {
          std::filesystem::remove(f.path(), ec);
          ++report.temporaries_removed;
        }
    for (const auto& pdir : std::filesystem::directory_iterator(readings, ec)) {
      if (!pdir.is_directory()) continue;
      const std::string partition = pdir.path().filename().string();
      bool touched = false;
      for (const auto& f : std::filesystem::directory_iterator(pdir.path())) {
        const std::string name = f.path().filename().string();
        if (is_temporary(name)) {
          std::filesystem::remove(f.path());
          ++report.temporaries_removed, touched = true;
          report.messages.push_back("removed temporary " + f.path().string());
        } else if (name.ends_with(".parquet") && !parts.count(partition + "/" + name)) {
          // Renamed but never recorded: the write was never acknowledged (or its parts were
          // superseded by a recorded compaction). Either way no reader may see it.
          std::filesystem::remove(f.path());
          ++report.orphans_removed, touched = true;
          report.messages.push_back("removed orphan " + f.path().string());
        }
      }
      if (touched) fs::fsync_dir(pdir.path());
    }
    // Every recorded part must be there, whole and intact; otherwise quarantine it.
    std::vector<std::string> bad;
    for (const auto& [key, p] : parts) {
      const auto path = readings / p.partition / p.file;
      std::string problem;
      std::error_code sec;
      const auto size = std::filesystem::file_size(path, sec);
      if (sec)
        problem = "missing";
      else if (size != p.bytes)
        problem = "size " + std::to_string(size) + " != " + std::to_string(p.bytes);
      else if (opt.verify_parts_on_open && file_crc32c(path) != p.crc32c)
        problem = "checksum mismatch";
      else {
        try {
          PartExpectation expect{p.bytes, p.footer_crc32c};
          PartReader check(path, &expect);
        } catch (const CorruptPart& e) {
          problem = e.what();
        }
      }
      if (problem.empty()) continue;
      bad.push_back(key);
      ++report.corrupt_parts;
      report.messages.push_back("corrupt part " + path.string() + ": " + problem);
      if (!sec) {
        const auto q = dir / "quarantine";
        fs::make_dirs(q);
        std::filesystem::rename(path, q / (p.partition + "_" + p.file));
        fs::fsync_dir(q);
        fs::fsync_dir(path.parent_path());
      }
    }
    if (!bad.empty()) manifest->commit({}, bad);
    manifest->checkpoint_if_large();
  }

  // --- writing ---------------------------------------------------------------------------

  struct Staged {
    ManifestPart part;
    std::filesystem::path tmp, final_path;
    bool renamed = false;
  };

  // Writes one sorted stream of runs as a part: temp, fsync, rename. The manifest record is
  // the caller's (one record for all parts of a write, so a write is all or nothing).
  template <class Feed>
  Staged stage_part(const std::string& partition, Feed&& feed) {
    Staged s;
    s.part.partition = partition;
    s.part.id = next_id++;
    s.part.file = part_file_name(s.part.id);
    const auto pdir = readings / partition;
    fs::make_dirs(pdir);
    s.tmp = pdir / ("." + s.part.file + ".tmp");
    s.final_path = pdir / s.part.file;
    const int fd = fs::open_file(s.tmp, O_WRONLY | O_CREAT | O_EXCL);
    try {
      PartWriterOptions wo;
      wo.row_group_rows = opt.row_group_rows;
      PartWriter writer(fd, wo);
      feed(writer);
      const PartSummary sum = writer.finish();
      s.part.rows = sum.rows, s.part.bytes = sum.bytes;
      s.part.min_start = sum.min_start, s.part.max_start = sum.max_start;
      s.part.crc32c = sum.crc32c, s.part.footer_crc32c = sum.footer_crc32c;
      hook(LifecycleStep::kTempWritten, s.tmp);
      fs::fsync_fd(fd, s.tmp);
      hook(LifecycleStep::kTempSynced, s.tmp);
    } catch (const std::system_error&) {
      ::close(fd);
      std::filesystem::remove(s.tmp);  // a real I/O error: leave nothing behind
      throw;
    } catch (...) {
      ::close(fd);  // anything else (an injected crash): leave the disk as a crash would
      throw;
    }
    ::close(fd);
    if (::rename(s.tmp.c_str(), s.final_path.c_str()) != 0) {
      const int err = errno;
      std::filesystem::remove(s.tmp);
      throw std::system_error(err, std::generic_category(), "rename " + s.tmp.string());
    }
    s.renamed = true;
    hook(LifecycleStep::kRenamed, s.final_path);
    return s;
  }

  // Syncs the directories of staged parts, then records them (and removals) in one record.
  void publish(std::vector<Staged>& staged, const std::vector<std::string>& removed) {
    try {
      std::vector<std::filesystem::path> dirs;
      for (const auto& s : staged) dirs.push_back(s.final_path.parent_path());
      std::sort(dirs.begin(), dirs.end());
      dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
      for (const auto& d : dirs) fs::fsync_dir(d);
      for (const auto& s : staged) hook(LifecycleStep::kDirSynced, s.final_path);
      std::vector<ManifestPart> added;
      for (const auto& s : staged) added.push_back(s.part);
      manifest->commit(added, removed);
    } catch (const std::system_error&) {
      unstage(staged);
      throw;
    }
    for (const auto& s : staged) hook(LifecycleStep::kRecorded, s.final_path);
  }

  static void unstage(std::vector<Staged>& staged) {
    std::error_code ec;
    for (auto& s : staged) std::filesystem::remove(s.renamed ? s.final_path : s.tmp, ec);
  }

  void check_writable() const {
    if (opt.read_only) throw std::logic_error("Store opened read-only");
  }

  // Runs of one partition in row order, indexing into the values and strings of a batch.
  struct SortedPartition {
    MonthKey month;
    std::span<const ReadingRun> runs;
    bool may_have_duplicates;
  };

  std::vector<PartInfo> write_sorted(const StringTable& strings, const double* values,
                                     std::span<const SortedPartition> partitions) {
    std::vector<Staged> staged;
    const std::int64_t ingest = now_micros();
    try {
      for (const SortedPartition& p : partitions) {
        staged.push_back(stage_part(partition_name(p.month), [&](PartWriter& w) {
          w.add(strings, p.runs, values, std::span<const std::int64_t>(&ingest, 1));
        }));
        staged.back().part.may_have_duplicates = p.may_have_duplicates;
      }
    } catch (const std::system_error&) {
      unstage(staged);
      throw;
    }
    publish(staged, {});
    std::vector<PartInfo> out;
    for (const auto& s : staged) out.push_back(to_info(readings, s.part));
    return out;
  }

  PartInfo write(const PartitionBatch& partition) {
    check_writable();
    const RowOrderCheck found = check_row_order(partition);
    if (found.rows == 0) return PartInfo{partition_name(partition.month), {}, 0, 0, 0, 0};
    const SortedPartition sorted{partition.month, partition.batch.runs,
                                 partition.may_have_duplicates || found.shared_key};
    return write_sorted(partition.batch.strings, partition.batch.values.data(), {&sorted, 1})
        .front();
  }

  std::vector<PartInfo> write(const ReadingBatch& batch) {
    check_writable();
    if (batch.empty()) return {};
    const std::vector<MonthRuns> months = sort_into_partitions(batch);
    std::vector<SortedPartition> sorted;
    for (const MonthRuns& m : months) sorted.push_back({m.month, m.runs, m.may_have_duplicates});
    return write_sorted(batch.strings, batch.values.data(), sorted);
  }

  // --- reading ---------------------------------------------------------------------------

  std::vector<const ManifestPart*> select(const QueryFilter& f) const {
    std::vector<const ManifestPart*> out;
    for (const auto& [key, p] : manifest->parts()) {
      if (f.from && p.max_start < *f.from) continue;  // partition/part pruning
      if (f.to && p.min_start >= *f.to) continue;
      out.push_back(&p);
    }
    return out;
  }

  // Parts are immutable, so their parsed footers are cached (a query over many parts would
  // otherwise re-read every footer). Entries go when compaction removes the part.
  std::vector<std::shared_ptr<const PartReader>> open_parts(
      const std::vector<const ManifestPart*>& parts) const {
    std::vector<std::shared_ptr<const PartReader>> readers;
    readers.reserve(parts.size());
    std::lock_guard lock(cache_mutex);
    for (const ManifestPart* p : parts) {
      auto& slot = footer_cache[p->key()];
      if (!slot) {
        PartExpectation expect{p->bytes, p->footer_crc32c};
        slot = std::make_shared<const PartReader>(readings / p->partition / p->file, &expect);
      }
      readers.push_back(slot);
    }
    return readers;
  }
  void forget(const std::vector<std::string>& keys) {
    std::lock_guard lock(cache_mutex);
    for (const auto& k : keys) footer_cache.erase(k);
  }
  mutable std::mutex cache_mutex;
  mutable std::map<std::string, std::shared_ptr<const PartReader>> footer_cache;

  void query(const QueryFilter& f, const MergeSink& sink) const {
    const auto readers = open_parts(select(f));
    std::vector<const PartReader*> ptrs;
    for (const auto& r : readers) ptrs.push_back(r.get());
    merge_parts(ptrs, f, sink);
  }

  // --- compaction --------------------------------------------------------------------------

  // At most this many parts are merged at once: each open cursor holds two decoded row
  // groups, so the fan-in bounds compaction's memory (16 x 2 x 256k rows x ~125 B = 1 GiB
  // worst case; typical daemon parts are far smaller).
  static constexpr std::size_t kMaxFanIn = 16;

  std::vector<const ManifestPart*> parts_of(const std::string& partition) const {
    std::vector<const ManifestPart*> out;
    for (const auto& [key, p] : manifest->parts())
      if (p.partition == partition) out.push_back(&p);
    return out;  // manifest order: oldest (lowest id) first
  }

  // Merges `parts` (oldest first) of one partition into one part, swapping them atomically.
  // Returns the rows of the new part.
  std::uint64_t merge_group(const std::string& partition,
                            const std::vector<const ManifestPart*>& parts,
                            bool defer_removal = false) {
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
            [&](const ReadingBatch& b, std::span<const std::int64_t> ingest) { w.add(b, ingest); });
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
  static std::vector<const ManifestPart*> smallest_parts(std::vector<const ManifestPart*> parts) {
    std::stable_sort(parts.begin(), parts.end(), [](const ManifestPart* a, const ManifestPart* b) {
      return a->rows < b->rows;
    });
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

  // Replaced by a compact_step, still on disk for readers that opened the old manifest.
  struct Superseded {
    std::filesystem::path path;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Superseded> superseded;

  void remove_expired_superseded() {
    const auto now = std::chrono::steady_clock::now();
    std::error_code ec;
    std::erase_if(superseded, [&](const Superseded& s) {
      if (now - s.at < opt.superseded_grace) return false;
      std::filesystem::remove(s.path, ec);  // not durable on purpose: recovery removes orphans
      return true;
    });
  }

  std::optional<CompactionStep> compact_step(std::size_t min_parts) {
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
    const auto chosen = smallest_parts(parts_of(partition));
    CompactionStep step;
    step.partition = partition;
    step.parts_in = chosen.size();
    for (const ManifestPart* p : chosen) step.rows_in += p->rows;
    step.rows_out = merge_group(partition, chosen, /*defer_removal=*/true);
    step.parts_left = most - chosen.size() + 1;
    return step;
  }

  std::uint64_t compact() {
    check_writable();
    std::set<std::string> partitions;
    for (const auto& [key, p] : manifest->parts()) partitions.insert(p.partition);
    std::uint64_t compacted = 0;
    for (const auto& partition : partitions) {
      bool merged = false;
      // Until one duplicate-free part is left (a lone part can hold several versions of a key
      // when one batch carried them).
      for (auto parts = parts_of(partition);
           parts.size() > 1 || (parts.size() == 1 && parts[0]->may_have_duplicates);
           parts = parts_of(partition)) {
        if (parts.size() > kMaxFanIn) parts.resize(kMaxFanIn);
        merge_group(partition, parts);
        merged = true;
      }
      compacted += merged;
    }
    return compacted;
  }
};

Store::Store(std::filesystem::path data_dir) : Store(std::move(data_dir), StoreOptions{}) {}
Store::Store(std::filesystem::path data_dir, StoreOptions options)
    : impl_(std::make_unique<Impl>(std::move(data_dir), std::move(options))) {}
Store::~Store() = default;

const RecoveryReport& Store::recovery() const {
  return impl_->report;
}
PartInfo Store::write(const PartitionBatch& partition) {
  return impl_->write(partition);
}
std::vector<PartInfo> Store::write(const ReadingBatch& batch) {
  return impl_->write(batch);
}
std::uint64_t Store::next_file_sequence() {
  return impl_->ledger->next_file_sequence();
}
bool Store::ledger_contains(const std::string& content_hash) const {
  return impl_->ledger->contains(content_hash);
}
void Store::ledger_record(const std::string& content_hash, const std::string& name,
                          std::uint64_t file_sequence) {
  impl_->ledger->record(content_hash, name, file_sequence);
}

void Store::query(const QueryFilter& filter,
                  const std::function<void(const ReadingBatch&)>& fn) const {
  impl_->query(filter, [&](const ReadingBatch& b, std::span<const std::int64_t>) { fn(b); });
}

void Store::query_with_ingest(
    const QueryFilter& filter,
    const std::function<void(const ReadingBatch&, std::span<const std::int64_t>)>& fn) const {
  impl_->query(filter, fn);
}

std::uint64_t Store::compact() {
  return impl_->compact();
}

std::optional<CompactionStep> Store::compact_step(std::size_t min_parts) {
  return impl_->compact_step(min_parts);
}

std::vector<PartInfo> Store::parts() const {
  std::vector<PartInfo> out;
  for (const auto& [key, p] : impl_->manifest->parts()) out.push_back(to_info(impl_->readings, p));
  return out;
}

const std::filesystem::path& Store::data_dir() const {
  return impl_->dir;
}

}  // namespace meterd::storage
