// Plain data that flows between the pipeline's stages (no CAF here: the batch assembler and the
// tests use these too; actors/interfaces.hpp turns them into messages).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/partition_sort.hpp"
#include "storage/version_conflicts.hpp"

namespace meterd::actors {

// A stream is one attempt at reading one file. A restarted reader gets a new stream id, so
// that late acknowledgements of the crashed attempt cannot complete the file.
using StreamId = std::uint64_t;

// How many readings of one stream a sealed batch carries.
struct FileShare {
  StreamId stream = 0;
  std::uint64_t readings = 0;
};

// What the batcher hands to the writer: the readings of one partition, sorted once (at the
// seal) into the row order of a part, and which streams they came from. The readings are
// immutable from here on and shared, not copied, by the writer, the store and the safety path.
struct SealedBatch {
  std::uint64_t id = 0;  // batcher-assigned, for logs and journal names
  std::shared_ptr<const storage::PartitionBatch> partition;
  std::vector<FileShare> shares;
  // Files that claim an interval with one version and say different things of it: the sort
  // has decided, the files' reports say so once the readings are durable.
  std::vector<storage::VersionConflict> conflicts;
  std::uint32_t attempts = 0;  // failed writes so far (safety path)

  std::uint64_t readings() const { return partition ? partition->batch.readings() : 0; }
};

}  // namespace meterd::actors
