// Retention: month partitions older than their tenant keeps leave whole. One manifest record
// per partition takes every part of it out, so a reader sees all of a month or none of it; the
// files stay for superseded_grace (readers that listed them just before go on reading), as a
// compaction's inputs do, and recovery removes them should we crash first. An archive gets a
// hard link of each file, fsynced, before the manifest lets go of it.
#include <cerrno>
#include <chrono>
#include <map>
#include <system_error>

#include <unistd.h>

#include "storage/fs_util.hpp"
#include "storage/record_table_store.hpp"
#include "storage/store_impl.hpp"

namespace meterd::storage {
namespace {

constexpr std::string_view kReadings = "readings";

// Links `file` into `dir` (made durable); a link already there from an interrupted drop is
// kept.
void archive(const std::filesystem::path& file, const std::filesystem::path& dir) {
  fs::make_dirs(dir);
  const auto target = dir / file.filename();
  if (::link(file.c_str(), target.c_str()) != 0 && errno != EEXIST)
    throw std::system_error(errno, std::generic_category(),
                            "link " + file.string() + " into the archive " + dir.string());
  fs::fsync_dir(dir);
}

}  // namespace

std::vector<RetentionDrop> Store::retention_plan(const MonthsKept& kept, MonthKey now) const {
  // (table, partition) -> what it holds, for the partitions past their tenant's months.
  std::map<std::pair<std::string, std::string>, RetentionDrop> drops;
  auto consider = [&](std::string_view table, const PartInfo& part) {
    MonthKey month = 0;
    if (!month_of_partition(part.partition, month)) return;
    const std::string tenant = tenant_of_partition(part.partition);
    if (!tenant.empty() && !valid_tenant(tenant)) return;
    const std::uint32_t months = kept(tenant);
    if (months == 0 || month > now - static_cast<MonthKey>(months)) return;
    auto& d = drops[{std::string(table), part.partition}];
    d.table = table;
    d.partition = part.partition;
    ++d.parts;
    d.rows += part.rows;
    d.bytes += part.bytes;
  };
  for (const PartInfo& p : parts()) consider(kReadings, p);
  for (const auto& table : impl_->tables)
    for (const PartInfo& p : table->parts()) consider(table->spec().name, p);
  std::vector<RetentionDrop> out;
  for (auto& [key, d] : drops) out.push_back(std::move(d));
  return out;
}

RetentionDrop Store::drop_partition(const RetentionDrop& planned,
                                    const std::filesystem::path& archive_dir) {
  impl_->check_writable();
  RetentionDrop done{planned.table, planned.partition, 0, 0, 0};
  const auto now = std::chrono::steady_clock::now();
  if (planned.table == kReadings) {
    std::vector<std::string> keys;
    for (const ManifestPart* p : impl_->manifest->parts_of(planned.partition)) {
      if (!archive_dir.empty())
        archive(impl_->readings / p->key(), archive_dir / kReadings / planned.partition);
      keys.push_back(p->key());
      ++done.parts, done.rows += p->rows, done.bytes += p->bytes;
    }
    if (keys.empty()) return done;
    impl_->manifest->commit({}, keys);
    impl_->forget(keys);
    for (const auto& key : keys) impl_->superseded.push_back({impl_->readings / key, now});
    return done;
  }
  for (auto& table : impl_->tables) {
    if (table->spec().name != planned.table) continue;
    for (const PartInfo& p : table->parts()) {
      if (p.partition != planned.partition) continue;
      if (!archive_dir.empty()) archive(p.path, archive_dir / planned.table / planned.partition);
      ++done.parts, done.rows += p.rows, done.bytes += p.bytes;
    }
    table->drop_partition(planned.partition);
  }
  return done;
}

}  // namespace meterd::storage
