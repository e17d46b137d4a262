// Nem12Reader throughput on generated files held in memory, fed in 1 MiB chunks as the daemon
// reads them. Target (issue): >= 400 MB/s and >= 60 M readings/s on one core, 30-minute data.
//
//   build-bench/bench/reader_bench --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/nem12_generator.hpp"
#include "protocol/nem12_reader.hpp"

namespace {

using meterd::GeneratorOptions;
using meterd::GeneratorStats;

constexpr std::size_t kTargetBytes = std::size_t{128} << 20;
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

// Counts and drops: the benchmark measures the reader, not a consumer.
class DiscardingSink : public meterd::ReadingSink {
 public:
  void on_readings(meterd::ReadingBatch& batch) override { readings += batch.readings(); }
  std::uint64_t readings = 0;
};

struct Dataset {
  GeneratorOptions options;
  GeneratorStats stats;
  std::string text;
};

GeneratorOptions options_for(std::uint32_t interval_minutes, bool with_400_500) {
  GeneratorOptions o;
  o.seed = 42;
  o.days = 365;
  o.interval_minutes = interval_minutes;
  o.v_day_fraction = with_400_500 ? 0.05 : 0.0;
  o.b2b_fraction = with_400_500 ? 0.05 : 0.0;
  // Size the NMI count from a one-NMI sample so every variant is about kTargetBytes.
  o.nmis = 1;
  const GeneratorStats one = meterd::generate_nem12(o, [](std::string_view) {});
  o.nmis = static_cast<std::uint32_t>(kTargetBytes / one.bytes);
  return o;
}

// Only the dataset in use is kept: benchmarks run config by config, repetitions together.
const Dataset& dataset(std::uint32_t interval_minutes, bool with_400_500) {
  static Dataset current;
  const GeneratorOptions wanted = options_for(interval_minutes, with_400_500);
  if (current.text.empty() || current.options.interval_minutes != interval_minutes ||
      current.options.v_day_fraction != wanted.v_day_fraction) {
    current.options = wanted;
    current.text.clear();
    current.text.shrink_to_fit();
    current.text = meterd::generate_nem12_string(wanted, &current.stats);
  }
  return current;
}

void read_in_chunks(benchmark::State& state, const Dataset& data, bool strict) {
  std::uint64_t readings = 0;
  for (auto _ : state) {
    DiscardingSink sink;
    meterd::ReaderOptions options;
    options.strict = strict;
    meterd::Nem12Reader reader(options, sink);
    const std::string_view text = data.text;
    for (std::size_t at = 0; at < text.size(); at += kChunkBytes)
      reader.feed(text.substr(at, kChunkBytes));
    reader.finish();
    if (sink.readings != data.stats.readings || reader.report().rejected_days != 0) {
      state.SkipWithError("the reader did not yield exactly the generated readings");
      return;
    }
    readings += sink.readings;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.text.size()));
  state.counters["readings/s"] =
      benchmark::Counter(static_cast<double>(readings), benchmark::Counter::kIsRate);
  state.counters["MiB"] = static_cast<double>(data.text.size()) / (1 << 20);
}

// range(0): interval minutes; range(1): 1 = 5 % V days with 400s and 5 % days with a 500.
void BM_ReadNem12(benchmark::State& state) {
  const auto& data = dataset(static_cast<std::uint32_t>(state.range(0)), state.range(1) != 0);
  read_in_chunks(state, data, /*strict=*/false);
}
BENCHMARK(BM_ReadNem12)
    ->ArgNames({"interval", "400_500"})
    ->ArgsProduct({{30, 15, 5}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

void BM_ReadNem12Strict(benchmark::State& state) {
  const auto& data = dataset(30, true);
  read_in_chunks(state, data, /*strict=*/true);
}
BENCHMARK(BM_ReadNem12Strict)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
