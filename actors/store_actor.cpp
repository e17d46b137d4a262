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
#include "protocol/reading_format.hpp"
#include "storage/audit_log.hpp"
#include "storage/partition.hpp"

namespace meterd::actors {
namespace {

struct StoreState {
  StoreState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  IngestStore* store = nullptr;
  storage::AuditLog* audit = nullptr;  // compactions are recorded here (none: not recorded)
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
      log::warn("conflict_check_incomplete",
                {{"partition", storage::partition_name(batch.tenant, batch.month)},
                 {"row_groups_read", found.row_groups_read}});
    return std::move(found.conflicts);
  } catch (const std::exception& e) {
    log::warn("conflict_check_failed", {{"error", e.what()}});
    return {};
  }
}

// A month partition dropped by retention: logged and in the audit trail.
void record_retention(storage::AuditLog* audit, const storage::RetentionDrop& drop,
                      const std::filesystem::path& archive_dir) {
  log::info("retention_drop", {{"table", drop.table},
                               {"partition", drop.partition},
                               {"parts", std::uint64_t{drop.parts}},
                               {"rows", drop.rows},
                               {"archive", archive_dir.string()}});
  if (!audit) return;
  std::string fields = "\"table\":";
  append_json_string(fields, drop.table);
  fields += ",\"partition\":";
  append_json_string(fields, drop.partition);
  fields += ",\"parts\":" + std::to_string(drop.parts) + ",\"rows\":" + std::to_string(drop.rows) +
            ",\"bytes\":" + std::to_string(drop.bytes) + ",\"archive\":";
  append_json_string(fields, archive_dir.string());
  try {
    const std::string tenant = storage::tenant_of_partition(drop.partition);
    audit->append("retention_drop", storage::valid_tenant(tenant) ? tenant : "", "", fields);
  } catch (const std::exception& e) {
    log::error("audit_write_failed", {{"kind", "retention_drop"}, {"error", e.what()}});
  }
}

// An admin action of the daemon's own: in the audit trail beside the ingests it rearranges.
void record_compaction(storage::AuditLog* audit, const storage::CompactionStep& step) {
  if (!audit) return;
  std::string fields = "\"partition\":";
  append_json_string(fields, step.partition);
  fields += ",\"parts_in\":" + std::to_string(step.parts_in) +
            ",\"parts_left\":" + std::to_string(step.parts_left) +
            ",\"rows_in\":" + std::to_string(step.rows_in) +
            ",\"rows_out\":" + std::to_string(step.rows_out);
  try {
    // A record table's step names its table first: "register_reads/tenant=a/month=...".
    std::string_view partition = step.partition;
    if (const auto slash = partition.find('/');
        slash != std::string_view::npos && !partition.starts_with("tenant="))
      partition.remove_prefix(slash + 1);
    const std::string tenant = storage::tenant_of_partition(partition);
    audit->append("compaction", storage::valid_tenant(tenant) ? tenant : "", "", fields);
  } catch (const std::exception& e) {
    log::error("audit_write_failed", {{"kind", "compaction"}, {"error", e.what()}});
  }
}

store_actor::behavior_type store(store_pointer self, IngestStore* store, storage::AuditLog* audit) {
  self->state.store = store;
  self->state.audit = audit;
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
        if (out.step) record_compaction(self->state.audit, *out.step);
        return out;
      },
      [=](retention_atom, const RetentionRequest& request) {
        RetentionOutcome out;
        try {
          out.dropped =
              self->state.store->apply_retention(request.kept, request.now, request.archive_dir);
        } catch (const std::exception& e) {
          out.error = e.what();
        }
        for (const auto& drop : out.dropped)
          record_retention(self->state.audit, drop, request.archive_dir);
        return out;
      },
      [=](drain_atom) { self->quit(); },
  };
}

}  // namespace

store_actor spawn_store(caf::local_actor* parent, IngestStore& store, storage::AuditLog* audit) {
  return parent->spawn<caf::monitored + caf::detached>(actors::store, &store, audit);
}

}  // namespace meterd::actors
