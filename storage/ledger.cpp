#include "storage/ledger.hpp"

#include <sstream>
#include <stdexcept>

#include "protocol/sha256.hpp"
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
// One record: "2 <sha256> <sequence> <size> <head sha256> <name>" or "<sha256> <sequence> <name>".
struct ParsedRecord {
  std::string hash, head;
  LedgerEntry entry;
  std::uint64_t size = 0;
  bool fingerprint = false;
};
ParsedRecord parse(const std::string& r) {
  ParsedRecord p;
  std::istringstream in(r);
  if (r.starts_with("2 ")) {
    in.ignore(2);
    in >> p.hash >> p.entry.file_sequence >> p.size >> p.head;
    p.fingerprint = true;
  } else {
    in >> p.hash >> p.entry.file_sequence;
  }
  in.get();
  std::getline(in, p.entry.name);
  p.entry.name = unescape(p.entry.name);
  return p;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

Ledger::Key Ledger::key_of(const std::string& content_hash) {
  Key key{};
  auto from_hex = [&key](const std::string& hex) {
    if (hex.size() != 2 * key.size()) return false;
    for (std::size_t i = 0; i < key.size(); ++i) {
      const int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) return false;
      key[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return true;
  };
  if (from_hex(content_hash)) return key;
  Sha256 hash;
  hash.update(content_hash);
  from_hex(hash.hex_digest());
  return key;
}

std::uint64_t Ledger::fingerprint_of(std::uint64_t size, const std::string& head_sha256) {
  const Key head = key_of(head_sha256);
  std::uint64_t h;
  std::memcpy(&h, head.data(), sizeof h);
  return h ^ (size * 0x9e3779b97f4a7c15ull);
}

Ledger::Ledger(const std::filesystem::path& data_dir, bool writable)
    : dir_(data_dir / "ledger"), writable_(writable) {
  if (writable) fs::make_dirs(dir_);
  log_ = std::make_unique<RecordLog>(dir_ / "LEDGER", writable);
  entries_.reserve(log_->records().size());
  for (const auto& r : log_->records()) {
    const ParsedRecord p = parse(r);
    if (p.fingerprint)
      fingerprints_.insert(fingerprint_of(p.size, p.head));
    else
      ++without_fingerprint_;
    next_ = std::max(next_, p.entry.file_sequence + 1);
    entries_.insert(key_of(p.hash));
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

void Ledger::for_each_record(
    const std::function<void(const std::string&, const LedgerEntry&)>& fn) const {
  // Appends are fdatasynced lines: a second, read-only view of the file sees every record.
  const RecordLog log(dir_ / "LEDGER", /*writable=*/false);
  for (const auto& r : log.records()) {
    const ParsedRecord p = parse(r);
    fn(p.hash, p.entry);
  }
}

std::optional<LedgerEntry> Ledger::find(const std::string& content_hash) const {
  if (!contains(content_hash)) return std::nullopt;
  std::optional<LedgerEntry> found;
  const Key key = key_of(content_hash);
  for_each_record([&](const std::string& hash, const LedgerEntry& entry) {
    if (key_of(hash) == key) found = entry;  // the last record of a hash wins, as on load
  });
  return found;
}

bool Ledger::might_contain(const InputFingerprint& fingerprint) const {
  return without_fingerprint_ > 0 ||
         fingerprints_.count(fingerprint_of(fingerprint.size, fingerprint.head_sha256)) > 0;
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
    fingerprints_.insert(fingerprint_of(fingerprint->size, fingerprint->head_sha256));
  else
    ++without_fingerprint_;
  entries_.insert(key_of(content_hash));
}

}  // namespace meterd::storage
