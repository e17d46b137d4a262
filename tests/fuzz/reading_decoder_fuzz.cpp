// libFuzzer target for ReadingDecoder on what is not NEM12: NDJSON (the body of POST
// /v1/readings) and the batch file (protocol/batch_file.hpp) the HTTP API hands the pipeline.
// Built and run by scripts/fuzz.sh next to nem12_reader_fuzz.
//
// Beyond "no crash, no sanitizer report, no escaping exception" it checks that
//   * every batch is consistent (runs cover the values, string ids valid) and keeps the NDJSON
//     schema's rules (finite non-negative values, 5/15/30-minute intervals, A/E/F/S/N/V), which
//     the batch codec checks too, and round-trips through a frame exactly,
//   * a frame of a batch file that the codec decodes with the schema's rules it decodes with
//     the structural rules alone too, and to a batch that keeps them (the journal's check),
//   * the readings do not depend on chunking or batch size,
//   * NDJSON decoded into a batch file reads back to exactly the same readings and report
//     counts (what the server decodes is what the pipeline stores).
// With METERD_FUZZ_SEED_DIR set, LLVMFuzzerInitialize writes a batch file next to each
// *.ndjson seed there, so the fuzzer also starts from valid batch files.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "protocol/batch_codec.hpp"
#include "protocol/batch_file.hpp"
#include "protocol/reading_decoder.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using meterd::fuzz::bits_of;
using meterd::fuzz::check;
using meterd::fuzz::mix;

// Checks each batch, folds every reading into an order-sensitive fingerprint and, when asked,
// writes the batches into a batch file.
class CheckingSink : public meterd::ReadingSink {
 public:
  explicit CheckingSink(meterd::BatchFileWriter* writer) : writer_(writer) {}

  void on_readings(meterd::ReadingBatch& batch) override {
    std::uint64_t in_runs = 0;
    for (const auto& run : batch.runs) {
      meterd::fuzz::check_run_bounds(batch, run);
      check(run.interval_minutes == 5 || run.interval_minutes == 15 || run.interval_minutes == 30,
            "interval length not 5, 15 or 30");
      check(meterd::is_quality_flag(run.quality), "quality outside A/E/F/S/N/V");
      const auto nmi = batch.strings[run.nmi].size();
      check(nmi >= 1 && nmi <= 10, "nmi not 1 to 10 characters");
      in_runs += run.count;
      std::uint64_t a = mix(mix(mix(0, batch.strings[run.nmi]), batch.strings[run.suffix]),
                            batch.strings[run.uom]);
      a = mix(a, batch.strings[run.register_id]);
      a = mix(a, batch.strings[run.meter_serial]);
      a = mix(a, batch.strings[run.reason_description]);
      a = mix(a, static_cast<std::uint64_t>(run.quality) << 32 | run.method << 16 |
                     static_cast<std::uint16_t>(run.reason_code));
      // Not run.line: a run carries the line of its first reading, so where a batch flush cuts
      // consecutive lines changes it (lineage only, not part of a reading's key or version).
      a = mix(a, static_cast<std::uint64_t>(run.update_datetime));
      a = mix(mix(a, static_cast<std::uint64_t>(run.msats_load_datetime)),
              static_cast<std::uint64_t>(run.file_created));
      for (std::uint32_t k = 0; k < run.count; ++k) {
        const double v = batch.values[run.first_value + k];
        check(std::isfinite(v) && v >= 0, "value not finite and non-negative");
        fingerprint = mix(mix(fingerprint ^ a, static_cast<std::uint64_t>(run.interval_start(k))),
                          bits_of(v));
      }
    }
    check(in_runs == batch.values.size(), "runs do not cover the values exactly");
    meterd::fuzz::check_frame_round_trip(batch, meterd::FrameChecks::ndjson_schema);
    readings += batch.values.size();
    if (writer_) writer_->append(batch);
  }

  std::uint64_t fingerprint = 0, readings = 0;

 private:
  meterd::BatchFileWriter* writer_;
};

struct Outcome {
  std::uint64_t fingerprint, readings, lines, rejects;
  bool fatal;
  meterd::ReadingFormat format;
  bool operator==(const Outcome&) const = default;
};

Outcome decode(std::string_view input, std::uint64_t chunk_seed, std::uint32_t batch_readings,
               meterd::BatchFileWriter* writer = nullptr) {
  CheckingSink sink(writer);
  meterd::ReaderOptions options;
  options.batch_readings = batch_readings;
  meterd::ReadingDecoder decoder(options, sink);
  if (chunk_seed == 0) {
    decoder.feed(input);
  } else {
    std::uint64_t state = chunk_seed;
    for (std::size_t at = 0; at < input.size();) {
      state = mix(state, 0x632be59bd9b4e019ULL);
      const std::size_t n = 1 + (state >> 8) % ((state & 1) ? 16 : 4096);
      decoder.feed(input.substr(at, n));
      at += n;
    }
  }
  decoder.finish();
  const auto& r = decoder.report();
  check(r.readings == sink.readings, "report().readings != readings delivered");
  return {sink.fingerprint, sink.readings, r.lines, r.rejects(), r.fatal, decoder.format()};
}

// The frames of a batch file, decoded on their own with either level of rules.
void check_frames(std::string_view input) {
  if (input.size() < 24) return;
  const auto magic = input.substr(0, 8);
  meterd::FrameLayout layout;
  if (magic == meterd::kBatchFileMagic)
    layout = meterd::FrameLayout::v3;
  else if (magic == meterd::kBatchFileMagicV2)
    layout = meterd::FrameLayout::v2;
  else if (magic == meterd::kBatchFileMagicV1)
    layout = meterd::FrameLayout::v1;
  else
    return;
  std::string_view bytes = input.substr(24), payload;
  static meterd::ReadingBatch batch;
  while (meterd::take_batch_frame(bytes, payload) && !payload.empty()) {
    const bool schema =
        meterd::decode_batch_frame(payload, batch, {meterd::FrameChecks::ndjson_schema, layout})
            .empty();
    const bool structure =
        meterd::decode_batch_frame(payload, batch, {meterd::FrameChecks::structural, layout})
            .empty();
    check(structure || !schema, "a frame keeps the NDJSON schema but not the structural rules");
    if (structure)
      check(meterd::check_batch(batch).empty(), "a decoded frame breaks the structural rules");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("METERD_FUZZ_SEED_DIR");
  if (!dir) return 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".ndjson") continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    meterd::BatchFileWriter writer;
    CheckingSink sink(&writer);
    meterd::NdjsonReader reader(meterd::ReaderOptions{}, sink);
    reader.feed(text);
    reader.finish();
    auto out = e.path();
    out.replace_extension(".mrb");
    std::ofstream(out, std::ios::binary) << writer.finish(reader.report().lines, text.size());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  meterd::fuzz::target_name = "reading_decoder_fuzz";
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::uint64_t seed = mix(0x6e646a736f6eULL, input) | 1;
  try {
    check_frames(input);
    meterd::BatchFileWriter writer;
    const Outcome whole = decode(input, 0, 65536, &writer);
    const auto small_batches = static_cast<std::uint32_t>(1 + (seed >> 40) % 97);
    const Outcome pieces = decode(input, seed, small_batches);
    check(whole.fingerprint == pieces.fingerprint && whole.readings == pieces.readings &&
              whole.rejects == pieces.rejects && whole.fatal == pieces.fatal,
          "output depends on chunking or batch size");
    if (whole.format == meterd::ReadingFormat::ndjson && whole.readings > 0) {
      const std::string file = writer.finish(whole.lines, input.size());
      const Outcome again = decode(file, seed, 65536);
      check(again.format == meterd::ReadingFormat::batch_file, "batch file not recognised");
      check(!again.fatal && again.rejects == 0, "a batch file of valid readings was refused");
      check(again.fingerprint == whole.fingerprint && again.readings == whole.readings,
            "the batch file does not read back to the NDJSON's readings");
      check(again.lines == whole.lines, "the batch file lost the line count");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reading_decoder_fuzz: exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}
