#include "storage/audit_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <system_error>

#include "protocol/reading_format.hpp"
#include "protocol/sha256.hpp"
#include "storage/fs_util.hpp"

namespace meterd::storage {
namespace {

constexpr std::size_t kHashHex = 64;
constexpr std::size_t kMaxRecordBytes = 1u << 20;
constexpr std::string_view kSeqPrefix = "{\"seq\":";
constexpr std::string_view kPrevKey = ",\"prev\":\"";
const std::string kNoHash(kHashHex, '0');

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

std::string utc_now() {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  const std::time_t s = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us % 1000000));
  return buf;
}

// A line of AUDIT split into its hash, payload, seq and prev; false if it is not one.
struct ParsedRecord {
  std::string_view hash, payload, prev;
  std::uint64_t seq = 0;
};

bool parse_record(std::string_view line, ParsedRecord& r) {
  if (line.size() < kHashHex + 1 || line[kHashHex] != ' ') return false;
  r.hash = line.substr(0, kHashHex);
  r.payload = line.substr(kHashHex + 1);
  std::string_view p = r.payload;
  if (p.substr(0, kSeqPrefix.size()) != kSeqPrefix) return false;
  p.remove_prefix(kSeqPrefix.size());
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), r.seq);
  if (ec != std::errc()) return false;
  p.remove_prefix(static_cast<std::size_t>(end - p.data()));
  if (p.substr(0, kPrevKey.size()) != kPrevKey) return false;
  p.remove_prefix(kPrevKey.size());
  if (p.size() < kHashHex + 1 || p[kHashHex] != '"') return false;
  r.prev = p.substr(0, kHashHex);
  return true;
}

// Calls fn(line, line number, complete) for each line of `path`, a MiB at a time; a line over
// kMaxRecordBytes is passed cut short (and fails its hash).
void scan_lines(const std::filesystem::path& path,
                const std::function<void(std::string_view, std::uint64_t, bool)>& fn) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    throw std::system_error(errno, std::generic_category(), "open " + path.string());
  }
  std::string chunk(1u << 20, '\0'), carry;
  std::uint64_t line_no = 0;
  bool skipping = false;  // the rest of an over-long line
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "read " + path.string());
    }
    if (n == 0) break;
    std::string_view in(chunk.data(), static_cast<std::size_t>(n));
    while (!in.empty()) {
      const auto nl = in.find('\n');
      const auto piece = in.substr(0, nl);
      if (!skipping)
        carry.append(piece.substr(0, kMaxRecordBytes - std::min(carry.size(), kMaxRecordBytes)));
      if (nl == std::string_view::npos) {
        if (carry.size() >= kMaxRecordBytes && !skipping) {
          fn(carry, ++line_no, true);
          carry.clear();
          skipping = true;
        }
        break;
      }
      if (!skipping) fn(carry, ++line_no, true);
      carry.clear();
      skipping = false;
      in.remove_prefix(nl + 1);
    }
  }
  ::close(fd);
  if (!carry.empty() && !skipping) fn(carry, ++line_no, false);
}

bool read_head(const std::filesystem::path& path, std::uint64_t& seq, std::string& hash) {
  const std::string text = fs::read_all(path);
  const auto space = text.find(' ');
  if (space == std::string::npos) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + space, seq);
  if (ec != std::errc() || end != text.data() + space) return false;
  hash = text.substr(space + 1, kHashHex);
  return hash.size() == kHashHex && text.size() == space + 1 + kHashHex + 1;
}

}  // namespace

AuditLog::AuditLog(const std::filesystem::path& data_dir)
    : path_(data_dir / "AUDIT"), head_path_(data_dir / "AUDIT.head"), last_hash_(kNoHash) {
  fs::make_dirs(data_dir);
  // The chain goes on from the last good record (a bad one further up stays for verify to name;
  // startup reads the whole log, a MiB at a time). A last line without its newline is a crash
  // mid-append: cut off.
  std::uint64_t torn = 0;
  scan_lines(path_, [&](std::string_view line, std::uint64_t, bool complete) {
    ParsedRecord r;
    if (!complete) {
      torn = line.size();
      return;
    }
    if (!parse_record(line, r) || sha256_hex(r.payload) != r.hash) return;
    seq_ = r.seq;
    last_hash_ = std::string(r.hash);
  });
  fd_ = fs::open_file(path_, O_RDWR | O_CREAT | O_APPEND);
  if (torn > 0) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0 ||
        ::ftruncate(fd_, static_cast<off_t>(static_cast<std::uint64_t>(st.st_size) - torn)) != 0)
      throw std::system_error(errno, std::generic_category(), "truncate " + path_.string());
    fs::fsync_fd(fd_, path_);
    torn_bytes_cut_ = torn;
  }
  head_fd_ = fs::open_file(head_path_, O_RDWR | O_CREAT);
  std::uint64_t head_seq = 0;
  std::string head_hash;
  const bool had_head = read_head(head_path_, head_seq, head_hash);
  fs::fsync_dir(data_dir);
  const std::uint64_t log_seq = seq_;
  if (torn_bytes_cut_ > 0)
    append("audit_torn_tail_cut", "", "", "\"bytes\":" + std::to_string(torn_bytes_cut_));
  if (had_head && head_seq > log_seq)
    append("audit_records_missing", "", "",
           "\"head_seq\":" + std::to_string(head_seq) + ",\"log_seq\":" + std::to_string(log_seq));
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
  if (head_fd_ >= 0) ::close(head_fd_);
}

std::uint64_t AuditLog::last_seq() const {
  std::lock_guard lock(mutex_);
  return seq_;
}

std::uint64_t AuditLog::append(std::string_view kind, std::string_view tenant,
                               std::string_view token, std::string_view fields) {
  std::lock_guard lock(mutex_);
  const std::uint64_t seq = seq_ + 1;
  std::string payload(kSeqPrefix);
  payload += std::to_string(seq);
  payload += kPrevKey;
  payload += last_hash_;
  payload += "\",\"time\":\"" + utc_now() + "\",\"kind\":";
  append_json_string(payload, kind);
  payload += ",\"tenant\":";
  append_json_string(payload, tenant);
  payload += ",\"token\":";
  append_json_string(payload, token);
  if (!fields.empty()) payload.append(",").append(fields);
  payload += '}';
  std::string hash = sha256_hex(payload);
  std::string line = hash + " " + payload + "\n";
  fs::write_all(fd_, line, path_);
  if (::fdatasync(fd_) != 0)
    throw std::system_error(errno, std::generic_category(), "fdatasync " + path_.string());
  seq_ = seq;
  last_hash_ = std::move(hash);
  write_head();
  return seq;
}

void AuditLog::write_head() {
  const std::string head = std::to_string(seq_) + " " + last_hash_ + "\n";
  if (::pwrite(head_fd_, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size()))
    throw std::system_error(errno, std::generic_category(), "write " + head_path_.string());
  if (::ftruncate(head_fd_, static_cast<off_t>(head.size())) != 0 || ::fdatasync(head_fd_) != 0)
    throw std::system_error(errno, std::generic_category(), "sync " + head_path_.string());
}

AuditCheck verify_audit(const std::filesystem::path& data_dir) {
  AuditCheck check;
  check.last_hash = kNoHash;
  std::uint64_t expected = 1;
  scan_lines(data_dir / "AUDIT", [&](std::string_view line, std::uint64_t line_no, bool complete) {
    ParsedRecord r;
    if (!complete) {
      check.torn_tail = true;  // the daemon cuts it off when it next opens the log
      return;
    }
    if (!parse_record(line, r)) {
      check.problems.push_back({line_no, 0, "not an audit record"});
      return;
    }
    ++check.records;
    if (sha256_hex(r.payload) != r.hash)
      check.problems.push_back({line_no, r.seq, "altered: its hash does not match its content"});
    if (r.seq != expected)
      check.problems.push_back({line_no, r.seq,
                                r.seq > expected
                                    ? "records " + std::to_string(expected) + ".." +
                                          std::to_string(r.seq - 1) + " missing"
                                    : "inserted or repeated: seq " + std::to_string(r.seq) +
                                          " after " + std::to_string(expected - 1)});
    else if (r.prev != check.last_hash)
      check.problems.push_back(
          {line_no, r.seq, "chain broken: prev is not the hash of the record before"});
    expected = r.seq + 1;
    check.last_seq = r.seq;
    check.last_hash = std::string(r.hash);
  });
  std::uint64_t head_seq = 0;
  std::string head_hash;
  const auto head = data_dir / "AUDIT.head";
  if (std::filesystem::exists(head)) {
    if (!read_head(head, head_seq, head_hash))
      check.problems.push_back({0, 0, "AUDIT.head is not '<seq> <hash>'"});
    else if (head_seq > check.last_seq)
      check.problems.push_back({0, head_seq,
                                "log ends at seq " + std::to_string(check.last_seq) +
                                    " but AUDIT.head says " + std::to_string(head_seq) +
                                    ": the tail was cut"});
    else if (head_seq == check.last_seq && head_hash != check.last_hash)
      check.problems.push_back({0, head_seq, "AUDIT.head's hash is not the last record's"});
    // head_seq one below the log's: a crash between the append and the head write.
    else if (head_seq + 1 < check.last_seq)
      check.problems.push_back({0, head_seq, "AUDIT.head is behind the log by more than a record"});
  } else if (check.records > 0) {
    check.problems.push_back({0, 0, "AUDIT.head is missing"});
  }
  return check;
}

namespace {

// The JSON string token at the start of `s` ("..." with escapes), or empty if there is none.
std::string_view json_string_token(std::string_view s) {
  if (s.empty() || s[0] != '"') return {};
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\')
      ++i;
    else if (s[i] == '"')
      return s.substr(0, i + 1);
  }
  return {};
}

// After `"prev":"<hash>"`: ,"time":"...","kind":"...","tenant":"...", as append() writes them.
bool common_fields(std::string_view rest, AuditRecord& r) {
  constexpr std::string_view kTime = ",\"time\":", kKind = ",\"kind\":", kTenant = ",\"tenant\":";
  auto field = [&](std::string_view key, std::string_view& token) {
    if (rest.substr(0, key.size()) != key) return false;
    rest.remove_prefix(key.size());
    token = json_string_token(rest);
    rest.remove_prefix(token.size());
    return !token.empty();
  };
  std::string_view time;
  if (!field(kTime, time) || !field(kKind, r.kind_json) || !field(kTenant, r.tenant_json))
    return false;
  r.time = time.substr(1, time.size() - 2);
  return true;
}

}  // namespace

void for_each_audit_record(const std::filesystem::path& data_dir,
                           const std::function<void(const AuditRecord&)>& fn) {
  scan_lines(data_dir / "AUDIT", [&](std::string_view line, std::uint64_t, bool complete) {
    ParsedRecord p;
    if (!complete || !parse_record(line, p)) return;
    AuditRecord r;
    r.seq = p.seq;
    r.payload = p.payload;
    const auto after_prev =
        static_cast<std::size_t>(p.prev.data() - p.payload.data()) + kHashHex + 1;
    if (!common_fields(p.payload.substr(after_prev), r)) return;
    fn(r);
  });
}

}  // namespace meterd::storage
