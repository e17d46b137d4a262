// The NDJSON reader: what `meterd parse --format json` prints reads back to the same readings
// (any chunking), consecutive lines become runs, and every bad line is rejected on its own with
// its line, field and reason while the lines around it are kept.
#include <gtest/gtest.h>

#include <string>

#include "protocol/iso_time.hpp"
#include "protocol/ndjson_reader.hpp"
#include "protocol/nem12_generator.hpp"
#include "protocol/reading_decoder.hpp"
#include "protocol/reading_format.hpp"
#include "tests/parse_collect.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

struct Decoded {
  ParsedInput parsed;
  FileReport report;
  std::size_t runs = 0;
};

class CountingSink : public CollectingSink {
 public:
  CountingSink(ParsedInput& out, std::size_t& runs) : CollectingSink(out), runs_(runs) {}
  void on_readings(ReadingBatch& batch) override {
    runs_ += batch.runs.size();
    CollectingSink::on_readings(batch);
  }

 private:
  std::size_t& runs_;
};

Decoded decode_ndjson(std::string_view text, std::size_t chunk, std::uint32_t batch = 65536,
                      bool strict = false) {
  Decoded d;
  CountingSink sink(d.parsed, d.runs);
  ReaderOptions options;
  options.batch_readings = batch;
  options.strict = strict;
  ReadingDecoder reader(options, sink);
  if (chunk == 0) chunk = text.size() + 1;
  for (std::size_t at = 0; at < text.size(); at += chunk) reader.feed(text.substr(at, chunk));
  reader.finish();
  EXPECT_EQ(reader.format(), ReadingFormat::ndjson);
  d.report = reader.report();
  return d;
}

std::string as_ndjson(const ParsedInput& parsed) {
  std::string out;
  for (const auto& r : parsed.readings) {
    ReadingRow row{r.nmi,
                   r.suffix,
                   r.register_id,
                   r.meter_serial,
                   r.uom,
                   r.reason_description,
                   r.interval_minutes,
                   r.quality,
                   r.method,
                   r.reason_code,
                   r.line,
                   r.interval_start,
                   r.update_datetime,
                   r.msats_load_datetime,
                   r.file_created,
                   0,
                   r.value};
    append_json_row(out, row);
  }
  return out;
}

const char* kGood =
    R"({"nmi":"NEM1201002","suffix":"E1","interval_start":"2005-03-01T00:00:00+10:00","interval_minutes":30,"value":1.5,"uom":"kWh","quality":"A"})";

TEST(NdjsonReaderTest, ParseJsonOutputReadsBackToTheSameReadingsInAnyChunking) {
  GeneratorOptions g;
  g.nmis = 7;
  g.days = 5;
  g.interval_minutes = 15;
  auto nem12 = generate_nem12_string(g);
  auto parsed = parse_bytes(nem12, 0);
  ASSERT_GT(parsed.readings.size(), 1000u);
  const std::string text = as_ndjson(parsed);
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
    auto d = decode_ndjson(text, chunk, 500);
    EXPECT_TRUE(d.report.clean()) << "chunk " << chunk;
    EXPECT_EQ(d.report.version_header, "NDJSON");
    ASSERT_EQ(d.parsed.readings.size(), parsed.readings.size()) << "chunk " << chunk;
    EXPECT_TRUE(d.parsed.readings == parsed.readings) << "chunk " << chunk;
    EXPECT_EQ(d.report.readings, parsed.readings.size());
    // Consecutive intervals of a stream's day share a run (not one run per line).
    EXPECT_LT(d.runs * 10, parsed.readings.size()) << "chunk " << chunk;
  }
}

TEST(NdjsonReaderTest, EachBadLineIsRejectedWithLineFieldAndReasonTheRestIsKept) {
  std::string good = kGood;
  auto with = [&](const std::string& from, const std::string& to) {
    auto s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  std::string text;
  text += good + "\n";                                                  // 1 ok
  text += "{\"nmi\": \"X\", \n";                                        // 2 malformed
  text += with("\"quality\":\"A\"", "\"quality\":\"Q\"") + "\n";        // 3 bad quality
  text += with(",\"value\":1.5", "") + "\n";                            // 4 missing value
  text += "\n";                                                         // 5 blank: fine
  text += good + " " + good + "\n";                                     // 6 two values
  text += "[1,2]\n";                                                    // 7 not an object
  text += with("00:00:00+10:00", "00:10:00+10:00") + "\n";              // 8 misaligned
  text += with("1.5", "-1") + "\n";                                     // 9 negative
  text += with("30,", "\"30\",") + "\n";                                // 10 string minutes
  text += with("2005-03-01T00:00:00", "2005-03-01T00:30:00") + "\r\n";  // 11 ok (CRLF)
  text += with("\"A\"", "\"F\"");  // 12 F without reason (strict: rejected), no \n
  auto d = decode_ndjson(text, 5);
  EXPECT_EQ(d.parsed.readings.size(), 3u) << "F without a reason is kept by default";
  EXPECT_EQ(d.report.rejects(), 8u);
  std::map<std::uint32_t, std::string> fields;
  for (const auto& issue : d.report.issues) {
    EXPECT_EQ(issue.severity, Severity::reject);
    EXPECT_FALSE(issue.reason.empty()) << issue.line;
    fields[issue.line] = issue.field;
  }
  std::map<std::uint32_t, std::string> want = {
      {2, ""}, {3, "quality"},        {4, "value"}, {6, ""},
      {7, ""}, {8, "interval_start"}, {9, "value"}, {10, "interval_minutes"}};
  EXPECT_EQ(fields, want);
  auto strict = decode_ndjson(text, 5, 65536, /*strict=*/true);
  EXPECT_EQ(strict.parsed.readings.size(), 2u);
  EXPECT_EQ(strict.report.rejects(), 9u);
  EXPECT_EQ(strict.report.issues.back().line, 12u);
  EXPECT_EQ(strict.report.issues.back().field, "reason_code");
  d.parsed.readings.pop_back();  // line 12's reading
  // The two good lines are consecutive intervals of one stream: one run, lines 1.
  ASSERT_EQ(d.parsed.readings.size(), 2u);
  EXPECT_EQ(d.parsed.readings[1].interval_start - d.parsed.readings[0].interval_start, 1800);
  EXPECT_EQ(d.report.lines, 12u);
}

TEST(NdjsonReaderTest, OptionalFieldsNullsAndTimesWithOtherOffsets) {
  std::string line =
      R"({"nmi":"N1","suffix":"B1","interval_start":"2005-02-28T14:00:00Z","interval_minutes":5,)"
      R"("value":0,"uom":"kWh","quality":"S","method":52,"reason_code":14,)"
      R"("reason_description":"x\"y","update_datetime":"2005-03-02T01:00:00+10:00",)"
      R"("msats_load_datetime":null,"register_id":null,"meter_serial":"M1",)"
      R"("file_created":"2005-03-02T02:00:00+10:00","line":42,"ignored":{"a":[1]}})";
  auto d = decode_ndjson(line + "\n", 0);
  ASSERT_EQ(d.parsed.readings.size(), 1u)
      << (d.report.issues.empty() ? "" : d.report.issues[0].reason);
  const auto& r = d.parsed.readings[0];
  EXPECT_EQ(format_nem_time(r.interval_start), "2005-03-01T00:00:00+10:00");
  EXPECT_EQ(r.method, 52);
  EXPECT_EQ(r.reason_code, 14);
  EXPECT_EQ(r.reason_description, "x\"y");
  EXPECT_EQ(r.msats_load_datetime, kNoTime);
  EXPECT_EQ(r.meter_serial, "M1");
  EXPECT_EQ(r.line, 42u);
  EXPECT_EQ(format_nem_time(r.update_datetime), "2005-03-02T01:00:00+10:00");
  EXPECT_EQ(d.report.quality_counts.at("S52"), 1u);
}

// Found by reading_decoder_fuzz: after a malformed document, simdjson's document stream could
// resume past a line it could not split ("}" here), and that line vanished unreported when the
// block was decoded whole. Every line is now reported, whatever the chunking.
TEST(NdjsonReaderTest, ALineTheDocumentStreamSkipsIsStillReported) {
  const std::string text = "{\"3\"::9}\n}\n" + std::string(kGood) + "\n";
  for (std::size_t chunk : {std::size_t{1} << 20, std::size_t{1}, std::size_t{5}}) {
    auto d = decode_ndjson(text, chunk);
    EXPECT_EQ(d.parsed.readings.size(), 1u) << chunk;
    ASSERT_EQ(d.report.rejects(), 2u) << "chunks of " << chunk;
    EXPECT_EQ(d.report.issues[1].line, 2u);
  }
}

// Issue 10's input (a 15-minute reading_decoder_fuzz run, minimised to 13 bytes): a blank line,
// then broken JSON. The decoder before the fix above gave a different answer per chunking; every
// chunking now reports the same lines the same way.
TEST(NdjsonReaderTest, BrokenLinesAfterABlankLineGiveTheSameAnswerInEveryChunking) {
  const std::string text = "\n{\"l\":}\n}\nl\nl";
  const auto whole = decode_ndjson(text, std::size_t{1} << 20);
  std::vector<std::uint32_t> lines;
  for (const auto& issue : whole.report.issues) lines.push_back(issue.line);
  EXPECT_EQ(lines, (std::vector<std::uint32_t>{2, 3, 4, 5}));
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    const auto d = decode_ndjson(text, chunk);
    std::vector<std::uint32_t> got;
    for (const auto& issue : d.report.issues) got.push_back(issue.line);
    EXPECT_EQ(got, lines) << "chunks of " << chunk;
    EXPECT_TRUE(d.parsed.readings.empty());
  }
}

// A 60-minute reading_decoder_fuzz run's input, cut down: a malformed value under a key the
// schema does not know. The on-demand parser skips a value nobody reads without checking it,
// so the line was kept when a NUL-bearing line followed it in the same block and refused when
// read on its own. Unknown values are now read to their end: refused in every chunking.
TEST(NdjsonReaderTest, AMalformedValueUnderAnUnknownKeyIsRefusedInEveryChunking) {
  std::string bad(kGood);
  bad.insert(bad.size() - 1, R"(,"rease":"x","register_id1":,""B"meter_serial":)");
  const std::string text = std::string(kGood) + "\n" + bad + "\n}\n" + std::string("\0\0fc\0", 5) +
                           R"(,"interval_sta"uom""k:Wh", quality":"A"})" + "\n";
  for (std::size_t chunk :
       {std::size_t{1} << 20, std::size_t{1}, std::size_t{7}, std::size_t{64}}) {
    const auto d = decode_ndjson(text, chunk);
    EXPECT_EQ(d.parsed.readings.size(), 1u) << "chunks of " << chunk;
    ASSERT_EQ(d.report.rejects(), 3u) << "chunks of " << chunk;
    EXPECT_EQ(d.report.issues[0].line, 2u) << "chunks of " << chunk;
    EXPECT_NE(d.report.issues[0].reason.find("malformed JSON"), std::string::npos);
  }
}

// Lines merged into one run keep each line's own line number (the version order's tie-break
// within a body: a later line supersedes an earlier one).
TEST(NdjsonReaderTest, EachReadingKeepsItsOwnLineInsideARun) {
  std::string good = kGood;
  auto at = [&](const char* time) {
    auto s = good;
    const std::string from = "2005-03-01T00:00:00";
    s.replace(s.find(from), from.size(), time);
    return s;
  };
  const std::string text = at("2005-03-01T00:00:00") + "\n" + at("2005-03-01T00:30:00") + "\n" +
                           at("2005-03-01T01:00:00") + "\n\n" + at("2005-03-01T01:30:00") + "\n" +
                           R"({"nmi":"NEM1201002","suffix":"E1","interval_start":)"
                           R"("2005-03-01T02:00:00+10:00","interval_minutes":30,"values":[1,2],)"
                           R"("uom":"kWh","quality":"A"})" +
                           "\n";
  for (std::size_t chunk : {std::size_t{0}, std::size_t{7}}) {
    auto d = decode_ndjson(text, chunk);
    std::vector<std::uint32_t> lines;
    for (const auto& r : d.parsed.readings) lines.push_back(r.line);
    EXPECT_EQ(lines, (std::vector<std::uint32_t>{1, 2, 3, 5, 6, 6})) << chunk;
    EXPECT_LE(d.runs, 3u) << "consecutive lines still make runs";
  }
}

// feed_in_place (the HTTP body decoded where it lies) answers exactly what feed answers, in
// any chunking, also when every line is broken in its own way and when the bytes past the end
// (the padding, which the reader may read but must not use) look like more JSON.
Decoded decode_in_place(std::string_view text, std::size_t chunk) {
  Decoded d;
  CountingSink sink(d.parsed, d.runs);
  NdjsonReader reader(ReaderOptions{}, sink);
  if (chunk == 0) chunk = text.size() + 1;
  for (std::size_t at = 0; at < text.size(); at += chunk) {
    std::string padded(text.substr(at, chunk));
    const std::size_t n = padded.size();
    padded += std::string(NdjsonReader::kPadding, '\n');
    padded.replace(n, 8, "{\"nmi\":1");
    reader.feed_in_place(std::string_view(padded).substr(0, n));
  }
  reader.finish();
  d.report = reader.report();
  return d;
}

Decoded decode_copied(std::string_view text, std::size_t chunk) {
  Decoded d;
  CountingSink sink(d.parsed, d.runs);
  NdjsonReader reader(ReaderOptions{}, sink);
  if (chunk == 0) chunk = text.size() + 1;
  for (std::size_t at = 0; at < text.size(); at += chunk) reader.feed(text.substr(at, chunk));
  reader.finish();
  d.report = reader.report();
  return d;
}

std::string issues_of(const FileReport& report) {
  std::string out;
  for (const auto& i : report.issues)
    out += std::to_string(i.line) + " " + i.field + " " + i.reason + "\n";
  return out;
}

TEST(NdjsonReaderTest, InPlaceDecodingAnswersWhatCopyingAnswers) {
  GeneratorOptions g;
  g.nmis = 3;
  g.days = 3;
  const std::string generated = as_ndjson(parse_bytes(generate_nem12_string(g), 0));
  std::string bad(kGood);
  bad.insert(bad.size() - 1, R"(,"rease":"x","register_id1":,""B"meter_serial":)");
  const std::vector<std::string> texts = {
      generated,
      "\xEF\xBB\xBF" + std::string(kGood) + "\r\n\n" + kGood,  // BOM, CRLF, no last newline
      "{\"3\"::9}\n}\n" + std::string(kGood) + "\n",
      "\n{\"l\":}\n}\nl\nl",
      std::string(kGood) + "\n" + bad + "\n}\n" + std::string("\0\0fc\0", 5) + kGood + "\n",
      std::string(kGood) + "\n{\"nmi\":\"" + std::string(NdjsonReader::kMaxLineBytes + 10, 'x') +
          "\"}\n" + kGood + "\n" + generated,
  };
  for (std::size_t t = 0; t < texts.size(); ++t) {
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
      const auto copied = decode_copied(texts[t], chunk);
      const auto in_place = decode_in_place(texts[t], chunk);
      EXPECT_EQ(as_ndjson(in_place.parsed), as_ndjson(copied.parsed)) << t << " / " << chunk;
      EXPECT_EQ(issues_of(in_place.report), issues_of(copied.report)) << t << " / " << chunk;
      EXPECT_EQ(in_place.report.lines, copied.report.lines) << t << " / " << chunk;
      EXPECT_EQ(in_place.report.bytes, copied.report.bytes) << t << " / " << chunk;
      EXPECT_EQ(in_place.report.readings, copied.report.readings) << t << " / " << chunk;
    }
  }
  // Not vacuous: the generated text is kept whole and the broken ones are refused.
  EXPECT_GT(decode_in_place(texts[0], 0).parsed.readings.size(), 100u);
  EXPECT_EQ(decode_in_place(texts[4], 0).report.rejects(), 3u);
}

TEST(NdjsonReaderTest, OverLongLinesAreRejectedWithoutBufferingThem) {
  std::string text = std::string(kGood) + "\n{\"nmi\":\"" +
                     std::string(NdjsonReader::kMaxLineBytes + 10, 'x') + "\"}\n" + kGood + "\n";
  auto d = decode_ndjson(text, 65536);
  EXPECT_EQ(d.parsed.readings.size(), 2u);
  ASSERT_EQ(d.report.rejects(), 1u);
  EXPECT_EQ(d.report.issues[0].line, 2u);
}

TEST(ReadingDecoderTest, PicksTheFormatFromTheFirstByte) {
  EXPECT_EQ(sniff_reading_format("  \n{\"a\":1}"), ReadingFormat::ndjson);
  EXPECT_EQ(sniff_reading_format("\xEF\xBB\xBF{"), ReadingFormat::ndjson);
  EXPECT_EQ(sniff_reading_format("100,NEM12,"), ReadingFormat::nem12);
  EXPECT_EQ(sniff_reading_format(" \r\n"), ReadingFormat::undecided);
  GeneratorOptions g;
  g.nmis = 2;
  g.days = 2;
  auto nem12 = generate_nem12_string(g);
  ParsedInput parsed;
  CollectingSink sink(parsed);
  ReadingDecoder decoder({}, sink);
  decoder.feed(" ");
  decoder.feed(nem12);
  decoder.finish();
  EXPECT_EQ(decoder.format(), ReadingFormat::nem12);
  EXPECT_EQ(parsed.readings.size(), parse_bytes(nem12, 0).readings.size());
}

// The decoder (any format) fed `text` in pieces of `piece` bytes.
struct Pieces {
  ParsedInput parsed;
  ReadingFormat format{};
  FileReport report;
};
Pieces decode_in_pieces(std::string_view text, std::size_t piece) {
  Pieces out;
  CollectingSink sink(out.parsed);
  ReadingDecoder decoder({}, sink);
  for (std::size_t at = 0; at < text.size(); at += piece) decoder.feed(text.substr(at, piece));
  decoder.finish();
  out.format = decoder.format();
  out.report = decoder.report();
  return out;
}

// Found by reading_decoder_fuzz: a BOM cut by the chunking (chunks of two bytes: "\xEF\xBB",
// then "\xBF{...") reached the NDJSON reader in two pieces, and the first line was rejected.
TEST(ReadingDecoderTest, ABomCutByTheChunkingStillStartsTheFirstLine) {
  const std::string text = "\xEF\xBB\xBF" + std::string(kGood) + "\n" + kGood + "\n";
  for (std::size_t piece = 1; piece <= 8; ++piece) {
    const Pieces d = decode_in_pieces(text, piece);
    EXPECT_EQ(d.format, ReadingFormat::ndjson) << piece;
    EXPECT_EQ(d.report.rejects(), 0u) << "pieces of " << piece;
    EXPECT_EQ(d.parsed.readings.size(), 2u) << "pieces of " << piece;
  }
}

// Found by reading_decoder_fuzz (ASan, heap-use-after-free): half a BOM makes the input NEM12;
// the reader's fatal error at the end ("no MDFF records") looked at the last line after the
// decoder had freed the bytes it held. Under the sanitizers this fails without the fix.
TEST(ReadingDecoderTest, AFatalErrorAtTheEndDoesNotReadAFreedLine) {
  const std::string text = read_file(source_dir() / "tests" / "fuzz" / "ndjson_seeds" /
                                     "fatal_counts_a_freed_line.ndjson");
  ASSERT_EQ(text.size(), 165u);
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, text.size()}) {
    const Pieces d = decode_in_pieces(text, piece);
    EXPECT_EQ(d.format, ReadingFormat::nem12);
    EXPECT_TRUE(d.report.fatal) << piece;
    EXPECT_TRUE(d.parsed.readings.empty());
  }
}

TEST(IsoTimeTest, OffsetsDatesAndRejects) {
  epoch_seconds t = 0;
  ASSERT_TRUE(parse_iso_time("1970-01-01T10:00:00+10:00", t));
  EXPECT_EQ(t, 0);
  ASSERT_TRUE(parse_iso_time("1970-01-01T00:00:00Z", t));
  EXPECT_EQ(t, 0);
  ASSERT_TRUE(parse_iso_time("1970-01-01T10:00", t, true));
  EXPECT_EQ(t, 0);
  EXPECT_FALSE(parse_iso_time("1970-01-01T10:00", t, false));
  ASSERT_TRUE(parse_iso_time("19700102", t, false, true));
  EXPECT_EQ(t, 86400 - 36000);
  EXPECT_FALSE(parse_iso_time("2005-02-29T00:00:00Z", t));
  EXPECT_FALSE(parse_iso_time("2005-03-01T00:00:00+1000", t));
  EXPECT_FALSE(parse_iso_time("2005-03-01", t));
}

}  // namespace
}  // namespace meterd::test

namespace meterd::test {
namespace {

TEST(NdjsonReaderTest, CompactValuesFormIsOneRunOfConsecutiveIntervals) {
  const std::string head =
      R"({"nmi":"N2","suffix":"E1","interval_minutes":30,"uom":"kWh","quality":"A",)";
  std::string text =
      head + R"("interval_start":"2024-01-01T23:00:00+10:00","values":[1,2.5,0]})" +
      "\n" +  // 23:00, 23:30 and ... 00:00 next day: rejected
      head + R"("interval_start":"2024-01-01T22:30:00+10:00","values":[1,2.5,0]})" + "\n" + head +
      R"("interval_start":"2024-01-01T00:00:00+10:00","values":[]})" + "\n" + head +
      R"("interval_start":"2024-01-01T00:00:00+10:00","value":1,"values":[1]})" + "\n" + head +
      R"("interval_start":"2024-01-01T00:00:00+10:00","values":[1,"x"]})" + "\n";
  auto d = decode_ndjson(text, 3);
  ASSERT_EQ(d.parsed.readings.size(), 3u);
  EXPECT_EQ(d.runs, 1u);
  EXPECT_EQ(format_nem_time(d.parsed.readings[0].interval_start), "2024-01-01T22:30:00+10:00");
  EXPECT_EQ(format_nem_time(d.parsed.readings[2].interval_start), "2024-01-01T23:30:00+10:00");
  EXPECT_EQ(d.parsed.readings[1].value, 2.5);
  EXPECT_EQ(d.report.rejects(), 4u);
  for (const auto& issue : d.report.issues) EXPECT_EQ(issue.field, "values") << issue.line;
}

// Before 1970 too a run ends with its NEM day (the day number is floored; `/` would count the
// last NEM day of 1969 into the first of 1970), so every batch keeps the codec's structural
// rules (batch_codec.hpp) and the HTTP API's batch file reads back.
TEST(NdjsonReaderTest, RunsEndAtTheNemDayBeforeEpochToo) {
  const std::string head =
      R"({"nmi":"N3","suffix":"E1","interval_minutes":30,"uom":"kWh","quality":"A",)";
  const std::string text =
      head + R"("interval_start":"1969-12-31T23:30:00+10:00","value":1})" + "\n" + head +
      R"("interval_start":"1970-01-01T00:00:00+10:00","value":2})" + "\n" + head +
      R"("interval_start":"1969-12-30T23:30:00+10:00","values":[1,2]})" + "\n";
  auto d = decode_ndjson(text, 0);
  ASSERT_EQ(d.parsed.readings.size(), 2u);
  EXPECT_EQ(d.runs, 2u);
  ASSERT_EQ(d.report.rejects(), 1u);
  EXPECT_EQ(d.report.issues[0].field, "values");
  EXPECT_EQ(d.report.issues[0].line, 3u);
}

}  // namespace
}  // namespace meterd::test
