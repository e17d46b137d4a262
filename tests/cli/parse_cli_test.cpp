// `meterd parse` as a user runs it: output format, report and exit status.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/cli/cli_support.hpp"

namespace meterd {
namespace {

using test::CommandRun;
using test::count_lines;
using test::quoted;
using test::run_meterd;

TEST(ParseCli, CleanFilePrintsCsvWithHeaderAndExitsZero) {
  METERD_REQUIRE_SHARED(shared);
  const CommandRun run =
      run_meterd("parse " + quoted(test::samples_dir() / "aemo_s01_basic_30min_E1E2.csv"));
  EXPECT_EQ(run.status, 0) << run.err;
  ASSERT_GT(run.out.size(), 0u);
  EXPECT_EQ(run.out.substr(0, run.out.find('\n')),
            "nmi,suffix,interval_start,interval_minutes,value,uom,quality,method,reason_code,"
            "reason_description,update_datetime,msats_load_datetime,register_id,meter_serial,"
            "file_created,line");
  EXPECT_EQ(count_lines(run.out), 1u + 384u);
  EXPECT_NE(run.out.find("NEM1201002,E1,2005-03-15T00:00:00+10:00,30,300,kWh,A,,,,"
                         "2005-03-16T01:42:09+10:00,"),
            std::string::npos);
  EXPECT_NE(run.err.find("readings 384"), std::string::npos) << run.err;
}

TEST(ParseCli, RejectedDataExitsOneAndStillPrintsTheRest) {
  METERD_REQUIRE_SHARED(shared);
  const CommandRun run =
      run_meterd("parse " + quoted(test::samples_dir() / "err_300_with_no_interval_values.csv"));
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(count_lines(run.out), 1u + 144u);
  EXPECT_NE(run.err.find("line 3"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("IntervalValue1"), std::string::npos) << run.err;
  // A metadata defect is a warning: every reading printed, exit 0, the warning on stderr.
  const CommandRun warned =
      run_meterd("parse " + quoted(test::samples_dir() / "err_400_empty_start_end_interval.csv"));
  EXPECT_EQ(warned.status, 0);
  EXPECT_EQ(count_lines(warned.out), 1u + 192u);
  EXPECT_NE(warned.err.find("warning line 7 record 400 field StartInterval"), std::string::npos)
      << warned.err;
  EXPECT_EQ(run_meterd("parse --strict " +
                       quoted(test::samples_dir() / "err_400_empty_start_end_interval.csv"))
                .status,
            1);
}

TEST(ParseCli, UnreadableInputsAndUsageErrorsExitTwo) {
  METERD_REQUIRE_SHARED(shared);
  EXPECT_EQ(run_meterd("parse /nonexistent/file.csv").status, 2);
  EXPECT_EQ(run_meterd("parse " + quoted(test::samples_dir() / "err_zero_byte_file.csv")).status,
            2);
  EXPECT_EQ(run_meterd("parse").status, 2);
  EXPECT_EQ(run_meterd("parse --format xml x").status, 2);
  EXPECT_EQ(run_meterd("no-such-command").status, 2);
  // The worst status over several files wins, and every file is still processed.
  const CommandRun mixed =
      run_meterd("parse " + quoted(test::samples_dir() / "aemo_s01_basic_30min_E1E2.csv") +
                 " /nonexistent.csv");
  EXPECT_EQ(mixed.status, 2);
  EXPECT_EQ(count_lines(mixed.out), 1u + 384u);
}

// Every subcommand reads its options through one ArgReader: numbers are read in full and
// checked against their range, and each error names its option and exits 2 before any work.
TEST(SubcommandArguments, BadNumbersMissingValuesAndUnknownOptionsExitTwo) {
  const struct {
    const char* args;
    const char* says;
  } cases[] = {
      {"bench --nmis 10x", "--nmis: expected a whole number"},
      {"bench --interval 60", "--interval: expected a whole number from 5 to 30"},
      {"bench --nmis", "--nmis needs a value"},
      {"bench --frobnicate", "unknown option --frobnicate"},
      {"bench http --parallel 0", "--parallel: expected a whole number from 1 to 64"},
      {"bench http --set nokey", "--set needs KEY=VALUE"},
      {"forward --to http://127.0.0.1:1 --batch-bytes -5 x", "--batch-bytes: expected a whole"},
      {"serve --set =1", "--set needs KEY=VALUE"},
      {"ingest --data-dir d --bogus x", "unknown option --bogus"},
  };
  for (const auto& c : cases) {
    const CommandRun run = run_meterd(c.args);
    EXPECT_EQ(run.status, 2) << c.args << "\n" << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << c.args << "\n" << run.err;
  }
}

TEST(ParseCli, JsonReadingsAndJsonReport) {
  METERD_REQUIRE_SHARED(shared);
  const CommandRun run = run_meterd("parse --format json --report json " +
                                    quoted(test::samples_dir() / "nemreader_99_nmis_5min.zip"));
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(count_lines(run.out), 57024u);
  EXPECT_EQ(run.out.substr(0, 8), "{\"nmi\":\"");
  EXPECT_NE(run.err.find("\"file\":"), std::string::npos);
  EXPECT_NE(run.err.find("nemreader_99_nmis_5min.zip!NEM12#20200101_20200101#None#EXAMPLE.csv"),
            std::string::npos);
  EXPECT_NE(run.err.find("\"readings\":57024"), std::string::npos);
}

TEST(ParseCli, StrictModeFailsPortalFileWithoutHeader) {
  METERD_REQUIRE_SHARED(shared);
  const auto file = quoted(test::samples_dir() / "unitedenergy_portal_no100_no900_2yr_30min.csv");
  EXPECT_EQ(run_meterd("parse --no-readings " + file).status, 0);
  const CommandRun strict = run_meterd("parse --strict --no-readings " + file);
  EXPECT_EQ(strict.status, 2);
  EXPECT_NE(strict.err.find("no 100 header record"), std::string::npos) << strict.err;
}

TEST(ParseCli, RegisterReadsAndB2BEventsOnRequest) {
  METERD_REQUIRE_SHARED(shared);
  const CommandRun nem13 =
      run_meterd("parse --output register-reads " +
                 quoted(test::samples_dir() / "nem13_multi_nmi_excel_padded.csv"));
  EXPECT_EQ(nem13.status, 0) << nem13.err;
  EXPECT_EQ(count_lines(nem13.out), 1u + 10u);
  EXPECT_EQ(nem13.out.substr(0, 17), "nmi,suffix,regist");
  const CommandRun events =
      run_meterd("parse --format json --output b2b-events " +
                 quoted(test::samples_dir() / "aemo_powermdp_meter_change_nmiconfig_400_500.csv"));
  EXPECT_EQ(events.status, 0) << events.err;
  EXPECT_EQ(count_lines(events.out), 5u);
  EXPECT_NE(events.out.find("\"trans_code\":\"D\""), std::string::npos) << events.out;
  EXPECT_EQ(run_meterd("parse --output nothing x").status, 2);
}

}  // namespace
}  // namespace meterd
