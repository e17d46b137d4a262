// Small, deterministic ReadingBatch fixtures for the storage tests (the NEM12 reader is
// tested on its own; storage only needs batches with every field exercised).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/reading_batch.hpp"

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
  std::uint32_t seed = 1;       // changes the values
  bool vary_attributes = true;  // quality/method/reason/nulls differ between runs
  std::string nmi_prefix = "NMI000";
};

// One run per (nmi, suffix, day), runs emitted in a scrambled order (storage must sort).
ReadingBatch make_batch(const FixtureOptions& options);

// Appends one run to batch (for hand-made cases).
ReadingRun& add_run(ReadingBatch& batch, std::string_view nmi, std::string_view suffix,
                    epoch_seconds first_start, std::uint16_t minutes,
                    const std::vector<double>& values);

// Every reading of the batch as CSV text (protocol/reading_format), in batch order.
std::string to_csv(const ReadingBatch& batch);

}  // namespace meterd::storage::test
