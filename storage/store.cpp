// Store: the part lifecycle over Manifest, Ledger, PartWriter and merge_parts. This file:
// opening a data directory, writing parts, queries and the public facade; crash recovery is in
// store_recovery.cpp, compaction in store_compaction.cpp (Store::Impl: store_impl.hpp).
// Partitions are a tenant's NEM-time months of interval_start (partition.hpp).
#include "storage/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <system_error>

#include "storage/fs_util.hpp"
#include "storage/partition.hpp"
#include "storage/store_impl.hpp"

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

}  // namespace

PartInfo to_info(const std::filesystem::path& readings, const ManifestPart& p) {
  PartInfo info;
  info.partition = p.partition;
  info.path = readings / p.partition / p.file;
  info.rows = p.rows, info.bytes = p.bytes;
  info.min_start = p.min_start, info.max_start = p.max_start;
  info.id = p.id;
  return info;
}

Store::Impl::Impl(std::filesystem::path d, StoreOptions o)
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
  for (RecordTable table : kRecordTables)
    tables.push_back(std::make_unique<RecordTableStore>(dir, table, opt, report));
  next_id = manifest->max_id() + 1;
}
Store::Impl::~Impl() {
  if (lock_fd >= 0) ::close(lock_fd);
}

void Store::Impl::check_writable() const {
  if (opt.read_only) throw std::logic_error("Store opened read-only");
}

// --- writing -----------------------------------------------------------------------------

Store::Impl::Staged Store::Impl::stage_part(const std::string& partition,
                                            const std::function<void(PartWriter&)>& feed) {
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

void Store::Impl::publish(std::vector<Staged>& staged, const std::vector<std::string>& removed) {
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

void Store::Impl::unstage(std::vector<Staged>& staged) {
  std::error_code ec;
  for (auto& s : staged) std::filesystem::remove(s.renamed ? s.final_path : s.tmp, ec);
}

std::vector<PartInfo> Store::Impl::write_sorted(const StringTable& strings, const double* values,
                                                std::span<const SortedPartition> partitions) {
  std::vector<Staged> staged;
  const std::int64_t ingest = now_micros();
  try {
    for (const SortedPartition& p : partitions) {
      staged.push_back(stage_part(partition_name(p.tenant, p.month), [&](PartWriter& w) {
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

PartInfo Store::Impl::write(const PartitionBatch& partition) {
  check_writable();
  require_tenant(partition.tenant);
  const RowOrderCheck found = check_row_order(partition);
  if (found.rows == 0)
    return PartInfo{partition_name(partition.tenant, partition.month), {}, 0, 0, 0, 0};
  // A hand-made batch may hold versions of a key without saying so: the manifest flag must
  // still tell compaction that this lone part needs merging.
  const SortedPartition sorted{partition.tenant, partition.month, partition.batch.runs,
                               partition.may_have_duplicates || found.shared_key};
  return write_sorted(partition.batch.strings, partition.batch.values.data(), {&sorted, 1}).front();
}

std::vector<PartInfo> Store::Impl::write(const ReadingBatch& batch) {
  check_writable();
  if (batch.empty()) return {};
  const std::vector<MonthRuns> months = sort_into_partitions(batch);
  std::vector<SortedPartition> sorted;
  for (const MonthRuns& m : months) sorted.push_back({{}, m.month, m.runs, m.may_have_duplicates});
  return write_sorted(batch.strings, batch.values.data(), sorted);
}

// --- reading -----------------------------------------------------------------------------

std::vector<const ManifestPart*> Store::Impl::select(const QueryFilter& f) const {
  std::vector<const ManifestPart*> out;
  // Not a name any tenant could have written under (and "\x01" must not find stray dirs).
  if (!f.tenant.empty() && !valid_tenant(f.tenant)) return out;
  for (const auto& [key, p] : manifest->parts()) {
    if (tenant_view_of_partition(p.partition) != f.tenant) continue;  // never across tenants
    if (f.from && p.max_start < *f.from) continue;                    // partition/part pruning
    if (f.to && p.min_start >= *f.to) continue;
    out.push_back(&p);
  }
  return out;
}

std::vector<std::shared_ptr<const PartReader>> Store::Impl::open_parts(
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

void Store::Impl::forget(const std::vector<std::string>& keys) {
  std::lock_guard lock(cache_mutex);
  for (const auto& k : keys) {
    footer_cache.erase(k);
    legacy_sources.erase(k);
  }
}

void Store::Impl::query(const QueryFilter& f, const MergeSink& sink) const {
  const auto readers = open_parts(select(f));
  std::vector<const PartReader*> ptrs;
  for (const auto& r : readers) ptrs.push_back(r.get());
  merge_parts(ptrs, f, sink, merge_options());
}

// --- facade --------------------------------------------------------------------------------

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
bool Store::ledger_might_contain(const InputFingerprint& fingerprint) const {
  return impl_->ledger->might_contain(fingerprint);
}
void Store::ledger_record(const std::string& content_hash, const std::string& name,
                          std::uint64_t file_sequence,
                          const std::optional<InputFingerprint>& fingerprint) {
  impl_->ledger->record(content_hash, name, file_sequence, fingerprint);
}

void Store::write_records(const FileRecords& records) {
  impl_->check_writable();
  require_tenant(records.tenant);
  std::vector<RecordRow> reads, events;
  for (const auto& r : records.register_reads) reads.push_back(to_row(r, records.file_sequence));
  for (const auto& e : records.b2b_events) events.push_back(to_row(e, records.file_sequence));
  if (!reads.empty()) impl_->tables[0]->write(std::move(reads), records.tenant);
  if (!events.empty()) impl_->tables[1]->write(std::move(events), records.tenant);
}

void Store::query_register_reads(
    const QueryFilter& filter,
    const std::function<void(const std::vector<RegisterReadPeriod>&)>& fn) const {
  std::vector<RegisterReadPeriod> out;
  impl_->tables[0]->query(filter, [&](const std::vector<RecordRow>& rows) {
    out.clear();
    for (const RecordRow& row : rows) out.push_back(register_read_of(row));
    fn(out);
  });
}

void Store::query_b2b_events(const QueryFilter& filter,
                             const std::function<void(const std::vector<B2BEvent>&)>& fn) const {
  std::vector<B2BEvent> out;
  impl_->tables[1]->query(filter, [&](const std::vector<RecordRow>& rows) {
    out.clear();
    for (const RecordRow& row : rows) out.push_back(b2b_event_of(row));
    fn(out);
  });
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
  std::uint64_t compacted = impl_->compact();
  for (auto& table : impl_->tables) compacted += table->compact();
  return compacted;
}

std::optional<CompactionStep> Store::compact_step(std::size_t min_parts) {
  if (auto step = impl_->compact_step(min_parts)) return step;
  for (auto& table : impl_->tables)
    if (auto step = table->compact_step(min_parts)) return step;
  return std::nullopt;
}

std::vector<PartInfo> Store::parts() const {
  std::vector<PartInfo> out;
  for (const auto& [key, p] : impl_->manifest->parts()) out.push_back(to_info(impl_->readings, p));
  return out;
}

std::vector<PartInfo> Store::record_parts() const {
  std::vector<PartInfo> out;
  for (const auto& table : impl_->tables)
    for (PartInfo& info : table->parts()) out.push_back(std::move(info));
  return out;
}

const std::filesystem::path& Store::data_dir() const {
  return impl_->dir;
}

}  // namespace meterd::storage
