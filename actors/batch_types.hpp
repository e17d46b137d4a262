// Plain data that flows between the pipeline's stages (no CAF here: the pure batching code and
// the journal use these too; actors/interfaces.hpp turns them into messages).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/reading_batch.hpp"

namespace meterd::actors {

// A stream is one attempt at reading one file. A restarted reader gets a new stream id, so
// that late acknowledgements of the crashed attempt cannot complete the file.
using StreamId = std::uint64_t;

// How many readings of one stream a sealed batch carries.
struct FileShare {
  StreamId stream = 0;
  std::uint64_t readings = 0;
};

// Month partition as months since year 0 in NEM time (year * 12 + month - 1).
using MonthKey = std::int32_t;
MonthKey month_of(epoch_seconds t);
std::string partition_name(MonthKey month);  // "month=2005-03"

// What the batcher hands to the writer: readings of one partition, sorted by
// (nmi, suffix, interval start), and which streams they came from.
struct SealedBatch {
  std::uint64_t id = 0;  // batcher-assigned, for logs and journal names
  MonthKey month = 0;
  ReadingBatch batch;
  std::vector<FileShare> shares;
  std::uint32_t attempts = 0;  // failed writes so far (safety path)
};

}  // namespace meterd::actors
