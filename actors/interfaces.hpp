// Every actor interface of the pipeline and every message they exchange, in one place.
//
//   intake ──Claims──> supervisor ──spawns──> reader* ──ReaderBatch──> batcher ──SealedBatch──>
//   writer ──write──> store;  writer ──(failed)──> safety ──write (retries)──> store
//   reader ──ReaderDone──> supervisor <──Durable/DeadLettered── writer, safety
//   supervisor ──sequence, ledger──> store;  supervisor ──FileDone──> intake
//   compactor ──compact──> store (serve only; one bounded merge at a time)
//   rollups: reads a snapshot of the data directory, writes DATA_DIR/rollups/ (its own)
//
// Threads: the detached actors own whatever blocks. The store owns the data directory (part
// writes with their fsyncs, merges, the ledger); the intake owns the spool directory (listing,
// renaming, reports); each reader owns its input file; safety owns the journal. The supervisor,
// batcher, writer and compactor run on the scheduler and never block: they send messages.
//
// Every data edge is bounded by a credit window (CAF 0.17 mailboxes are unbounded): a producer
// sends only while it holds credit, and the consumer returns credit when it has taken the item
// off its hands. Include this header only from actors/*.cpp: it pulls in CAF.
#pragma once

#include <atomic>
#include <caf/all.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/batch_types.hpp"
#include "actors/intake.hpp"
#include "protocol/file_report.hpp"
#include "protocol/input_content_hash.hpp"
#include "storage/audit_log.hpp"
#include "storage/store.hpp"

namespace meterd::actors {

// ---- atoms (CAF 0.17: at most 10 characters) ----
using credit_atom = caf::atom_constant<caf::atom("credit")>;        // grant n more items
using pump_atom = caf::atom_constant<caf::atom("pump")>;            // reader: next chunk
using park_atom = caf::atom_constant<caf::atom("park")>;            // reader: stop now (drain)
using flush_atom = caf::atom_constant<caf::atom("mflush")>;         // batcher: seal everything
using tick_atom = caf::atom_constant<caf::atom("mtick")>;           // periodic timer
using drain_atom = caf::atom_constant<caf::atom("drain")>;          // orderly shutdown, in-band
using drained_atom = caf::atom_constant<caf::atom("drained")>;      // a stage finished draining
using breaker_atom = caf::atom_constant<caf::atom("breaker")>;      // safety -> writer: closed
using retry_atom = caf::atom_constant<caf::atom("retry")>;          // safety: next attempt
using restart_atom = caf::atom_constant<caf::atom("restart")>;      // supervisor: back-off over
using poll_atom = caf::atom_constant<caf::atom("poll")>;            // intake: look for files
using claim_atom = caf::atom_constant<caf::atom("claim")>;          // intake: hand out files
using write_atom = caf::atom_constant<caf::atom("write")>;          // store: write one part
using sequence_atom = caf::atom_constant<caf::atom("sequence")>;    // store: file sequences
using ledger_atom = caf::atom_constant<caf::atom("ledger")>;        // store: content hash known?
using compact_atom = caf::atom_constant<caf::atom("compact")>;      // store: one bounded merge
using records_atom = caf::atom_constant<caf::atom("records")>;      // store: register reads, 500s
using retention_atom = caf::atom_constant<caf::atom("retention")>;  // store: drop old months

// ---- messages (local only: they carry ReadingBatch, which is not serialisable) ----
struct ReaderBatch {
  StreamId stream = 0;
  ReadingBatch batch;
  std::string tenant;  // whose readings (the file's)
};

struct ReaderDone {
  StreamId stream = 0;
  FileReport report;
  std::uint64_t readings_sent = 0, bytes = 0;
  std::string content_hash;
  std::optional<InputFingerprint> fingerprint;  // when the ledger was asked by it
  storage::FileRecords records;                 // its register reads and B2B events (the rest)
  std::string records_error;                    // non-empty: an earlier write of its records failed
  std::string error;       // non-empty: the file could not be opened (not worth a restart)
  bool duplicate = false;  // its content hash is in the ledger: not read again
  bool forbidden = false;  // addressed to a participant not of its tenant: not read
  double read_seconds = 0;
};

struct Durable {  // these readings are in committed parts
  std::vector<FileShare> shares;
  std::vector<storage::VersionConflict> conflicts;  // among them, for the files' reports
};

struct DeadLettered {  // these readings are in dead_letter/, not in the store
  std::vector<FileShare> shares;
  std::string path;
};

enum class Stage : std::uint8_t { writer, safety };

using SharedPartition = std::shared_ptr<const storage::PartitionBatch>;

// The store's answers. A failure is part of the answer (its message, and whether it was an
// I/O error), never an exception across actors: the asking actor decides what it means.
struct WriteOutcome {
  std::optional<storage::PartInfo> part;  // set: durable
  // Conflicts with readings stored before it (for the files' reports; a failed check is
  // logged and finds none: it must not fail the write).
  std::vector<storage::VersionConflict> stored_conflicts;
  std::string error;
  bool io_error = false;
};
struct SequenceBlock {  // fresh file sequences, strictly increasing
  std::vector<std::uint64_t> sequences;
  std::string error;
};
struct LedgerEntry {  // a file whose readings are all durable
  std::string content_hash, name;
  std::uint64_t file_sequence = 0;
  std::optional<InputFingerprint> fingerprint;
};
struct RetentionRequest {  // what the store drops: months older than each tenant keeps
  storage::MonthsKept kept;
  storage::MonthKey now = 0;  // the current NEM month
  std::filesystem::path archive_dir;
};
struct RetentionOutcome {
  std::vector<storage::RetentionDrop> dropped;
  std::string error;
};
struct CompactOutcome {
  std::optional<storage::CompactionStep> step;  // unset: nothing to merge, or it failed
  std::string error;
};

struct Claims {  // files the intake claimed, with the sequences they took
  std::vector<ClaimedFile> files;
  std::uint64_t sequences_used = 0;
  bool exhausted = false;  // no file will ever come again
};
struct FileDone {
  ClaimedFile file;
  FileOutcome outcome;
};

}  // namespace meterd::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::ReaderBatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::SealedBatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::ReaderDone)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::Durable)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::DeadLettered)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::Stage)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::SharedPartition)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::WriteOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::SequenceBlock)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::LedgerEntry)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::storage::FileRecords)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::InputFingerprint)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::CompactOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::RetentionRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::RetentionOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::Claims)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::FileDone)

namespace meterd::actors {

// ---- interfaces ----

// Detached: the one owner of the data directory while the pipeline runs (storage::Store behind
// IngestStore). Every blocking storage call is made here, one at a time, so no mutex is needed
// and no scheduled actor ever waits for an fsync or a merge.
using store_actor = caf::typed_actor<
    caf::replies_to<write_atom, SharedPartition>::with<WriteOutcome>,
    caf::replies_to<sequence_atom, std::uint64_t>::with<SequenceBlock>,
    caf::replies_to<ledger_atom, InputFingerprint>::with<bool>,  // may know?
    caf::replies_to<ledger_atom, std::string>::with<bool>,       // content hash known?
    caf::replies_to<LedgerEntry>::with<bool>,                    // true once recorded durably
    caf::replies_to<records_atom, storage::FileRecords>::with<std::string>,  // error
    caf::replies_to<compact_atom, std::uint32_t>::with<CompactOutcome>,
    caf::replies_to<retention_atom, RetentionRequest>::with<RetentionOutcome>,
    caf::reacts_to<drain_atom>>;

// Detached: the one user of the Intake (spool directory, file list). A claim of up to one file
// per offered sequence is answered when at least one file is claimed, when no file will ever
// come (exhausted), or when the drain parks the intake: it waits in between, polling every
// watch_poll_ms. FileDone: report and move a finished file. drain_atom (after the last
// FileDone): quit.
using intake_actor = caf::typed_actor<caf::replies_to<claim_atom, SequenceBlock>::with<Claims>,
                                      caf::reacts_to<FileDone>,   //
                                      caf::reacts_to<poll_atom>,  //
                                      caf::reacts_to<park_atom>,  //
                                      caf::reacts_to<drain_atom>>;

// Detached, one per file in flight: streams the file through protocol's reading decoder.
using reader_actor = caf::typed_actor<caf::reacts_to<credit_atom, std::uint32_t>,  //
                                      caf::reacts_to<pump_atom>,                   //
                                      caf::reacts_to<park_atom>>;

// Gathers reader batches per month partition; seals on size, age, memory pressure or drain.
// Each ReaderBatch uses one credit of its reader's window.
using batcher_actor = caf::typed_actor<caf::reacts_to<ReaderBatch>,                 //
                                       caf::reacts_to<credit_atom, std::uint32_t>,  //
                                       caf::reacts_to<flush_atom>,                  //
                                       caf::reacts_to<tick_atom>,                   //
                                       caf::reacts_to<drain_atom>>;

// Has each sealed batch written by the store, one at a time, and trips the circuit breaker on a
// failure. Each SealedBatch uses one credit of the batcher's window. park_atom: shutdown has
// begun; stop withholding credit so that the batcher can drain even while the breaker is open
// (the remaining batches go to the safety journal).
using writer_actor = caf::typed_actor<caf::reacts_to<SealedBatch>,         //
                                      caf::reacts_to<breaker_atom, bool>,  //
                                      caf::reacts_to<park_atom>,           //
                                      caf::reacts_to<drain_atom>>;

// Detached (the journal's fsyncs): the slow path. Journals failed batches, retries them one at
// a time with back-off through the store.
using safety_actor = caf::typed_actor<caf::reacts_to<SealedBatch>,  //
                                      caf::reacts_to<retry_atom>,   //
                                      caf::reacts_to<drain_atom>>;

// Background compaction (serve): every compact_interval_ms it has the store drop the month
// partitions past their retention, then asks it for bounded merges, one at a time, until none
// is needed or the round's budget is spent. drain_atom: quit (a merge
// the store is running completes; no further one is asked for).
using compactor_actor = caf::typed_actor<caf::reacts_to<tick_atom>,  //
                                         caf::reacts_to<drain_atom>>;

// Detached (it reads the readings and writes rollup parts): every rollup_interval_ms it takes
// the definitions a reload offered (RollupControl), and brings every rollup up to the durable
// readings of a fresh read-only snapshot. drain_atom: one last catch-up, then quit.
using rollup_actor = caf::typed_actor<caf::reacts_to<tick_atom>,  //
                                      caf::reacts_to<drain_atom>>;

// Spawns, monitors and restarts the others; asks the intake for files and the store for their
// sequences and ledger records.
using supervisor_actor = caf::typed_actor<caf::reacts_to<ReaderDone>,               //
                                          caf::reacts_to<Durable>,                  //
                                          caf::reacts_to<DeadLettered>,             //
                                          caf::reacts_to<drained_atom, Stage>,      //
                                          caf::reacts_to<drain_atom>,               //
                                          caf::reacts_to<tick_atom>,                //
                                          caf::reacts_to<restart_atom, StreamId>>;  // 0 = core

// ---- spawn functions (one file each) ----
class IngestStore;
struct Config;
struct Metrics;
struct RunOptions;

struct IngestProgress;
struct ReaderTask {
  StreamId stream = 0;
  ClaimedFile file;
  std::shared_ptr<IngestProgress> progress;  // the file's live figures (set by the supervisor)
};

reader_actor spawn_reader(caf::local_actor* parent, const ReaderTask& task, batcher_actor batcher,
                          supervisor_actor supervisor, store_actor store, const Config& config,
                          const RunOptions& options, Metrics& metrics);
batcher_actor spawn_batcher(caf::local_actor* parent, writer_actor writer, const Config& config,
                            Metrics& metrics);
writer_actor spawn_writer(caf::local_actor* parent, store_actor store, safety_actor safety,
                          supervisor_actor supervisor, Metrics& metrics);
safety_actor spawn_safety(caf::local_actor* parent, store_actor store, supervisor_actor supervisor,
                          const Config& config, Metrics& metrics);
// `audit`: where compactions are recorded (none: not recorded).
store_actor spawn_store(caf::local_actor* parent, IngestStore& store,
                        storage::AuditLog* audit = nullptr);
intake_actor spawn_intake(caf::local_actor* parent, Intake& intake, const Config& config);
compactor_actor spawn_compactor(caf::local_actor* parent, store_actor store, const Config& config,
                                Metrics& metrics);
class RollupControl;
rollup_actor spawn_rollups(caf::local_actor* parent, const Config& config, RollupControl& control,
                           Metrics& metrics);
// Runs until the intake is exhausted (ingest) or drain_atom arrives (serve), then drains and
// quits. `failed` is set when it gave up (a core actor kept crashing).
supervisor_actor spawn_supervisor(caf::actor_system& system, IngestStore& store, Intake& intake,
                                  const Config& config, const RunOptions& options, Metrics& metrics,
                                  std::atomic<bool>& failed);

}  // namespace meterd::actors
