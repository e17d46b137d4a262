#include "storage/audit_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <system_error>

#include "protocol/iso_time.hpp"
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

// A line of AUDIT split into its hash, payload, seq and prev; false if it is not one.
struct ParsedRecord {
  std::string_view hash, payload, prev;
  std::string_view rest;  // of the payload, after prev
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
  r.rest = p.substr(kHashHex + 1);
  return true;
}

// One line of AUDIT as scan_lines gives it.
struct Line {
  std::string_view text;  // without its newline; cut at kMaxRecordBytes (it then fails its hash)
  std::uint64_t number = 0, offset = 0;  // 1-based; of its first byte in the file
  bool complete = true;                  // false: the last line, without its newline
};

// Calls fn for each line of `path`, reading a MiB at a time (nothing if it is missing).
void scan_lines(const std::filesystem::path& path, const std::function<void(const Line&)>& fn) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    throw std::system_error(errno, std::generic_category(), "open " + path.string());
  }
  std::string chunk(1u << 20, '\0'), carry;  // carry: a line begun in an earlier chunk
  Line line;
  std::uint64_t at = 0;  // file offset of chunk[0]
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
    for (std::size_t from = 0; from < in.size();) {
      const auto nl = in.find('\n', from);
      const auto piece = in.substr(from, nl == std::string_view::npos ? nl : nl - from);
      if (nl == std::string_view::npos || !carry.empty())
        carry.append(piece.substr(0, kMaxRecordBytes - std::min(carry.size(), kMaxRecordBytes)));
      if (nl == std::string_view::npos) break;
      line.text = carry.empty() ? piece : std::string_view(carry);
      ++line.number;
      fn(line);
      carry.clear();
      from = nl + 1;
      line.offset = at + from;
    }
    at += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  if (at > line.offset) {
    line.text = carry;
    ++line.number;
    line.complete = false;
    fn(line);
  }
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
  std::optional<std::uint64_t> torn_at;  // where an incomplete last line begins
  scan_lines(path_, [&](const Line& line) {
    ParsedRecord r;
    if (!line.complete) {
      torn_at = line.offset;
      return;
    }
    if (!parse_record(line.text, r) || Sha256::hex_of(r.payload) != r.hash) return;
    seq_ = r.seq;
    last_hash_ = std::string(r.hash);
  });
  fd_ = fs::open_file(path_, O_RDWR | O_CREAT | O_APPEND);
  if (torn_at) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || ::ftruncate(fd_, static_cast<off_t>(*torn_at)) != 0)
      throw std::system_error(errno, std::generic_category(), "truncate " + path_.string());
    fs::fsync_fd(fd_, path_);
    torn_bytes_cut_ = static_cast<std::uint64_t>(st.st_size) - *torn_at;
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
  payload += "\",\"time\":\"";
  append_utc_now(payload, 6);
  payload += "\",\"kind\":";
  append_json_string(payload, kind);
  payload += ",\"tenant\":";
  append_json_string(payload, tenant);
  payload += ",\"token\":";
  append_json_string(payload, token);
  if (!fields.empty()) payload.append(",").append(fields);
  payload += '}';
  std::string hash = Sha256::hex_of(payload);
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
  scan_lines(data_dir / "AUDIT", [&](const Line& line) {
    const std::uint64_t line_no = line.number;
    ParsedRecord r;
    if (!line.complete) {
      check.torn_tail = true;  // the daemon cuts it off when it next opens the log
      return;
    }
    if (!parse_record(line.text, r)) {
      check.problems.push_back({line_no, 0, "not an audit record"});
      return;
    }
    ++check.records;
    if (Sha256::hex_of(r.payload) != r.hash)
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
  scan_lines(data_dir / "AUDIT", [&](const Line& line) {
    ParsedRecord p;
    if (!line.complete || !parse_record(line.text, p)) return;
    AuditRecord r;
    r.seq = p.seq;
    r.payload = p.payload;
    if (common_fields(p.rest, r)) fn(r);
  });
}

}  // namespace meterd::storage
