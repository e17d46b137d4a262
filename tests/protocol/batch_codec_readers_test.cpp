// What the readers emit is what the batch codec carries: every batch the NEM12 reader yields for
// the real samples (../shared/data/nem12/samples) and for generated files, and every batch of the
// NDJSON reader, keeps the structural rules and round-trips exactly through a frame (every
// field, value bits, file_sequence). The journal depends on it: a held batch that its own codec
// refused on replay would be lost.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "protocol/batch_codec.hpp"
#include "protocol/input_source.hpp"
#include "protocol/ndjson_lines.hpp"
#include "protocol/ndjson_reader.hpp"
#include "protocol/nem12_generator.hpp"
#include "protocol/nem12_reader.hpp"
#include "tests/protocol/batch_codec_support.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

// Checks each batch as it arrives; the first problem is kept with the batch's number.
class RoundTripSink : public ReadingSink {
 public:
  explicit RoundTripSink(FrameChecks checks) : checks_(checks) {}

  void on_readings(ReadingBatch& batch) override {
    ++batches;
    readings += batch.readings();
    for (const auto& r : batch.runs) sequences_seen += r.file_sequence == expected_sequence;
    runs += batch.runs.size();
    if (!problem.empty()) return;
    std::string why = check_batch(batch, checks_);
    if (why.empty()) why = round_trip(batch, decoded_, checks_);
    if (!why.empty()) problem = "batch " + std::to_string(batches) + ": " + why;
  }

  std::uint64_t expected_sequence = 0;
  std::uint64_t batches = 0, readings = 0, runs = 0, sequences_seen = 0;
  std::string problem;

 private:
  FrameChecks checks_;
  ReadingBatch decoded_;
};

// One NEM12 reader per member of a path (zips included), as the daemon reads a spool file.
class ReaderVisitor : public InputVisitor {
 public:
  ReaderVisitor(RoundTripSink& sink, ReaderOptions options) : sink_(sink), options_(options) {}
  void on_member(const InputMember& member) override {
    options_.name = member.name;
    reader_ = std::make_unique<Nem12Reader>(options_, sink_);
  }
  void on_chunk(std::string_view bytes) override { reader_->feed(bytes); }
  void on_member_end() override { end(); }
  void on_error(const std::string&, const std::string&) override { end(); }
  std::uint64_t reported_readings = 0;

 private:
  void end() {
    if (!reader_) return;
    reader_->finish();
    reported_readings += reader_->report().readings;
    reader_.reset();
  }
  RoundTripSink& sink_;
  ReaderOptions options_;
  std::unique_ptr<Nem12Reader> reader_;
};

ReaderOptions options(std::uint64_t file_sequence, bool strict, std::uint32_t batch_readings) {
  ReaderOptions o;
  o.file_sequence = file_sequence;
  o.strict = strict;
  o.batch_readings = batch_readings;
  return o;
}

TEST(BatchCodecReaders, EveryBatchOfEverySampleKeepsTheStructuralRulesAndRoundTrips) {
  METERD_REQUIRE_SHARED(shared);
  std::uint64_t files = 0, readings = 0;
  for (const auto& entry : std::filesystem::directory_iterator(samples_dir())) {
    if (entry.path().filename() == "README.md") continue;
    ++files;
    // Default and strict mode; whole batches and batches cut every few hundred readings.
    for (bool strict : {false, true}) {
      for (std::uint32_t batch_readings : {65536u, 300u}) {
        SCOPED_TRACE(entry.path().filename().string() + (strict ? " strict " : " default ") +
                     std::to_string(batch_readings));
        RoundTripSink sink(FrameChecks::structural);
        sink.expected_sequence = 0xfedcba9800000000ull + files;  // all 64 bits matter
        ReaderVisitor visitor(sink, options(sink.expected_sequence, strict, batch_readings));
        ASSERT_TRUE(read_input(entry.path(), visitor).opened);
        EXPECT_EQ(sink.problem, "");
        EXPECT_EQ(sink.readings, visitor.reported_readings);
        EXPECT_EQ(sink.sequences_seen, sink.runs);
        if (!strict && batch_readings == 65536u) readings += sink.readings;
      }
    }
  }
  EXPECT_GE(files, 40u);
  EXPECT_GT(readings, 200000u);
}

std::vector<GeneratorOptions> generated_variants() {
  std::vector<GeneratorOptions> variants;
  for (std::uint32_t minutes : {5u, 15u, 30u}) {
    GeneratorOptions o;
    o.seed = minutes;
    o.nmis = 4;
    o.days = 20;
    o.interval_minutes = minutes;
    o.v_day_fraction = 0.4;  // 400 ranges: runs of several qualities and reasons per day
    o.b2b_fraction = 0.2;
    o.malformed_fraction = 0.15;
    o.resent_day_fraction = 0.2;
    o.suffixes = {"E1", "E2", "B1", "Q1"};
    variants.push_back(o);
  }
  variants.back().crlf = true;
  GeneratorOptions before_1970 = variants[0];
  before_1970.start_date = "19691225";  // NEM days across the epoch
  variants.push_back(before_1970);
  GeneratorOptions far = variants[1];
  far.start_date = "29991201";  // NEM dates end with 2999 (nem_time.cpp)
  far.days = 12;
  variants.push_back(far);
  return variants;
}

TEST(BatchCodecReaders, EveryBatchOfGeneratedFilesKeepsTheStructuralRulesAndRoundTrips) {
  std::uint64_t sequence = 1;
  for (const auto& g : generated_variants()) {
    GeneratorStats stats;
    const std::string text = generate_nem12_string(g, &stats);
    for (std::uint32_t batch_readings : {65536u, 1000u}) {
      SCOPED_TRACE(std::to_string(g.interval_minutes) + " min from " + g.start_date + ", batch " +
                   std::to_string(batch_readings));
      RoundTripSink sink(FrameChecks::structural);
      sink.expected_sequence = sequence++ << 40;
      Nem12Reader reader(options(sink.expected_sequence, false, batch_readings), sink);
      for (std::size_t at = 0; at < text.size(); at += 4096) reader.feed(text.substr(at, 4096));
      reader.finish();
      EXPECT_EQ(sink.problem, "");
      EXPECT_EQ(sink.readings, stats.readings);
      EXPECT_GT(stats.malformed_days, 0u);
      EXPECT_EQ(sink.sequences_seen, sink.runs);
      EXPECT_GT(sink.batches, batch_readings == 1000u ? 10u : 0u);
    }
  }
}

// NDJSON readers' batches keep the schema's rules too: they are what the HTTP API encodes.
TEST(BatchCodecReaders, EveryNdjsonBatchKeepsTheSchemaRulesAndRoundTrips) {
  for (const auto& g : generated_variants()) {
    for (auto form : {NdjsonForm::full, NdjsonForm::lean, NdjsonForm::compact}) {
      SCOPED_TRACE(std::string(to_string(form)) + " from " + g.start_date);
      GeneratorOptions clean = g;
      clean.malformed_fraction = 0;
      const std::string ndjson = generated_ndjson(clean, form);
      RoundTripSink sink(FrameChecks::ndjson_schema);
      sink.expected_sequence = 77;
      NdjsonReader reader(options(77, false, 2000), sink);
      reader.feed(ndjson);
      reader.finish();
      EXPECT_EQ(reader.report().rejects(), 0u);
      EXPECT_EQ(sink.problem, "");
      EXPECT_GT(sink.readings, 1000u);
      EXPECT_EQ(sink.sequences_seen, sink.runs);
    }
  }
}

}  // namespace
}  // namespace meterd::test
