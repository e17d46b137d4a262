// Throughput of the synthetic NEM12 generator (it must outrun the reader it feeds).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string_view>

#include "protocol/nem12_generator.hpp"

namespace {

// range(0): interval minutes. About 32 MiB per iteration, written to a discarding callback.
void BM_GenerateNem12(benchmark::State& state) {
  meterd::GeneratorOptions options;
  options.interval_minutes = static_cast<std::uint32_t>(state.range(0));
  options.days = 365;
  options.nmis = 1;
  const auto one = meterd::generate_nem12(options, [](std::string_view) {});
  options.nmis = static_cast<std::uint32_t>((std::uint64_t{32} << 20) / one.bytes);
  std::uint64_t bytes = 0, readings = 0;
  for (auto _ : state) {
    std::uint64_t seen = 0;
    const auto stats =
        meterd::generate_nem12(options, [&](std::string_view chunk) { seen += chunk.size(); });
    benchmark::DoNotOptimize(seen);
    bytes += stats.bytes;
    readings += stats.readings;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["readings/s"] =
      benchmark::Counter(static_cast<double>(readings), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GenerateNem12)
    ->ArgName("interval")
    ->Arg(30)
    ->Arg(15)
    ->Arg(5)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
