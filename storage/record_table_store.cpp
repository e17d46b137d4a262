#include "storage/record_table_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <system_error>

#include "storage/fs_util.hpp"
#include "storage/part_reader.hpp"
#include "storage/partition.hpp"

namespace meterd::storage {
namespace {

std::string part_file_name(std::uint64_t id) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "part-%012llu.parquet", static_cast<unsigned long long>(id));
  return buf;
}

PartInfo info_of(const std::filesystem::path& root, const ManifestPart& p) {
  PartInfo info;
  info.partition = p.partition;
  info.path = root / p.partition / p.file;
  info.rows = p.rows, info.bytes = p.bytes;
  info.min_start = p.min_start, info.max_start = p.max_start;
  info.id = p.id;
  return info;
}

struct Staged {
  ManifestPart part;
  std::filesystem::path tmp, final_path;
  bool renamed = false;
};

void unstage(std::vector<Staged>& staged) {
  std::error_code ec;
  for (auto& s : staged) std::filesystem::remove(s.renamed ? s.final_path : s.tmp, ec);
}

}  // namespace

RecordTableStore::RecordTableStore(const std::filesystem::path& data_dir, RecordTable table,
                                   const StoreOptions& options, RecoveryReport& report)
    : RecordTableStore(spec_of(table), data_dir / spec_of(table).name, options, report) {}

RecordTableStore::RecordTableStore(const RecordTableSpec& spec, const std::filesystem::path& root,
                                   const StoreOptions& options, RecoveryReport& report)
    : spec_(spec), root_(root), options_(options) {
  if (!options_.read_only) fs::make_dirs(root_);
  manifest_ = std::make_unique<Manifest>(root_, !options_.read_only);
  if (!options_.read_only) recover(report);
  next_id_ = manifest_->max_id() + 1;
}

RecordTableStore::~RecordTableStore() = default;

void RecordTableStore::recover(RecoveryReport& report) {
  const std::string table(spec_.name);
  if (manifest_->bad_records())
    report.messages.push_back(table + " manifest: dropped " +
                              std::to_string(manifest_->bad_records()) +
                              " torn or corrupt record(s)");
  const auto& parts = manifest_->parts();
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(root_ / "manifest", ec))
    if (fs::is_temporary_name(f.path().filename().string())) {
      std::filesystem::remove(f.path(), ec);
      ++report.temporaries_removed;
    }
  auto clean_partition = [&](const std::filesystem::path& pdir, const std::string& partition) {
    bool touched = false;
    for (const auto& f : std::filesystem::directory_iterator(pdir)) {
      const std::string name = f.path().filename().string();
      const bool temporary = fs::is_temporary_name(name);
      if (!temporary && !(name.ends_with(".parquet") && !parts.count(partition + "/" + name)))
        continue;
      std::filesystem::remove(f.path());
      ++(temporary ? report.temporaries_removed : report.orphans_removed), touched = true;
      report.messages.push_back(std::string(temporary ? "removed temporary " : "removed orphan ") +
                                f.path().string());
    }
    if (touched) fs::fsync_dir(pdir);
  };
  // Beside the partitions the table's root holds its manifest/: only partition dirs are cleaned.
  for (const auto& pdir : std::filesystem::directory_iterator(root_, ec)) {
    if (!pdir.is_directory()) continue;
    const std::string name = pdir.path().filename().string();
    if (name.starts_with("month=")) {
      clean_partition(pdir.path(), name);
    } else if (name.starts_with("tenant=")) {  // a tenant's month partitions, one level down
      for (const auto& mdir : std::filesystem::directory_iterator(pdir.path())) {
        const std::string month = mdir.path().filename().string();
        if (mdir.is_directory() && month.starts_with("month="))
          clean_partition(mdir.path(), name + "/" + month);
      }
    }
  }
  std::vector<std::string> bad;
  for (const auto& [key, p] : parts) {
    const auto path = root_ / p.partition / p.file;
    std::string problem;
    std::error_code sec;
    const auto size = std::filesystem::file_size(path, sec);
    if (sec)
      problem = "missing";
    else if (size != p.bytes)
      problem = "size " + std::to_string(size) + " != " + std::to_string(p.bytes);
    else if (options_.verify_parts_on_open && fs::file_crc32c(path) != p.crc32c)
      problem = "checksum mismatch";
    else {
      try {
        read_record_part(path, spec_.columns, p.bytes, p.footer_crc32c);
      } catch (const CorruptPart& e) {
        problem = e.what();
      }
    }
    if (problem.empty()) continue;
    bad.push_back(key);
    ++report.corrupt_parts;
    report.messages.push_back("corrupt part " + path.string() + ": " + problem);
    if (!sec) {
      const auto q = root_.parent_path() / "quarantine";
      fs::make_dirs(q);
      // One flat directory: a tenant's partition name holds a '/'.
      std::string flat = table + "_" + p.partition + "_" + p.file;
      std::replace(flat.begin(), flat.end(), '/', '_');
      std::filesystem::rename(path, q / flat);
      fs::fsync_dir(q);
      fs::fsync_dir(path.parent_path());
    }
  }
  if (!bad.empty()) manifest_->commit({}, bad);
  manifest_->checkpoint_if_large();
}

std::vector<PartInfo> RecordTableStore::write(std::vector<RecordRow> rows,
                                              std::string_view tenant) {
  if (options_.read_only) throw std::logic_error("Store opened read-only");
  require_tenant(tenant);
  std::map<MonthKey, std::vector<RecordRow>> months;
  for (RecordRow& row : rows) months[partition_month(spec_, row)].push_back(std::move(row));
  std::map<std::string, std::vector<RecordRow>> partitions;
  for (auto& [month, month_rows] : months)
    partitions.emplace(partition_name(tenant, month), std::move(month_rows));
  return commit(std::move(partitions), {});
}

std::vector<PartInfo> RecordTableStore::commit(
    std::map<std::string, std::vector<RecordRow>> partitions,
    const std::vector<std::string>& removed) {
  if (options_.read_only) throw std::logic_error("Store opened read-only");
  std::vector<Staged> staged;
  auto hook = [&](LifecycleStep step, const std::filesystem::path& path) {
    if (options_.fault_hook) options_.fault_hook(step, path);
  };
  try {
    for (auto& [partition, part_rows] : partitions) {
      keep_winners(spec_, part_rows);
      Staged s;
      s.part.partition = partition;
      s.part.id = next_id_++;
      s.part.file = part_file_name(s.part.id);
      const auto pdir = root_ / partition;
      fs::make_dirs(pdir);
      s.tmp = pdir / ("." + s.part.file + ".tmp");
      s.final_path = pdir / s.part.file;
      const int fd = fs::open_file(s.tmp, O_WRONLY | O_CREAT | O_EXCL);
      staged.push_back(s);
      try {
        const RecordPartSummary sum =
            write_record_part(fd, spec_.columns, spec_.sort_key, part_rows);
        staged.back().part.rows = sum.rows, staged.back().part.bytes = sum.bytes;
        staged.back().part.crc32c = sum.crc32c;
        staged.back().part.footer_crc32c = sum.footer_crc32c;
        const auto [lo, hi] = std::minmax_element(
            part_rows.begin(), part_rows.end(), [&](const RecordRow& a, const RecordRow& b) {
              return a[spec_.partition_column].i < b[spec_.partition_column].i;
            });
        staged.back().part.min_start = (*lo)[spec_.partition_column].i;
        staged.back().part.max_start = (*hi)[spec_.partition_column].i;
        hook(LifecycleStep::kTempWritten, s.tmp);
        fs::fsync_fd(fd, s.tmp);
        hook(LifecycleStep::kTempSynced, s.tmp);
      } catch (...) {
        ::close(fd);
        throw;
      }
      ::close(fd);
      if (::rename(s.tmp.c_str(), s.final_path.c_str()) != 0)
        throw std::system_error(errno, std::generic_category(), "rename " + s.tmp.string());
      staged.back().renamed = true;
      hook(LifecycleStep::kRenamed, s.final_path);
    }
    for (const auto& s : staged) fs::fsync_dir(s.final_path.parent_path());
    for (const auto& s : staged) hook(LifecycleStep::kDirSynced, s.final_path);
    std::vector<ManifestPart> added;
    for (const auto& s : staged) added.push_back(s.part);
    manifest_->commit(added, removed);
  } catch (const std::system_error&) {
    unstage(staged);  // a real I/O error: leave nothing behind
    throw;
  }
  std::vector<PartInfo> out;
  for (const auto& s : staged) {
    hook(LifecycleStep::kRecorded, s.final_path);
    out.push_back(info_of(root_, s.part));
  }
  return out;
}

std::vector<RecordRow> RecordTableStore::read_partition(
    const std::string& partition, const std::vector<const ManifestPart*>& parts) const {
  std::vector<RecordRow> rows;
  for (const ManifestPart* p : parts) {
    std::vector<RecordRow> part =
        read_record_part(root_ / partition / p->file, spec_.columns, p->bytes, p->footer_crc32c);
    std::move(part.begin(), part.end(), std::back_inserter(rows));
  }
  keep_winners(spec_, rows);
  return rows;
}

void RecordTableStore::query(const QueryFilter& filter,
                             const std::function<void(const std::vector<RecordRow>&)>& fn) const {
  // Not a name any tenant could have written under (and "\x01" must not find stray dirs).
  if (!filter.tenant.empty() && !valid_tenant(filter.tenant)) return;
  std::map<std::string, std::vector<const ManifestPart*>> partitions;
  for (const auto& [key, p] : manifest_->parts()) {
    if (tenant_view_of_partition(p.partition) != filter.tenant) continue;  // never across tenants
    if (filter.from && p.max_start < *filter.from) continue;
    if (filter.to && p.min_start >= *filter.to) continue;
    partitions[p.partition].push_back(&p);
  }
  for (const auto& [partition, parts] : partitions) {
    std::vector<RecordRow> rows = read_partition(partition, parts);
    std::erase_if(rows, [&](const RecordRow& row) {
      const std::int64_t t = row[spec_.partition_column].i;
      return (filter.nmi && row[0].s != *filter.nmi) ||
             (filter.suffix && row[1].s != *filter.suffix) || (filter.from && t < *filter.from) ||
             (filter.to && t >= *filter.to);
    });
    if (!rows.empty()) fn(rows);
  }
}

CompactionStep RecordTableStore::merge(const std::string& partition, bool defer_removal) {
  const std::vector<const ManifestPart*> parts = manifest_->parts_of(partition);
  CompactionStep step;
  step.partition = std::string(spec_.name) + "/" + partition;
  step.parts_in = parts.size();
  for (const ManifestPart* p : parts) step.rows_in += p->rows;
  std::vector<std::string> removed;
  std::vector<std::filesystem::path> files;
  for (const ManifestPart* p : parts) {
    removed.push_back(p->key());
    files.push_back(root_ / partition / p->file);
  }
  std::map<std::string, std::vector<RecordRow>> merged;
  step.rows_out = (merged[partition] = read_partition(partition, parts)).size();
  // Back into the same partition (so the same tenant), with its inputs' removal: one record.
  commit(std::move(merged), removed);
  const auto now = std::chrono::steady_clock::now();
  std::error_code ec;
  for (const auto& f : files) {
    // A reader in another process may have listed the inputs just before the swap.
    if (defer_removal)
      superseded_.push_back({f, now});
    else
      std::filesystem::remove(f, ec);
  }
  if (!defer_removal) fs::fsync_dir(root_ / partition);
  step.parts_left = manifest_->parts_of(partition).size();
  return step;
}

void RecordTableStore::remove_expired_superseded() {
  const auto now = std::chrono::steady_clock::now();
  std::error_code ec;
  std::erase_if(superseded_, [&](const Superseded& s) {
    if (now - s.at < options_.superseded_grace) return false;
    std::filesystem::remove(s.path, ec);
    return true;
  });
}

std::uint64_t RecordTableStore::compact(std::size_t min_parts) {
  std::map<std::string, std::size_t> counts;
  for (const auto& [key, p] : manifest_->parts()) ++counts[p.partition];
  std::uint64_t merged = 0;
  for (const auto& [partition, n] : counts)
    if (n >= std::max<std::size_t>(min_parts, 2)) merge(partition, false), ++merged;
  return merged;
}

std::optional<CompactionStep> RecordTableStore::compact_step(std::size_t min_parts) {
  remove_expired_superseded();
  std::map<std::string, std::size_t> counts;
  for (const auto& [key, p] : manifest_->parts()) ++counts[p.partition];
  auto most = std::max_element(counts.begin(), counts.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  if (most == counts.end() || most->second < std::max<std::size_t>(min_parts, 2))
    return std::nullopt;
  return merge(most->first, true);
}

std::vector<PartInfo> RecordTableStore::parts() const {
  std::vector<PartInfo> out;
  for (const auto& [key, p] : manifest_->parts()) out.push_back(info_of(root_, p));
  return out;
}

std::vector<PartInfo> RecordTableStore::replace_partition(const std::string& partition,
                                                          std::vector<RecordRow> rows) {
  if (rows.empty()) {
    drop_partition(partition);
    return {};
  }
  std::vector<std::string> removed;
  for (const ManifestPart* p : manifest_->parts_of(partition)) removed.push_back(p->key());
  std::map<std::string, std::vector<RecordRow>> staged;
  staged.emplace(partition, std::move(rows));
  auto out = commit(std::move(staged), removed);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& key : removed) superseded_.push_back({root_ / key, now});
  remove_expired_superseded();
  return out;
}

std::vector<std::string> RecordTableStore::drop_partition(const std::string& partition) {
  std::vector<std::string> keys;
  for (const ManifestPart* p : manifest_->parts_of(partition)) keys.push_back(p->key());
  if (keys.empty()) return keys;
  manifest_->commit({}, keys);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& key : keys) superseded_.push_back({root_ / key, now});
  return keys;
}

}  // namespace meterd::storage
