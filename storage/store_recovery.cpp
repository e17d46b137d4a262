// Crash recovery when a Store opens writable: removes leftovers of interrupted writes
// (temporaries, parts renamed but never recorded) and quarantines recorded parts that are
// missing, truncated or corrupt, so that readers only ever see whole, recorded parts. A
// tenant's partitions sit one level down (readings/tenant=NAME/month=YYYY-MM).
#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

#include "storage/fs_util.hpp"
#include "storage/store_impl.hpp"

namespace meterd::storage {

void Store::Impl::recover() {
  if (manifest->bad_records())
    report.messages.push_back("manifest: dropped " + std::to_string(manifest->bad_records()) +
                              " torn or corrupt record(s)");
  const auto& parts = manifest->parts();
  std::error_code ec;
  // Leftovers of an interrupted atomic replace (manifest checkpoint, sequence mark).
  for (const char* sub : {"manifest", "ledger"})
    for (const auto& f : std::filesystem::directory_iterator(dir / sub, ec))
      if (fs::is_temporary_name(f.path().filename().string())) {
        std::filesystem::remove(f.path(), ec);
        ++report.temporaries_removed;
      }
  auto clean_partition = [&](const std::filesystem::path& pdir, const std::string& partition) {
    bool touched = false;
    for (const auto& f : std::filesystem::directory_iterator(pdir)) {
      const std::string name = f.path().filename().string();
      if (fs::is_temporary_name(name)) {
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
    if (touched) fs::fsync_dir(pdir);
  };
  for (const auto& pdir : std::filesystem::directory_iterator(readings, ec)) {
    if (!pdir.is_directory()) continue;
    const std::string name = pdir.path().filename().string();
    if (!name.starts_with("tenant=")) {
      clean_partition(pdir.path(), name);
      continue;
    }
    // A tenant's directory holds its month partitions, not parts.
    for (const auto& mdir : std::filesystem::directory_iterator(pdir.path()))
      if (mdir.is_directory())
        clean_partition(mdir.path(), name + "/" + mdir.path().filename().string());
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
    else if (opt.verify_parts_on_open && fs::file_crc32c(path) != p.crc32c)
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
      // One flat directory: a tenant's partition name holds a '/'.
      std::string flat = p.partition + "_" + p.file;
      std::replace(flat.begin(), flat.end(), '/', '_');
      std::filesystem::rename(path, q / flat);
      fs::fsync_dir(q);
      fs::fsync_dir(path.parent_path());
    }
  }
  if (!bad.empty()) manifest->commit({}, bad);
  manifest->checkpoint_if_large();
}

}  // namespace meterd::storage
