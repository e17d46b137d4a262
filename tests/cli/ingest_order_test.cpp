// The same data gives the same answer whatever the order: files through `meterd ingest` in any
// order, sent again, and compacted give one `meterd query` output, byte for byte (readings,
// register reads and B2B events); and that
// output is what the version rule makes of every reading, by an oracle that shares no code with
// meterd.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "tests/cli/cli_support.hpp"

namespace meterd {
namespace {

namespace fs = std::filesystem;
using test::quoted;
using test::run_meterd;

std::string file_list(const std::vector<fs::path>& files) {
  std::string out;
  for (const auto& f : files) out += " " + quoted(f);
  return out;
}

// The register reads and B2B events tables, as `meterd query` prints them.
std::string query_records(const fs::path& dir) {
  std::string out;
  for (const char* table : {"register-reads", "b2b-events"}) {
    const auto run =
        run_meterd("query --table " + std::string(table) + " --data-dir " + quoted(dir));
    EXPECT_EQ(run.status, 0) << run.err;
    out += run.out;
  }
  return out;
}

// Distinct keys of the register reads (nmi, suffix, register, meter serial, current read time)
// and B2B events (nmi, suffix, interval date, TransCode, RetServiceOrder, ReadDateTime) that
// `meterd parse` prints for these files.
std::size_t distinct_record_keys(const std::vector<fs::path>& files) {
  std::set<std::string> keys;
  for (const auto& file : files)
    for (const char* output : {"register-reads", "b2b-events"}) {
      const auto run = run_meterd("parse --output " + std::string(output) + " " + quoted(file));
      std::stringstream in(run.out);
      std::string line;
      std::getline(in, line);  // header
      while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::stringstream fields(line);
        for (std::string field; std::getline(fields, field, ',');) f.push_back(field);
        const bool reads = output[0] == 'r';
        EXPECT_GE(f.size(), reads ? 12u : 6u) << line;
        if (f.size() < (reads ? 12u : 6u)) continue;
        keys.insert(std::string(output) + '|' + f[0] + '|' + f[1] + '|' + f[2] + '|' + f[3] + '|' +
                    f[reads ? 11 : 4] + '|' + (reads ? "" : f[5]));
      }
    }
  return keys.size();
}

struct Answers {
  std::string readings, readings_compacted, records, records_compacted;
};

// Ingests `files` in this order into a fresh directory; the queries before and after
// compaction.
Answers ingest_and_query(const std::vector<fs::path>& files) {
  const auto dir = test::make_temp_dir("meterd-order");
  const auto ingest =
      run_meterd("ingest --no-progress --data-dir " + quoted(dir) + file_list(files));
  EXPECT_NE(ingest.status, -1) << ingest.err;
  EXPECT_LE(ingest.status, 2) << ingest.err;
  Answers answers;
  const auto before = run_meterd("query --data-dir " + quoted(dir));
  EXPECT_EQ(before.status, 0) << before.err;
  answers.readings = before.out;
  answers.records = query_records(dir);
  const auto compact = run_meterd("compact --data-dir " + quoted(dir));
  EXPECT_EQ(compact.status, 0) << compact.err;
  const auto after = run_meterd("query --data-dir " + quoted(dir));
  EXPECT_EQ(after.status, 0) << after.err;
  answers.readings_compacted = after.out;
  answers.records_compacted = query_records(dir);
  fs::remove_all(dir);
  return answers;
}

TEST(IngestOrder, EverySampleInAnyOrderAndTwiceOverGivesTheSameQuery) {
  METERD_REQUIRE_SHARED(shared);
  std::vector<fs::path> samples;
  for (const auto& e : fs::directory_iterator(test::samples_dir()))
    if (e.path().filename() != "README.md") samples.push_back(e.path());
  std::sort(samples.begin(), samples.end());
  ASSERT_GE(samples.size(), 48u);

  std::vector<std::pair<std::string, std::vector<fs::path>>> orders;
  orders.emplace_back("forwards", samples);
  orders.emplace_back("reverse", std::vector<fs::path>(samples.rbegin(), samples.rend()));
  std::mt19937 rng(20261202);
  for (int i = 0; i < 3; ++i) {
    auto shuffled = samples;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    orders.emplace_back("shuffle " + std::to_string(i), shuffled);
  }
  auto twice = samples;
  twice.insert(twice.end(), samples.rbegin(), samples.rend());
  orders.emplace_back("twice over", twice);

  const auto first = ingest_and_query(orders[0].second);
  const std::string& reference = first.readings;
  EXPECT_GT(test::count_lines(reference), 150000u);
  EXPECT_EQ(first.readings_compacted, reference) << "compaction changed the answer";
  // One row per key of what `meterd parse` reads from the samples (a 500 burst after one 300
  // holds one index read per ReadDateTime), and the two headers.
  EXPECT_EQ(test::count_lines(first.records), 2u + distinct_record_keys(samples));
  EXPECT_NE(first.records.find("NABC001492,71,A2,MET2555,E,000877,"), std::string::npos);
  EXPECT_EQ(first.records_compacted, first.records) << "compaction changed the records";
  for (std::size_t i = 1; i < orders.size(); ++i) {
    SCOPED_TRACE(orders[i].first);
    const auto answers = ingest_and_query(orders[i].second);
    EXPECT_TRUE(answers.readings == reference) << "query differs from the forwards order";
    EXPECT_TRUE(answers.readings_compacted == reference) << "query after compaction differs";
    EXPECT_TRUE(answers.records == first.records) << "records differ from the forwards order";
    EXPECT_TRUE(answers.records_compacted == first.records) << "records after compaction differ";
  }
  // powercor_no100_blank_lines_two_900.csv sends one day twice with one UpdateDateTime (1.111
  // on line 3, 3.333 on line 9), and the .csv.zip sample carries 1.111 on line 3 again: within
  // a file the later line wins, in every order.
  EXPECT_NE(reference.find("VABD000163,E1,2004-02-01T00:00:00+10:00,30,3.333,"), std::string::npos);
  EXPECT_EQ(reference.find("VABD000163,E1,2004-02-01T00:00:00+10:00,30,1.111,"), std::string::npos);
}

// ---- generated files with duplicate intervals inside and across files -------------------------

struct OracleReading {
  double value = 0;
  std::string update, created;  // as `meterd query` prints them
  std::uint32_t line = 0;
  // The version rule for these files (every other field is the same): update_datetime,
  // file_created, line, then the value.
  auto version() const { return std::make_tuple(update, created, line, value); }
};
using OracleKey = std::tuple<std::string, std::string, std::string>;  // nmi, suffix, start

// "2005-03-10T12:00:00+10:00" from NEM date digits and minutes after NEM midnight.
std::string nem_time_text(int y, int m, int d, int minutes) {
  using namespace std::chrono;
  const sys_days day = year_month_day{year{y}, month{static_cast<unsigned>(m)},
                                      std::chrono::day{static_cast<unsigned>(d)}};
  const year_month_day ymd{day + days{minutes / 1440}};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:00+10:00", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), (minutes % 1440) / 60, minutes % 60);
  return text;
}

// A few NEM12 files over few streams, days and versions, so that intervals repeat inside a
// file (a block sent again) and across files, often with the same UpdateDateTime and file
// DateTime; the oracle holds the newest version of every interval.
std::vector<std::string> generate_files(std::mt19937& rng,
                                        std::map<OracleKey, OracleReading>& oracle,
                                        std::size_t& readings) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<std::string> files;
  for (int f = 0; f < 6; ++f) {
    const int created_minute = pick(2);
    std::ostringstream out;
    out << "100,NEM12,2005031000" << (created_minute ? "01" : "00") << ",MDP1,RETAILER\n";
    const std::string created = nem_time_text(2005, 3, 10, created_minute);
    std::uint32_t line = 1;
    const int blocks = 2 + pick(4);
    for (int b = 0; b < blocks; ++b) {
      const std::string nmi = "NMI000000" + std::to_string(1 + pick(3));
      const std::string suffix = pick(3) ? "E1" : "B1";
      out << "200," << nmi << ",E1B1,1," << suffix << ",N1,M1,kWh,30,\n";
      ++line;
      const int first_day = 1 + pick(4), days = 1 + pick(3);
      for (int d = first_day; d < first_day + days; ++d) {
        const int update_hour = 12 + pick(2);
        out << "300,200503" << (d < 10 ? "0" : "") << d;
        const bool few_values = pick(2) == 0;
        std::vector<double> values(48);
        for (int k = 0; k < 48; ++k) {
          const int thousandths = few_values ? pick(3) : pick(100000);
          values[static_cast<std::size_t>(k)] = thousandths / 1000.0;
          char v[32];
          std::snprintf(v, sizeof v, ",%d.%03d", thousandths / 1000, thousandths % 1000);
          out << v;
        }
        out << ",A,,,20050310" << update_hour << "0000,\n";
        ++line;
        const std::string update = nem_time_text(2005, 3, 10, update_hour * 60);
        for (int k = 0; k < 48; ++k) {
          OracleReading r{values[static_cast<std::size_t>(k)], update, created, line};
          const OracleKey key{nmi, suffix, nem_time_text(2005, 3, d, 30 * k)};
          auto [it, fresh] = oracle.try_emplace(key, r);
          if (!fresh && it->second.version() < r.version()) it->second = r;
          ++readings;
        }
      }
    }
    out << "900\n";
    files.push_back(out.str());
  }
  return files;
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, ',');) out.push_back(field);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

TEST(IngestOrder, GeneratedDuplicatesInsideAndAcrossFilesFollowTheVersionRule) {
  std::mt19937 rng(7);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::map<OracleKey, OracleReading> oracle;
    std::size_t readings = 0;
    const auto texts = generate_files(rng, oracle, readings);
    ASSERT_GT(readings, oracle.size()) << "no interval repeated";
    const auto dir = test::make_temp_dir("meterd-generated");
    std::vector<fs::path> files;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      files.push_back(dir / ("f" + std::to_string(i) + ".csv"));
      std::ofstream(files.back()) << texts[i];
    }
    std::string first;
    for (int order = 0; order < 2; ++order) {
      std::shuffle(files.begin(), files.end(), rng);
      const auto answers = ingest_and_query(files);
      const std::string& query = answers.readings;
      const std::string& compacted = answers.readings_compacted;
      EXPECT_TRUE(compacted == query);
      if (order == 0) first = query;
      EXPECT_TRUE(query == first) << "another order gave another answer";

      std::stringstream in(query);
      std::string line;
      std::getline(in, line);  // header
      std::size_t rows = 0, matched = 0;
      while (std::getline(in, line)) {
        const auto f = split_csv(line);
        ASSERT_EQ(f.size(), 16u) << line;
        ++rows;
        const auto it = oracle.find({f[0], f[1], f[2]});
        ASSERT_NE(it, oracle.end()) << "not in the oracle: " << line;
        const OracleReading& want = it->second;
        const bool same = std::stod(f[4]) == want.value && f[10] == want.update &&
                          f[14] == want.created && std::stoul(f[15]) == want.line;
        EXPECT_TRUE(same) << line << "\n want value " << want.value << " line " << want.line
                          << " update " << want.update << " created " << want.created;
        matched += same;
      }
      EXPECT_EQ(rows, oracle.size());
      EXPECT_EQ(matched, oracle.size());
    }
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace meterd
