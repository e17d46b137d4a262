// Opening inputs: the pull API (InputReader) against the push API (read_input), and hashing
// while reading against a hashing pass before the parse pass, over a generated NEM12 file, plain
// and gzipped, read from the page cache in 1 MiB chunks.
// "+parse" variants feed every chunk through Nem12Reader, as the reader actor does.
//
//   build/bench/input_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// The files are written once to $TMPDIR/meterd-input-bench (about 215 MB plain, 80 MB gzip).
#include <benchmark/benchmark.h>

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/input_reader.hpp"
#include "protocol/input_source.hpp"
#include "protocol/nem12_generator.hpp"
#include "protocol/nem12_reader.hpp"
#include "protocol/sha256.hpp"

namespace {

namespace fs = std::filesystem;
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

struct Files {
  fs::path plain, gzip;
  std::uint64_t plain_bytes = 0;
};

const Files& files() {
  static const Files cached = [] {
    Files f;
    const fs::path dir = fs::temp_directory_path() / "meterd-input-bench";
    fs::create_directories(dir);
    f.plain = dir / "nem12.csv";
    f.gzip = dir / "nem12.csv.gz";
    if (!fs::exists(f.gzip)) {
      meterd::GeneratorOptions options;
      options.seed = 7;
      options.nmis = 900;
      options.days = 365;
      std::ofstream out(f.plain, std::ios::binary);
      gzFile gz = gzopen(f.gzip.c_str(), "wb");  // zlib, as the reader decodes it
      meterd::generate_nem12(options, [&](std::string_view bytes) {
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
      });
      if (gzclose(gz) != Z_OK || !out.flush()) throw std::runtime_error("cannot write inputs");
    }
    f.plain_bytes = fs::file_size(f.plain);
    return f;
  }();
  return cached;
}

class DiscardingSink : public meterd::ReadingSink {
 public:
  void on_readings(meterd::ReadingBatch& batch) override { readings += batch.readings(); }
  std::uint64_t readings = 0;
};

// What the caller does with each chunk: nothing, or parse it.
class Consumer {
 public:
  explicit Consumer(bool parse) : parse_(parse) {}
  void start() {
    if (parse_) reader_ = std::make_unique<meterd::Nem12Reader>(meterd::ReaderOptions{}, sink_);
  }
  void chunk(std::string_view bytes) {
    bytes_ += bytes.size();
    if (reader_) reader_->feed(bytes);
  }
  void end() {
    if (reader_) reader_->finish();
    reader_.reset();
  }
  std::uint64_t bytes() const { return bytes_; }

 private:
  bool parse_;
  DiscardingSink sink_;
  std::unique_ptr<meterd::Nem12Reader> reader_;
  std::uint64_t bytes_ = 0;
};

class PushVisitor : public meterd::InputVisitor {
 public:
  explicit PushVisitor(Consumer& consumer) : consumer_(consumer) {}
  void on_member(const meterd::InputMember&) override { consumer_.start(); }
  void on_chunk(std::string_view bytes) override { consumer_.chunk(bytes); }
  void on_member_end() override { consumer_.end(); }
  void on_error(const std::string&, const std::string&) override { consumer_.end(); }

 private:
  Consumer& consumer_;
};

void report(benchmark::State& state, std::uint64_t bytes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

// Called before the timed loop, so that writing the files the first time is not timed.
const fs::path& path_of(const benchmark::State& state) {
  return state.range(0) ? files().gzip : files().plain;
}

void BM_Push(benchmark::State& state) {
  const fs::path& path = path_of(state);
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    Consumer consumer(state.range(1) != 0);
    PushVisitor visitor(consumer);
    meterd::read_input(path, visitor);
    bytes += consumer.bytes();
  }
  report(state, bytes);
}

void pull(benchmark::State& state, bool hashed) {
  const fs::path& path = path_of(state);
  std::vector<char> buffer(kChunkBytes);
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    Consumer consumer(state.range(1) != 0);
    meterd::InputReader reader(path, {}, {.hash_content = hashed});
    while (reader.next().kind == meterd::InputReader::Event::Kind::member) {
      consumer.start();
      while (const std::size_t got = reader.read(buffer.data(), buffer.size()))
        consumer.chunk(std::string_view(buffer.data(), got));
      consumer.end();
    }
    if (hashed) benchmark::DoNotOptimize(reader.content_hash());
    bytes += consumer.bytes();
  }
  report(state, bytes);
}
void BM_Pull(benchmark::State& state) {
  pull(state, false);
}
void BM_PullHashed(benchmark::State& state) {
  pull(state, true);
}

// Two passes: the raw file hashed first, then pulled and parsed. What the reader actor did for
// every file before it hashed while reading, and still does for a file whose fingerprint the
// ledger knows (then the hash decides whether it is read at all).
void BM_HashPassThenPull(benchmark::State& state) {
  const fs::path& path = path_of(state);
  std::vector<char> buffer(kChunkBytes);
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    meterd::Sha256 hash;
    {
      meterd::FileByteSource raw(path);
      while (const std::size_t got = meterd::read_fully(raw, buffer.data(), buffer.size()))
        hash.update(std::string_view(buffer.data(), got));
    }
    benchmark::DoNotOptimize(hash.hex_digest());
    Consumer consumer(state.range(1) != 0);
    meterd::InputReadOptions options;
    options.hash_content = false;
    meterd::InputReader input(path, {}, options);
    for (auto event = input.next(); event.kind != meterd::InputReader::Event::Kind::end;
         event = input.next()) {
      if (event.kind != meterd::InputReader::Event::Kind::member) continue;
      consumer.start();
      while (const std::size_t got = input.read(buffer.data(), buffer.size()))
        consumer.chunk(std::string_view(buffer.data(), got));
      consumer.end();
    }
    bytes += consumer.bytes();
  }
  report(state, bytes);
}

// The floor: read(2) of the plain file, nothing else.
void BM_RawRead(benchmark::State& state) {
  const fs::path& path = files().plain;
  std::vector<char> buffer(kChunkBytes);
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    meterd::FileByteSource file(path);
    while (const std::size_t got = meterd::read_fully(file, buffer.data(), buffer.size()))
      bytes += got;
  }
  report(state, bytes);
}

// Process CPU time, so that work on any helper thread would count too.
#define INPUT_BENCHMARK(name)         \
  BENCHMARK(name)                     \
      ->ArgNames({"gzip", "parse"})   \
      ->ArgsProduct({{0, 1}, {0, 1}}) \
      ->MeasureProcessCPUTime()       \
      ->Unit(benchmark::kMillisecond)

BENCHMARK(BM_RawRead)->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
INPUT_BENCHMARK(BM_Push);
INPUT_BENCHMARK(BM_Pull);
INPUT_BENCHMARK(BM_PullHashed);
INPUT_BENCHMARK(BM_HashPassThenPull);

}  // namespace

BENCHMARK_MAIN();
