// Storage benchmarks on generated 30-minute data (one core):
//   BM_WritePart      PartWriter on sorted batches: rows/s and bytes/row (target >= 15 M rows/s,
//                     <= 4 bytes/row)
//   BM_StoreWrite     Store::write: sort + part + fsync + rename + manifest, per batch
//   BM_MergeOnePart   merge-on-read of one part (decode + newest-version merge)
//   BM_MergeResend    merge of a part with a re-sent, newer 10% of it (k = 2, duplicates dropped)
//   BM_SealOneSort    a sealed 1 M-reading month partition: sort_partition +
//                     Store::write(PartitionBatch), the one sort per batch
//   BM_SortOnce       sort_partition alone, without the write
//   (the former two-sort path, measured side by side before it was removed: docs/benchmarks.md)
//   (arg 0: runs as daily files arrive, day by day; arg 1: runs already in order)
//
// Data: NMIs x {E1, B1} x 31 days x 48 intervals, values with 3 decimals following a daily
// load shape (E1) and a solar export shape that is 0 at night (B1), like real meter data.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "storage/merge.hpp"
#include "storage/part_reader.hpp"
#include "storage/part_writer.hpp"
#include "storage/partition_sort.hpp"
#include "storage/store.hpp"

namespace {

using namespace meterd;
using namespace meterd::storage;

constexpr epoch_seconds kMarch2005 = 1109599200;  // 2005-03-01T00:00+10:00

// Runs already in (nmi, suffix, interval_start) order, as the batcher hands them over.
ReadingBatch make_sorted_batch(int nmis, int first_nmi = 0, std::uint64_t sequence = 1,
                               epoch_seconds update = 1110000000, int every_nth_day = 1,
                               double value_scale = 1) {
  ReadingBatch b;
  std::uint64_t state = 0x9E3779B97F4A7C15ull * (first_nmi + 1);
  auto rnd = [&] {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return static_cast<double>(state % 1000000) / 1e6;
  };
  std::uint32_t line = 2;
  for (int n = first_nmi; n < first_nmi + nmis; ++n) {
    // Built piecewise: g++ 12 warns falsely (-Wrestrict) on "literal" + std::to_string().
    std::string nmi_text = "NMI", serial_text = "M";
    nmi_text += std::to_string(4000000000 + n);
    serial_text += std::to_string(n);
    const std::uint32_t nmi = b.strings.intern(nmi_text);
    const std::uint32_t serial = b.strings.intern(serial_text);
    const double scale = 0.2 + 1.8 * rnd();
    for (const char* suffix : {"B1", "E1"}) {
      const bool solar = suffix[0] == 'B';
      for (int d = 0; d < 31; d += every_nth_day) {
        ReadingRun run;
        run.first_value = static_cast<std::uint32_t>(b.values.size());
        run.count = 48;
        run.nmi = nmi;
        run.suffix = b.strings.intern(suffix);
        run.register_id = run.suffix;
        run.meter_serial = serial;
        run.uom = b.strings.intern("KWH");
        run.interval_minutes = 30;
        run.quality = 'A';
        run.line = line++;
        run.first_start = kMarch2005 + static_cast<epoch_seconds>(d) * 86400;
        run.update_datetime = update;
        run.msats_load_datetime = update + 600;
        run.file_created = update - 3600;
        run.file_sequence = sequence;
        for (int k = 0; k < 48; ++k) {
          const double hour = k / 2.0;
          double v;
          if (solar) {
            v = (hour < 7 || hour > 18) ? 0 : scale * std::sin((hour - 7) / 11 * M_PI) * rnd();
          } else {
            v = scale * (0.3 + 0.4 * std::sin((hour - 6) / 24 * 2 * M_PI) + 0.3 * rnd());
          }
          b.values.push_back(std::round(v * value_scale * 1000) / 1000);
        }
        b.runs.push_back(run);
      }
    }
  }
  return b;
}

const std::filesystem::path& bench_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("meterd-storage-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

PartSummary write_part(const std::filesystem::path& path, const ReadingBatch& b) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  PartWriter w(fd);
  w.add(b, 1700000000000000);
  const PartSummary s = w.finish();
  ::close(fd);
  return s;
}

void BM_WritePart(benchmark::State& state) {
  const ReadingBatch batch = make_sorted_batch(static_cast<int>(state.range(0)));
  const auto path = bench_dir() / "write.parquet";
  PartSummary s;
  for (auto _ : state) s = write_part(path, batch);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.readings()));
  state.counters["bytes_per_row"] = static_cast<double>(s.bytes) / static_cast<double>(s.rows);
  state.counters["rows"] = static_cast<double>(s.rows);
  std::filesystem::remove(path);
}
// 3,400 NMIs x 2 streams x 31 days x 48 = 10.1 M rows (one partition-month).
BENCHMARK(BM_WritePart)->Arg(3400)->Unit(benchmark::kMillisecond)->UseRealTime();

// Large (C&I) meters: the same shapes x 100, so ~10^5 distinct values per row group.
void BM_WritePartLargeMeters(benchmark::State& state) {
  const ReadingBatch batch =
      make_sorted_batch(static_cast<int>(state.range(0)), 0, 1, 1110000000, 1, 100);
  const auto path = bench_dir() / "write-large.parquet";
  PartSummary s;
  for (auto _ : state) s = write_part(path, batch);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.readings()));
  state.counters["bytes_per_row"] = static_cast<double>(s.bytes) / static_cast<double>(s.rows);
  std::filesystem::remove(path);
}
BENCHMARK(BM_WritePartLargeMeters)->Arg(3400)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StoreWrite(benchmark::State& state) {
  // Batches of ~65k readings (what the reader emits), through the whole lifecycle.
  const ReadingBatch batch = make_sorted_batch(22);
  std::uint64_t n = 0;
  const auto dir = bench_dir() / "store";
  std::filesystem::remove_all(dir);
  {
    Store store(dir);
    for (auto _ : state) {
      store.write(batch);
      ++n;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n * batch.readings()));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_StoreWrite)->Unit(benchmark::kMillisecond)->UseRealTime();

void merge_bench(benchmark::State& state, bool resend) {
  const ReadingBatch base = make_sorted_batch(static_cast<int>(state.range(0)));
  const auto a = bench_dir() / "merge-a.parquet";
  const auto b = bench_dir() / "merge-b.parquet";
  write_part(a, base);
  std::vector<PartReader> readers;
  readers.emplace_back(a);
  if (resend) {
    // A newer re-send of every 10th day of every NMI.
    write_part(b, make_sorted_batch(static_cast<int>(state.range(0)), 0, 2, 1120000000, 10));
    readers.emplace_back(b);
  }
  std::vector<const PartReader*> ptrs;
  for (const auto& r : readers) ptrs.push_back(&r);
  MergeStats stats;
  std::uint64_t out = 0;
  for (auto _ : state) {
    out = 0;
    stats = merge_parts(ptrs, QueryFilter{},
                        [&](const ReadingBatch& batch, auto) { out += batch.readings(); });
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * stats.rows_in));
  state.counters["rows_in"] = static_cast<double>(stats.rows_in);
  state.counters["rows_out"] = static_cast<double>(out);
  std::filesystem::remove(a);
  std::filesystem::remove(b);
}
void BM_MergeOnePart(benchmark::State& state) {
  merge_bench(state, false);
}
void BM_MergeResend(benchmark::State& state) {
  merge_bench(state, true);
}
BENCHMARK(BM_MergeOnePart)->Arg(3400)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MergeResend)->Arg(3400)->Unit(benchmark::kMillisecond)->UseRealTime();

// A month partition of ~1 M readings as the batcher seals it. Daily files (arg 0): runs and
// values in arrival order, day by day, each day a file of its own; otherwise (arg 1) in row
// order already.
ReadingBatch make_sealed_partition(bool daily_files) {
  ReadingBatch sorted = make_sorted_batch(336);  // 336 x 2 x 31 x 48 = 999,936 readings
  if (!daily_files) return sorted;
  ReadingBatch arrived;
  arrived.strings = sorted.strings;
  arrived.values.reserve(sorted.values.size());
  for (int day = 0; day < 31; ++day) {
    std::uint32_t line = 2;
    for (ReadingRun run : sorted.runs) {
      if (run.first_start != kMarch2005 + static_cast<epoch_seconds>(day) * 86400) continue;
      const auto from = sorted.values.begin() + run.first_value;
      run.first_value = static_cast<std::uint32_t>(arrived.values.size());
      arrived.values.insert(arrived.values.end(), from, from + run.count);
      run.line = line++;
      run.file_sequence = static_cast<std::uint64_t>(day) + 1;
      arrived.runs.push_back(run);
    }
  }
  return arrived;
}

constexpr MonthKey kMarch = 2005 * 12 + 2;

// Times `seal_and_write` on a fresh copy of the sealed partition per iteration.
template <class Fn>
void seal_bench(benchmark::State& state, const std::string& name, Fn&& seal_and_write) {
  const ReadingBatch sealed = make_sealed_partition(state.range(0) == 0);
  const auto dir = bench_dir() / name;
  std::filesystem::remove_all(dir);
  {
    Store store(dir);
    for (auto _ : state) {
      state.PauseTiming();
      ReadingBatch copy = sealed;
      state.ResumeTiming();
      seal_and_write(store, std::move(copy));
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * sealed.readings()));
  std::filesystem::remove_all(dir);
}

void BM_SealOneSort(benchmark::State& state) {
  seal_bench(state, "seal-one-sort", [](Store& store, ReadingBatch&& batch) {
    const PartInfo part = store.write(sort_partition(kMarch, std::move(batch)));
    benchmark::DoNotOptimize(part.rows);
  });
}
void BM_SortOnce(benchmark::State& state) {
  seal_bench(state, "sort-once", [](Store&, ReadingBatch&& batch) {
    const PartitionBatch sorted = sort_partition(kMarch, std::move(batch));
    benchmark::DoNotOptimize(sorted.batch.runs.data());
  });
}
BENCHMARK(BM_SealOneSort)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SortOnce)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
