// Every actor interface of the pipeline and every message they exchange, in one place.
//
//   supervisor ──spawns/monitors──> reader*, batcher, writer, safety
//   reader ──ReaderBatch──> batcher ──SealedBatch──> writer ──(fail)──> safety
//     ^ credit_atom ─────────┘  ^ credit_atom ─────────┘   <──breaker_atom── ┘
//   reader ──ReaderDone──> supervisor <──Durable/DeadLettered── writer, safety
//   supervisor ──spawns, drain_atom──> compactor (serve only; merges parts on a timer)
//
// Every data edge is bounded by a credit window (CAF 0.17 mailboxes are unbounded): a producer
// sends only while it holds credit, and the consumer returns credit when it has taken the item
// off its hands. Include this header only from actors/*.cpp: it pulls in CAF.
#pragma once

#include <atomic>
#include <caf/all.hpp>
#include <memory>
#include <string>
#include <vector>

#include "actors/batch_types.hpp"
#include "actors/intake.hpp"
#include "protocol/file_report.hpp"

namespace meterd::actors {

// ---- atoms (CAF 0.17: at most 10 characters) ----
using credit_atom = caf::atom_constant<caf::atom("credit")>;    // grant n more items
using pump_atom = caf::atom_constant<caf::atom("pump")>;        // reader: next chunk
using park_atom = caf::atom_constant<caf::atom("park")>;        // reader: stop now (drain)
using flush_atom = caf::atom_constant<caf::atom("mflush")>;     // batcher: seal everything
using tick_atom = caf::atom_constant<caf::atom("mtick")>;       // periodic timer
using drain_atom = caf::atom_constant<caf::atom("drain")>;      // orderly shutdown, in-band
using drained_atom = caf::atom_constant<caf::atom("drained")>;  // a stage finished draining
using breaker_atom = caf::atom_constant<caf::atom("breaker")>;  // safety -> writer: closed
using retry_atom = caf::atom_constant<caf::atom("retry")>;      // safety: next attempt
using restart_atom = caf::atom_constant<caf::atom("restart")>;  // supervisor: back-off over
using poll_atom = caf::atom_constant<caf::atom("poll")>;        // supervisor: look for files

// ---- messages (local only: they carry ReadingBatch, which is not serialisable) ----
struct ReaderBatch {
  StreamId stream = 0;
  ReadingBatch batch;
};

struct ReaderDone {
  StreamId stream = 0;
  FileReport report;
  std::uint64_t readings_sent = 0, bytes = 0;
  std::string content_hash;
  std::string error;       // non-empty: the file could not be opened (not worth a restart)
  bool duplicate = false;  // its content hash is in the ledger: not read again
  double read_seconds = 0;
};

struct Durable {  // these readings are in committed parts
  std::vector<FileShare> shares;
};

struct DeadLettered {  // these readings are in dead_letter/, not in the store
  std::vector<FileShare> shares;
  std::string path;
};

enum class Stage : std::uint8_t { writer, safety };

}  // namespace meterd::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::ReaderBatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::SealedBatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::ReaderDone)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::Durable)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::DeadLettered)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(meterd::actors::Stage)

namespace meterd::actors {

// ---- interfaces ----

// One per file in flight: streams the file through protocol::Nem12Reader.
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

// Detached: the blocking part write. Each SealedBatch uses one credit of the batcher's window.
// park_atom: shutdown has begun; stop withholding credit so that the batcher can drain even
// while the breaker is open (the remaining batches go to the safety journal).
using writer_actor = caf::typed_actor<caf::reacts_to<SealedBatch>,         //
                                      caf::reacts_to<breaker_atom, bool>,  //
                                      caf::reacts_to<park_atom>,           //
                                      caf::reacts_to<drain_atom>>;

// Detached: the slow path. Journals failed batches, retries one at a time with back-off.
using safety_actor = caf::typed_actor<caf::reacts_to<SealedBatch>,  //
                                      caf::reacts_to<retry_atom>,   //
                                      caf::reacts_to<drain_atom>>;

// Detached: background compaction (serve). Every compact_interval_ms (tick_atom) it runs
// bounded store merges until none is needed or the per-tick budget is spent. drain_atom: quit
// (a merge in progress completes first; `stop` is also checked between merges).
using compactor_actor = caf::typed_actor<caf::reacts_to<tick_atom>,  //
                                         caf::reacts_to<drain_atom>>;

// Spawns, monitors and restarts the others; owns the file ledger and the intake.
using supervisor_actor = caf::typed_actor<caf::reacts_to<ReaderDone>,               //
                                          caf::reacts_to<Durable>,                  //
                                          caf::reacts_to<DeadLettered>,             //
                                          caf::reacts_to<drained_atom, Stage>,      //
                                          caf::reacts_to<drain_atom>,               //
                                          caf::reacts_to<poll_atom>,                //
                                          caf::reacts_to<tick_atom>,                //
                                          caf::reacts_to<restart_atom, StreamId>>;  // 0 = core

// ---- spawn functions (one file each) ----
class IngestStore;
struct Config;
struct Metrics;

struct ReaderTask {
  StreamId stream = 0;
  ClaimedFile file;
};

// `ledger`: where to look up content hashes (skip_known_files); may be null.
reader_actor spawn_reader(caf::local_actor* parent, const ReaderTask& task, batcher_actor batcher,
                          supervisor_actor supervisor, const Config& config, IngestStore* ledger,
                          Metrics& metrics);
batcher_actor spawn_batcher(caf::local_actor* parent, writer_actor writer, const Config& config,
                            Metrics& metrics);
writer_actor spawn_writer(caf::local_actor* parent, IngestStore& store, safety_actor safety,
                          supervisor_actor supervisor, Metrics& metrics);
safety_actor spawn_safety(caf::local_actor* parent, IngestStore& store, supervisor_actor supervisor,
                          const Config& config, Metrics& metrics);
// `stop`: set by the supervisor when the drain begins, so that a tick stops between merges.
compactor_actor spawn_compactor(caf::local_actor* parent, IngestStore& store, const Config& config,
                                Metrics& metrics, std::shared_ptr<std::atomic<bool>> stop);
// `compaction`: spawn the compactor (the daemon) when config.compact_interval_ms > 0.
// Runs until the intake is exhausted (ingest) or drain_atom arrives (serve), then drains and
// quits. `failed` is set when it gave up (a core actor kept crashing).
supervisor_actor spawn_supervisor(caf::actor_system& system, IngestStore& store, Intake& intake,
                                  const Config& config, Metrics& metrics, std::atomic<bool>& failed,
                                  bool compaction = false);

}  // namespace meterd::actors
