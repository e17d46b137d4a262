#include "storage/ledger.hpp"

#include <sstream>
#include <stdexcept>

#include "storage/fs_util.hpp"

namespace meterd::storage {
namespace {
// Names may hold spaces or newlines: escape '%', '\n', '\r' so a record stays one line.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%')
      out += "%25";
    else if (c == '\n')
      out += "%0A";
    else if (c == '\r')
      out += "%0D";
    else
      out += c;
  }
  return out;
}
std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
std::string fingerprint_key(std::uint64_t size, const std::string& head_sha256) {
  return std::to_string(size) + " " + head_sha256;
}

}  // namespace

Ledger::Ledger(const std::filesystem::path& data_dir, bool writable)
    : dir_(data_dir / "ledger"), writable_(writable) {
  if (writable) fs::make_dirs(dir_);
  log_ = std::make_unique<RecordLog>(dir_ / "LEDGER", writable);
  for (const auto& r : log_->records()) {
    std::istringstream in(r);
    std::string hash;
    LedgerEntry e;
    if (r.starts_with("2 ")) {
      std::uint64_t size = 0;
      std::string head;
      in.ignore(2);
      in >> hash >> e.file_sequence >> size >> head;
      fingerprints_.insert(fingerprint_key(size, head));
    } else {
      in >> hash >> e.file_sequence;
      ++without_fingerprint_;
    }
    in.get();
    std::getline(in, e.name);
    e.name = unescape(e.name);
    next_ = std::max(next_, e.file_sequence + 1);
    entries_[hash] = std::move(e);
  }
  log_->release_loaded();
  const std::string hw = fs::read_all(dir_ / "SEQUENCE");
  if (!hw.empty()) next_ = std::max<std::uint64_t>(next_, std::stoull(hw));
  reserved_ = next_;
}

std::uint64_t Ledger::next_file_sequence() {
  if (!writable_) throw std::logic_error("ledger is read-only");
  if (next_ >= reserved_) {
    reserved_ = next_ + kBlock;
    fs::atomic_replace(dir_ / "SEQUENCE", std::to_string(reserved_) + "\n");
  }
  return next_++;
}

const LedgerEntry* Ledger::find(const std::string& content_hash) const {
  auto it = entries_.find(content_hash);
  return it == entries_.end() ? nullptr : &it->second;
}

bool Ledger::might_contain(const InputFingerprint& fingerprint) const {
  return without_fingerprint_ > 0 ||
         fingerprints_.count(fingerprint_key(fingerprint.size, fingerprint.head_sha256)) > 0;
}

void Ledger::record(const std::string& content_hash, const std::string& name,
                    std::uint64_t sequence, const std::optional<InputFingerprint>& fingerprint) {
  auto bad = [](const std::string& token) {
    return token.empty() || token.find_first_of(" \n\r") != std::string::npos;
  };
  if (bad(content_hash)) throw std::invalid_argument("ledger: bad content hash");
  if (fingerprint && bad(fingerprint->head_sha256))
    throw std::invalid_argument("ledger: bad fingerprint");
  std::string record = fingerprint ? "2 " : "";
  record += content_hash + " " + std::to_string(sequence) + " ";
  if (fingerprint)
    record += std::to_string(fingerprint->size) + " " + fingerprint->head_sha256 + " ";
  record += escape(name);
  log_->append(record);
  if (fingerprint)
    fingerprints_.insert(fingerprint_key(fingerprint->size, fingerprint->head_sha256));
  else
    ++without_fingerprint_;
  entries_[content_hash] = LedgerEntry{name, sequence};
}

}  // namespace meterd::storage
