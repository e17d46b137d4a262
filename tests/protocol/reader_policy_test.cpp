// The default mode's policy (README, Validation): a reading is dropped only when its key or its
// value is uncertain; a defect in metadata keeps it with a warning naming line and field, and a
// mark in the data (quality V, an empty reason). Strict mode rejects the same input. And every
// reading a file claims is either kept or counted as rejected.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/parse_collect.hpp"
#include "tests/protocol/nem12_text.hpp"

namespace meterd {
namespace {

using test::interval_values;
using test::kNem12Block;
using test::kStrict;
using test::nem12_file;
using test::parse_bytes;
using test::ParsedInput;

// A 30-minute day on line 3 of nem12_file().
std::string day(const char* quality = "A", const char* tail = ",,,20050310121004,") {
  return "300,20050301," + interval_values(48) + quality + tail;
}

const FileReport& report(const ParsedInput& p) {
  return p.reports.at(0);
}

// The first warning: its line and field, which the policy promises.
const Issue* warning_on(const ParsedInput& p, std::uint32_t line, const std::string& field) {
  for (const auto& issue : report(p).issues)
    if (issue.severity == Severity::warning && issue.line == line && issue.field == field)
      return &issue;
  return nullptr;
}

std::string qualities(const ParsedInput& p) {
  std::string out;
  for (const auto& r : p.readings) out += r.quality;
  return out;
}

// Parses `text` in both modes: the default keeps all 48 readings with a warning on
// (line, field); strict keeps none and rejects one day or block.
ParsedInput kept_by_default_rejected_in_strict(const std::string& text, std::uint32_t line,
                                               const std::string& field) {
  SCOPED_TRACE(text);
  auto tolerant = parse_bytes(text, 0);
  EXPECT_EQ(tolerant.readings.size(), 48u);
  EXPECT_TRUE(report(tolerant).clean()) << report(tolerant).issues.at(0).reason;
  EXPECT_NE(warning_on(tolerant, line, field), nullptr)
      << "no warning on line " << line << " " << field;
  auto strict = parse_bytes(text, 0, kStrict);
  EXPECT_EQ(strict.readings.size(), 0u);
  EXPECT_GE(report(strict).rejected_days + report(strict).rejected_blocks, 1u);
  EXPECT_EQ(report(strict).readings_rejected, 48u);
  return tolerant;
}

TEST(ReaderPolicy, AVDayWithoutFourHundredsKeepsEveryIntervalAsV) {
  auto p = kept_by_default_rejected_in_strict(nem12_file({day("V")}), 3, "QualityMethod");
  EXPECT_EQ(qualities(p), std::string(48, 'V'));
  EXPECT_EQ(report(p).quality_counts.at("V"), 48u);
  for (const auto& r : p.readings) EXPECT_EQ(r.reason_code, kNoReasonCode);
}

TEST(ReaderPolicy, AVDayPartlyCoveredKeepsTheUncoveredIntervalsAsV) {
  auto p = kept_by_default_rejected_in_strict(
      nem12_file({day("V"), "400,1,10,A,,", "400,21,48,E52,,"}), 3, "QualityMethod");
  EXPECT_EQ(qualities(p), std::string(10, 'A') + std::string(10, 'V') + std::string(28, 'E'));
}

TEST(ReaderPolicy, FOrSWithoutReasonCodeKeepsTheQualityWithAnEmptyReason) {
  auto p =
      kept_by_default_rejected_in_strict(nem12_file({day("V"), "400,1,48,S14,,"}), 4, "ReasonCode");
  for (const auto& r : p.readings) {
    EXPECT_EQ(r.quality, 'S');
    EXPECT_EQ(r.method, 14);
    EXPECT_EQ(r.reason_code, kNoReasonCode);
  }
  auto on_300 = kept_by_default_rejected_in_strict(nem12_file({day("F14")}), 3, "ReasonCode");
  EXPECT_EQ(qualities(on_300), std::string(48, 'F'));
}

TEST(ReaderPolicy, AFourHundredWhoseRangeCannotBeUsedIsIgnoredAndItsDayKeptAsV) {
  auto beyond =
      kept_by_default_rejected_in_strict(nem12_file({day("V"), "400,1,49,A,,"}), 4, "EndInterval");
  EXPECT_EQ(qualities(beyond), std::string(48, 'V'));
  // On an actual day, a 400 that cannot be placed makes every interval's quality unknown.
  auto empty = kept_by_default_rejected_in_strict(nem12_file({day("A"), "400,,,F56,45,"}), 4,
                                                  "StartInterval");
  EXPECT_EQ(qualities(empty), std::string(48, 'V'));
  auto overlap = kept_by_default_rejected_in_strict(
      nem12_file({day("V"), "400,1,10,A,,", "400,10,48,E52,,"}), 5, "StartInterval");
  EXPECT_EQ(qualities(overlap), std::string(10, 'A') + std::string(38, 'V'));
}

TEST(ReaderPolicy, AnInvalidQualityInAFourHundredKeepsItsRangeAsV) {
  auto p = kept_by_default_rejected_in_strict(
      nem12_file({day("V"), "400,1,10,T,71,", "400,11,48,E52,,"}), 4, "QualityMethod");
  EXPECT_EQ(qualities(p), std::string(10, 'V') + std::string(38, 'E'));
  EXPECT_EQ(p.readings[0].reason_code, 71);
  auto v_in_400 = kept_by_default_rejected_in_strict(
      nem12_file({day("V"), "400,1,10,V,71,", "400,11,48,E52,,"}), 4, "QualityMethod");
  EXPECT_EQ(qualities(v_in_400), qualities(p));
}

TEST(ReaderPolicy, NmiConfigurationDefectsKeepTheBlock) {
  kept_by_default_rejected_in_strict(
      nem12_file({day()}, "200,NEM1201009,,1,E1,N1,01009,kWh,30,20050610"), 2, "NMIConfiguration");
  auto unlisted = kept_by_default_rejected_in_strict(
      nem12_file({day()}, "200,NEM1201009,E2B1,1,E1,N1,01009,kWh,30,20050610"), 2,
      "NMIConfiguration");
  EXPECT_EQ(unlisted.readings[0].suffix, "E1");
}

TEST(ReaderPolicy, AnUnknownUnitIsKeptAsWritten) {
  auto p = kept_by_default_rejected_in_strict(
      nem12_file({day()}, "200,NEM1201009,E1E2,1,E1,N1,01009,kWhx,30,20050610"), 2, "UOM");
  EXPECT_EQ(p.readings[0].uom, "kWhx");
}

TEST(ReaderPolicy, OtherMetadataDefectsOfADayKeepIt) {
  auto reason0 = kept_by_default_rejected_in_strict(nem12_file({day("V"), "400,1,48,A,0,"}), 4,
                                                    "ReasonDescription");
  EXPECT_EQ(reason0.readings[0].reason_code, 0);
  auto text_reason = kept_by_default_rejected_in_strict(
      nem12_file({day("E52", ",x1,,20050310121004,")}), 3, "ReasonCode");
  EXPECT_EQ(text_reason.readings[0].reason_code, kNoReasonCode);
  auto bad_update = kept_by_default_rejected_in_strict(nem12_file({day("A", ",,,20051310121004,")}),
                                                       3, "UpdateDateTime");
  EXPECT_EQ(bad_update.readings[0].update_datetime, kNoTime);
  auto bad_quality = kept_by_default_rejected_in_strict(nem12_file({day("X")}), 3, "QualityMethod");
  EXPECT_EQ(qualities(bad_quality), std::string(48, 'V'));
  kept_by_default_rejected_in_strict(nem12_file({day("A", ",,,20050310121004,,junk")}), 3,
                                     "MSATSLoadDateTime");
}

// What stays a drop in every mode: the key or the value is not certain.
TEST(ReaderPolicy, UncertainKeysAndValuesAreStillDropped) {
  for (const std::string& bad : {"300,20050301," + interval_values(47) + "A,,,20050310121004,",
                                 "300,20050230," + interval_values(48) + "A,,,20050310121004,",
                                 "300,20050301,-1," + interval_values(47) + "A,,,20050310121004,",
                                 "300,20050301,x," + interval_values(47) + "A,,,20050310121004,",
                                 "300,20050301,," + interval_values(47) + "A,,,20050310121004,"}) {
    auto p = parse_bytes(nem12_file({bad}), 0);
    EXPECT_EQ(p.readings.size(), 0u) << bad;
    EXPECT_EQ(report(p).readings_rejected, 48u) << bad;
  }
  auto interval = parse_bytes(
      nem12_file({"300,20050301," + interval_values(144) + "A,,,,"}, "200,N1,E1,1,E1,N1,1,kWh,10,"),
      0);
  EXPECT_EQ(interval.readings.size(), 0u);
  EXPECT_EQ(report(interval).rejected_blocks, 1u);
  EXPECT_EQ(report(interval).readings_rejected, 144u) << "the values the 300 carries";
}

// readings kept + readings rejected = readings the file's 300 records claim, for every kind of
// reject: day, block, record and fatal.
TEST(ReaderPolicy, KeptPlusRejectedIsWhatTheFileHolds) {
  const std::string good = day();
  const std::string bad_block = "200,NEM1201010,E1E2,1,E2,N1,01009,kWh,7,20050610";
  const std::string text = "100,NEM12,200506081149,UNITEDDP,NEMMCO\n" + good + "\n" +
                           std::string(kNem12Block) + "\n" + good + "\n" + "300,20050302," +
                           interval_values(40) + "A,,,20050310121004,\n" + bad_block + "\n" + good +
                           "\n" + good + "\n" + "400,1,2,A,,\n900\n";
  auto p = parse_bytes(text, 0);
  EXPECT_EQ(p.readings.size(), 48u);
  // 300 without a 200 (48 values), a day with 40 values (48 claimed), a block with an unknown
  // interval length (two days of 48 values).
  EXPECT_EQ(report(p).readings_rejected, 48u + 48u + 96u);
  EXPECT_EQ(report(p).readings, p.readings.size());

  // A fatal error: what follows it is counted, not read.
  const std::string fatal =
      nem12_file({good, "100,NEM12,200506081149,UNITEDDP,NEMMCO", kNem12Block, good,
                  "300,20050303," + interval_values(48) + "A,,,20050310121004,"});
  auto f = parse_bytes(fatal, 0);
  ASSERT_TRUE(report(f).fatal);
  EXPECT_EQ(f.readings.size(), 48u);
  EXPECT_EQ(report(f).readings_rejected, 96u);
  // The same in any chunking.
  for (std::size_t chunk : {1u, 7u, 64u}) {
    EXPECT_EQ(report(parse_bytes(fatal, chunk)).readings_rejected, 96u) << chunk;
    EXPECT_EQ(report(parse_bytes(text, chunk)).readings_rejected, 192u) << chunk;
  }
}

// A padded record indicator (' 300', '200 ') is a metadata defect: kept by default; strict mode
// rejects the record's own day or block, never the one before it, and counts its readings.
TEST(ReaderPolicy, APaddedIndicatorRejectsItsOwnDayOrBlockInStrictMode) {
  const std::string second = "300,20050302," + interval_values(48) + "A,,,20050310121004,";
  const std::string other_block = "200,NEM1201010,E1E2,1,E2,N1,01009,kWh,30,20050610";
  const std::string text =
      nem12_file({day(), " " + second, " " + other_block, day(), "300 " + second.substr(3)});
  for (std::size_t chunk : {0u, 1u, 13u}) {
    SCOPED_TRACE(chunk);
    auto tolerant = parse_bytes(text, chunk);
    EXPECT_EQ(tolerant.readings.size(), 4u * 48u);
    EXPECT_NE(warning_on(tolerant, 4, "RecordIndicator"), nullptr);
    EXPECT_NE(warning_on(tolerant, 5, "RecordIndicator"), nullptr);
    auto strict = parse_bytes(text, chunk, kStrict);
    // The first day stays; the padded day, the padded block's day and the day after it in that
    // block (padded itself) are rejected, with their readings.
    ASSERT_EQ(strict.readings.size(), 48u);
    EXPECT_EQ(strict.readings.front().interval_start, tolerant.readings.front().interval_start);
    EXPECT_EQ(report(strict).rejected_blocks, 1u);
    EXPECT_EQ(report(strict).readings_rejected, 3u * 48u);
    EXPECT_EQ(report(strict).readings + report(strict).readings_rejected, 4u * 48u);
    bool day_rejected_on_line_4 = false;
    for (const auto& issue : report(strict).issues)
      day_rejected_on_line_4 |= issue.severity == Severity::reject && issue.line == 4 &&
                                issue.scope == "day" && issue.readings_dropped == 48;
    EXPECT_TRUE(day_rejected_on_line_4);
  }
}

}  // namespace
}  // namespace meterd
