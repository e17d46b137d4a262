// The batcher's pure logic: gathers reader batches into one growing batch per partition (a
// tenant's month: two tenants' readings never share a batch),
// and seals a partition into a batch for the writer, sorted once into the row order of a part
// (storage::sort_partition: nothing sorts it again). No actors, no clocks of its own (callers
// pass the time), so it is unit-tested and benchmarked directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "actors/batch_types.hpp"
#include "storage/partition.hpp"

namespace meterd::actors {

class BatchAssembler {
 public:
  using Clock = std::chrono::steady_clock;

  // Moves the readings of `input`, all of `tenant`, into their partitions; `input` is left
  // empty.
  void add(StreamId stream, ReadingBatch& input, Clock::time_point now = Clock::now(),
           std::string_view tenant = {});

  std::uint64_t buffered_readings() const { return buffered_; }
  bool empty() const { return partitions_.empty(); }
  std::size_t partitions() const { return partitions_.size(); }

  // A partition holding at least `readings`, if any.
  std::optional<storage::PartitionKey> full(std::uint64_t readings) const;
  // The partition holding the most readings (to relieve memory pressure).
  std::optional<storage::PartitionKey> largest() const;
  // A partition whose first readings arrived at or before `cutoff`.
  std::optional<storage::PartitionKey> older_than(Clock::time_point cutoff) const;

  // Removes a partition and returns it sorted into row order.
  SealedBatch seal(const storage::PartitionKey& key);

 private:
  struct Partition {
    ReadingBatch batch;
    std::map<StreamId, std::uint64_t> shares;
    Clock::time_point opened;
  };
  Partition& open(std::string_view tenant, storage::MonthKey month, Clock::time_point now);

  std::map<storage::PartitionKey, Partition> partitions_;
  std::uint64_t buffered_ = 0;
  std::uint64_t next_id_ = 1;
  std::vector<std::uint32_t> remap_;  // input string id -> partition string id (scratch)
};

}  // namespace meterd::actors
