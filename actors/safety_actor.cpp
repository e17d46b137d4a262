// Safety: the slow path, one actor for the whole daemon (detached: the journal and the
// dead-letter directory are written and fsynced here; they may live on another disk than the
// data, which the store actor owns). A batch whose write failed is journaled durably, then
// retried one at a time on a back-off schedule, through the store. The first retry that lands
// is the probe that closes the writer's breaker. After max_retries failures a batch goes to
// dead_letter/ with a report. At start-up it replays whatever an earlier run left in the
// journal.
#include <algorithm>
#include <chrono>
#include <deque>
#include <system_error>

#include "actors/config.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "protocol/reading_format.hpp"
#include "storage/fs_util.hpp"
#include "storage/journal.hpp"

namespace meterd::actors {
namespace {

struct Held {
  SealedBatch batch;
  std::filesystem::path journal_file;  // empty if even the journal write failed
  std::string last_error;
};

struct SafetyState {
  SafetyState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  store_actor store;
  supervisor_actor supervisor;
  Metrics* metrics = nullptr;
  std::filesystem::path journal_dir, dead_letter_dir;
  std::chrono::milliseconds initial{0}, max{0}, backoff{0};
  std::uint32_t max_retries = 0;
  std::deque<Held> queue;
  caf::strong_actor_ptr writer;                // whose breaker to close when the queue empties
  bool timer_armed = false, retrying = false;  // retrying: a write is with the store
  static inline const char* name = "meterd.safety";
};

using safety_pointer = safety_actor::stateful_pointer<SafetyState>;

void arm(safety_pointer self, std::chrono::milliseconds delay) {
  auto& st = self->state;
  if (st.timer_armed) return;
  st.timer_armed = true;
  if (delay.count() == 0)
    self->send(self, retry_atom::value);
  else
    self->delayed_send(self, delay, retry_atom::value);
}

void journal_if_needed(safety_pointer self, Held& held) {
  auto& st = self->state;
  if (!held.journal_file.empty()) return;
  try {
    held.journal_file = storage::journal::save(st.journal_dir, held.batch.id, held.batch.attempts,
                                               *held.batch.partition);
  } catch (const std::exception& e) {
    // The journal's disk may be the full one. The batch stays in memory, and its source files
    // stay in processing/ until it lands, so a crash now still loses nothing.
    st.metrics->safety.journal_failures.add();
    log::warn("journal_failed", {{"batch", held.batch.id}, {"error", e.what()}});
  }
}

std::string dead_letter_report(const Held& held) {
  std::string out = "{\"batch\":" + std::to_string(held.batch.id) + ",\"partition\":";
  append_json_string(
      out, storage::partition_name(held.batch.partition->tenant, held.batch.partition->month));
  out += ",\"readings\":" + std::to_string(held.batch.readings()) +
         ",\"attempts\":" + std::to_string(held.batch.attempts) + ",\"last_error\":";
  append_json_string(out, held.last_error);
  out += ",\"requeue\":\"move the .journal file into the journal directory and restart\"}\n";
  return out;
}

void dead_letter(safety_pointer self, Held& held) {
  auto& st = self->state;
  std::string path;
  try {
    std::filesystem::create_directories(st.dead_letter_dir);
    std::filesystem::path target;
    if (!held.journal_file.empty()) {
      target = st.dead_letter_dir / held.journal_file.filename();
      std::filesystem::rename(held.journal_file, target);
    } else {
      target = storage::journal::save(st.dead_letter_dir, held.batch.id, held.batch.attempts,
                                      *held.batch.partition);
    }
    auto report = target;
    report.replace_extension(".json");
    storage::fs::atomic_replace(report, dead_letter_report(held));
    path = target.string();
  } catch (const std::exception& e) {
    log::error("dead_letter_failed", {{"batch", held.batch.id}, {"error", e.what()}});
  }
  st.metrics->safety.dead_lettered.add();
  log::error("dead_lettered", {{"batch", held.batch.id},
                               {"readings", held.batch.readings()},
                               {"attempts", held.batch.attempts},
                               {"path", path}});
  self->send(st.supervisor, DeadLettered{std::move(held.batch.shares), path});
}

// The store's answer to a retry that failed: back off, or give up on the batch.
void retry_failed(safety_pointer self, const std::string& error) {
  auto& st = self->state;
  Held& held = st.queue.front();
  ++held.batch.attempts;
  held.last_error = error;
  log::warn("retry_failed", {{"batch", held.batch.id},
                             {"attempts", held.batch.attempts},
                             {"error", error},
                             {"next_ms", static_cast<std::int64_t>(st.backoff.count())}});
  if (held.batch.attempts >= st.max_retries) {
    dead_letter(self, held);
    st.queue.pop_front();
    st.metrics->safety.held_now.sub();
    if (st.queue.empty()) {
      // Nothing left to probe with: half-open the breaker so that the writer's next batch
      // is the probe (it reopens the breaker if the disk still fails).
      if (st.writer)
        self->send(caf::actor_cast<writer_actor>(st.writer), breaker_atom::value, false);
      st.writer = nullptr;
      st.backoff = st.initial;
      return;
    }
  }
  arm(self, st.backoff);
  st.backoff = std::min(st.backoff * 2, st.max);
}

void retry_landed(safety_pointer self) {
  auto& st = self->state;
  Held& held = st.queue.front();
  // Forget the journal copy only now that the store has it durably.
  if (!held.journal_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(held.journal_file, ec);
  }
  st.metrics->safety.landed.add();
  st.metrics->safety.held_now.sub();
  log::info("retry_landed", {{"batch", held.batch.id},
                             {"readings", held.batch.readings()},
                             {"attempts", held.batch.attempts}});
  self->send(st.supervisor, Durable{std::move(held.batch.shares), std::move(held.batch.conflicts)});
  st.queue.pop_front();
  st.backoff = st.initial;
  if (st.queue.empty()) {
    if (st.writer) self->send(caf::actor_cast<writer_actor>(st.writer), breaker_atom::value, false);
    st.writer = nullptr;
  } else {
    arm(self, std::chrono::milliseconds(0));  // the disk works again: next one right away
  }
}

void retry(safety_pointer self) {
  auto& st = self->state;
  st.timer_armed = false;
  if (st.queue.empty() || st.retrying) return;
  Held& held = st.queue.front();
  journal_if_needed(self, held);  // a batch held only in memory gets another chance too
  st.metrics->safety.retries.add();
  st.retrying = true;
  self->request(st.store, caf::infinite, write_atom::value, held.batch.partition)
      .then(
          [=](WriteOutcome& out) {
            self->state.retrying = false;
            if (out.part) {
              auto& conflicts = self->state.queue.front().batch.conflicts;
              for (auto& c : out.stored_conflicts) conflicts.push_back(std::move(c));
              retry_landed(self);
            } else {
              retry_failed(self, out.error);
            }
          },
          [=](caf::error& e) {
            self->state.retrying = false;
            retry_failed(self, "store unavailable: " + self->system().render(e));
          });
}

safety_actor::behavior_type safety(safety_pointer self, store_actor store,
                                   supervisor_actor supervisor, Config config, Metrics* metrics) {
  auto& st = self->state;
  st.store = std::move(store);
  st.supervisor = std::move(supervisor);
  st.metrics = metrics;
  st.journal_dir = config.effective_journal_dir();
  st.dead_letter_dir = config.dead_letter_dir();
  st.initial = st.backoff = std::chrono::milliseconds(std::max(1u, config.retry_initial_ms));
  st.max = std::chrono::milliseconds(std::max(config.retry_initial_ms, config.retry_max_ms));
  st.max_retries = std::max(1u, config.max_retries);
  // Replay an earlier run's journal. The journal keeps no shares: the streams of that run mean
  // nothing now (their files are re-read from processing/).
  for (const auto& file : storage::journal::list(st.journal_dir)) {
    if (auto entry = storage::journal::load(file)) {
      SealedBatch batch;
      batch.id = entry->id;
      batch.attempts = entry->attempts;
      batch.partition = std::make_shared<const storage::PartitionBatch>(std::move(entry->batch));
      st.queue.push_back({std::move(batch), file, {}});
      metrics->safety.held_now.add();
      log::info("journal_replay", {{"file", file.string()}});
    } else {
      log::warn("journal_unreadable", {{"file", file.string()}});
    }
  }
  if (!st.queue.empty()) arm(self, std::chrono::milliseconds(0));
  return {
      [=](SealedBatch& batch) {
        auto& st = self->state;
        st.writer = self->current_sender();
        st.metrics->safety.batches_held.add();
        st.metrics->safety.held_now.add();
        st.queue.push_back({std::move(batch), {}, {}});
        journal_if_needed(self, st.queue.back());
        arm(self, st.backoff);
      },
      [=](retry_atom) { retry(self); },
      [=](drain_atom) {
        // Held batches stay in the journal for the next start; their files stay in processing/.
        auto& st = self->state;
        for (auto& held : st.queue) journal_if_needed(self, held);
        self->send(st.supervisor, drained_atom::value, Stage::safety);
        st.writer = nullptr;
        self->quit();
      },
  };
}

}  // namespace

safety_actor spawn_safety(caf::local_actor* parent, store_actor store, supervisor_actor supervisor,
                          const Config& config, Metrics& metrics) {
  return parent->spawn<caf::monitored + caf::detached>(safety, std::move(store),
                                                       std::move(supervisor), config, &metrics);
}

}  // namespace meterd::actors
