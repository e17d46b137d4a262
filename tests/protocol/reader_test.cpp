// The streaming reader on synthetic edge cases, chunk-split invariance and exact numbers.
#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <random>

#include "protocol/mdff_fields.hpp"
#include "protocol/nem_time.hpp"
#include "tests/parse_collect.hpp"
#include "tests/protocol/nem12_text.hpp"
#include "tests/test_support.hpp"

namespace meterd {
namespace {

using test::interval_values;
using test::kNem12Block;
using test::kStrict;
using test::nem12_file;
using test::parse_bytes;
using test::ParsedInput;

std::string day(const char* date, const char* quality = "A", const char* value = "1.5",
                const char* tail = ",,,20050310121004,") {
  return std::string("300,") + date + "," + interval_values(48, value) + quality + tail;
}

const FileReport& only_report(const ParsedInput& p) {
  return p.reports.at(0);
}

std::string first_problem(const FileReport& r) {
  for (const auto& i : r.issues)
    if (i.severity != Severity::warning) return i.reason;
  return "";
}

TEST(Reader, ParsesAValidDayWithNemTimeAndExactValues) {
  const auto p = parse_bytes(nem12_file({day("20050301", "A", "0.1")}), 0);
  ASSERT_EQ(p.readings.size(), 48u);
  EXPECT_TRUE(only_report(p).clean());
  // NEM time is UTC+10 with no daylight saving: the first interval starts at 14:00 UTC.
  EXPECT_EQ(format_nem_time(p.readings[0].interval_start), "2005-03-01T00:00:00+10:00");
  EXPECT_EQ(p.readings[0].interval_start, 1109599200);  // 2005-02-28T14:00:00Z
  EXPECT_EQ(format_nem_time(p.readings[47].interval_start), "2005-03-01T23:30:00+10:00");
  EXPECT_EQ(p.readings[0].value, 0.1);
  EXPECT_EQ(p.readings[0].interval_minutes, 30);
  EXPECT_EQ(p.readings[0].uom, "kWh");
  EXPECT_EQ(p.readings[0].meter_serial, "01009");
  EXPECT_EQ(p.readings[0].register_id, "1");
  EXPECT_EQ(p.readings[0].line, 3u);
  EXPECT_EQ(format_nem_time(p.readings[0].update_datetime), "2005-03-10T12:10:04+10:00");
  EXPECT_EQ(format_nem_time(p.readings[0].file_created), "2005-06-08T11:49:00+10:00");
  EXPECT_EQ(p.readings[0].msats_load_datetime, kNoTime);
}

TEST(Reader, DaylightSavingChangeoverDaysStillHave48Intervals) {
  // 2024-04-07 ends daylight saving in NSW/VIC; NEM time ignores it.
  const auto p = parse_bytes(nem12_file({day("20240407")}), 0);
  ASSERT_EQ(p.readings.size(), 48u);
  for (std::size_t k = 1; k < p.readings.size(); ++k)
    EXPECT_EQ(p.readings[k].interval_start - p.readings[k - 1].interval_start, 1800);
}

TEST(Reader, LineEndingsBomAndBlankLinesDoNotChangeReadings) {
  const std::string lf = nem12_file({day("20050301"), day("20050302")});
  const auto base = parse_bytes(lf, 0);
  ASSERT_EQ(base.readings.size(), 96u);
  for (const char* eol : {"\r\n", "\r"}) {
    auto other = parse_bytes(nem12_file({day("20050301"), day("20050302")}, kNem12Block, eol), 0);
    EXPECT_EQ(other.readings, base.readings) << "eol " << int(eol[1]);
    EXPECT_TRUE(only_report(other).clean());
  }
  auto bom = parse_bytes("\xEF\xBB\xBF" + lf, 0);
  EXPECT_EQ(bom.readings, base.readings);
  EXPECT_EQ(only_report(bom).warnings(), 1u);
  std::string blank = lf;
  blank.insert(blank.find("300,20050302"), "\n,,,,\n");
  auto with_blank = parse_bytes(blank, 0);
  EXPECT_EQ(with_blank.readings.size(), 96u);
  EXPECT_GE(only_report(with_blank).warnings(), 1u);
  // Strict mode: the blank lines are errors, the data is still read.
  auto strict = parse_bytes(blank, 0, /*strict=*/true);
  EXPECT_FALSE(only_report(strict).clean());
}

TEST(Reader, RejectedDayKeepsTheDaysAroundIt) {
  const auto p = parse_bytes(
      nem12_file({day("20050301"), day("20050302", "A", "abc"), day("20050303", "A", "-1"),
                  day("20050304", "A", "1e3"), day("20050305")}),
      0);
  EXPECT_EQ(p.readings.size(), 96u);
  const auto& r = only_report(p);
  EXPECT_EQ(r.rejected_days, 3u);
  ASSERT_GE(r.issues.size(), 3u);
  EXPECT_EQ(r.issues[0].line, 4u);
  EXPECT_EQ(r.issues[0].field, "IntervalValue1");
  EXPECT_NE(r.issues[0].reason.find("'abc' is not a number"), std::string::npos);
  EXPECT_NE(r.issues[1].reason.find("is negative"), std::string::npos);
  EXPECT_NE(r.issues[2].reason.find("'1e3' is not a number"), std::string::npos);
  EXPECT_EQ(r.issues[0].interval_date, "20050302");
  EXPECT_EQ(r.issues[0].nmi, "NEM1201009");
  EXPECT_EQ(r.readings_rejected, 3u * 48u);
}

// Strict mode rejects the day on any defect of the 400 cover, as the specification says
// (reader_policy_test.cpp has what the default mode keeps).
TEST(Reader, VDaysNeedCompleteAscending400CoverInStrictMode) {
  const std::string v = day("20050301", "V");
  // Complete cover: A, S14 with reason, E52.
  auto ok = parse_bytes(
      nem12_file({v, "400,1,10,A,,", "400,11,20,S14,76,Comms fault", "400,21,48,E52,,"}), 0);
  ASSERT_EQ(ok.readings.size(), 48u);
  EXPECT_TRUE(only_report(ok).clean()) << first_problem(only_report(ok));
  EXPECT_EQ(ok.readings[10].quality, 'S');
  EXPECT_EQ(ok.readings[10].method, 14);
  EXPECT_EQ(ok.readings[10].reason_code, 76);
  EXPECT_EQ(ok.readings[10].reason_description, "Comms fault");
  EXPECT_EQ(ok.readings[30].quality, 'E');
  EXPECT_EQ(ok.readings[30].reason_code, kNoReasonCode);
  EXPECT_EQ(only_report(ok).quality_counts.at("A"), 10u);
  EXPECT_EQ(only_report(ok).quality_counts.at("S14"), 10u);
  EXPECT_EQ(only_report(ok).quality_counts.at("E52"), 28u);

  auto partial = parse_bytes(nem12_file({v, "400,1,10,A,,", day("20050302")}), 0, kStrict);
  EXPECT_EQ(partial.readings.size(), 48u);
  EXPECT_NE(first_problem(only_report(partial)).find("cover 10 of 48"), std::string::npos);

  auto none = parse_bytes(nem12_file({v}), 0, kStrict);
  EXPECT_EQ(none.readings.size(), 0u);
  EXPECT_EQ(only_report(none).rejected_days, 1u);

  auto gap = parse_bytes(nem12_file({v, "400,1,10,A,,", "400,12,48,A,,"}), 0, kStrict);
  EXPECT_NE(first_problem(only_report(gap)).find("gap in 400 ranges"), std::string::npos);
  auto overlap = parse_bytes(nem12_file({v, "400,1,10,A,,", "400,10,48,A,,"}), 0, kStrict);
  EXPECT_NE(first_problem(only_report(overlap)).find("overlap"), std::string::npos);
  auto beyond = parse_bytes(nem12_file({v, "400,1,49,A,,"}), 0, kStrict);
  EXPECT_NE(first_problem(only_report(beyond)).find("EndInterval '49'"), std::string::npos);
  auto s_without_reason = parse_bytes(nem12_file({v, "400,1,48,S14,,"}), 0, kStrict);
  EXPECT_NE(first_problem(only_report(s_without_reason)).find("ReasonCode is required"),
            std::string::npos);
  auto reason0 = parse_bytes(nem12_file({v, "400,1,48,A,0,"}), 0, kStrict);
  EXPECT_NE(first_problem(only_report(reason0)).find("ReasonCode 0 requires"), std::string::npos);
}

TEST(Reader, FourHundredOnAnActualDayOverridesOnlyItsRange) {
  auto p = parse_bytes(nem12_file({day("20050301"), "400,5,6,A,79,Power Outage Alarm "}), 0);
  ASSERT_EQ(p.readings.size(), 48u);
  EXPECT_EQ(p.readings[3].reason_code, kNoReasonCode);
  EXPECT_EQ(p.readings[4].reason_code, 79);
  EXPECT_EQ(p.readings[4].reason_description, "Power Outage Alarm ");  // kept as sent
  EXPECT_EQ(p.readings[6].reason_code, kNoReasonCode);
}

TEST(Reader, SplitRecordIsRejectedNeverMisparsed) {
  std::string split = day("20050301");
  // wrap after the first value (a char insert: inserting a literal trips GCC 12's -Wrestrict)
  split.insert(split.begin() + static_cast<std::ptrdiff_t>(split.find(",1.5,1.5,1.5,") + 5), '\n');
  auto p = parse_bytes(nem12_file({split, day("20050302")}), 0);
  EXPECT_EQ(p.readings.size(), 48u);  // only the second day
  EXPECT_EQ(only_report(p).rejected_days, 1u);
  for (const auto& r : p.readings) EXPECT_EQ(format_nem_date(r.interval_start), "20050302");
}

TEST(Reader, WrongValueCountsAreRejectedByPositionFromIntervalLength) {
  auto too_many =
      parse_bytes(nem12_file({"300,20050301," + interval_values(96) + "A,,,20050310121004,"}), 0);
  EXPECT_EQ(too_many.readings.size(), 0u);
  EXPECT_NE(first_problem(only_report(too_many)).find("more interval values"), std::string::npos);
  auto too_few =
      parse_bytes(nem12_file({"300,20050301," + interval_values(47) + "A,,,20050310121004,"}), 0);
  EXPECT_NE(first_problem(only_report(too_few)).find("has 47 interval values"), std::string::npos);
}

TEST(Reader, DatesMustBeRealAndAscendingWithinABlock) {
  const auto days =
      nem12_file({day("20050302"), day("20050301"), day("20050230"), day("20050303")});
  // By default a day out of order is kept (versions decide between repeats); never a date
  // that does not exist.
  auto tolerant = parse_bytes(days, 0);
  EXPECT_EQ(tolerant.readings.size(), 144u);
  EXPECT_EQ(only_report(tolerant).rejected_days, 1u);
  EXPECT_EQ(only_report(tolerant).issues[0].severity, Severity::warning);
  EXPECT_NE(only_report(tolerant).issues[0].reason.find("not after the previous day"),
            std::string::npos);
  auto p = parse_bytes(days, 0, kStrict);
  EXPECT_EQ(p.readings.size(), 96u);
  EXPECT_EQ(only_report(p).rejected_days, 2u);
  EXPECT_NE(only_report(p).issues[0].reason.find("not after the previous day"), std::string::npos);
  EXPECT_NE(only_report(p).issues[1].reason.find("'20050230' is not a valid"), std::string::npos);
}

TEST(Reader, FileLevelFatalErrors) {
  EXPECT_TRUE(only_report(parse_bytes("", 0)).fatal);
  EXPECT_TRUE(only_report(parse_bytes("\n\n", 0)).fatal);
  EXPECT_TRUE(only_report(parse_bytes("100,NEM14,200506081149,A,B\n900\n", 0)).fatal);
  // Mixing NEM12 and NEM13 records.
  const std::string nem13_line =
      "250,VDEF005890,1141,1,11,11,MET12345,E,000888,20040108103055,A,,,000999,20040408000000,"
      "E64,,,111,kWh,20040408,20040409000000,20040109103023";
  auto mixed = parse_bytes(nem12_file({day("20050301"), nem13_line}), 0);
  EXPECT_TRUE(only_report(mixed).fatal);
  EXPECT_EQ(mixed.readings.size(), 48u) << "data before the fatal line is still delivered";
}

TEST(Reader, RecordsAfter900AreAFurtherSectionByDefaultAndFatalWhenStrict) {
  std::string two = nem12_file({day("20050301")}) + nem12_file({day("20050302")});
  auto lax = parse_bytes(two, 0);
  EXPECT_EQ(lax.readings.size(), 96u);
  EXPECT_FALSE(only_report(lax).fatal);
  auto strict = parse_bytes(two, 0, /*strict=*/true);
  EXPECT_TRUE(only_report(strict).fatal);
  EXPECT_EQ(strict.readings.size(), 48u);
}

TEST(Reader, TwelveDigitUpdateTimeIsAWarningByDefault) {
  auto p = parse_bytes(nem12_file({day("20050301", "A", "1", ",,,200503101210,")}), 0);
  ASSERT_EQ(p.readings.size(), 48u);
  EXPECT_EQ(format_nem_time(p.readings[0].update_datetime), "2005-03-10T12:10:00+10:00");
  EXPECT_TRUE(only_report(p).clean());
  EXPECT_EQ(only_report(p).warnings(), 1u);
  auto strict = parse_bytes(nem12_file({day("20050301", "A", "1", ",,,200503101210,")}), 0, true);
  EXPECT_EQ(strict.readings.size(), 0u);
}

TEST(Reader, B2BEventsAttachToTheirDay) {
  auto p = parse_bytes(
      nem12_file({day("20050301"), "500,N,SO123,20050301120000,001123.5", "500,X,,,", "500,E,,,"}),
      0);
  ASSERT_EQ(p.b2b_events.size(), 2u);
  EXPECT_EQ(p.b2b_events[0].trans_code, 'N');
  EXPECT_EQ(p.b2b_events[0].ret_service_order, "SO123");
  EXPECT_EQ(p.b2b_events[0].index_read, "001123.5");
  EXPECT_EQ(format_nem_date(p.b2b_events[0].interval_date), "20050301");
  EXPECT_EQ(only_report(p).rejected_records, 1u);
  EXPECT_EQ(p.readings.size(), 48u);
}

TEST(Reader, Nem13RegisterReadsAreKeptAsPeriods) {
  const std::string file =
      "100,NEM13,200401101030,MDA1,Ret1\n"
      "250,VDEF005890,1141,1,11,11,MET12345,E,000888,20040108103055,A,,,000999,20040408000000,"
      "E64,,,111,kWh,20040408,20040409000000,20040109103023\n"
      "550,N,,E,\n900\n";
  auto p = parse_bytes(file, 0);
  ASSERT_EQ(p.register_reads.size(), 1u);
  const auto& r = p.register_reads[0];
  EXPECT_EQ(r.previous_read, "000888");
  EXPECT_EQ(r.current_read, "000999");
  EXPECT_EQ(r.quantity, 111);
  EXPECT_EQ(r.current_quality_method, "E64");
  EXPECT_EQ(r.current_trans_code, "E");
  EXPECT_EQ(format_nem_time(r.current_read_datetime), "2004-04-08T00:00:00+10:00");
  EXPECT_TRUE(only_report(p).clean());
}

TEST(Reader, Nem13ManyReadsAreFlushedInBatchesWith550sKeptOnTheirRead) {
  std::string file = "100,NEM13,200401101030,MDA1,Ret1\n";
  for (int i = 0; i < 10000; ++i) {
    file += "250,VDEF" + std::to_string(100000 + i) +
            ",1141,1,11,11,MET12345,E,000888,20040108103055,A,,,000999,20040408000000,"
            "E64,,,111,kWh,20040408,20040409000000,20040109103023\n550,N,,E,SO" +
            std::to_string(i) + "\n";
  }
  file += "550,N,,E,\n900\n";  // a 550 with no 250 directly before it
  auto p = parse_bytes(file, 4096);
  ASSERT_EQ(p.register_reads.size(), 10000u);
  for (int i = 0; i < 10000; i += 997)
    EXPECT_EQ(p.register_reads[i].current_ret_service_order, "SO" + std::to_string(i));
  EXPECT_EQ(only_report(p).rejected_records, 1u);
}

TEST(Reader, SmallBatchesCarryTheSameReadings) {
  std::vector<std::string> days;
  for (int d = 1; d <= 28; ++d)
    days.push_back(day(("200502" + std::string(d < 10 ? "0" : "") + std::to_string(d)).c_str()));
  const std::string file = nem12_file(days);
  auto big = parse_bytes(file, 0);
  auto small = parse_bytes(file, 0, false, /*batch_readings=*/100);
  EXPECT_EQ(big.readings, small.readings);
  EXPECT_EQ(big.batches, 1u);
  EXPECT_EQ(small.batches, 10u);  // flushed after every third day (96 < 100 <= 144)
}

// ---- chunk boundaries -----------------------------------------------------------------------

void expect_same(const ParsedInput& a, const ParsedInput& b, const std::string& what) {
  ASSERT_EQ(a.readings.size(), b.readings.size()) << what;
  EXPECT_TRUE(a.readings == b.readings) << what;
  const auto &ra = a.reports.at(0), &rb = b.reports.at(0);
  EXPECT_EQ(ra.readings, rb.readings) << what;
  EXPECT_EQ(ra.lines, rb.lines) << what;
  EXPECT_EQ(ra.rejected_days, rb.rejected_days) << what;
  EXPECT_EQ(ra.rejected_records, rb.rejected_records) << what;
  EXPECT_EQ(ra.issue_counts, rb.issue_counts) << what;
  ASSERT_EQ(ra.issues.size(), rb.issues.size()) << what;
  for (std::size_t i = 0; i < ra.issues.size(); ++i) {
    EXPECT_EQ(ra.issues[i].line, rb.issues[i].line) << what;
    EXPECT_EQ(ra.issues[i].reason, rb.issues[i].reason) << what;
  }
  EXPECT_EQ(a.b2b_events.size(), b.b2b_events.size()) << what;
  EXPECT_EQ(a.register_reads.size(), b.register_reads.size()) << what;
}

ParsedInput parse_split(std::string_view bytes, std::size_t at) {
  ParsedInput out;
  out.opened = true;
  test::CollectingSink sink(out);
  Nem12Reader reader({}, sink);
  reader.feed(bytes.substr(0, at));
  reader.feed(bytes.substr(at));
  reader.finish();
  out.reports.push_back(reader.report());
  return out;
}

TEST(ChunkSplits, EverySplitPointOfSmallSamplesGivesIdenticalOutput) {
  METERD_REQUIRE_SHARED(shared);
  for (const char* file :
       {"aemo_s09_500_b2b_V_E52_estimates.csv", "nemreader_400_F14_A_S14_reason_codes.csv",
        "err_flo_sample_hard_wrapped_lines.csv", "powercor_no100_blank_lines_two_900.csv",
        "westernpower_excel_padded_rows_12digit_updatedt.csv",
        "nem13_meter_change_550_kW_demand.csv", "aemo_integm_15min_V_S15_E52_msatsload"}) {
    const std::string bytes = test::read_file(test::samples_dir() / file);
    const ParsedInput whole = parse_bytes(bytes, 0);
    for (std::size_t at = 0; at <= bytes.size(); ++at)
      expect_same(whole, parse_split(bytes, at),
                  std::string(file) + " split at " + std::to_string(at));
  }
}

TEST(ChunkSplits, TinyAndOddChunkSizesOfLargerSamplesGiveIdenticalOutput) {
  METERD_REQUIRE_SHARED(shared);
  for (const char* file :
       {"sapn_5min_no100_interval05_14dp_repeat200.csv", "eeq_mdp_real_V04_S19_poweroutage_400.csv",
        "mixed_5_15_30min_3nmis_400_500_crlf.csv", "err_blank_intervaldate_excel_padded.csv",
        "unitedenergy_portal_no100_no900_2yr_30min.csv"}) {
    const std::string bytes = test::read_file(test::samples_dir() / file);
    const ParsedInput whole = parse_bytes(bytes, 0);
    for (std::size_t chunk : {1, 2, 3, 7, 13, 64, 333, 4096})
      expect_same(whole, parse_bytes(bytes, chunk),
                  std::string(file) + " chunk " + std::to_string(chunk));
  }
}

// ---- numbers --------------------------------------------------------------------------------

TEST(Decimals, FastPathIsCorrectlyRoundedLikeFromChars) {
  std::mt19937_64 rng(42);
  char text[64];
  for (int i = 0; i < 200000; ++i) {
    const unsigned int_digits = rng() % 8, frac_digits = rng() % 16;
    std::string s;
    for (unsigned d = 0; d < int_digits; ++d) s.push_back(char('0' + rng() % 10));
    if (frac_digits || int_digits == 0) {
      s.push_back('.');
      for (unsigned d = 0; d < std::max(frac_digits, 1u); ++d) s.push_back(char('0' + rng() % 10));
    }
    double ours = -1, reference = -2;
    ASSERT_EQ(mdff::parse_decimal(s, ours), mdff::NumberError::ok) << s;
    const std::string ref_text = s[0] == '.' ? "0" + s : s;
    std::from_chars(ref_text.data(), ref_text.data() + ref_text.size(), reference);
    ASSERT_EQ(std::memcmp(&ours, &reference, sizeof ours), 0) << s;
    // And the in-record fast path agrees where it applies.
    std::snprintf(text, sizeof text, "%s,", s.c_str());
    double fast = -3;
    if (const char* end = mdff::parse_decimal_fast(text, fast)) {
      ASSERT_EQ(*end, ',');
      ASSERT_EQ(std::memcmp(&fast, &reference, sizeof fast), 0) << s;
    }
  }
}

TEST(Decimals, RealWorldSpellings) {
  double v = 0;
  EXPECT_EQ(mdff::parse_decimal(".048", v), mdff::NumberError::ok);
  EXPECT_EQ(v, 0.048);
  EXPECT_EQ(mdff::parse_decimal("0.00100000000000", v), mdff::NumberError::ok);
  EXPECT_EQ(v, 0.001);
  EXPECT_EQ(mdff::parse_decimal("12345678901234567890.5", v), mdff::NumberError::ok);
  EXPECT_EQ(v, 12345678901234567890.5);
  EXPECT_EQ(mdff::parse_decimal("", v), mdff::NumberError::empty);
  EXPECT_EQ(mdff::parse_decimal("-1", v), mdff::NumberError::negative);
  for (const char* bad : {"1e3", "+4", "nan", "inf", "0x10", "1.2.3", ".", "8. 77"})
    EXPECT_EQ(mdff::parse_decimal(bad, v), mdff::NumberError::not_a_number) << bad;
}

TEST(Fields, QualityMethodsAndUnits) {
  mdff::QualityMethod q;
  EXPECT_TRUE(mdff::parse_quality_method("E52", q));
  EXPECT_EQ(q.quality, 'E');
  EXPECT_EQ(q.method, 52);
  EXPECT_TRUE(mdff::parse_quality_method("V", q));
  for (const char* bad : {"", "E", "S1", "T", "V01", "a", "E5x", "A001"})
    EXPECT_FALSE(mdff::parse_quality_method(bad, q)) << bad;
  EXPECT_EQ(mdff::canonical_uom("KWH"), "kWh");
  EXPECT_EQ(mdff::canonical_uom("kvarh"), "kVArh");
  EXPECT_EQ(mdff::canonical_uom("WH"), "Wh");
  EXPECT_EQ(mdff::canonical_uom(""), "");
  EXPECT_EQ(mdff::canonical_uom("kWhh"), "");
}

TEST(NemTime, RoundTripsAndRejectsImpossibleDates) {
  epoch_seconds t = 0;
  EXPECT_TRUE(parse_nem_datetime("20240229235959", t));
  EXPECT_EQ(format_nem_time(t), "2024-02-29T23:59:59+10:00");
  EXPECT_FALSE(parse_nem_date("20230229", t));
  EXPECT_FALSE(parse_nem_date("2023-02-01", t));
  EXPECT_FALSE(parse_nem_datetime("20230201240000", t));
  EXPECT_TRUE(parse_nem_date("19991231", t));
  EXPECT_EQ(format_nem_date(t), "19991231");
}

}  // namespace
}  // namespace meterd
