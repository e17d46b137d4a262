// Writer: detached (its own thread), because a part write blocks on fsync. Turns each sealed
// batch into committed parts through the store and tells the supervisor which readings are now
// durable. A failed write trips the circuit breaker: the batch and every batch after it go to
// the safety actor untried, and the batcher's credit is withheld until safety reports that a
// retry landed, so the fast path stops hammering a failing disk and the readers wait.
// Any exception of the store counts as a failed write (a batch the store refuses for another
// reason must not crash-loop the writer: it ends in dead_letter/ like one the disk refused).
#include <chrono>
#include <system_error>

#include "actors/ingest_store.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace meterd::actors {
namespace {

struct WriterState {
  WriterState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  IngestStore* store = nullptr;
  safety_actor safety;
  supervisor_actor supervisor;
  Metrics* metrics = nullptr;
  bool breaker_open = false, shutting_down = false;
  caf::strong_actor_ptr batcher;  // whom to give withheld credit back to
  std::uint32_t withheld = 0;
  static inline const char* name = "meterd.writer";
};

using writer_pointer = writer_actor::stateful_pointer<WriterState>;

void give_credit(writer_pointer self, const caf::strong_actor_ptr& to, std::uint32_t n) {
  if (to && n > 0) self->send(caf::actor_cast<batcher_actor>(to), credit_atom::value, n);
}

void hand_to_safety(writer_pointer self, SealedBatch& batch) {
  auto& st = self->state;
  st.metrics->writer.in_flight.sub();
  self->send(st.safety, std::move(batch));
  if (st.shutting_down) return give_credit(self, self->current_sender(), 1);
  st.batcher = self->current_sender();
  ++st.withheld;
}

writer_actor::behavior_type writer(writer_pointer self, IngestStore* store, safety_actor safety,
                                   supervisor_actor supervisor, Metrics* metrics) {
  auto& st = self->state;
  st.store = store;
  st.safety = std::move(safety);
  st.supervisor = std::move(supervisor);
  st.metrics = metrics;
  return {
      [=](SealedBatch& batch) {
        auto& st = self->state;
        if (st.breaker_open) return hand_to_safety(self, batch);
        const auto t0 = std::chrono::steady_clock::now();
        try {
          auto parts = st.store->write(batch.batch);
          const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count();
          auto& m = st.metrics->writer;
          m.in_flight.sub();
          m.batches.add();
          m.readings.add(batch.batch.readings());
          m.parts.add(parts.size());
          for (const auto& p : parts) m.bytes.add(p.bytes);
          m.latency_us_sum.add(static_cast<std::uint64_t>(us));
          m.latency_us_max.raise_to(static_cast<std::uint64_t>(us));
          m.latency.observe_us(static_cast<std::uint64_t>(us));
          self->send(st.supervisor, Durable{std::move(batch.shares)});
          give_credit(self, self->current_sender(), 1);
        } catch (const std::exception& e) {
          // I/O errors (disk full) and anything else the store throws take the same path: a
          // batch that cannot be written is held, retried with back-off and dead-lettered if it
          // never lands, rather than crashing the writer again on every restart.
          st.metrics->writer.failures.add();
          st.metrics->safety.breaker_opens.add();
          st.breaker_open = true;
          log::error("write_failed",
                     {{"batch", batch.id},
                      {"partition", partition_name(batch.month)},
                      {"readings", std::uint64_t{batch.batch.readings()}},
                      {"error", e.what()},
                      {"io_error", dynamic_cast<const std::system_error*>(&e) != nullptr},
                      {"breaker", "open"}});
          batch.attempts = 1;
          hand_to_safety(self, batch);
        }
      },
      [=](breaker_atom, bool open) {
        auto& st = self->state;
        if (open) return;
        st.breaker_open = false;
        log::info("breaker_closed", {{"credit_returned", st.withheld}});
        give_credit(self, st.batcher, st.withheld);
        st.withheld = 0;
        st.batcher = nullptr;
      },
      [=](park_atom) {
        auto& st = self->state;
        st.shutting_down = true;
        give_credit(self, st.batcher, st.withheld);
        st.withheld = 0;
      },
      [=](drain_atom) {
        // Everything the batcher sealed arrived before this (same sender, in order). Batches
        // with the safety actor stay in its journal.
        auto& st = self->state;
        self->send(st.safety, drain_atom::value);
        self->send(st.supervisor, drained_atom::value, Stage::writer);
        st.batcher = nullptr;
        self->quit();
      },
  };
}

}  // namespace

writer_actor spawn_writer(caf::local_actor* parent, IngestStore& store, safety_actor safety,
                          supervisor_actor supervisor, Metrics& metrics) {
  return parent->spawn<caf::monitored + caf::detached>(writer, &store, std::move(safety),
                                                       std::move(supervisor), &metrics);
}

}  // namespace meterd::actors
