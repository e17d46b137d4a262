// The audit trail: who did what, in an append-only, hash-chained log in the data directory.
//   AUDIT       "<sha256 of the payload, hex> <payload>\n"; the payload is a JSON object that
//               begins {"seq":N,"prev":"<hash of record N-1; 64 zeros for the first>",
//               "time":"<UTC, µs>","kind":...,"tenant":...,"token":...} and goes on with the
//               event's own fields. A record is durable once append() returns (write, fdatasync).
//   AUDIT.head  "<seq> <hash>\n" of the last record, rewritten in place after each append, so
//               that a log cut at a record boundary is told from one that ends there.
// A changed byte breaks its record's hash; an inserted or removed record breaks the chain of seq
// and prev; a torn last line (a crash mid-append) is cut off when the daemon opens the log and
// recorded as an event of its own. Anywhere else a bad line is tampering, and verify names it.
// The head file guards against truncation, not against someone who rewrites both files: verify
// prints the head hash for an operator to keep elsewhere.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace meterd::storage {

class AuditLog {
 public:
  // Opens (creating) the log of `data_dir` for appending. A torn last line is cut off, and a log
  // that ends before its head file says is continued with an "audit_records_missing" record
  // naming the gap, so that neither is lost from the trail.
  explicit AuditLog(const std::filesystem::path& data_dir);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one record; `fields` are JSON members ("\"file\":\"a.csv\",\"rows\":3") or empty.
  // Durable on return; thread-safe. Returns its seq.
  std::uint64_t append(std::string_view kind, std::string_view tenant, std::string_view token,
                       std::string_view fields);
  std::uint64_t last_seq() const;
  std::uint64_t torn_bytes_cut() const { return torn_bytes_cut_; }  // at open

 private:
  void write_head();

  std::filesystem::path path_, head_path_;
  int fd_ = -1, head_fd_ = -1;
  mutable std::mutex mutex_;
  std::uint64_t seq_ = 0;
  std::string last_hash_;
  std::uint64_t torn_bytes_cut_ = 0;
};

struct AuditProblem {
  std::uint64_t line = 0;  // 1-based line of AUDIT (0: the head file)
  std::uint64_t seq = 0;   // the record's seq where it could be read
  std::string what;
};

struct AuditCheck {
  std::uint64_t records = 0;
  std::uint64_t last_seq = 0;
  std::string last_hash;
  bool torn_tail = false;  // the last line is incomplete: a crash mid-append, not yet cut off
  std::vector<AuditProblem> problems;
  bool ok() const { return problems.empty(); }
};

// Reads the whole log (a MiB at a time) and checks every hash, the chain and the head file.
AuditCheck verify_audit(const std::filesystem::path& data_dir);

// One record as for_each_audit_record gives it: its payload, and views into it of the fields
// every record has (kind and tenant as their JSON string tokens, quotes included, to compare
// with a name put through append_json_string).
struct AuditRecord {
  std::uint64_t seq = 0;
  std::string_view payload, time, kind_json, tenant_json;
};

// Every complete, well-formed record, in order (a MiB of the file at a time).
void for_each_audit_record(const std::filesystem::path& data_dir,
                           const std::function<void(const AuditRecord&)>& fn);

}  // namespace meterd::storage
