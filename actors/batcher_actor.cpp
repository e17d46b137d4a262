// Batcher: a thin shell around BatchAssembler that owns two credit windows. Upstream, it
// returns a reader's credit only once that reader's batch is inside the assembler; when the
// assembler is full and the writer has no credit for us, reader batches wait here un-credited
// (at most one window per reader), which stops the readers. Downstream, it sends a sealed batch
// only while it holds writer credit.
#include <chrono>
#include <deque>

#include "actors/batch_assembler.hpp"
#include "actors/config.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace meterd::actors {
namespace {

struct ParkedInput {
  caf::strong_actor_ptr reader;
  ReaderBatch batch;
};

struct BatcherState {
  BatcherState() = default;  // not an aggregate: CAF would try to build it from the actor pointer
  writer_actor writer;
  Metrics* metrics = nullptr;
  std::uint64_t seal_at = 0, max_buffered = 0;
  std::chrono::milliseconds flush_interval{0};
  BatchAssembler assembler;
  std::uint32_t credit = 0;        // writer credit
  std::deque<SealedBatch> ready;   // sealed, waiting for writer credit (a few at most)
  std::deque<ParkedInput> parked;  // reader batches not yet taken in (and not credited)
  bool draining = false, stalled = false;
  static inline const char* name = "meterd.batcher";
};

using batcher_pointer = batcher_actor::stateful_pointer<BatcherState>;

void seal(batcher_pointer self, const storage::PartitionKey& key) {
  auto& st = self->state;
  st.ready.push_back(st.assembler.seal(key));
  st.metrics->batcher.buffered_readings.value = st.assembler.buffered_readings();
  st.metrics->batcher.batches_sealed.add();
  st.metrics->batcher.readings_sealed.add(st.ready.back().readings());
}

void send_ready(batcher_pointer self) {
  auto& st = self->state;
  while (st.credit > 0 && !st.ready.empty()) {
    --st.credit;
    st.metrics->writer.in_flight.add();
    st.metrics->writer.peak_in_flight.raise_to(st.metrics->writer.in_flight.get());
    self->send(st.writer, std::move(st.ready.front()));
    st.ready.pop_front();
  }
  if (!st.ready.empty() && !st.stalled) st.metrics->batcher.credit_stalls.add();
  st.stalled = !st.ready.empty();
}

void take_in(batcher_pointer self, ParkedInput& in) {
  auto& st = self->state;
  const auto n = in.batch.batch.readings();
  st.metrics->batcher.batches_in.add();
  st.metrics->batcher.readings_in.add(n);
  st.assembler.add(in.batch.stream, in.batch.batch, BatchAssembler::Clock::now(), in.batch.tenant);
  self->send(caf::actor_cast<reader_actor>(in.reader), credit_atom::value, std::uint32_t{1});
  while (auto full = st.assembler.full(st.seal_at)) seal(self, *full);
}

// Takes in parked reader batches while memory allows: the assembler under its cap and nothing
// sealed waiting for the writer. Seals the largest partition to make room when it can.
void absorb(batcher_pointer self) {
  auto& st = self->state;
  while (!st.parked.empty()) {
    auto& next = st.parked.front();
    const auto n = next.batch.batch.readings();
    if (!st.draining) {
      send_ready(self);
      if (!st.ready.empty()) break;  // the writer is behind: hold the readers
      if (st.assembler.buffered_readings() + n > st.max_buffered && !st.assembler.empty()) {
        seal(self, *st.assembler.largest());
        send_ready(self);
        continue;
      }
    }
    take_in(self, next);
    st.parked.pop_front();
  }
  if (!st.parked.empty()) st.metrics->batcher.input_parked.add();
  st.metrics->batcher.buffered_readings.value = st.assembler.buffered_readings();
  st.metrics->batcher.peak_buffered_readings.raise_to(st.assembler.buffered_readings());
  send_ready(self);
}

// Seals partitions older than the flush interval, but only while the writer can take them: while
// it is busy they keep growing, so the next part is one larger write and one fsync instead of
// several small ones queued behind it (group commit; forwarded requests are small files).
void seal_aged(batcher_pointer self) {
  auto& st = self->state;
  if (st.flush_interval.count() <= 0 || st.credit <= st.ready.size()) return;
  const auto cutoff = BatchAssembler::Clock::now() - st.flush_interval;
  while (auto old = st.assembler.older_than(cutoff)) seal(self, *old);
}

void seal_all(batcher_pointer self) {
  auto& st = self->state;
  while (auto key = st.assembler.largest()) seal(self, *key);
}

// Drain ends when everything sealed has gone to the writer: then the writer gets drain_atom
// behind the last batch (per-sender ordering) and we are done.
void maybe_finish_drain(batcher_pointer self) {
  auto& st = self->state;
  if (!st.draining || !st.ready.empty() || !st.parked.empty() || !st.assembler.empty()) return;
  self->send(st.writer, drain_atom::value);
  self->quit();
}

batcher_actor::behavior_type batcher(batcher_pointer self, writer_actor writer,
                                     std::uint32_t writer_window, std::uint64_t seal_at,
                                     std::uint64_t max_buffered,
                                     std::chrono::milliseconds flush_interval, Metrics* metrics) {
  auto& st = self->state;
  st.writer = std::move(writer);
  st.credit = writer_window;
  st.seal_at = seal_at;
  st.max_buffered = std::max(max_buffered, seal_at);
  st.flush_interval = flush_interval;
  st.metrics = metrics;
  if (flush_interval.count() > 0) self->delayed_send(self, flush_interval / 2, tick_atom::value);
  return {
      [=](ReaderBatch& batch) {
        auto& st = self->state;
        st.parked.push_back({self->current_sender(), std::move(batch)});
        st.metrics->batcher.peak_parked.raise_to(st.parked.size());
        absorb(self);
        maybe_finish_drain(self);
      },
      [=](credit_atom, std::uint32_t n) {
        self->state.credit += n;
        send_ready(self);
        seal_aged(self);
        send_ready(self);
        absorb(self);
        maybe_finish_drain(self);
      },
      [=](flush_atom) {
        seal_all(self);
        send_ready(self);
      },
      [=](tick_atom) {
        auto& st = self->state;
        seal_aged(self);
        send_ready(self);
        if (!st.draining) self->delayed_send(self, st.flush_interval / 2, tick_atom::value);
      },
      [=](drain_atom) {
        self->state.draining = true;
        absorb(self);
        seal_all(self);
        send_ready(self);
        maybe_finish_drain(self);
      },
  };
}

}  // namespace

batcher_actor spawn_batcher(caf::local_actor* parent, writer_actor writer, const Config& config,
                            Metrics& metrics) {
  return parent->spawn<caf::monitored>(
      batcher, std::move(writer), config.writer_window, std::uint64_t{config.batch_readings},
      std::uint64_t{config.batcher_max_readings},
      std::chrono::milliseconds(config.flush_interval_ms), &metrics);
}

}  // namespace meterd::actors
