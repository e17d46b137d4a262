// The batch file (protocol/batch_file.hpp): what the HTTP API decoded from NDJSON reads back
// to exactly the same readings and report counts, in any chunking, through ReadingDecoder; and
// a damaged or hand-made file ends with a fatal issue instead of storing what the NDJSON schema
// would refuse.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "protocol/batch_file.hpp"
#include "protocol/ndjson_lines.hpp"
#include "protocol/ndjson_reader.hpp"
#include "protocol/nem12_generator.hpp"
#include "protocol/reading_decoder.hpp"
#include "tests/parse_collect.hpp"

namespace meterd::test {
namespace {

// NDJSON of a generated NEM12 file (V days with 400 ranges: several qualities and reasons).
std::string sample_ndjson(NdjsonForm form) {
  GeneratorOptions g;
  g.seed = 7;
  g.nmis = 6;
  g.days = 9;
  g.interval_minutes = 15;
  g.v_day_fraction = 0.3;
  return generated_ndjson(g, form);
}

// Decodes NDJSON the way the HTTP API does: batches into a batch file.
struct Encoded {
  std::string file;
  ParsedInput direct;  // what the NDJSON reader itself yielded
  FileReport report;
};

Encoded encode(std::string_view ndjson, std::uint32_t batch_readings) {
  struct Sink : CollectingSink {
    BatchFileWriter* writer;
    using CollectingSink::CollectingSink;
    void on_readings(ReadingBatch& b) override {
      writer->append(b);
      CollectingSink::on_readings(b);
    }
  };
  Encoded e;
  BatchFileWriter writer;
  Sink sink(e.direct);
  sink.writer = &writer;
  ReaderOptions options;
  options.batch_readings = batch_readings;
  NdjsonReader reader(options, sink);
  reader.feed(ndjson);
  reader.finish();
  e.report = reader.report();
  e.file = writer.finish(e.report.lines, e.report.bytes);
  return e;
}

struct Decoded {
  ParsedInput parsed;
  FileReport report;
  ReadingFormat format = ReadingFormat::undecided;
  std::uint64_t sequence_seen = 0;
};

// Through ReadingDecoder (as the pipeline reads a spool file), in chunks of `chunk` bytes.
Decoded decode(std::string_view file, std::size_t chunk, std::uint64_t file_sequence = 42) {
  struct Sink : CollectingSink {
    std::uint64_t* sequence;
    using CollectingSink::CollectingSink;
    void on_readings(ReadingBatch& b) override {
      for (const auto& r : b.runs) *sequence = r.file_sequence;
      CollectingSink::on_readings(b);
    }
  };
  Decoded d;
  Sink sink(d.parsed);
  sink.sequence = &d.sequence_seen;
  ReaderOptions options;
  options.file_sequence = file_sequence;
  ReadingDecoder decoder(options, sink);
  if (chunk == 0) chunk = file.size() + 1;
  for (std::size_t at = 0; at < file.size(); at += chunk) decoder.feed(file.substr(at, chunk));
  decoder.finish();
  d.report = decoder.report();
  d.format = decoder.format();
  return d;
}

TEST(BatchFile, RoundTripGivesTheNdjsonReadersOutputInAnyChunking) {
  for (auto form : {NdjsonForm::full, NdjsonForm::lean, NdjsonForm::compact}) {
    SCOPED_TRACE(meterd::to_string(form));
    const auto ndjson = sample_ndjson(form);
    const auto e = encode(ndjson, 4000);  // several frames
    ASSERT_EQ(e.report.rejects(), 0u);
    ASSERT_GT(e.direct.readings.size(), 10000u);
    // ~10 bytes a reading instead of hundreds of JSON bytes.
    EXPECT_LT(e.file.size(), e.direct.readings.size() * 16);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
      SCOPED_TRACE(chunk);
      const auto d = decode(e.file, chunk);
      EXPECT_EQ(d.format, ReadingFormat::batch_file);
      EXPECT_TRUE(d.report.clean()) << (d.report.issues.empty() ? "" : d.report.issues[0].reason);
      EXPECT_EQ(d.parsed.readings, e.direct.readings);
      EXPECT_EQ(d.sequence_seen, 42u);  // the pipeline's sequence, not one from the file
      EXPECT_EQ(d.report.readings, e.report.readings);
      EXPECT_EQ(d.report.value_sum, e.report.value_sum);
      EXPECT_EQ(d.report.quality_counts, e.report.quality_counts);
      EXPECT_EQ(d.report.lines, e.report.lines);
    }
  }
}

// A small valid file built by hand, to damage.
std::string small_file(std::string nmi = "NMI0000001", double value = 1.5, char quality = 'A') {
  ReadingBatch b;
  ReadingRun r;
  r.nmi = b.strings.intern(nmi);
  r.suffix = b.strings.intern("E1");
  r.uom = b.strings.intern("kWh");
  r.interval_minutes = 30;
  r.quality = quality;
  r.first_start = 1704031200;  // 2024-01-01T00:00:00+10:00
  r.count = 3;
  r.line = 9;
  b.runs.push_back(r);
  b.values = {value, 2.0, 3.0};
  BatchFileWriter w;
  w.append(b);
  return w.finish(3, 300);
}

std::string fatal_reason(const Decoded& d) {
  for (const auto& i : d.report.issues)
    if (i.severity == Severity::fatal) return i.reason;
  return "";
}

TEST(BatchFile, SmallFileReadsBack) {
  const auto d = decode(small_file(), 0);
  ASSERT_TRUE(d.report.clean());
  ASSERT_EQ(d.parsed.readings.size(), 3u);
  EXPECT_EQ(d.parsed.readings[1].interval_start, 1704031200 + 1800);
  EXPECT_EQ(d.parsed.readings[2].value, 3.0);
  EXPECT_EQ(d.parsed.readings[0].line, 9u);
  EXPECT_EQ(d.report.lines, 3u);
}

TEST(BatchFile, RefusesWhatTheNdjsonSchemaRefuses) {
  EXPECT_NE(fatal_reason(decode(small_file("NMI00000012"), 0)).find("nmi"), std::string::npos);
  EXPECT_NE(fatal_reason(decode(small_file("NMI", -1.0), 0)).find("value"), std::string::npos);
  EXPECT_NE(fatal_reason(decode(small_file("NMI", std::nan("")), 0)).find("value"),
            std::string::npos);
  EXPECT_NE(fatal_reason(decode(small_file("NMI", 1.0, 'V'), 0)).find("quality"),
            std::string::npos);
  EXPECT_NE(fatal_reason(decode(small_file("NMI", 1.0, 'F'), 0)).find("reason_code"),
            std::string::npos);
  for (const auto& d : {decode(small_file("NMI00000012"), 0), decode(small_file("", 1.0), 0)})
    EXPECT_TRUE(d.parsed.readings.empty());
}

// Frames are all or nothing; like any file, what came before a fatal error is kept.
TEST(BatchFile, TruncatedAtAnyByteIsFatalAndKeepsNoPartialFrame) {
  const auto file = small_file();
  const std::size_t frame_end = file.size() - 4;  // before the end frame
  for (std::size_t n = 1; n < file.size(); ++n) {
    SCOPED_TRACE(n);
    const auto d = decode(std::string_view(file).substr(0, n), 0);
    EXPECT_TRUE(d.report.fatal);
    EXPECT_EQ(d.parsed.readings.size(), n < frame_end ? 0u : 3u);
  }
}

TEST(BatchFile, EveryFlippedByteIsReadSafely) {
  const auto file = small_file();
  for (std::size_t i = 0; i < file.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      auto damaged = file;
      damaged[i] = static_cast<char>(static_cast<unsigned char>(damaged[i]) ^ x);
      const auto d = decode(damaged, 0);
      // Either refused, or every reading it yields keeps the schema's rules.
      for (const auto& r : d.parsed.readings) {
        EXPECT_TRUE(std::isfinite(r.value) && r.value >= 0);
        EXPECT_TRUE(r.interval_minutes == 5 || r.interval_minutes == 15 ||
                    r.interval_minutes == 30);
        EXPECT_FALSE(r.nmi.empty());
        EXPECT_LE(r.nmi.size(), 10u);
      }
      if (i < kBatchFileMagic.size()) {
        EXPECT_NE(d.format, ReadingFormat::batch_file);
      }
    }
  }
}

TEST(BatchFile, DataAfterTheEndFrameIsRefused) {
  const auto file = small_file();
  EXPECT_NE(fatal_reason(decode(file + file.substr(24), 0)).find("after the end"),
            std::string::npos);
}

TEST(BatchFile, StringIdsAndCountsAreChecked) {
  auto file = small_file();
  // First run's nmi id: header 24, frame size 4, counts 16, string lengths 4 each.
  std::uint32_t strings = 0;
  std::memcpy(&strings, file.data() + 28, 4);
  std::uint32_t text = 0;
  std::memcpy(&text, file.data() + 40, 4);
  const std::size_t run_at = 44 + 4 * strings + text;
  auto bad_id = file;
  const std::uint32_t id = strings;  // one past the last
  std::memcpy(bad_id.data() + run_at + 4, &id, 4);
  EXPECT_NE(fatal_reason(decode(bad_id, 0)).find("string id"), std::string::npos);
  auto bad_count = file;
  const std::uint32_t count = 4;  // more readings than the frame's values
  std::memcpy(bad_count.data() + run_at, &count, 4);
  EXPECT_NE(fatal_reason(decode(bad_count, 0)).find("count"), std::string::npos);
}

TEST(BatchFile, SniffNeedsTheWholeMagic) {
  EXPECT_EQ(sniff_reading_format("MTRD"), ReadingFormat::undecided);
  EXPECT_EQ(sniff_reading_format(kBatchFileMagic), ReadingFormat::batch_file);
  EXPECT_EQ(sniff_reading_format("MTRX"), ReadingFormat::nem12);
  EXPECT_EQ(sniff_reading_format(" {"), ReadingFormat::ndjson);
  // A byte-order mark cut by the chunking is no reason to decide (found by the fuzzer).
  EXPECT_EQ(sniff_reading_format("\xEF"), ReadingFormat::undecided);
  EXPECT_EQ(sniff_reading_format("\xEF\xBB"), ReadingFormat::undecided);
  EXPECT_EQ(sniff_reading_format("\xEF\xBB\xBF{"), ReadingFormat::ndjson);
  EXPECT_EQ(sniff_reading_format("\xEF\xBB\xBF"
                                 "100,NEM12"),
            ReadingFormat::nem12);
}

}  // namespace
}  // namespace meterd::test
