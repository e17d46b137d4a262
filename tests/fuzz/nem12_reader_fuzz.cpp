// libFuzzer target for Nem12Reader (built and run by scripts/fuzz.sh).
//
// Beyond "no crash, no sanitizer report, no escaping exception" it checks that
//   * the report's reading and B2B counts equal what reached the sink,
//   * every batch is internally consistent (runs inside `values`, string ids valid, values
//     finite, interval lengths that divide a day), keeps the batch codec's structural rules and
//     round-trips through a frame exactly,
//   * the output does not depend on how the input is chunked or how often batches flush:
//     one feed of the whole input and a feed in pseudo-random pieces (1 byte to 64 KiB) give
//     the same readings, B2B events and report counts,
// in default and in strict mode.
//
// The chunk sizes come from a hash of the whole input rather than from bytes consumed at its
// front: consuming bytes would break the `100,NEM12` header of every seed file.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string_view>
#include <vector>

#include "protocol/nem12_reader.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using meterd::fuzz::bits_of;
using meterd::fuzz::check;
using meterd::fuzz::mix;

// Checks each batch and folds everything delivered into one fingerprint.
class CheckingSink : public meterd::ReadingSink {
 public:
  explicit CheckingSink(bool strict) : strict_(strict) {}

  void on_readings(meterd::ReadingBatch& batch) override {
    std::uint64_t in_runs = 0;
    for (const meterd::ReadingRun& run : batch.runs) {
      meterd::fuzz::check_run_bounds(batch, run);
      check(run.interval_minutes > 0 && 1440 % run.interval_minutes == 0,
            "interval length does not divide a day");
      check(meterd::is_quality_flag(run.quality), "quality outside A/E/F/S/N/V");
      // Strict mode refuses a V day whose 400s leave an interval unresolved.
      if (strict_) check(run.quality != 'V', "quality V in strict mode");
      in_runs += run.count;
      // Per reading, so that how a day is cut into runs and batches does not matter.
      std::uint64_t attributes = mix(mix(mix(0, batch.strings[run.nmi]), batch.strings[run.suffix]),
                                     batch.strings[run.uom]);
      attributes =
          mix(attributes, static_cast<std::uint64_t>(run.quality) << 32 | run.method << 16 |
                              static_cast<std::uint16_t>(run.reason_code));
      attributes = mix(mix(attributes, static_cast<std::uint64_t>(run.update_datetime)), run.line);
      for (std::uint32_t k = 0; k < run.count; ++k) {
        const double v = batch.values[run.first_value + k];
        check(std::isfinite(v), "non-finite reading");
        readings_fingerprint_ = mix(mix(readings_fingerprint_ ^ attributes,
                                        static_cast<std::uint64_t>(run.interval_start(k))),
                                    bits_of(v));
      }
    }
    check(in_runs == batch.values.size(), "runs do not cover the batch's values exactly");
    meterd::fuzz::check_frame_round_trip(batch, meterd::FrameChecks::structural);
    readings += batch.values.size();
  }

  void on_b2b_events(std::vector<meterd::B2BEvent>& events) override {
    for (const auto& e : events) {
      events_fingerprint_ = mix(mix(mix(events_fingerprint_, e.nmi), e.suffix), e.line);
      events_fingerprint_ = mix(events_fingerprint_, static_cast<std::uint64_t>(e.trans_code));
    }
    b2b_events += events.size();
    events.clear();
  }

  void on_register_reads(std::vector<meterd::RegisterReadPeriod>& reads) override {
    for (const auto& r : reads)
      registers_fingerprint_ = mix(mix(registers_fingerprint_, r.nmi), r.line);
    register_reads += reads.size();
    reads.clear();
  }

  // Readings and events are kept apart: their interleaving depends on when batches flush.
  std::uint64_t readings_fingerprint() const { return readings_fingerprint_; }
  std::uint64_t events_fingerprint() const { return events_fingerprint_; }
  std::uint64_t registers_fingerprint() const { return registers_fingerprint_; }
  std::uint64_t readings = 0, b2b_events = 0, register_reads = 0;

 private:
  bool strict_;
  std::uint64_t readings_fingerprint_ = 0, events_fingerprint_ = 0, registers_fingerprint_ = 0;
};

struct Outcome {
  std::uint64_t readings_fingerprint, events_fingerprint, registers_fingerprint, readings,
      b2b_events, register_reads, days, rejected_days, rejected_records, readings_rejected, lines;
  bool fatal, saw_900;
  std::uint64_t issues[3];

  bool operator==(const Outcome&) const = default;
};

// Splits the input into pieces of 1 byte .. 64 KiB, biased to small ones where bugs live.
class Chunker {
 public:
  explicit Chunker(std::uint64_t seed) : state_(seed) {}
  std::size_t next() {
    state_ = mix(state_, 0x632be59bd9b4e019ULL);
    switch (state_ & 3) {
      case 0:
        return 1 + (state_ >> 8) % 4;
      case 1:
        return 1 + (state_ >> 8) % 64;
      case 2:
        return 1 + (state_ >> 8) % 4096;
      default:
        return 1 + (state_ >> 8) % 65536;
    }
  }

 private:
  std::uint64_t state_;
};

Outcome read(std::string_view input, bool strict, std::uint64_t chunk_seed,
             std::uint32_t batch_readings) {
  CheckingSink sink(strict);
  meterd::ReaderOptions options;
  options.strict = strict;
  options.batch_readings = batch_readings;
  meterd::Nem12Reader reader(options, sink);
  if (chunk_seed == 0) {
    reader.feed(input);
  } else {
    Chunker chunker(chunk_seed);
    for (std::size_t at = 0; at < input.size();) {
      const std::size_t n = chunker.next();
      reader.feed(input.substr(at, n));
      at += n;
    }
  }
  reader.finish();
  const meterd::FileReport& r = reader.report();
  check(r.readings == sink.readings, "report().readings != readings delivered to the sink");
  check(r.b2b_events == sink.b2b_events, "report().b2b_events != events delivered");
  check(r.register_reads == sink.register_reads, "report().register_reads != reads delivered");
  return {sink.readings_fingerprint(),
          sink.events_fingerprint(),
          sink.registers_fingerprint(),
          sink.readings,
          sink.b2b_events,
          sink.register_reads,
          r.days,
          r.rejected_days,
          r.rejected_records,
          r.readings_rejected,
          r.lines,
          r.fatal,
          r.saw_900,
          {r.issue_counts[0], r.issue_counts[1], r.issue_counts[2]}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  meterd::fuzz::target_name = "nem12_reader_fuzz";
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::uint64_t seed = mix(0x6e656d3132ULL, input) | 1;  // never 0: 0 means "one feed"
  try {
    for (bool strict : {false, true}) {
      const Outcome whole = read(input, strict, 0, 65536);
      const auto small_batches = static_cast<std::uint32_t>(1 + (seed >> 40) % 97);
      const Outcome pieces = read(input, strict, seed, small_batches);
      check(whole == pieces, "output depends on chunking or batch size");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nem12_reader_fuzz: exception escaped the reader: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "nem12_reader_fuzz: non-standard exception escaped the reader\n");
    std::abort();
  }
  return 0;
}
