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
#include "tests/protocol/batch_codec_support.hpp"

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
  EXPECT_NE(fatal_reason(decode(small_file("NMI", 1.0, 'X'), 0)).find("quality"),
            std::string::npos);
  // F without a reason and V are kept by default, as from a NEM12 file.
  EXPECT_EQ(decode(small_file("NMI", 1.0, 'F'), 0).parsed.readings.size(), 3u);
  EXPECT_EQ(decode(small_file("NMI", 1.0, 'V'), 0).parsed.readings.size(), 3u);
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
      // A damaged magic is not a batch file, unless it became an older version's magic.
      const std::string_view magic = std::string_view(damaged).substr(0, 8);
      if (i < kBatchFileMagic.size() && magic != kBatchFileMagicV2 && magic != kBatchFileMagicV1) {
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

// A file of the MTRDRB01 writer (commit b5af9fc, before the codec), as a spool may hold it at an
// upgrade: two frames, the second with every optional field set.
const std::string kV1File(
    "\x4d\x54\x52\x44\x52\x42\x30\x31\x05\x00\x00\x00\x00\x00\x00\x00\x2b\x02\x00\x00\x00\x00"
    "\x00\x00\x8d\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x03\x00\x00\x00\x0f\x00\x00\x00"
    "\x00\x00\x00\x00\x0a\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x4e\x4d\x49\x30\x30\x30"
    "\x30\x30\x30\x31\x45\x31\x6b\x57\x68\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x1e\x00\x41\x00\xff\xff\x09"
    "\x00\x00\x00\xe0\x73\x91\x65\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00"
    "\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\xf8\x3f\x00"
    "\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x08\x40\xf0\x00\x00\x00\x07\x00\x00"
    "\x00\x02\x00\x00\x00\x03\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x02"
    "\x00\x00\x00\x03\x00\x00\x00\x03\x00\x00\x00\x03\x00\x00\x00\x0b\x00\x00\x00\x51\x42\x30"
    "\x31\x32\x33\x34\x35\x36\x37\x42\x31\x30\x30\x32\x4d\x34\x32\x6b\x57\x68\x6d\x65\x74\x65"
    "\x72\x20\x66\x61\x75\x6c\x74\x02\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00"
    "\x00\x04\x00\x00\x00\x05\x00\x00\x00\x06\x00\x00\x00\x0f\x00\x46\x0e\x4f\x00\x0c\x00\x00"
    "\x00\xf0\x81\x91\x65\x00\x00\x00\x00\xa0\x80\x92\x65\x00\x00\x00\x00\x40\x07\x94\x65\x00"
    "\x00\x00\x00\x00\xfa\x90\x65\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00"
    "\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x0f\x00\x45\x34\xff"
    "\xff\x0d\x00\x00\x00\xf8\x88\x91\x65\x00\x00\x00\x00\xa0\x80\x92\x65\x00\x00\x00\x00\x40"
    "\x07\x94\x65\x00\x00\x00\x00\x00\xfa\x90\x65\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xd0"
    "\x3f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x1c\x40\x00\x00\x00\x00",
    417);

TEST(BatchFile, AVersion1FileStillReadsBack) {
  ASSERT_EQ(kV1File.substr(0, 8), kBatchFileMagicV1);
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
    const auto d = decode(kV1File, chunk, 42);
    EXPECT_EQ(d.format, ReadingFormat::batch_file);
    ASSERT_TRUE(d.report.clean()) << fatal_reason(d);
    ASSERT_EQ(d.parsed.readings.size(), 6u);
    EXPECT_EQ(d.sequence_seen, 42u);
    EXPECT_EQ(d.report.lines, 5u);
    const auto& first = d.parsed.readings[0];
    EXPECT_EQ(first.nmi, "NMI0000001");
    EXPECT_EQ(first.interval_start, 1704031200);
    EXPECT_EQ(first.value, 1.5);
    EXPECT_EQ(first.line, 9u);
    const auto& f = d.parsed.readings[4];
    EXPECT_EQ(f.nmi, "QB01234567");
    EXPECT_EQ(f.suffix, "B1");
    EXPECT_EQ(f.register_id, "002");
    EXPECT_EQ(f.meter_serial, "M42");
    EXPECT_EQ(f.reason_description, "meter fault");
    EXPECT_EQ(f.interval_minutes, 15);
    EXPECT_EQ(f.quality, 'F');
    EXPECT_EQ(f.method, 14);
    EXPECT_EQ(f.reason_code, 79);
    EXPECT_EQ(f.interval_start, 1704031200 + 900 * 5);
    EXPECT_EQ(f.update_datetime, 1704100000);
    EXPECT_EQ(f.msats_load_datetime, 1704200000);
    EXPECT_EQ(f.file_created, 1704000000);
    EXPECT_EQ(f.value, 0.0);
    const auto& e = d.parsed.readings[5];
    EXPECT_EQ(e.quality, 'E');
    EXPECT_EQ(e.method, 52);
    EXPECT_EQ(e.reason_code, kNoReasonCode);
    EXPECT_EQ(e.reason_description, "");
    EXPECT_EQ(e.line, 13u);
    EXPECT_EQ(e.value, 7.125);
  }
}

// The same file in layout v1: each run without its last 8 bytes (file_sequence), frame lengths
// to match, the v1 magic (the layouts of batch_codec.hpp, rewritten here by hand).
// A current (v3) file rewritten in an older layout: the older magic, each frame's runs cut to
// their first `run_bytes`.
std::string as_older(std::string_view v3, std::string_view magic, std::size_t run_bytes) {
  std::string out(magic);
  out.append(v3.substr(8, 16));
  std::string_view frames = v3.substr(24), payload;
  while (batch_frame_length(frames) != 0 && take_batch_frame(frames, payload)) {
    const std::string older = payload_in_older_layout(payload, run_bytes);
    const auto length = static_cast<std::uint32_t>(older.size());
    out.append(reinterpret_cast<const char*>(&length), 4).append(older);
  }
  return out.append(frames);  // the end frame
}

TEST(BatchFile, OlderVersionsOfTheSameRequestReadTheSame) {
  const auto e = encode(sample_ndjson(NdjsonForm::compact), 4000);
  for (const std::string& v1 : {as_older(e.file, kBatchFileMagicV1, kRunBytesV1),
                                as_older(e.file, kBatchFileMagicV2, kRunBytesV2)})
    for (std::size_t chunk : {std::size_t{0}, std::size_t{4096}}) {
      EXPECT_LT(v1.size(), e.file.size());
      const auto old = decode(v1, chunk), now = decode(e.file, chunk);
      EXPECT_TRUE(old.report.clean()) << fatal_reason(old);
      EXPECT_EQ(old.parsed.readings, now.parsed.readings);
      EXPECT_EQ(old.parsed.readings, e.direct.readings);
      EXPECT_EQ(old.sequence_seen, 42u);
      EXPECT_EQ(old.report.readings, now.report.readings);
      EXPECT_EQ(old.report.quality_counts, now.report.quality_counts);
    }
}

// A v2 frame carries each run's file_sequence (the journal's need); the pipeline's own wins.
TEST(BatchFile, TheReadersFileSequenceReplacesTheFrames) {
  ReadingBatch b;
  ReadingRun r;
  r.nmi = b.strings.intern("NMI0000001");
  r.suffix = b.strings.intern("E1");
  r.uom = b.strings.intern("kWh");
  r.interval_minutes = 30;
  r.first_start = 1704031200;
  r.count = 2;
  r.file_sequence = 7;
  b.runs.push_back(r);
  b.values = {1.0, 2.0};
  BatchFileWriter w;
  w.append(b);
  const auto d = decode(w.finish(1, 100), 0, 9);
  EXPECT_TRUE(d.report.clean());
  EXPECT_EQ(d.parsed.readings.size(), 2u);
  EXPECT_EQ(d.sequence_seen, 9u);
}

}  // namespace
}  // namespace meterd::test
