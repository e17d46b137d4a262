// The safety path's staging journal: one file per batch held after a failed write, so that the
// batch survives a crash until the store has it. Written with fs::atomic_replace (temp, fsync,
// rename, fsync dir); replayed (written to the store) at start-up.
//
//   file := "MTRJNL04" u64 id u32 attempts i32 month u32 tenant_length tenant
//           u8 may_have_duplicates
//           frame (protocol/batch_codec.hpp: the batch, file sequences included) "MTRJEND!"
//
// A file that is torn, corrupt, whose tenant is not a valid name or whose batch breaks a
// structural rule of the codec is not a journal entry: load() refuses it, and the store would
// refuse its batch anyway. load() also reads the formats from before tenants, as batches of the
// default tenant: MTRJNL03 (the same without the tenant), MTRJNL01 files (journals and dead
// letters from before the codec) and MTRJNL02 files (frame layout v2) under the same rules, and
// sorts the batches of these two again: they were sorted under the former version order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "storage/partition_sort.hpp"

namespace meterd::storage::journal {

struct Entry {
  std::uint64_t id = 0;        // the batcher's batch id, for logs
  std::uint32_t attempts = 0;  // failed writes so far
  PartitionBatch batch;
};

// Durably writes a held batch into `dir` and returns the file's path. Names sort by creation.
// Throws std::system_error.
std::filesystem::path save(const std::filesystem::path& dir, std::uint64_t id,
                           std::uint32_t attempts, const PartitionBatch& batch);
// Reads a journal file back; nullopt if it is not a complete, valid journal file.
std::optional<Entry> load(const std::filesystem::path& file);
// Journal files in `dir`, oldest (lowest name) first.
std::vector<std::filesystem::path> list(const std::filesystem::path& dir);

}  // namespace meterd::storage::journal
