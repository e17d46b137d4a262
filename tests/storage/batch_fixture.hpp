// Header-only (the test glob compiles *_test.cpp only). Small, deterministic ReadingBatch fixtures
// for the storage tests (the NEM12 reader is tested on its own; storage only needs batches with
// every field exercised).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <algorithm>

#include "protocol/reading_batch.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::storage::test {

struct FixtureOptions {
  int nmis = 3;
  std::vector<std::string> suffixes = {"E1", "B1"};
  int days = 3;
  epoch_seconds first_day = 1109599200;  // 2005-03-01T00:00+10:00 (NEM midnight)
  std::uint16_t interval_minutes = 30;
  std::uint64_t file_sequence = 1;
  epoch_seconds update_datetime = 1109800000;
  epoch_seconds file_created = 1109700000;
  std::uint32_t seed = 1;          // changes the values
  bool vary_attributes = true;     // quality/method/reason/nulls differ between runs
  bool lines_per_reading = false;  // every other run has a reading per line (NDJSON-like)
  std::string nmi_prefix = "NMI000";
};

// One run per (nmi, suffix, day), runs emitted in a scrambled order (storage must sort).
// add_run appends one run to a batch (for hand-made cases); to_csv prints every reading
// (protocol/reading_format) in batch order.
inline ReadingRun& add_run(ReadingBatch& batch, std::string_view nmi, std::string_view suffix,
                           epoch_seconds first_start, std::uint16_t minutes,
                           const std::vector<double>& values) {
  ReadingRun run;
  run.first_value = static_cast<std::uint32_t>(batch.values.size());
  run.count = static_cast<std::uint32_t>(values.size());
  run.nmi = batch.strings.intern(nmi);
  run.suffix = batch.strings.intern(suffix);
  run.register_id = batch.strings.intern("E1");
  run.meter_serial = batch.strings.intern("MTR1");
  run.uom = batch.strings.intern("KWH");
  run.interval_minutes = minutes;
  run.first_start = first_start;
  run.line = 1;
  batch.values.insert(batch.values.end(), values.begin(), values.end());
  batch.runs.push_back(run);
  return batch.runs.back();
}

inline ReadingBatch make_batch(const FixtureOptions& o) {
  ReadingBatch batch;
  const std::uint32_t per_day = 24 * 60 / o.interval_minutes;
  std::uint32_t state = o.seed * 2654435761u + 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  std::uint32_t line = 2;
  for (int n = 0; n < o.nmis; ++n) {
    const std::string nmi = o.nmi_prefix + std::to_string(1000 + n);
    for (std::size_t s = 0; s < o.suffixes.size(); ++s) {
      for (int d = 0; d < o.days; ++d) {
        ReadingRun run;
        run.first_value = static_cast<std::uint32_t>(batch.values.size());
        run.count = per_day;
        run.nmi = batch.strings.intern(nmi);
        run.suffix = batch.strings.intern(o.suffixes[s]);
        run.register_id = batch.strings.intern(o.suffixes[s] == "B1" ? "B1" : "E1");
        run.meter_serial = batch.strings.intern("METER" + std::to_string(n));
        run.uom = batch.strings.intern("KWH");
        run.interval_minutes = o.interval_minutes;
        run.first_start = o.first_day + static_cast<epoch_seconds>(d) * 86400;
        run.line = line++;
        if (o.lines_per_reading && (n + d) % 2 == 0) {
          run.line_step = 1;
          line += per_day - 1;
        }
        run.update_datetime = o.update_datetime;
        run.msats_load_datetime = o.update_datetime + 3600;
        run.file_created = o.file_created;
        run.file_sequence = o.file_sequence;
        if (o.vary_attributes) {
          switch ((n + d + static_cast<int>(s)) % 4) {
            case 1:
              run.quality = 'S';
              run.method = 52;
              run.reason_code = 79;
              run.reason_description = batch.strings.intern("Meter, \"estimated\"");
              break;
            case 2:
              run.msats_load_datetime = kNoTime;
              run.quality = 'E';
              run.method = 14;
              break;
            case 3:
              run.file_created = kNoTime;
              break;
            default:
              break;
          }
        }
        for (std::uint32_t k = 0; k < per_day; ++k)
          batch.values.push_back(static_cast<double>(next() % 3000) / 1000.0);
        batch.runs.push_back(run);
      }
    }
  }
  // Scramble run order deterministically: storage must not rely on input order.
  for (std::size_t i = batch.runs.size(); i > 1; --i)
    std::swap(batch.runs[i - 1], batch.runs[next() % i]);
  return batch;
}

inline std::string to_csv(const ReadingBatch& batch) {
  std::string out;
  batch.for_each([&](const ReadingRow& row) { append_csv_row(out, row); });
  return out;
}

}  // namespace meterd::storage::test
