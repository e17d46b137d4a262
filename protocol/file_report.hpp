// What the reader found in one file: counts, rejected days and blocks, warnings, fatal error.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/reading_batch.hpp"

namespace meterd {

enum class Severity : std::uint8_t { warning, reject, fatal };
const char* to_string(Severity s);

// One problem. For a reject, `scope` says what was dropped: "day", "block", "record".
struct Issue {
  Severity severity = Severity::warning;
  std::uint32_t line = 0;
  std::string record;  // "300", "400", ...
  std::string field;   // AEMO field name, e.g. "IntervalValue17", "QualityMethod"
  std::string reason;  // human-readable, names the offending text
  std::string scope;   // what a reject dropped: "day", "block", "record"
  std::string nmi, suffix;
  std::string interval_date;  // CCYYMMDD of the rejected day, when known
  std::uint32_t readings_dropped = 0;
  std::uint64_t count = 1;  // warnings of one kind are folded into their first occurrence
};

struct FileReport {
  std::string name;            // path or member path (zip!member)
  std::string version_header;  // NEM12 / NEM13 / "" if no 100
  epoch_seconds file_created = kNoTime;
  std::string from_participant, to_participant;
  std::uint64_t bytes = 0, lines = 0;
  std::uint64_t readings = 0, days = 0, blocks = 0, b2b_events = 0, register_reads = 0;
  std::map<std::string, std::uint64_t> quality_counts;  // "A", "E52", "F14", ...
  double value_sum = 0;
  std::uint64_t rejected_days = 0, rejected_blocks = 0, rejected_records = 0;
  std::uint64_t readings_rejected = 0;
  bool saw_900 = false;
  bool fatal = false;

  // Issues kept in full up to a cap; beyond it only counted (a broken multi-GB file must not
  // turn its report into a multi-GB list).
  static constexpr std::size_t kMaxIssuesKept = 1000;
  std::vector<Issue> issues;
  std::uint64_t issues_dropped = 0;
  std::array<std::uint64_t, 3> issue_counts{};  // by Severity

  void add(Issue issue);
  // Quality+method key of a reading, e.g. "A", "E52", "F14".
  static std::string quality_key(char quality, std::uint8_t method);
  std::uint64_t warnings() const { return issue_counts[0]; }
  std::uint64_t rejects() const { return issue_counts[1]; }
  bool clean() const { return !fatal && issue_counts[1] == 0 && issue_counts[2] == 0; }

 private:
  std::unordered_map<std::string, std::size_t> warning_index_;  // record|field|reason -> issue
};

// Readings per quality and method flag, counted in a flat array on the hot path (one add per
// run) and folded into FileReport::quality_counts once, at the end of the file.
class QualityTally {
 public:
  void add(char quality, std::uint8_t method, std::uint64_t readings) {
    counts_[static_cast<unsigned char>(quality) & 127][method % 100] += readings;
  }
  void fold_into(FileReport& report) const;

 private:
  std::array<std::array<std::uint64_t, 100>, 128> counts_{};
};

}  // namespace meterd
