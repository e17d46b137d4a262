#include "protocol/file_report.hpp"

namespace meterd {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::warning:
      return "warning";
    case Severity::reject:
      return "reject";
    case Severity::fatal:
      return "fatal";
  }
  return "?";
}

std::string FileReport::quality_key(char quality, std::uint8_t method) {
  std::string key(1, quality);
  if (method != kNoMethod) {
    key.push_back(static_cast<char>('0' + method / 10));
    key.push_back(static_cast<char>('0' + method % 10));
  }
  return key;
}

void QualityTally::fold_into(FileReport& report) const {
  for (std::size_t q = 0; q < counts_.size(); ++q)
    for (std::size_t m = 0; m < counts_[q].size(); ++m)
      if (counts_[q][m])
        report.quality_counts[FileReport::quality_key(
            static_cast<char>(q), static_cast<std::uint8_t>(m))] += counts_[q][m];
}

void FileReport::add(Issue issue) {
  ++issue_counts[static_cast<std::size_t>(issue.severity)];
  if (issue.severity == Severity::fatal) fatal = true;
  if (issue.severity == Severity::warning) {
    // A quirk repeated on every line of a file is one finding, not a million.
    auto key = issue.record + '|' + issue.field + '|' + issue.reason;
    if (auto it = warning_index_.find(key); it != warning_index_.end()) {
      ++issues[it->second].count;
      return;
    }
    if (issues.size() < kMaxIssuesKept) warning_index_.emplace(std::move(key), issues.size());
  }
  if (issues.size() < kMaxIssuesKept) {
    issues.push_back(std::move(issue));
  } else {
    ++issues_dropped;
  }
}

}  // namespace meterd
