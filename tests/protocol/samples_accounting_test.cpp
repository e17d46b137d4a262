// Reports that add up: over every sample, in both modes, the readings kept plus the readings
// rejected equal the readings the file's 300 records hold, counted here by a counter that
// shares nothing with the reader but the decompression of the archives.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/input_reader.hpp"
#include "tests/parse_collect.hpp"
#include "tests/test_support.hpp"

namespace meterd {
namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t at = 0;;) {
    const auto comma = line.find(',', at);
    out.push_back(trimmed(line.substr(at, comma - at)));
    if (comma == std::string_view::npos) return out;
    at = comma + 1;
  }
}

bool looks_like_quality(std::string_view f) {
  if (f.empty() || std::string_view("AEFNSV").find(f[0]) == std::string_view::npos) return false;
  return f.size() == 1 || (f.size() == 3 && std::isdigit(static_cast<unsigned char>(f[1])) &&
                           std::isdigit(static_cast<unsigned char>(f[2])));
}

// The readings a member's 300 records hold: 1440 / IntervalLength of the 200 before it, or,
// where that is not 5, 15 or 30, the values written before the QualityMethod.
std::uint64_t readings_held(std::string_view text) {
  std::uint64_t total = 0, intervals = 0;
  for (std::size_t at = 0; at < text.size();) {
    const auto eol = text.find_first_of("\r\n", at);
    std::string_view line = text.substr(at, eol - at);
    at = eol == std::string_view::npos ? text.size() : eol + 1;
    if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    const auto f = split(line);
    if (f[0] == "200") {
      const std::string_view length = f.size() > 8 ? f[8] : "";
      intervals = length == "5" || length == "05" ? 288
                  : length == "15"                ? 96
                  : length == "30"                ? 48
                                                  : 0;
    } else if (f[0] == "300") {
      std::uint64_t n = intervals;
      if (n == 0)
        for (std::size_t i = 2; i < f.size() && !looks_like_quality(f[i]); ++i) ++n;
      total += n;
    }
  }
  return total;
}

TEST(SamplesAccounting, KeptPlusRejectedIsEveryReadingTheFileHolds) {
  METERD_REQUIRE_SHARED(shared);
  std::size_t files = 0;
  std::uint64_t held_total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::samples_dir())) {
    if (entry.path().filename() == "README.md") continue;
    SCOPED_TRACE(entry.path().filename().string());
    std::uint64_t held = 0;
    InputReader input(entry.path());
    ASSERT_TRUE(input.opened()) << input.error();
    for (auto event = input.next(); event.kind != InputReader::Event::Kind::end;
         event = input.next()) {
      if (event.kind != InputReader::Event::Kind::member) continue;
      std::string text;
      char buffer[65536];
      while (const std::size_t n = input.read(buffer, sizeof buffer)) text.append(buffer, n);
      held += readings_held(text);
    }
    for (const bool strict : {false, true}) {
      const auto parsed = test::parse_path(entry.path(), strict);
      std::uint64_t kept = 0, rejected = 0;
      for (const auto& r : parsed.reports) {
        kept += r.readings;
        rejected += r.readings_rejected;
      }
      EXPECT_EQ(kept, parsed.readings.size()) << "strict " << strict;
      EXPECT_EQ(kept + rejected, held)
          << "kept " << kept << " rejected " << rejected << " strict " << strict;
    }
    held_total += held;
    ++files;
  }
  EXPECT_GE(files, 48u);
  EXPECT_GE(held_total, 200000u);
}

}  // namespace
}  // namespace meterd
