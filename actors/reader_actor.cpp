// Reader: one per file in flight, detached (it reads its file: blocking I/O). Pulls the input a
// chunk at a time through protocol's InputReader (plain, gzip, bzip2, zip, nested: one member
// after another) into the reading decoder, and sends the batches to the batcher only while it
// holds credit; out of credit it simply stops reading (the file waits on disk, memory stays
// bounded). A chunk per message, so a park (drain) is seen between any two chunks.
//
// The file is read from disk once: the walk hashes its raw bytes as it reads them (the ledger's
// content hash). Whether the file may be skipped is asked first, by its fingerprint (size and
// the SHA-256 of its first 64 KiB), which the ledger keeps for every file it records: only a
// file whose fingerprint the ledger knows is hashed whole before it is parsed (read twice), and
// skipped when its content hash is known too.
#include <algorithm>
#include <chrono>
#include <deque>
#include <iterator>
#include <optional>
#include <system_error>

#include "actors/config.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/pipeline.hpp"
#include "protocol/input_reader.hpp"
#include "protocol/reading_decoder.hpp"  // NEM12/NEM13, NDJSON or a batch file, by content
#include "storage/ledger.hpp"

namespace meterd::actors {
namespace {

// Collects the parser's batches until credit lets them go, and the file's register reads and
// B2B events: the store writes them every reader_records_per_write (the reader waits for it),
// and the rest goes with ReaderDone.
class PendingSink final : public ReadingSink {
 public:
  void on_readings(ReadingBatch& batch) override {
    if (!batch.empty()) pending.push_back(std::move(batch));
    batch.clear();
  }
  void on_b2b_events(std::vector<B2BEvent>& events) override {
    std::move(events.begin(), events.end(), std::back_inserter(records.b2b_events));
    events.clear();
  }
  void on_register_reads(std::vector<RegisterReadPeriod>& reads) override {
    std::move(reads.begin(), reads.end(), std::back_inserter(records.register_reads));
    reads.clear();
  }
  std::deque<ReadingBatch> pending;
  storage::FileRecords records;
};

struct ReaderState {
  ReaderState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  ReaderTask task;
  batcher_actor batcher;
  supervisor_actor supervisor;
  store_actor ledger;  // set: skip files the ledger knows (skip_known_files)
  store_actor store;   // writes the records a file holds beyond records_per_write
  std::uint32_t records_per_write = 0;
  bool records_in_flight = false;
  std::string records_error;  // the first failed write of this file's records
  Metrics* metrics = nullptr;
  std::uint32_t credit = 0;
  bool pump_scheduled = false, member_open = false, eof = false, stalled = false;
  std::unique_ptr<InputReader> input;
  PendingSink sink;
  std::unique_ptr<ReadingDecoder> parser;
  ReaderOptions options;
  FileReport report;  // of the whole file (all members)
  std::uint32_t members = 0;
  std::vector<Issue> refused;  // members that never started
  std::vector<char> buffer;
  std::optional<InputFingerprint> fingerprint;
  std::string content_hash;
  std::uint64_t bytes = 0, sent = 0;
  std::chrono::steady_clock::time_point started;
  // The participant ids the file's tenant may be addressed as, and which 100 field says so
  // (none: not checked); the current member's header was checked.
  std::vector<std::string> participants;
  std::string participant_field;
  bool header_checked = false, done_sent = false;
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

void send_done(reader_pointer self, ReaderDone&& done) {
  auto& st = self->state;
  done.stream = st.task.stream;
  if (done.report.name.empty()) done.report.name = st.task.file.name;
  done.content_hash = st.content_hash;
  done.fingerprint = st.fingerprint;
  st.done_sent = true;
  self->send(st.supervisor, std::move(done));
  self->quit();
}

// Unreadable (missing, permissions, not a known container): a restart would not help.
void unreadable(reader_pointer self, const std::string& why) {
  ReaderDone done;
  done.report.fatal = true;
  done.error = why;
  send_done(self, std::move(done));
}

void finish(reader_pointer self) {
  auto& st = self->state;
  if (st.members == 0)
    return unreadable(self, st.refused.empty() ? st.task.file.path.string() + ": no readable member"
                                               : st.refused.front().reason);
  if (st.content_hash.empty()) st.content_hash = st.input->content_hash();  // throws -> restart
  for (auto& issue : st.refused) st.report.add(std::move(issue));
  ReaderDone done;
  done.report = std::move(st.report);
  done.report.name = st.task.file.name;
  done.readings_sent = st.sent;
  done.records = std::move(st.sink.records);
  done.records.file_sequence = st.task.file.file_sequence;
  done.records.tenant = st.task.file.tenant;
  done.records_error = std::move(st.records_error);
  done.bytes = st.bytes;
  done.read_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
  st.metrics->reader.files_finished.add();
  st.metrics->reader.rejects.add(done.report.rejects());
  st.metrics->reader.warnings.add(done.report.warnings());
  send_done(self, std::move(done));
}

// A member that never started (an unsafe name, an encrypted or unreadable member): it holds
// readings nobody will see, so the file's report says so.
void member_refused(reader_pointer self, const InputReader::Event& event) {
  Issue issue;
  issue.severity = Severity::reject;
  issue.scope = "member";
  issue.reason = event.message;
  self->state.refused.push_back(std::move(issue));
}

void start_member(reader_pointer self, const InputMember& member) {
  auto& st = self->state;
  ReaderOptions options = st.options;
  // A plain file is its own one member: it goes by the name the user knows it by.
  options.name = member.depth == 0 ? st.task.file.name : member.name;
  options.file_sequence = st.task.file.file_sequence;
  st.parser = std::make_unique<ReadingDecoder>(options, st.sink);
  st.member_open = true;
  st.header_checked = st.participants.empty();
}

// A NEM12/NEM13 member of a tenant's file must be addressed to the tenant: its 100 header names
// one of the tenant's participant ids, before any of its readings go on. Refuses the file (the
// whole of it: nothing has been sent) when it does not, or has no header to tell.
bool refused_by_header(reader_pointer self, bool member_end) {
  auto& st = self->state;
  if (st.header_checked) return false;
  const ReadingFormat format = st.parser->format();
  if (format == ReadingFormat::undecided && !member_end) return false;
  const FileReport& r = st.parser->report();
  if (format != ReadingFormat::nem12) {  // NDJSON and batch files name no participant
    st.header_checked = true;
    return false;
  }
  const bool past_header = member_end || r.days > 0 || r.blocks > 0 || r.fatal ||
                           !st.sink.pending.empty() || !st.sink.records.empty();
  if (r.version_header.empty() && !past_header) return false;  // not read that far yet
  st.header_checked = true;
  auto ours = [&](const std::string& id) {
    return std::find(st.participants.begin(), st.participants.end(), id) != st.participants.end();
  };
  const std::string& field = st.participant_field;
  const bool to = ours(r.to_participant), from = ours(r.from_participant);
  if (!r.version_header.empty() && (field == "to" ? to : field == "from" ? from : (to || from)))
    return false;
  std::string why =
      r.version_header.empty()
          ? "no 100 header: cannot tell which participant the file is for"
          : "the 100 header addresses " +
                (field == "from" ? "FromParticipant '" + r.from_participant
                                 : "ToParticipant '" + r.to_participant) +
                "'" + (field == "either" ? " / FromParticipant '" + r.from_participant + "'" : "") +
                ", not a participant of tenant '" + st.task.file.tenant + "'";
  log::warn("file_forbidden",
            {{"file", st.task.file.name}, {"tenant", st.task.file.tenant}, {"error", why}});
  st.sink.pending.clear();
  ReaderDone done;
  done.report = std::move(st.parser->report());
  done.report.fatal = true;
  done.error = std::move(why);
  done.forbidden = true;
  done.bytes = st.bytes;
  st.parser.reset();
  if (st.content_hash.empty()) st.content_hash = st.input->content_hash();
  send_done(self, std::move(done));
  return true;
}

// End of a member: complete its last day, fold its report into the file's.
void end_member(reader_pointer self) {
  auto& st = self->state;
  st.parser->finish();
  if (refused_by_header(self, true)) return;
  if (const auto& why = st.input->member_error(); !why.empty()) {
    Issue issue;
    issue.severity = Severity::fatal;
    issue.reason = why;
    issue.scope = "file";
    st.parser->report().add(std::move(issue));
  }
  merge_report(st.report, std::move(st.parser->report()), st.members++);
  st.parser.reset();
  st.member_open = false;
}

// One step of the walk: the next member, or the next chunk of the current one.
void read_step(reader_pointer self) {
  auto& st = self->state;
  if (!st.member_open) {
    const auto event = st.input->next();  // throws on an I/O error -> restart
    switch (event.kind) {
      case InputReader::Event::Kind::member:
        return start_member(self, event.member);
      case InputReader::Event::Kind::error:
        return member_refused(self, event);
      case InputReader::Event::Kind::end:
        st.eof = true;
        return;
    }
  }
  const std::size_t n = st.input->read(st.buffer.data(), st.buffer.size());
  if (n == 0) return end_member(self);
  st.bytes += n;
  st.metrics->reader.bytes.add(n);
  st.parser->feed(std::string_view(st.buffer.data(), n));
  if (st.task.progress) {  // the members before this one are in st.report
    const FileReport& r = st.parser->report();
    st.task.progress->bytes_read = st.bytes;
    st.task.progress->readings_parsed = st.report.readings + r.readings;
    st.task.progress->rejects = st.report.rejects() + r.rejects();
  }
  refused_by_header(self, false);
}

void schedule_pump(reader_pointer self) {
  self->state.pump_scheduled = true;
  self->send(self, pump_atom::value);
}

void schedule_pump(reader_pointer self);

// The store writes what the file holds so far; reading goes on once it answers. A failure is
// the file's (it is left for the next start), the rest of the file is still read.
void write_records(reader_pointer self) {
  auto& st = self->state;
  storage::FileRecords chunk = std::move(st.sink.records);
  st.sink.records = storage::FileRecords{};
  chunk.file_sequence = st.task.file.file_sequence;
  chunk.tenant = st.task.file.tenant;
  st.records_in_flight = true;
  self->request(st.store, caf::infinite, records_atom::value, std::move(chunk))
      .then(
          [=](std::string& error) {
            auto& st = self->state;
            st.records_in_flight = false;
            if (!error.empty() && st.records_error.empty()) st.records_error = std::move(error);
            schedule_pump(self);
          },
          [=](caf::error& e) {
            auto& st = self->state;
            st.records_in_flight = false;
            if (st.records_error.empty()) st.records_error = self->system().render(e);
            schedule_pump(self);
          });
}

// Sends what credit allows, then reads one more chunk and schedules itself again, so that a
// big file never holds the reader for more than one chunk between messages.
void pump(reader_pointer self) {
  auto& st = self->state;
  st.pump_scheduled = false;
  if (st.records_in_flight) return;  // the store's answer schedules the next pump
  while (st.credit > 0 && !st.sink.pending.empty()) {
    --st.credit;
    auto& batch = st.sink.pending.front();
    st.sent += batch.readings();
    st.metrics->reader.readings.add(batch.readings());
    st.metrics->reader.batches_sent.add();
    self->send(st.batcher, ReaderBatch{st.task.stream, std::move(batch), st.task.file.tenant});
    st.sink.pending.pop_front();
  }
  if (!st.sink.pending.empty()) {  // out of credit: wait for credit_atom
    if (!st.stalled) st.metrics->reader.credit_stalls.add();
    st.stalled = true;
    return;
  }
  st.stalled = false;
  if (!st.sink.records.empty() && st.sink.records.size() >= st.records_per_write)
    return write_records(self);
  if (st.eof) return finish(self);
  read_step(self);
  if (st.done_sent) return;  // refused by its header
  schedule_pump(self);
}

void duplicate(reader_pointer self) {
  self->state.metrics->files.skipped_duplicates.add();
  ReaderDone done;
  done.duplicate = true;
  send_done(self, std::move(done));
}

// The fingerprint is known to the ledger: the whole file is hashed first (the one case in which
// it is read twice), and skipped if the ledger knows that hash too.
void check_content(reader_pointer self) {
  auto& st = self->state;
  st.content_hash = st.input->content_hash();  // throws on an I/O error -> restart
  self->request(st.ledger, caf::infinite, ledger_atom::value,
                storage::ledger_key(st.task.file.tenant, st.content_hash))
      .then([=](bool known) { known ? duplicate(self) : schedule_pump(self); });
}

reader_actor::behavior_type reader(reader_pointer self, ReaderTask task, batcher_actor batcher,
                                   supervisor_actor supervisor, store_actor ledger,
                                   store_actor store, std::uint32_t records_per_write,
                                   std::uint32_t window, ReaderOptions options,
                                   std::uint32_t chunk_bytes, const RunOptions* run,
                                   Metrics* metrics, std::vector<std::string> participants,
                                   std::string participant_field) {
  auto& st = self->state;
  st.task = std::move(task);
  st.batcher = std::move(batcher);
  st.supervisor = std::move(supervisor);
  st.ledger = std::move(ledger);
  st.store = std::move(store);
  st.records_per_write = records_per_write;
  st.metrics = metrics;
  st.credit = window;
  st.options = std::move(options);
  st.started = std::chrono::steady_clock::now();
  st.buffer.resize(chunk_bytes);
  st.report.name = st.task.file.name;
  st.participants = std::move(participants);
  st.participant_field = std::move(participant_field);
  metrics->reader.files_started.add();
  const reader_actor::behavior_type behavior{
      [=](credit_atom, std::uint32_t n) {
        self->state.credit += n;
        if (!self->state.pump_scheduled) pump(self);
      },
      [=](pump_atom) { pump(self); },
      [=](park_atom) {
        // Shutdown: stop at this chunk boundary. The file stays claimed and is read again on
        // the next start; what was already sent lands and is harmless to land twice.
        self->quit();
      },
  };
  const auto& path = st.task.file.path;
  try {
    st.input = run->open_input ? std::make_unique<InputReader>(path.string(), run->open_input(path))
                               : std::make_unique<InputReader>(path);
  } catch (const InputError& e) {
    unreadable(self, e.what());
    return behavior;
  }
  if (!st.input->opened()) {
    unreadable(self, st.input->error());
    return behavior;
  }
  log::debug("reader_start", {{"file", st.task.file.name}, {"stream", st.task.stream}});
  if (st.ledger) st.fingerprint = st.input->fingerprint();  // a pipe has none: just read it
  if (!st.fingerprint) {
    schedule_pump(self);
    return behavior;
  }
  self->request(st.ledger, caf::infinite, ledger_atom::value, *st.fingerprint)
      .then([=](bool maybe_known) { maybe_known ? check_content(self) : schedule_pump(self); });
  return behavior;
}

}  // namespace

reader_actor spawn_reader(caf::local_actor* parent, const ReaderTask& task, batcher_actor batcher,
                          supervisor_actor supervisor, store_actor store, const Config& config,
                          const RunOptions& options, Metrics& metrics) {
  ReaderOptions reader_options;
  reader_options.strict = config.strict;
  reader_options.batch_readings = config.reader_batch_readings;
  reader_options.tenant = task.file.tenant;
  // A tenant without participant ids (or the check off) takes files addressed to anyone.
  std::vector<std::string> participants;
  if (const Tenant* t = config.tenant(task.file.tenant);
      t && config.tenant_participant_field != "none")
    participants = t->participants;
  return parent->spawn<caf::monitored + caf::detached>(
      reader, task, std::move(batcher), std::move(supervisor),
      config.skip_known_files ? store : store_actor{}, store, config.reader_records_per_write,
      config.reader_window, reader_options, config.read_chunk_bytes, &options, &metrics,
      std::move(participants), config.tenant_participant_field);
}

}  // namespace meterd::actors
