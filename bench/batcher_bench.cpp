// The batcher's pure work, per reading: taking reader batches into month partitions (moved
// whole when a batch is one month, copied run by run otherwise) and sealing them sorted (the
// one sort of a reading on its way to a part: storage::sort_partition).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "actors/batch_assembler.hpp"
#include "protocol/nem12_generator.hpp"
#include "protocol/nem12_reader.hpp"
#include "storage/partition_sort.hpp"

namespace {

using meterd::ReadingBatch;

class Collect : public meterd::ReadingSink {
 public:
  void on_readings(ReadingBatch& batch) override { batches.push_back(std::move(batch)); }
  std::vector<ReadingBatch> batches;
};

// Reader batches of a generated file: `nmis` NMIs x `days` days of `interval`-minute data.
const std::vector<ReadingBatch>& reader_batches(std::uint32_t interval, std::uint32_t days) {
  static std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<ReadingBatch>> cache;
  auto& out = cache[{interval, days}];
  if (out.empty()) {
    meterd::GeneratorOptions o;
    o.nmis = 200;
    o.days = days;
    o.interval_minutes = interval;
    Collect sink;
    meterd::Nem12Reader reader({}, sink);
    meterd::generate_nem12(o, [&](std::string_view chunk) { reader.feed(chunk); });
    reader.finish();
    out = std::move(sink.batches);
  }
  return out;
}

void BM_AddAndSeal(benchmark::State& state) {
  const auto& source = reader_batches(static_cast<std::uint32_t>(state.range(0)),
                                      static_cast<std::uint32_t>(state.range(1)));
  std::uint64_t readings = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<ReadingBatch> batches = source;
    state.ResumeTiming();
    meterd::actors::BatchAssembler assembler;
    for (auto& b : batches) {
      readings += b.readings();
      assembler.add(1, b);
    }
    while (auto month = assembler.largest()) benchmark::DoNotOptimize(assembler.seal(*month));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(readings));
}
// interval minutes, days (30 days: mostly one month per batch; 90: batches straddle months)
BENCHMARK(BM_AddAndSeal)
    ->Args({30, 30})
    ->Args({30, 90})
    ->Args({5, 30})
    ->Unit(benchmark::kMillisecond);

void BM_SortShuffledBatch(benchmark::State& state) {
  const auto& source = reader_batches(30, 30);
  ReadingBatch merged;
  meterd::actors::BatchAssembler assembler;
  for (auto b : source) assembler.add(1, b);
  const auto month = *assembler.largest();
  merged = assembler.seal(month).partition->batch;
  std::mt19937 rng(1);
  std::uint64_t readings = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ReadingBatch b = merged;
    std::shuffle(b.runs.begin(), b.runs.end(), rng);
    state.ResumeTiming();
    readings += b.readings();
    const auto sorted = meterd::storage::sort_partition(month.month, std::move(b));
    benchmark::DoNotOptimize(sorted.batch.runs.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(readings));
}
BENCHMARK(BM_SortShuffledBatch)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
