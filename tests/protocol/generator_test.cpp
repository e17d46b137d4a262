// The synthetic NEM12 generator: determinism, well-formedness, and stats that a second,
// deliberately naive line-level count (and the real reader) agree with.
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "protocol/nem12_generator.hpp"
#include "protocol/nem12_reader.hpp"
#include "tests/test_support.hpp"

namespace meterd::bench {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

bool all_digits(std::string_view s, std::size_t size) {
  return s.size() == size &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `0`, `1.5`, `12.345`: digits, optionally a point and 1–3 more digits.
bool is_value(std::string_view s) {
  const auto point = s.find('.');
  const std::string_view whole = s.substr(0, point);
  if (whole.empty() || !all_digits(whole, whole.size())) return false;
  if (point == std::string_view::npos) return true;
  const std::string_view frac = s.substr(point + 1);
  return !frac.empty() && frac.size() <= 3 && all_digits(frac, frac.size());
}

// What a naive reading of the text says, computed without the generator's own bookkeeping.
struct LineCount {
  std::uint64_t lines = 0, readings = 0, days = 0, malformed_days = 0, resent_days = 0;
  std::uint64_t unknown_records = 0, b2b_events = 0;
  double value_sum = 0;
};

// Also checks, with gtest assertions, the spec rules the generator promises to follow.
LineCount count_lines(std::string_view text, std::uint32_t interval_minutes, bool crlf) {
  const std::uint32_t n = 1440 / interval_minutes;
  LineCount count;
  EXPECT_TRUE(text.ends_with(crlf ? "\r\n" : "\n"));
  std::vector<std::string_view> lines = split(text, '\n');
  lines.pop_back();  // after the final newline
  count.lines = lines.size();
  for (auto& line : lines) {
    if (crlf) {
      EXPECT_TRUE(line.ends_with('\r'));
      line.remove_suffix(1);
    }
    EXPECT_EQ(line.find('\r'), std::string_view::npos);
  }
  EXPECT_TRUE(lines.front().starts_with("100,NEM12,"));
  EXPECT_TRUE(all_digits(split(lines.front(), ',').at(2), 12));
  EXPECT_EQ(lines.back(), "900");

  std::string nmi, suffix, last_date;
  std::set<std::tuple<std::string, std::string, std::string>> seen_days;
  std::uint32_t next_400 = 0;  // next interval a 400 must start at; 0 = no 400 expected
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    const std::vector<std::string_view> f = split(lines[i], ',');
    const std::string_view record = f[0];
    if (record != "400") {
      EXPECT_EQ(next_400, 0u) << "V day without full 400 cover, line " << i;
    }
    if (record == "200") {
      if (f.size() != 10) {
        ADD_FAILURE() << "200 with " << f.size() << " fields, line " << i;
        continue;
      }
      EXPECT_EQ(f[1].size(), 10u);
      EXPECT_NE(f[2].find(f[4]), std::string_view::npos) << "NMIConfiguration lacks suffix";
      EXPECT_EQ(f[8], std::to_string(interval_minutes));
      nmi = f[1], suffix = f[4], last_date.clear();
    } else if (record == "300") {
      const bool complete = f.size() == n + 7 && std::all_of(f.begin() + 2, f.begin() + 2 + n,
                                                             [](auto v) { return is_value(v); });
      EXPECT_TRUE(all_digits(f[1], 8));
      EXPECT_GT(std::string(f[1]), last_date) << "IntervalDate not ascending in a 200";
      last_date = f[1];
      if (!seen_days.emplace(nmi, suffix, last_date).second) ++count.resent_days;
      if (!complete) {
        ++count.malformed_days;
        continue;
      }
      ++count.days;
      count.readings += n;
      for (std::uint32_t k = 0; k < n; ++k) {
        double v = 0;
        std::from_chars(f[2 + k].data(), f[2 + k].data() + f[2 + k].size(), v);
        count.value_sum += v;
      }
      const std::string_view quality = f[n + 2];
      EXPECT_TRUE(quality == "A" || quality == "E52" || quality == "V") << quality;
      EXPECT_TRUE(all_digits(f[n + 5], 14)) << "UpdateDateTime " << f[n + 5];
      EXPECT_TRUE(f[n + 6].empty() || all_digits(f[n + 6], 14)) << "MSATS " << f[n + 6];
      if (quality == "V") next_400 = 1;
    } else if (record == "400") {
      if (f.size() != 6 || next_400 == 0) {
        ADD_FAILURE() << "400 with " << f.size() << " fields or without a V 300, line " << i;
        continue;
      }
      EXPECT_EQ(f[1], std::to_string(next_400));
      const std::uint32_t end = std::stoul(std::string(f[2]));
      EXPECT_GE(end, next_400);
      EXPECT_LE(end, n);
      EXPECT_NE(f[3], "V");
      next_400 = end == n ? 0 : end + 1;
    } else if (record == "500") {
      EXPECT_EQ(f.size(), 5u);
      ++count.b2b_events;
    } else if (record == "999") {
      ++count.unknown_records;
    } else {
      // The second half of a hard-wrapped 300: fraction digits, never a record indicator.
      EXPECT_FALSE(record.size() == 3 && record.ends_with('0')) << lines[i];
    }
  }
  return count;
}

GeneratorOptions small(std::uint64_t seed = 7) {
  GeneratorOptions o;
  o.seed = seed;
  o.nmis = 12;
  o.days = 20;
  return o;
}

GeneratorOptions everything(std::uint32_t interval_minutes) {
  GeneratorOptions o = small(interval_minutes);
  o.interval_minutes = interval_minutes;
  o.suffixes = {"E1", "B1", "Q1"};
  o.v_day_fraction = 0.2;
  o.b2b_fraction = 0.2;
  o.malformed_fraction = 0.1;
  o.resent_day_fraction = 0.1;
  return o;
}

TEST(Generator, SameSeedGivesSameBytes) {
  EXPECT_EQ(generate_nem12_string(everything(30)), generate_nem12_string(everything(30)));
}

TEST(Generator, DifferentSeedGivesDifferentBytes) {
  GeneratorOptions other = everything(30);
  other.seed += 1;
  EXPECT_NE(generate_nem12_string(everything(30)), generate_nem12_string(other));
}

TEST(Generator, ChunkedAndStringOutputAgree) {
  GeneratorOptions o = everything(5);
  o.nmis = 40;  // > 1 MiB, so several chunks
  GeneratorStats from_string;
  const std::string text = generate_nem12_string(o, &from_string);
  ASSERT_GT(text.size(), std::size_t{3} << 20);

  std::string joined;
  std::size_t chunks = 0;
  generate_nem12(o, [&](std::string_view chunk) { joined.append(chunk), ++chunks; });
  EXPECT_EQ(joined, text);
  EXPECT_GE(chunks, 3u);
}

TEST(Generator, StatsMatchAnIndependentLineCount) {
  for (std::uint32_t il : {5u, 15u, 30u}) {
    for (GeneratorOptions o : {small(), everything(il)}) {
      o.interval_minutes = il;
      SCOPED_TRACE("interval " + std::to_string(il) + " malformed " +
                   std::to_string(o.malformed_fraction));
      GeneratorStats stats;
      const std::string text = generate_nem12_string(o, &stats);
      const LineCount count = count_lines(text, il, o.crlf);
      EXPECT_EQ(stats.bytes, text.size());
      EXPECT_EQ(stats.lines, count.lines);
      EXPECT_EQ(stats.readings, count.readings);
      EXPECT_EQ(stats.days, count.days);
      EXPECT_EQ(stats.malformed_days, count.malformed_days);
      EXPECT_EQ(stats.resent_days, count.resent_days);
      EXPECT_EQ(stats.unknown_records, count.unknown_records);
      EXPECT_EQ(stats.b2b_events, count.b2b_events);
      EXPECT_NEAR(stats.value_sum, count.value_sum, 1e-9 * count.value_sum);
      EXPECT_EQ(stats.readings, stats.days * (1440 / il));
    }
  }
}

TEST(Generator, MixedOptionsProduceEveryFeature) {
  GeneratorStats stats;
  const std::string text = generate_nem12_string(everything(30), &stats);
  EXPECT_GT(stats.malformed_days, 0u);
  EXPECT_GT(stats.resent_days, 0u);
  EXPECT_GT(stats.unknown_records, 0u);
  EXPECT_GT(stats.b2b_events, 0u);
  EXPECT_NE(text.find("\n400,1,"), std::string::npos);
  EXPECT_NE(text.find(",V,,,"), std::string::npos);
  EXPECT_NE(text.find(",E52,,,"), std::string::npos);
  EXPECT_NE(text.find(",abc,"), std::string::npos);
  EXPECT_NE(text.find("\n500,E,,,\n"), std::string::npos);
}

TEST(Generator, CrlfChangesOnlyLineEndings) {
  GeneratorOptions crlf = everything(15);
  crlf.crlf = true;
  GeneratorStats lf_stats, crlf_stats;
  const std::string lf_text = generate_nem12_string(everything(15), &lf_stats);
  const std::string crlf_text = generate_nem12_string(crlf, &crlf_stats);

  std::string expected;
  for (char c : lf_text) c == '\n' ? expected += "\r\n" : expected += c;
  EXPECT_EQ(crlf_text, expected);
  EXPECT_EQ(crlf_stats.bytes, lf_stats.bytes + lf_stats.lines);
  EXPECT_EQ(crlf_stats.readings, lf_stats.readings);
  const LineCount count = count_lines(crlf_text, 15, true);
  EXPECT_EQ(count.readings, crlf_stats.readings);
  EXPECT_EQ(count.malformed_days, crlf_stats.malformed_days);
}

TEST(Generator, RejectsOptionsThatCannotGiveAValidFile) {
  const auto with = [](auto change) {
    GeneratorOptions o = small();
    change(o);
    return o;
  };
  EXPECT_THROW(generate_nem12_string(with([](auto& o) { o.interval_minutes = 10; })),
               std::invalid_argument);
  EXPECT_THROW(generate_nem12_string(with([](auto& o) { o.suffixes = {}; })),
               std::invalid_argument);
  EXPECT_THROW(generate_nem12_string(with([](auto& o) {
                 o.suffixes = {"E1", "E1"};
               })),
               std::invalid_argument);
  EXPECT_THROW(generate_nem12_string(with([](auto& o) { o.suffixes = {"E"}; })),
               std::invalid_argument);
  EXPECT_THROW(generate_nem12_string(with([](auto& o) { o.start_date = "20240231"; })),
               std::invalid_argument);
  EXPECT_THROW(generate_nem12_string(with([](auto& o) { o.b2b_fraction = 1.5; })),
               std::invalid_argument);
  EXPECT_THROW(generate_nem12_string(with([](auto& o) { o.start_date = "99991220"; })),
               std::invalid_argument);
}

// --- Against the real reader -------------------------------------------------------------------

class CountingSink : public ReadingSink {
 public:
  void on_readings(ReadingBatch& batch) override {
    readings += batch.readings();
    for (double v : batch.values) value_sum += v;
  }
  void on_b2b_events(std::vector<B2BEvent>& events) override {
    b2b_events += events.size();
    events.clear();
  }
  std::uint64_t readings = 0, b2b_events = 0;
  double value_sum = 0;
};

struct ReaderCase {
  const char* name;
  GeneratorOptions options;
  bool strict;
};

std::vector<ReaderCase> reader_cases() {
  std::vector<ReaderCase> cases;
  for (std::uint32_t il : {5u, 15u, 30u}) {
    GeneratorOptions plain = small(il);
    plain.interval_minutes = il;
    plain.v_day_fraction = plain.b2b_fraction = 0;
    GeneratorOptions with_400_500 = plain;
    with_400_500.v_day_fraction = with_400_500.b2b_fraction = 0.3;
    GeneratorOptions crlf_resent = with_400_500;
    crlf_resent.crlf = true;
    crlf_resent.resent_day_fraction = 0.2;
    cases.push_back({"plain", plain, false});
    cases.push_back({"plain strict", plain, true});
    cases.push_back({"400/500", with_400_500, false});
    cases.push_back({"400/500 strict", with_400_500, true});
    cases.push_back({"crlf resent", crlf_resent, false});
    cases.push_back({"everything", everything(il), false});
  }
  return cases;
}

TEST(GeneratorAgainstReader, ReaderYieldsExactlyTheGeneratedReadings) {
  for (const ReaderCase& c : reader_cases()) {
    SCOPED_TRACE(std::string(c.name) + ", " + std::to_string(c.options.interval_minutes) + " min");
    GeneratorStats stats;
    const std::string text = generate_nem12_string(c.options, &stats);
    // An odd chunk size, so records straddle chunk boundaries everywhere.
    for (std::size_t chunk : {std::size_t{1} << 20, std::size_t{4093}}) {
      CountingSink sink;
      ReaderOptions options;
      options.strict = c.strict;
      Nem12Reader reader(options, sink);
      for (std::size_t at = 0; at < text.size(); at += chunk)
        reader.feed(std::string_view(text).substr(at, chunk));
      reader.finish();
      const FileReport& report = reader.report();
      EXPECT_FALSE(report.fatal);
      EXPECT_TRUE(report.saw_900);
      EXPECT_EQ(report.readings, stats.readings);
      EXPECT_EQ(sink.readings, stats.readings);
      EXPECT_EQ(report.rejected_days, stats.malformed_days);
      EXPECT_EQ(report.b2b_events, stats.b2b_events);
      EXPECT_EQ(sink.b2b_events, stats.b2b_events);
      EXPECT_NEAR(sink.value_sum, stats.value_sum, 1e-9 * stats.value_sum);
      EXPECT_NEAR(report.value_sum, stats.value_sum, 1e-9 * stats.value_sum);
      // A wrapped 300 also costs its continuation line, so the count is exact without them.
      if (stats.malformed_days == 0) {
        EXPECT_EQ(report.rejected_records, stats.unknown_records);
      }
    }
  }
}

}  // namespace
}  // namespace meterd::bench
