// Reader: one per file in flight. Streams the file chunk by chunk through the pure
// Nem12Reader and sends its batches to the batcher, but only while it holds credit; out of
// credit, it simply stops reading (the file waits on disk, memory stays bounded).
#include <chrono>
#include <deque>
#include <system_error>

#include "actors/config.hpp"
#include "actors/input_chunks.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/pipeline.hpp"
#include "protocol/reading_decoder.hpp"  // NEM12/NEM13 or NDJSON, by content
#include "protocol/sha256.hpp"

namespace meterd::actors {
namespace {

// Collects the parser's batches until credit lets them go.
class PendingSink final : public ReadingSink {
 public:
  void on_readings(ReadingBatch& batch) override {
    if (!batch.empty()) pending.push_back(std::move(batch));
    batch.clear();
  }
  std::deque<ReadingBatch> pending;
};

struct ReaderState {
  ReaderState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  ReaderTask task;
  batcher_actor batcher;
  supervisor_actor supervisor;
  Metrics* metrics = nullptr;
  std::uint32_t chunk_bytes = 0;
  std::uint32_t credit = 0;
  bool pump_scheduled = false, eof = false, parked = false, stalled = false;
  std::unique_ptr<InputChunks> input;
  PendingSink sink;
  std::unique_ptr<ReadingDecoder> parser;
  ReaderOptions options;
  FileReport report;  // of the whole file (all members)
  std::uint32_t members = 0;
  std::vector<char> buffer;
  Sha256 hash;
  std::string content_hash;
  std::unique_ptr<InputChunks> raw;  // the hashing pass reads the raw bytes
  store_actor store;                 // set: skip files whose hash is already recorded
  std::uint64_t bytes = 0, sent = 0;
  std::chrono::steady_clock::time_point started;
  static inline const char* name = "meterd.reader";
};

using reader_pointer = reader_actor::stateful_pointer<ReaderState>;

// A zip with several members yields one report for the file: counts add up, issues are
// concatenated (within the cap), and the report is fatal if any member was.
void merge_report(FileReport& into, FileReport&& member, std::uint32_t members_before) {
  if (members_before == 0) {
    std::string name = std::move(into.name);
    into = std::move(member);
    if (!name.empty()) into.name = std::move(name);
    return;
  }
  into.bytes += member.bytes;
  into.lines += member.lines;
  into.readings += member.readings;
  into.days += member.days;
  into.blocks += member.blocks;
  into.b2b_events += member.b2b_events;
  into.register_reads += member.register_reads;
  for (const auto& [q, n] : member.quality_counts) into.quality_counts[q] += n;
  into.value_sum += member.value_sum;
  into.rejected_days += member.rejected_days;
  into.rejected_blocks += member.rejected_blocks;
  into.rejected_records += member.rejected_records;
  into.readings_rejected += member.readings_rejected;
  into.saw_900 = into.saw_900 && member.saw_900;
  into.fatal = into.fatal || member.fatal;
  for (std::size_t i = 0; i < into.issue_counts.size(); ++i)
    into.issue_counts[i] += member.issue_counts[i];
  into.issues_dropped += member.issues_dropped;
  for (auto& issue : member.issues) {
    if (into.issues.size() < FileReport::kMaxIssuesKept)
      into.issues.push_back(std::move(issue));
    else
      ++into.issues_dropped;
  }
}

void start_parser(reader_pointer self, const std::string& member) {
  auto& st = self->state;
  ReaderOptions options = st.options;
  options.name = member.empty() ? st.task.file.name : member;
  options.file_sequence = st.task.file.file_sequence;
  st.parser = std::make_unique<ReadingDecoder>(options, st.sink);
}

// End of a member: complete its last day, fold its report into the file's, go on to the next.
void end_member(reader_pointer self) {
  auto& st = self->state;
  st.parser->finish();
  if (auto why = st.input->member_error(); !why.empty()) {
    Issue issue;
    issue.severity = Severity::fatal;
    issue.reason = why;
    issue.scope = "file";
    st.parser->report().add(std::move(issue));
  }
  merge_report(st.report, std::move(st.parser->report()), st.members++);
  if (st.input->next_member())
    start_parser(self, st.input->member_name());
  else
    st.eof = true;
}

void finish(reader_pointer self) {
  auto& st = self->state;
  ReaderDone done;
  done.stream = st.task.stream;
  done.report = std::move(st.report);
  done.report.name = st.task.file.name;
  done.readings_sent = st.sent;
  done.bytes = st.bytes;
  done.content_hash = st.content_hash;
  done.read_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
  st.metrics->reader.files_finished.add();
  st.metrics->reader.rejects.add(done.report.rejects());
  st.metrics->reader.warnings.add(done.report.warnings());
  self->send(st.supervisor, std::move(done));
  self->quit();
}

void parse_step(reader_pointer self);
bool hash_step(reader_pointer self);

// Unreadable (missing, permissions, not a known container): a restart would not help.
void unreadable(reader_pointer self, const std::string& why) {
  auto& st = self->state;
  ReaderDone done;
  done.stream = st.task.stream;
  done.report.name = st.task.file.name;
  done.report.fatal = true;
  done.error = why;
  done.content_hash = st.content_hash;
  self->send(st.supervisor, std::move(done));
  self->quit();
}

// Opens the file for parsing (decoded by content). False when it cannot be opened.
bool open_for_parsing(reader_pointer self) {
  auto& st = self->state;
  try {
    st.input = open_input(st.task.file.path);
  } catch (const std::system_error& e) {
    unreadable(self, e.what());
    return false;
  }
  start_parser(self, st.input->member_name());
  return true;
}

void schedule_pump(reader_pointer self) {
  self->state.pump_scheduled = true;
  self->send(self, pump_atom::value);
}

// One chunk of the hashing pass. At its end: a file already in the ledger is reported as a
// duplicate and not read again (the store answers); any other is opened for parsing.
// Returns false when no next step is due now.
bool hash_step(reader_pointer self) {
  auto& st = self->state;
  std::size_t n = st.raw->read(st.buffer.data(), st.buffer.size());  // throws -> restart
  if (n > 0) {
    st.hash.update(std::string_view(st.buffer.data(), n));
    return true;
  }
  st.raw.reset();
  st.content_hash = st.hash.hex_digest();
  if (!st.store) return open_for_parsing(self);
  self->request(st.store, caf::infinite, ledger_atom::value, st.content_hash).then([=](bool known) {
    if (!known) {
      if (open_for_parsing(self)) schedule_pump(self);
      return;
    }
    auto& st = self->state;
    ReaderDone done;
    done.stream = st.task.stream;
    done.report.name = st.task.file.name;
    done.content_hash = st.content_hash;
    done.duplicate = true;
    st.metrics->files.skipped_duplicates.add();
    self->send(st.supervisor, std::move(done));
    self->quit();
  });
  return false;  // the store's answer goes on
}

// Sends what credit allows, then reads one more chunk and schedules itself again, so that a
// big file never holds a scheduler thread for more than one chunk.
void pump(reader_pointer self) {
  auto& st = self->state;
  st.pump_scheduled = false;
  if (st.parked) return;
  while (st.credit > 0 && !st.sink.pending.empty()) {
    --st.credit;
    auto& batch = st.sink.pending.front();
    st.sent += batch.readings();
    st.metrics->reader.readings.add(batch.readings());
    st.metrics->reader.batches_sent.add();
    self->send(st.batcher, ReaderBatch{st.task.stream, std::move(batch)});
    st.sink.pending.pop_front();
  }
  if (!st.sink.pending.empty()) {  // out of credit: wait for credit_atom
    if (!st.stalled) st.metrics->reader.credit_stalls.add();
    st.stalled = true;
    return;
  }
  st.stalled = false;
  if (st.eof) return finish(self);
  if (st.raw) {
    if (!hash_step(self)) return;
  } else {
    parse_step(self);
  }
  schedule_pump(self);
}

void parse_step(reader_pointer self) {
  auto& st = self->state;
  std::size_t n = st.input->read(st.buffer.data(), st.buffer.size());  // throws -> restart
  if (n == 0) {
    end_member(self);
  } else {
    std::string_view chunk(st.buffer.data(), n);
    st.bytes += n;
    st.metrics->reader.bytes.add(n);
    st.parser->feed(chunk);
  }
}

reader_actor::behavior_type reader(reader_pointer self, ReaderTask task, batcher_actor batcher,
                                   supervisor_actor supervisor, std::uint32_t window,
                                   ReaderOptions options, std::uint32_t chunk_bytes,
                                   store_actor ledger, Metrics* metrics) {
  auto& st = self->state;
  st.task = std::move(task);
  st.batcher = std::move(batcher);
  st.supervisor = std::move(supervisor);
  st.metrics = metrics;
  st.credit = window;
  st.chunk_bytes = chunk_bytes;
  st.started = std::chrono::steady_clock::now();
  metrics->reader.files_started.add();
  st.buffer.resize(chunk_bytes);
  st.options = options;
  st.report.name = st.task.file.name;
  st.store = std::move(ledger);
  try {
    // First pass: the sha256 of the raw bytes (the ledger's content hash), a chunk per step.
    st.raw = open_raw_input(st.task.file.path);
  } catch (const std::system_error& e) {
    unreadable(self, e.what());
    return {[](credit_atom, std::uint32_t) {}, [](pump_atom) {}, [](park_atom) {}};
  }
  log::debug("reader_start", {{"file", st.task.file.name}, {"stream", st.task.stream}});
  schedule_pump(self);
  return {
      [=](credit_atom, std::uint32_t n) {
        self->state.credit += n;
        if (!self->state.pump_scheduled) pump(self);
      },
      [=](pump_atom) { pump(self); },
      [=](park_atom) {
        // Shutdown: stop at this chunk boundary. The file stays claimed and is read again on
        // the next start; what was already sent lands and is harmless to land twice.
        self->state.parked = true;
        self->quit();
      },
  };
}

}  // namespace

reader_actor spawn_reader(caf::local_actor* parent, const ReaderTask& task, batcher_actor batcher,
                          supervisor_actor supervisor, store_actor store, const Config& config,
                          const RunOptions& /*options*/, Metrics& metrics) {
  ReaderOptions options;
  options.strict = config.strict;
  options.batch_readings = config.reader_batch_readings;
  // Detached: it reads its file (blocking I/O) between credit checks.
  return parent->spawn<caf::monitored + caf::detached>(
      reader, task, std::move(batcher), std::move(supervisor), config.reader_window, options,
      config.read_chunk_bytes, config.skip_known_files ? std::move(store) : store_actor{},
      &metrics);
}

}  // namespace meterd::actors
