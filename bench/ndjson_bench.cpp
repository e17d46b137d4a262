// NdjsonReader throughput (the decoder of POST /v1/readings) on generated readings held in
// memory, fed in 1 MiB chunks. Forms as in protocol/ndjson_lines.hpp: one reading per line with
// every field (full) or without null/empty optional fields (lean), or one line per run
// (compact). The HTTP target (issue 5) is >= 2 M readings/s end to end over loopback; this is
// the decoder's share of it. path:0 is the data as generated (read by the flat path,
// protocol/ndjson_flat.hpp); path:1 puts a tab after each line's '{', which the flat path
// leaves to simdjson: the cost of a body the flat path does not take.
//
//   build-release/bench/ndjson_bench --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/ndjson_lines.hpp"
#include "protocol/ndjson_reader.hpp"
#include "protocol/nem12_generator.hpp"
#include "protocol/nem12_reader.hpp"

namespace {

using meterd::NdjsonForm;

constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

class DiscardingSink : public meterd::ReadingSink {
 public:
  void on_readings(meterd::ReadingBatch& batch) override { readings += batch.readings(); }
  std::uint64_t readings = 0;
};

struct Dataset {
  NdjsonForm form{};
  bool tabs = false;
  std::string text;
  std::uint64_t readings = 0;
};

// ~0.35 M readings (30-minute data, 5 % V days with 400 ranges); only the form in use is kept.
const Dataset& dataset(NdjsonForm form, bool tabs) {
  static Dataset current;
  if (current.text.empty() || current.form != form || current.tabs != tabs) {
    meterd::GeneratorOptions g;
    g.seed = 42;
    g.nmis = 50;
    g.days = 73;
    current.form = form;
    current.tabs = tabs;
    current.text = meterd::generated_ndjson(g, form, &current.readings);
    if (tabs) {
      std::string with;
      with.reserve(current.text.size() * 21 / 20);
      for (const char c : current.text) {
        with.push_back(c);
        if (c == '{') with.push_back('\t');
      }
      current.text = std::move(with);
    }
  }
  return current;
}

void BM_DecodeNdjson(benchmark::State& state) {
  const auto form = static_cast<NdjsonForm>(state.range(0));
  const bool tabs = state.range(1) != 0;
  const auto& data = dataset(form, tabs);
  std::uint64_t readings = 0;
  for (auto _ : state) {
    DiscardingSink sink;
    meterd::NdjsonReader reader(meterd::ReaderOptions{}, sink);
    const std::string_view text = data.text;
    for (std::size_t at = 0; at < text.size(); at += kChunkBytes)
      reader.feed(text.substr(at, kChunkBytes));
    reader.finish();
    if (sink.readings != data.readings || reader.report().rejects() != 0) {
      state.SkipWithError("the decoder did not yield exactly the generated readings");
      return;
    }
    readings += sink.readings;
  }
  state.SetLabel(std::string(meterd::to_string(form)) + (tabs ? ", simdjson path" : ""));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.text.size()));
  state.counters["readings/s"] =
      benchmark::Counter(static_cast<double>(readings), benchmark::Counter::kIsRate);
  state.counters["bytes/reading"] =
      static_cast<double>(data.text.size()) / static_cast<double>(data.readings);
}
BENCHMARK(BM_DecodeNdjson)
    ->ArgNames({"form", "path"})
    ->ArgsProduct({{0, 1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
