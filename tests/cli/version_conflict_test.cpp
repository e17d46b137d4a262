// Two files that claim the same intervals with the same version (UpdateDateTime and file
// DateTime) and different values: whichever arrives first, the query keeps the same reading (the
// version order's content tie-break), and the report of the file that arrived second names the
// conflict with both files and lines; the first file's report does not. The same when the
// second file comes in a later run and meets the first in the stored parts.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/cli/cli_support.hpp"

namespace meterd {
namespace {

namespace fs = std::filesystem;
using test::quoted;
using test::run_meterd;

// One day of one stream: the first `differing` intervals hold `value`, the rest 0.5.
void write_nem12(const fs::path& path, const std::string& value, int differing,
                 const std::string& to = "RETAILER") {
  std::string day = "300,20040201";
  for (int i = 0; i < 48; ++i) day += "," + (i < differing ? value : std::string("0.5"));
  day += ",A,,,20040202120025,\n";
  std::ofstream(path) << "100,NEM12,200402021200,MDP1," << to << "\n"
                      << "200,NMI0000001,E1,1,E1,N1,MTR1,KWH,30,\n"
                      << day << "900\n";
}

struct Ingested {
  std::string first_report, second_report, query;
};

// Both files in one `meterd ingest`, or (separate_runs) one run after the other.
Ingested ingest(const fs::path& dir, const fs::path& first, const fs::path& second,
                bool separate_runs = false) {
  const auto data = dir / "data", reports = dir / "reports";
  fs::remove_all(data);
  fs::remove_all(reports);
  const std::string args =
      "ingest --no-progress --data-dir " + quoted(data) + " --reports " + quoted(reports) + " ";
  const auto runs = separate_runs ? std::vector<std::string>{quoted(first), quoted(second)}
                                  : std::vector<std::string>{quoted(first) + " " + quoted(second)};
  for (const auto& files : runs) {
    const auto run = run_meterd(args + files);
    EXPECT_EQ(run.status, 0) << run.err;
  }
  const auto query = run_meterd("query --data-dir " + quoted(data));
  EXPECT_EQ(query.status, 0) << query.err;
  return {test::read_file(reports / (first.filename().string() + ".json")),
          test::read_file(reports / (second.filename().string() + ".json")), query.out};
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(VersionConflict, TheSecondFilesReportNamesBothSourcesAndTheQueryIgnoresArrivalOrder) {
  const auto dir = test::make_temp_dir("meterd-conflict");
  const auto low = dir / "low.csv", high = dir / "high.csv";
  write_nem12(low, "1.5", 10);
  write_nem12(high, "2.5", 10);

  const Ingested forwards = ingest(dir, low, high);
  const Ingested backwards = ingest(dir, high, low);
  EXPECT_EQ(forwards.query, backwards.query);
  // The same line in both: the greater value is kept, whichever came first.
  EXPECT_EQ(occurrences(forwards.query, ",2.5,"), 10u) << forwards.query;
  EXPECT_EQ(occurrences(forwards.query, ",1.5,"), 0u);

  EXPECT_EQ(occurrences(forwards.first_report, "version conflict"), 0u) << forwards.first_report;
  EXPECT_EQ(occurrences(forwards.second_report, "version conflict"), 1u) << forwards.second_report;
  EXPECT_NE(forwards.second_report.find(low.string() + " line 3 claims 10 interval(s)"),
            std::string::npos)
      << forwards.second_report;
  EXPECT_NE(forwards.second_report.find("2.5 (A) here, 1.5 (A) there; kept: this file's"),
            std::string::npos);
  EXPECT_NE(forwards.second_report.find(R"("line":3,"record":"300","field":"IntervalValue")"),
            std::string::npos);

  EXPECT_EQ(occurrences(backwards.first_report, "version conflict"), 0u);
  EXPECT_NE(backwards.second_report.find(high.string() + " line 3 claims 10 interval(s)"),
            std::string::npos)
      << backwards.second_report;
  EXPECT_NE(backwards.second_report.find("1.5 (A) here, 2.5 (A) there; kept: the other's"),
            std::string::npos);

  // The same readings in another file (another recipient) are no conflict.
  const auto same = dir / "same.csv";
  write_nem12(same, "2.5", 10, "OTHERRETAILER");
  const Ingested agreeing = ingest(dir, high, same);
  EXPECT_EQ(occurrences(agreeing.second_report, "version conflict"), 0u);
  fs::remove_all(dir);
}

// The same files ingested one run after the other: the second meets the first in the stored
// parts, not in one seal, and its report still names the conflict (the other file by the name
// the ledger knows it by); the query is the one a single run gives.
TEST(VersionConflict, AFileThatContradictsStoredReadingsIsReportedToo) {
  const auto dir = test::make_temp_dir("meterd-conflict-stored");
  const auto low = dir / "low.csv", high = dir / "high.csv";
  write_nem12(low, "1.5", 10);
  write_nem12(high, "2.5", 10);
  const Ingested together = ingest(dir, low, high);
  for (const auto& [first, second] : {std::pair{low, high}, std::pair{high, low}}) {
    const Ingested apart = ingest(dir, first, second, true);
    EXPECT_EQ(apart.query, together.query);
    const std::string& first_report = apart.first_report;
    const std::string& second_report = apart.second_report;
    EXPECT_EQ(occurrences(first_report, "version conflict"), 0u);
    EXPECT_EQ(occurrences(second_report, "version conflict"), 1u) << second_report;
    EXPECT_NE(second_report.find(first.string() + " line 3 claims 10 interval(s)"),
              std::string::npos)
        << second_report;
    EXPECT_NE(second_report.find(second == high ? "kept: this file's" : "kept: the other's"),
              std::string::npos);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd
