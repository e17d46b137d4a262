// Store: the storage side of the pipeline, one detached actor (as VAST sends all file I/O to
// one filesystem actor). It alone calls the IngestStore while the pipeline runs: part writes
// with their fsyncs, register reads and B2B events, file sequences, ledger look-ups and records,
// background merges. Requests are served one at a time in arrival order, so a write waits for at
// most the one merge in progress, and the actors that ask never block: they get the answer as a
// message. Nothing thrown by the store leaves this actor: a failure is part of the answer, so that
// the asking actor decides (the writer trips its breaker, the compactor tries again next tick).
#include <system_error>

#include "actors/ingest_store.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "storage/partition.hpp"

namespace meterd::actors {
namespace {

struct StoreState {
  StoreState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  IngestStore* store = nullptr;
  static inline const char* name = "meterd.store";
};

using store_pointer = store_actor::stateful_pointer<StoreState>;

// A reader-side check on the write path: whatever goes wrong in it is logged, never a failed
// write.
std::vector<storage::VersionConflict> find_stored_conflicts(IngestStore& store,
                                                            const storage::PartitionBatch& batch) {
  try {
    auto found = store.conflicts_with_stored(batch);
    if (!found.complete)
      log::warn("conflict_check_incomplete", {{"partition", storage::partition_name(batch.month)},
                                              {"row_groups_read", found.row_groups_read}});
    return std::move(found.conflicts);
  } catch (const std::exception& e) {
    log::warn("conflict_check_failed", {{"error", e.what()}});
    return {};
  }
}

store_actor::behavior_type store(store_pointer self, IngestStore* store) {
  self->state.store = store;
  return {
      [=](write_atom, const SharedPartition& batch) {
        WriteOutcome out;
        auto conflicts = find_stored_conflicts(*self->state.store, *batch);
        try {
          out.part = self->state.store->write(*batch);
          out.stored_conflicts = std::move(conflicts);
        } catch (const std::system_error& e) {
          out.error = e.what();
          out.io_error = true;
        } catch (const std::exception& e) {
          out.error = e.what();
        }
        return out;
      },
      [=](sequence_atom, std::uint64_t count) {
        SequenceBlock block;
        try {
          while (block.sequences.size() < count)
            block.sequences.push_back(self->state.store->next_file_sequence());
        } catch (const std::exception& e) {
          block.error = e.what();
        }
        return block;
      },
      [=](ledger_atom, const InputFingerprint& fingerprint) {
        try {
          return self->state.store->ledger_might_contain(fingerprint);
        } catch (const std::exception& e) {
          log::warn("ledger_lookup_failed", {{"error", e.what()}});
          return true;  // cannot tell: hash the file first, as for a known one
        }
      },
      [=](ledger_atom, const std::string& content_hash) {
        try {
          return self->state.store->ledger_contains(content_hash);
        } catch (const std::exception& e) {
          // Not knowing means reading the file: its readings land again, as the same versions.
          log::warn("ledger_lookup_failed", {{"error", e.what()}});
          return false;
        }
      },
      [=](const LedgerEntry& entry) {
        try {
          self->state.store->ledger_record(entry.content_hash, entry.name, entry.file_sequence,
                                           entry.fingerprint);
          return true;
        } catch (const std::exception& e) {
          log::error("ledger_record_failed", {{"file", entry.name}, {"error", e.what()}});
          return false;
        }
      },
      [=](records_atom, const storage::FileRecords& records) {
        try {
          self->state.store->write_records(records);
          return std::string{};  // durable
        } catch (const std::exception& e) {
          log::error("records_write_failed", {{"error", e.what()}});
          return std::string(e.what());
        }
      },
      [=](compact_atom, std::uint32_t min_parts) {
        CompactOutcome out;
        try {
          out.step = self->state.store->compact_step(min_parts);
        } catch (const std::exception& e) {
          out.error = e.what();
        }
        return out;
      },
      [=](drain_atom) { self->quit(); },
  };
}

}  // namespace

store_actor spawn_store(caf::local_actor* parent, IngestStore& store) {
  return parent->spawn<caf::monitored + caf::detached>(actors::store, &store);
}

}  // namespace meterd::actors
