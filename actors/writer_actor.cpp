// Writer: has each sealed batch written by the store actor, one at a time and in order, and
// tells the supervisor which readings are now durable. A failed write trips the circuit
// breaker: the batch and every batch after it go to the safety actor untried, and the
// batcher's credit is withheld until safety reports that a retry landed, so the fast path stops
// hammering a failing disk and the readers wait.
// Any failure the store reports counts as a failed write (a batch the store refuses for another
// reason must not crash-loop the pipeline: it ends in dead_letter/ like one the disk refused).
// It blocks on nothing: the fsyncs happen in the store actor, and the answer is a message.
#include <chrono>
#include <deque>

#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace meterd::actors {
namespace {

struct WriterState {
  WriterState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  store_actor store;
  safety_actor safety;
  supervisor_actor supervisor;
  Metrics* metrics = nullptr;
  bool breaker_open = false, shutting_down = false, draining = false, writing = false;
  caf::strong_actor_ptr batcher;  // whom to give credit to
  std::uint32_t withheld = 0;
  std::deque<SealedBatch> queue;  // at most the batcher's window; the front is being written
  static inline const char* name = "meterd.writer";
};

using writer_pointer = writer_actor::stateful_pointer<WriterState>;

void give_credit(writer_pointer self, std::uint32_t n) {
  auto& st = self->state;
  if (st.batcher && n > 0)
    self->send(caf::actor_cast<batcher_actor>(st.batcher), credit_atom::value, n);
}

void hand_to_safety(writer_pointer self, SealedBatch&& batch) {
  auto& st = self->state;
  st.metrics->writer.in_flight.sub();
  self->send(st.safety, std::move(batch));
  if (st.shutting_down) return give_credit(self, 1);
  ++st.withheld;
}

void written(writer_pointer self, SealedBatch&& batch, const storage::PartInfo& part,
             std::chrono::steady_clock::time_point started) {
  auto& st = self->state;
  const auto us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                 std::chrono::steady_clock::now() - started)
                                                 .count());
  auto& m = st.metrics->writer;
  m.in_flight.sub();
  m.batches.add();
  m.readings.add(batch.readings());
  m.parts.add();
  m.bytes.add(part.bytes);
  m.latency_us_sum.add(us);
  m.latency_us_max.raise_to(us);
  m.latency.observe_us(us);
  self->send(st.supervisor, Durable{std::move(batch.shares), std::move(batch.conflicts)});
  give_credit(self, 1);
}

void write_failed(writer_pointer self, SealedBatch&& batch, const std::string& error,
                  bool io_error) {
  auto& st = self->state;
  // I/O errors (disk full) and anything else the store reports take the same path: a batch that
  // cannot be written is held, retried with back-off and dead-lettered if it never lands.
  st.metrics->writer.failures.add();
  st.metrics->safety.breaker_opens.add();
  st.breaker_open = true;
  log::error(
      "write_failed",
      {{"batch", batch.id},
       {"partition", storage::partition_name(batch.partition->tenant, batch.partition->month)},
       {"readings", batch.readings()},
       {"error", error},
       {"io_error", io_error},
       {"breaker", "open"}});
  batch.attempts = 1;
  hand_to_safety(self, std::move(batch));
}

// Everything the batcher sealed arrived before its drain_atom (same sender, in order); once
// the last write is answered, safety gets the drain behind the batches handed to it.
void maybe_finish_drain(writer_pointer self) {
  auto& st = self->state;
  if (!st.draining || st.writing || !st.queue.empty()) return;
  self->send(st.safety, drain_atom::value);
  self->send(st.supervisor, drained_atom::value, Stage::writer);
  st.batcher = nullptr;
  self->quit();
}

void write_next(writer_pointer self) {
  auto& st = self->state;
  if (st.writing) return;
  if (st.breaker_open) {
    while (!st.queue.empty()) {
      hand_to_safety(self, std::move(st.queue.front()));
      st.queue.pop_front();
    }
  }
  if (st.queue.empty()) return maybe_finish_drain(self);
  st.writing = true;
  const auto started = std::chrono::steady_clock::now();
  auto take = [self] {
    auto& st = self->state;
    st.writing = false;
    SealedBatch batch = std::move(st.queue.front());
    st.queue.pop_front();
    return batch;
  };
  self->request(st.store, caf::infinite, write_atom::value, st.queue.front().partition)
      .then(
          [=](WriteOutcome& out) {
            if (out.part) {
              SealedBatch batch = take();
              for (auto& c : out.stored_conflicts) batch.conflicts.push_back(std::move(c));
              written(self, std::move(batch), *out.part, started);
            } else {
              write_failed(self, take(), out.error, out.io_error);
            }
            write_next(self);
          },
          [=](caf::error& e) {
            write_failed(self, take(), "store unavailable: " + self->system().render(e), false);
            write_next(self);
          });
}

writer_actor::behavior_type writer(writer_pointer self, store_actor store, safety_actor safety,
                                   supervisor_actor supervisor, Metrics* metrics) {
  auto& st = self->state;
  st.store = std::move(store);
  st.safety = std::move(safety);
  st.supervisor = std::move(supervisor);
  st.metrics = metrics;
  return {
      [=](SealedBatch& batch) {
        auto& st = self->state;
        st.batcher = self->current_sender();
        st.queue.push_back(std::move(batch));
        write_next(self);
      },
      [=](breaker_atom, bool open) {
        auto& st = self->state;
        if (open) return;
        st.breaker_open = false;
        log::info("breaker_closed", {{"credit_returned", st.withheld}});
        give_credit(self, st.withheld);
        st.withheld = 0;
      },
      [=](park_atom) {
        auto& st = self->state;
        st.shutting_down = true;
        give_credit(self, st.withheld);
        st.withheld = 0;
      },
      [=](drain_atom) {
        self->state.draining = true;
        maybe_finish_drain(self);
      },
  };
}

}  // namespace

writer_actor spawn_writer(caf::local_actor* parent, store_actor store, safety_actor safety,
                          supervisor_actor supervisor, Metrics& metrics) {
  return parent->spawn<caf::monitored>(writer, std::move(store), std::move(safety),
                                       std::move(supervisor), &metrics);
}

}  // namespace meterd::actors
