// Deterministic synthetic NEM12 data for `meterd generate`, `meterd bench`, tests and fuzz seeds.
//
// The same options (seed included) give the same bytes on every platform. The text is streamed
// to a callback in ~1 MiB chunks, so multi-GB inputs never sit in memory (writing them to a file
// is the caller's: app/nem12_file.hpp). GeneratorStats says what a correct
// reader must make of the file, so tests can compare against it without a second parser.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace meterd {

struct GeneratorOptions {
  std::uint64_t seed = 1;
  std::uint32_t nmis = 100;
  std::uint32_t days = 30;
  std::uint32_t interval_minutes = 30;  // 5, 15 or 30
  std::vector<std::string> suffixes = {"E1", "B1"};
  double v_day_fraction = 0.05;  // V days, each followed by 400s that cover 1..N exactly
  double b2b_fraction = 0.05;    // days followed by a 500 record
  // Days given one defect: a non-numeric value, too few values or a 300 hard-wrapped over two
  // lines (each rejects the day), or an unknown `999` record after the day (rejects only itself).
  double malformed_fraction = 0.0;
  // Days sent again, in extra 200 blocks at the end, with a newer UpdateDateTime.
  double resent_day_fraction = 0.0;
  bool crlf = false;
  std::string start_date = "20240101";  // CCYYMMDD of the first IntervalDate
};

struct GeneratorStats {
  std::uint64_t bytes = 0;
  std::uint64_t lines = 0;
  // Valid readings a correct reader yields; a resent day counts each time it appears.
  std::uint64_t readings = 0;
  std::uint64_t days = 0;            // valid 300 records, resends included
  std::uint64_t malformed_days = 0;  // 300 records a correct reader must reject
  std::uint64_t resent_days = 0;
  std::uint64_t unknown_records = 0;  // rejected records that cost no readings
  std::uint64_t b2b_events = 0;       // 500 records
  double value_sum = 0;               // exact sum of the valid readings (values have 3 decimals)
};

// Throws std::invalid_argument for options that cannot give a valid file.
GeneratorStats generate_nem12(const GeneratorOptions& options,
                              const std::function<void(std::string_view)>& out);
std::string generate_nem12_string(const GeneratorOptions& options, GeneratorStats* stats = nullptr);

}  // namespace meterd
