#include "storage/manifest.hpp"

#include <sstream>

#include "storage/fs_util.hpp"

namespace meterd::storage {

Manifest::Manifest(const std::filesystem::path& data_dir, bool writable) {
  const auto dir = data_dir / "manifest";
  if (writable) fs::make_dirs(dir);
  log_ = std::make_unique<RecordLog>(dir / "MANIFEST", writable);
  for (const auto& r : log_->records()) apply(r);
  log_->release_loaded();
}

std::string Manifest::encode_add(const ManifestPart& p) {
  std::ostringstream o;
  o << "+ " << p.partition << ' ' << p.file << ' ' << p.id << ' ' << p.rows << ' ' << p.bytes << ' '
    << p.min_start << ' ' << p.max_start << ' ' << p.crc32c << ' ' << p.footer_crc32c;
  if (p.may_have_duplicates) o << " dup";
  return o.str();
}

void Manifest::apply(const std::string& record) {
  std::size_t pos = 0;
  while (pos <= record.size()) {
    std::size_t end = record.find(" ; ", pos);
    if (end == std::string::npos) end = record.size();
    std::istringstream in(record.substr(pos, end - pos));
    std::string op;
    in >> op;
    ManifestPart p;
    in >> p.partition >> p.file;
    if (op == "+") {
      in >> p.id >> p.rows >> p.bytes >> p.min_start >> p.max_start >> p.crc32c >> p.footer_crc32c;
      std::string flag;
      if (in) {
        if (in >> flag) p.may_have_duplicates = flag == "dup";
        in.clear();
      }
      if (in) {
        max_id_ = std::max(max_id_, p.id);
        parts_[p.key()] = p;
      }
    } else if (op == "-") {
      parts_.erase(p.key());
    }
    pos = end + 3;
  }
}

void Manifest::commit(const std::vector<ManifestPart>& added,
                      const std::vector<std::string>& removed) {
  std::string record;
  for (const auto& p : added) {
    if (!record.empty()) record += " ; ";
    record += encode_add(p);
  }
  for (const auto& key : removed) {
    if (!record.empty()) record += " ; ";
    // The last '/': a tenant's partition holds one itself ("tenant=a/month=2005-03").
    const auto slash = key.rfind('/');
    record += "- " + key.substr(0, slash) + " " + key.substr(slash + 1);
  }
  if (record.empty()) return;
  log_->append(record);
  apply(record);
}

void Manifest::checkpoint_if_large() {
  if (log_->size() < 2 * parts_.size() + 64 && log_->bad_records() == 0) return;
  std::vector<std::string> records;
  for (const auto& [key, p] : parts_) records.push_back(encode_add(p));
  log_->rewrite(records);
  log_->release_loaded();
}

std::vector<const ManifestPart*> Manifest::parts_of(const std::string& partition) const {
  std::vector<const ManifestPart*> out;
  const std::string prefix = partition + "/";
  for (auto it = parts_.lower_bound(prefix); it != parts_.end() && it->first.starts_with(prefix);
       ++it)
    out.push_back(&it->second);
  return out;
}

}  // namespace meterd::storage
