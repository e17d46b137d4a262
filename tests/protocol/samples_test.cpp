// Every real sample in ../shared/data/nem12/samples, with its outcome asserted, and our readings
// compared with an independent parser's (nem-reader's) in ../shared/data/nem12/expected.
#include <gtest/gtest.h>

#include <simdjson.h>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "protocol/mdff_fields.hpp"
#include "protocol/nem_time.hpp"
#include "tests/parse_collect.hpp"
#include "tests/test_support.hpp"

namespace meterd {
namespace {

using test::OwnedReading;
using test::ParsedInput;

struct Expected {
  const char* file;
  std::uint64_t readings;
  std::uint64_t rejected_days, rejected_blocks, rejected_records;
  bool fatal;
  std::uint64_t register_reads, b2b_events;
  const char* reason;  // substring of the first reject/fatal issue ("" when clean)
};

// Our outcome for every sample (default mode). Where it differs from nem-reader, the reason
// is the spec (nem12-format.md §10) and nem-reader's own SUMMARY.md item is named.
const Expected kSamples[] = {
    {"aemo_energex_400_null_quality_N_multi_suffix.V05", 480, 0, 0, 0, false, 0, 0, ""},
    // nem-reader raises AttributeError for the whole file; we reject the orphan day only.
    {"aemo_err21_missing_200_record.csv", 0, 1, 0, 0, false, 0, 0, "without a preceding 200"},
    // A suffix NMIConfiguration does not list is a metadata defect: kept with a warning (strict
    // mode rejects the block, as AEMO's error file intends).
    {"aemo_err22_nmiconfig_lacks_suffix.csv", 48, 0, 0, 0, false, 0, 0, ""},
    // SUMMARY 3: V is only legal on a 300; the 400's range is kept with quality V (unknown).
    {"aemo_err23_V_flag_inside_400.csv", 48, 0, 0, 0, false, 0, 0, ""},
    // SUMMARY 3: T is not a quality flag: its range is kept with quality V (unknown).
    {"aemo_err24_invalid_quality_T_in_400.csv", 48, 0, 0, 0, false, 0, 0, ""},
    {"aemo_err25_missing_900_record.csv", 48, 0, 0, 0, false, 0, 0, ""},
    {"aemo_globalm_15min_Wh_many400_F17_F18_S14_reason0_desc.csv", 192, 0, 0, 0, false, 0, 0, ""},
    {"aemo_globalm_uppercase_ZIP_inner_name_differs.ZIP", 768, 0, 0, 0, false, 0, 0, ""},
    {"aemo_integm_15min_V_S15_E52_msatsload", 192, 0, 0, 0, false, 0, 0, ""},
    {"aemo_powermdp_meter_change_nmiconfig_400_500.csv", 384, 0, 0, 0, false, 0, 5, ""},
    {"aemo_s01_basic_30min_E1E2.csv", 384, 0, 0, 0, false, 0, 0, ""},
    {"aemo_s02_4channel_B1E1K1Q1_kwh_kvarh.csv", 768, 0, 0, 0, false, 0, 0, ""},
    {"aemo_s03_V_quality_400_reason89.csv", 384, 0, 0, 0, false, 0, 0, ""},
    {"aemo_s05_interval_change_15_to_30min.csv", 288, 0, 0, 0, false, 0, 0, ""},
    {"aemo_s09_500_b2b_V_E52_estimates.csv", 336, 0, 0, 0, false, 0, 7, ""},
    {"edge_header_and_footer_only.csv", 0, 0, 0, 0, false, 0, 0, ""},
    {"eeq_mdp_real_V04_S19_poweroutage_400.csv", 27072, 0, 0, 0, false, 0, 0, ""},
    {"eeq_mdp_real_V85_mdm_stream_id_change.csv", 9984, 0, 0, 0, false, 0, 0, ""},
    {"embedded_network_10_meters_500_after_each_300.csv", 3840, 0, 0, 0, false, 0, 80, ""},
    {"err_15min_200_but_48_value_300.csv", 0, 1, 0, 0, false, 0, 0,
     "300 record has 48 interval values; IntervalLength 15 requires 96"},
    // SUMMARY 15: NMIConfiguration is mandatory, but its absence leaves every key and value
    // certain: the block is kept with a warning (strict mode rejects it).
    {"err_200_empty_nmiconfiguration.csv", 384, 0, 0, 0, false, 0, 0, ""},
    // SUMMARY 7: nem-reader yields 48 empty values as None; an empty value is not a reading.
    {"err_300_all_interval_values_empty.csv", 0, 1, 0, 0, false, 0, 0, "IntervalValue1 is empty"},
    {"err_300_too_few_interval_values.csv", 0, 1, 0, 0, false, 0, 0,
     "300 record has 44 interval values; IntervalLength 30 requires 48"},
    {"err_300_with_no_interval_values.csv", 144, 1, 0, 0, false, 0, 0, "has 0 interval values"},
    {"err_30min_200_but_96_value_300_and_400.csv", 0, 1, 0, 0, false, 0, 0,
     "more interval values than IntervalLength 30 allows"},
    // nem-reader fails the whole file; the 400 with no range is ignored and its day kept with
    // quality V (unknown).
    {"err_400_empty_start_end_interval.csv", 192, 0, 0, 0, false, 0, 0, ""},
    // nem-reader fails the whole file; only the day with no IntervalDate is dropped.
    {"err_blank_intervaldate_excel_padded.csv", 11760, 1, 0, 0, false, 0, 481,
     "IntervalDate '' is not a valid"},
    {"err_bogus_500_is_copy_of_200.csv", 336, 0, 0, 1, false, 0, 0,
     "TransCode '1234567890' is not one of"},
    // A second 100 without a 900 before it is fatal (nem12-format.md §10).
    {"err_duplicate_100_header.csv", 0, 0, 0, 0, true, 0, 0, "second 100 header record"},
    // Every 300 is hard-wrapped: each day is rejected, nothing is mis-parsed.
    {"err_flo_sample_hard_wrapped_lines.csv", 0, 8, 0, 0, false, 0, 0,
     "300 record ends after 21 interval values"},
    // The block with no IntervalLength is rejected (4 days), plus one day with an empty value.
    {"err_missing_interval_length_and_value.csv", 144, 5, 1, 0, false, 0, 1,
     "IntervalLength '' is not 5, 15 or 30"},
    {"err_records_after_900_second_block_no_100.csv", 384, 0, 0, 0, false, 0, 2, ""},
    {"err_zero_byte_file.csv", 0, 0, 0, 0, true, 0, 0, "empty file"},
    {"mixed_5_15_30min_3nmis_400_500_crlf.csv", 1728, 0, 0, 0, false, 0, 3, ""},
    {"nem13_forward_estimate_250_550.csv", 0, 0, 0, 0, false, 2, 0, ""},
    // `8. 77` is not a number: that 250 (and its 550) is rejected, the other three are kept.
    {"nem13_meter_change_550_kW_demand.csv", 0, 0, 0, 1, false, 3, 0,
     "Quantity '8. 77' is not a number"},
    {"nem13_multi_nmi_excel_padded.csv", 0, 0, 0, 0, false, 10, 0, ""},
    {"nemreader_200_nine_fields_no_nsrd_lf.csv", 96, 0, 0, 0, false, 0, 0, ""},
    {"nemreader_400_F14_A_S14_reason_codes.csv", 48, 0, 0, 0, false, 0, 0, ""},
    {"nemreader_5min_month_solar_B1E1_lf.csv", 17856, 0, 0, 0, false, 0, 0, ""},
    {"nemreader_99_nmis_5min.zip", 57024, 0, 0, 0, false, 0, 0, ""},
    // SUMMARY 9: IntervalLength 10 is not MDFF, so no interval start is certain: that block is
    // rejected (its empty UOM alone would only be a warning).
    {"nemreader_nonspec_10min_interval_empty_uom.csv", 96, 1, 1, 0, false, 0, 0,
     "IntervalLength '10' is not 5, 15 or 30"},
    {"powercor_no100_blank_lines_two_900.csv", 192, 0, 0, 0, false, 0, 0, ""},
    {"powercor_no100_double_ext.csv.zip", 192, 0, 0, 0, false, 0, 0, ""},
    {"sapn_5min_no100_interval05_14dp_repeat200.csv", 25920, 0, 0, 0, false, 0, 0, ""},
    {"spanmdp_real_365d_500_bursts.csv", 17520, 0, 0, 0, false, 0, 720, ""},
    {"unitedenergy_portal_no100_no900_2yr_30min.csv", 35136, 0, 0, 0, false, 0, 0, ""},
    {"westernpower_excel_padded_rows_12digit_updatedt.csv", 192, 0, 0, 0, false, 0, 0, ""},
};

// Sums of the kept readings for files nem-reader cannot parse at all, computed independently
// with awk over the 300 records of the kept days (see the test for the command's logic).
const std::map<std::string, double> kSumsWithoutOracle = {
    {"err_400_empty_start_end_interval.csv", 350132.82},
    {"err_blank_intervaldate_excel_padded.csv", 1970.778},
    {"err_missing_interval_length_and_value.csv", 97.369},
};

struct Totals {
  std::uint64_t readings = 0, rejected_days = 0, rejected_blocks = 0, rejected_records = 0,
                register_reads = 0, b2b_events = 0;
  bool fatal = false;
  double sum = 0;
  std::string first_problem;
};

Totals totals_of(const ParsedInput& parsed) {
  Totals t;
  for (const auto& r : parsed.reports) {
    t.readings += r.readings;
    t.rejected_days += r.rejected_days;
    t.rejected_blocks += r.rejected_blocks;
    t.rejected_records += r.rejected_records;
    t.register_reads += r.register_reads;
    t.b2b_events += r.b2b_events;
    t.fatal = t.fatal || r.fatal;
    for (const auto& issue : r.issues)
      if (issue.severity != Severity::warning && t.first_problem.empty())
        t.first_problem = issue.reason;
  }
  std::vector<double> values;
  for (const auto& r : parsed.readings) values.push_back(r.value);
  // Sum in sorted order so that the result does not depend on emission order.
  std::sort(values.begin(), values.end());
  t.sum = std::accumulate(values.begin(), values.end(), 0.0);
  return t;
}

class SampleTest : public ::testing::TestWithParam<Expected> {};

TEST_P(SampleTest, OutcomeAsExpected) {
  METERD_REQUIRE_SHARED(shared);
  const Expected& e = GetParam();
  const ParsedInput parsed = test::parse_path(test::samples_dir() / e.file);
  ASSERT_TRUE(parsed.opened) << e.file;
  ASSERT_EQ(parsed.reports.size(), 1u) << "one member expected in " << e.file;
  const Totals t = totals_of(parsed);
  EXPECT_EQ(t.readings, e.readings);
  EXPECT_EQ(parsed.readings.size(), e.readings) << "readings delivered to the sink";
  EXPECT_EQ(t.rejected_days, e.rejected_days);
  EXPECT_EQ(t.rejected_blocks, e.rejected_blocks);
  EXPECT_EQ(t.rejected_records, e.rejected_records);
  EXPECT_EQ(t.fatal, e.fatal);
  EXPECT_EQ(t.register_reads, e.register_reads);
  EXPECT_EQ(parsed.register_reads.size(), e.register_reads);
  EXPECT_EQ(t.b2b_events, e.b2b_events);
  EXPECT_EQ(parsed.b2b_events.size(), e.b2b_events);
  if (*e.reason) {
    EXPECT_NE(t.first_problem.find(e.reason), std::string::npos)
        << "first problem was: " << t.first_problem;
  } else {
    EXPECT_TRUE(t.first_problem.empty()) << t.first_problem;
    EXPECT_TRUE(parsed.reports[0].clean());
  }
  // The report's own sum agrees with the readings delivered.
  EXPECT_NEAR(parsed.reports[0].value_sum, t.sum, 1e-6 * std::max(1.0, std::abs(t.sum)));
  if (auto it = kSumsWithoutOracle.find(e.file); it != kSumsWithoutOracle.end()) {
    EXPECT_NEAR(t.sum, it->second, 1e-6);
  }
  // Every issue names its line (but the zero-byte file has none).
  for (const auto& issue : parsed.reports[0].issues) {
    if (issue.severity != Severity::warning && std::string(e.file) != "err_zero_byte_file.csv") {
      EXPECT_GT(issue.line, 0u) << issue.reason;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Samples, SampleTest, ::testing::ValuesIn(kSamples), [](const auto& info) {
  std::string name = info.param.file;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(Samples, EverySampleIsCovered) {
  METERD_REQUIRE_SHARED(shared);
  std::set<std::string> listed;
  for (const auto& e : kSamples) listed.insert(e.file);
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::samples_dir())) {
    if (entry.path().filename() == "README.md") continue;
    ++files;
    EXPECT_TRUE(listed.count(entry.path().filename().string()))
        << entry.path().filename() << " has no expected outcome";
  }
  EXPECT_EQ(files, std::size(kSamples));
}

// ---- nem-reader's readings ------------------------------------------------------------------

struct OracleRow {
  std::string nmi, suffix;
  epoch_seconds interval_start = 0, interval_end = 0;
  std::uint32_t minutes = 0;  // whole minutes (NEM13 periods are fractional in nem-reader)
  double value = 0;
  bool has_value = false;
  std::string uom, quality_method, reason_code, reason_description;
  epoch_seconds update = kNoTime;
};

// "2005-03-15T00:30:00" (naive NEM time) → epoch seconds.
epoch_seconds parse_naive(std::string_view text) {
  if (text.empty()) return kNoTime;
  std::string digits;
  for (char c : text)
    if (c >= '0' && c <= '9') digits.push_back(c);
  epoch_seconds t = kNoTime;
  if (!parse_nem_datetime(digits, t)) ADD_FAILURE() << "bad oracle time " << text;
  return t;
}

std::vector<OracleRow> load_oracle(const std::filesystem::path& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line,
            "nmi,suffix,interval_end,interval_minutes,value,uom,quality_method,reason_code,"
            "reason_description,update_datetime");
  std::vector<OracleRow> rows;
  std::vector<std::string_view> f;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    mdff::split_fields(line, f);
    if (f.size() != 10) {
      ADD_FAILURE() << "oracle row with " << f.size() << " fields: " << line;
      continue;
    }
    OracleRow r;
    r.nmi = f[0];
    r.suffix = f[1];
    r.minutes = static_cast<std::uint32_t>(std::stod(std::string(f[3])));
    r.interval_end = parse_naive(f[2]);
    r.interval_start = r.interval_end - static_cast<epoch_seconds>(r.minutes) * 60;
    r.has_value = !f[4].empty();
    if (r.has_value) r.value = std::strtod(std::string(f[4]).c_str(), nullptr);
    r.uom = f[5];
    r.quality_method = f[6];
    r.reason_code = f[7];
    r.reason_description = f[8];
    r.update = parse_naive(f[9]);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string key_of(const std::string& nmi, const std::string& suffix, epoch_seconds start) {
  return nmi + "/" + suffix + "/" + std::to_string(start);
}

std::string describe(const OwnedReading& r) {
  std::ostringstream s;
  s << r.nmi << "/" << r.suffix << " " << format_nem_time(r.interval_start) << " value " << r.value
    << " q " << r.quality << int(r.method) << " reason " << r.reason_code << " '"
    << r.reason_description << "' line " << r.line;
  return s.str();
}

// Readings nem-reader yields that we reject, per file, and why (SUMMARY.md item).
// Where meterd stays stricter than nem-reader, the key or the value is not certain.
const std::map<std::string, std::size_t> kOracleOnlyReadings = {
    // item 7: nem-reader yields 48 readings without a value (None); a value is not certain.
    {"err_300_all_interval_values_empty.csv", 48},
    // item 9: IntervalLength 10 is not MDFF; the interval starts are not certain.
    {"nemreader_nonspec_10min_interval_empty_uom.csv", 144}};

// Readings both keep where nem-reader copies a quality flag that is not one (item 3: "T" in a
// 400) and meterd marks the quality unknown (V).
const std::map<std::string, std::string> kOracleQualityMarkedUnknown = {
    {"aemo_err24_invalid_quality_T_in_400.csv", "T"}};

TEST(Samples, ReadingsMatchIndependentParser) {
  METERD_REQUIRE_SHARED(shared);
  const auto expected_dir = shared / "data" / "nem12" / "expected";
  std::size_t files_compared = 0, readings_compared = 0;
  for (const auto& e : kSamples) {
    const auto csv = expected_dir / (std::string(e.file) + ".readings.csv");
    if (!std::filesystem::exists(csv)) continue;
    SCOPED_TRACE(e.file);
    const ParsedInput parsed = test::parse_path(test::samples_dir() / e.file);
    const std::vector<OracleRow> oracle = load_oracle(csv);
    if (e.register_reads > 0) {
      // SUMMARY 14: nem-reader makes one reading per 250 (start = previous read, end = current
      // read, value = Quantity); we keep 250s as register-read periods. Compare those.
      ASSERT_EQ(oracle.size(), parsed.register_reads.size());
      std::multimap<std::string, const OracleRow*> periods;
      for (const auto& row : oracle)
        periods.emplace(key_of(row.nmi, row.suffix, row.interval_end), &row);
      for (const auto& r : parsed.register_reads) {
        auto it = periods.find(key_of(r.nmi, r.suffix, r.current_read_datetime));
        ASSERT_NE(it, periods.end()) << r.nmi << "/" << r.suffix << " line " << r.line;
        const OracleRow& o = *it->second;
        EXPECT_EQ(o.value, r.quantity);
        EXPECT_EQ(o.quality_method, r.current_quality_method);
        EXPECT_EQ(o.update, r.update_datetime);
        periods.erase(it);
      }
      ++files_compared;
      continue;
    }
    std::multimap<std::string, const OracleRow*> by_key;
    for (const auto& row : oracle)
      by_key.emplace(key_of(row.nmi, row.suffix, row.interval_start), &row);
    std::size_t matched = 0;
    for (const auto& ours : parsed.readings) {
      auto [lo, hi] = by_key.equal_range(key_of(ours.nmi, ours.suffix, ours.interval_start));
      bool found = false;
      for (auto it = lo; it != hi; ++it) {
        const OracleRow& o = *it->second;
        std::string quality(1, ours.quality);
        if (ours.method) {  // appended piecewise: g++ 12 warns falsely (-Wrestrict) on "0" + string
          if (ours.method < 10) quality += '0';
          quality += std::to_string(ours.method);
        }
        const std::string reason =
            ours.reason_code == kNoReasonCode ? "" : std::to_string(ours.reason_code);
        const auto unknown = kOracleQualityMarkedUnknown.find(e.file);
        const bool same_quality = o.quality_method == quality ||
                                  (quality == "V" && unknown != kOracleQualityMarkedUnknown.end() &&
                                   o.quality_method == unknown->second);
        found = o.has_value && o.value == ours.value && o.minutes == ours.interval_minutes &&
                mdff::canonical_uom(o.uom) == ours.uom && same_quality && o.reason_code == reason &&
                o.reason_description == ours.reason_description && o.update == ours.update_datetime;
        if (found) {
          by_key.erase(it);
          break;
        }
      }
      EXPECT_TRUE(found) << "no identical reading in nem-reader's output: " << describe(ours);
      matched += found;
    }
    const auto only_oracle = kOracleOnlyReadings.find(e.file);
    EXPECT_EQ(by_key.size(), only_oracle == kOracleOnlyReadings.end() ? 0 : only_oracle->second)
        << "readings nem-reader yields that we do not";
    readings_compared += matched;
    ++files_compared;
  }
  EXPECT_GE(files_compared, 35u);
  EXPECT_GE(readings_compared, 200000u);
}

// nem-reader's per-stream sums (results.json) agree with ours wherever both keep the same data.
TEST(Samples, StreamSumsMatchIndependentParser) {
  METERD_REQUIRE_SHARED(shared);
  simdjson::dom::parser parser;
  const auto path = shared / "data" / "nem12" / "expected" / "results.json";
  simdjson::dom::element root = parser.load(path.string());
  std::size_t checked = 0;
  for (simdjson::dom::element file : root["files"]) {
    const std::string name{std::string_view(file["file"])};
    simdjson::dom::element stats;
    if (file["stats"].get(stats) != simdjson::SUCCESS || stats.is_null()) continue;
    if (kOracleOnlyReadings.count(name)) continue;
    const ParsedInput parsed = test::parse_path(test::samples_dir() / name);
    if (!parsed.register_reads.empty()) continue;
    std::map<std::string, std::vector<double>> ours;
    for (const auto& r : parsed.readings) ours[r.nmi + "/" + r.suffix].push_back(r.value);
    for (simdjson::dom::element stream : stats["streams"]) {
      const std::string key = std::string(std::string_view(stream["nmi"])) + "/" +
                              std::string(std::string_view(stream["suffix"]));
      const double expected_sum = std::stod(std::string(std::string_view(stream["sum"])));
      const auto expected_count = std::uint64_t(stream["readings"]);
      auto& values = ours[key];
      std::sort(values.begin(), values.end());
      const double sum = std::accumulate(values.begin(), values.end(), 0.0);
      EXPECT_EQ(values.size(), expected_count) << name << " " << key;
      EXPECT_NEAR(sum, expected_sum, 5e-7 + 1e-12 * std::abs(expected_sum)) << name << " " << key;
      ++checked;
    }
  }
  EXPECT_GE(checked, 290u);
}

// Strict mode adds the spec's checks: the portal files without a 100 become unreadable, and
// quirks such as 12-digit datetimes or Excel padding become errors.
TEST(Samples, StrictModeRejectsQuirks) {
  METERD_REQUIRE_SHARED(shared);
  for (const char* file :
       {"powercor_no100_blank_lines_two_900.csv", "sapn_5min_no100_interval05_14dp_repeat200.csv",
        "unitedenergy_portal_no100_no900_2yr_30min.csv"}) {
    const ParsedInput parsed = test::parse_path(test::samples_dir() / file, /*strict=*/true);
    ASSERT_EQ(parsed.reports.size(), 1u);
    EXPECT_TRUE(parsed.reports[0].fatal) << file;
    EXPECT_EQ(parsed.readings.size(), 0u) << file;
  }
  const ParsedInput padded =
      test::parse_path(test::samples_dir() / "westernpower_excel_padded_rows_12digit_updatedt.csv",
                       /*strict=*/true);
  EXPECT_FALSE(padded.reports.at(0).clean());
  // A spec-exact AEMO example stays clean in strict mode.
  const ParsedInput exact =
      test::parse_path(test::samples_dir() / "aemo_s01_basic_30min_E1E2.csv", /*strict=*/true);
  EXPECT_TRUE(exact.reports.at(0).clean());
  EXPECT_EQ(exact.readings.size(), 384u);
}

}  // namespace
}  // namespace meterd
