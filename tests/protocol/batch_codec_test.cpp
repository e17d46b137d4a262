// The batch codec (protocol/batch_codec.hpp): a ReadingBatch in any run order round-trips
// exactly; a cut, flipped or hand-made payload is refused or decodes to a batch that keeps the
// structural rules; the NDJSON schema's rules apply only when asked for.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/batch_codec.hpp"
#include "tests/protocol/batch_codec_support.hpp"

namespace meterd::test {
namespace {

constexpr epoch_seconds kNemMidnight = 1704031200;  // 2024-01-01T00:00:00+10:00

// Three runs of three interval lengths whose values are not in run order, with every field set.
ReadingBatch sample_batch() {
  ReadingBatch b;
  ReadingRun r;
  r.nmi = b.strings.intern("NMI0000001");
  r.suffix = b.strings.intern("E1");
  r.register_id = b.strings.intern("001");
  r.meter_serial = b.strings.intern("M123");
  r.uom = b.strings.intern("kWh");
  r.interval_minutes = 30;
  r.quality = 'A';
  r.line = 7;
  r.first_start = kNemMidnight + 1800;
  r.update_datetime = kNemMidnight + 86400 + 3600;
  r.msats_load_datetime = kNemMidnight + 2 * 86400;
  r.file_created = kNemMidnight + 86400;
  r.file_sequence = 0x0102030405060708;
  r.first_value = 6;
  r.count = 4;
  b.runs.push_back(r);
  r.interval_minutes = 15;
  r.quality = 'F';
  r.method = 14;
  r.reason_code = 79;
  r.reason_description = b.strings.intern("meter fault, replaced");
  r.first_start = kNemMidnight + 86400 + 900 * 3;
  r.update_datetime = kNoTime;
  r.file_sequence = 1;
  r.line = 70000;
  r.line_step = 1;  // a reading per line
  r.first_value = 0;
  r.count = 2;
  b.runs.push_back(r);
  r.interval_minutes = 5;
  r.quality = 'E';
  r.method = 52;
  r.reason_code = 0;
  r.nmi = b.strings.intern("QB0000000012");  // longer than the NDJSON schema's 10
  r.first_start = kNemMidnight - 86400 * 400 + 300;
  r.msats_load_datetime = kNoTime;
  r.file_created = kNoTime;
  r.file_sequence = std::numeric_limits<std::uint64_t>::max();
  r.first_value = 2;
  r.count = 4;
  b.runs.push_back(r);
  b.values = {0.1, 1e300, -0.0, 5e-324, 7.125, 0.001,
              2.0, 3.25,  0.0,  1.0 / 3};  // -0.0 and the smallest denormal: bits must survive
  return b;
}

std::string encode(const ReadingBatch& batch) {
  std::string frame;
  append_batch_frame(frame, batch);
  return frame;
}

std::string payload_of(const std::string& frame) {
  return frame.substr(kFrameLengthBytes);
}

std::string decode(std::string_view payload, FrameChecks checks = FrameChecks::structural) {
  ReadingBatch out;
  return decode_batch_frame(payload, out, {checks, FrameLayout::v3});
}

// A one-run batch to break a rule in: 3 readings of 30 minutes from NEM midnight.
ReadingBatch one_run(double value = 1.5) {
  ReadingBatch b;
  ReadingRun r;
  r.nmi = b.strings.intern("NMI0000001");
  r.suffix = b.strings.intern("E1");
  r.uom = b.strings.intern("kWh");
  r.interval_minutes = 30;
  r.first_start = kNemMidnight;
  r.count = 3;
  b.runs.push_back(r);
  b.values = {value, 2.0, 3.0};
  return b;
}

TEST(BatchCodec, RoundTripKeepsEveryFieldInAnyRunOrder) {
  const ReadingBatch batch = sample_batch();
  std::vector<std::size_t> order = {0, 1, 2};
  do {
    ReadingBatch shuffled = batch;
    for (std::size_t i = 0; i < order.size(); ++i) shuffled.runs[i] = batch.runs[order[i]];
    ReadingBatch decoded;
    EXPECT_EQ(round_trip(shuffled, decoded), "");
    EXPECT_EQ(check_batch(decoded), "");
    // Values are numbered in run order, and the string table is the same one.
    EXPECT_EQ(decoded.runs[0].first_value, 0u);
    EXPECT_EQ(decoded.runs[1].first_value, decoded.runs[0].count);
    ASSERT_EQ(decoded.strings.size(), batch.strings.size());
    for (std::uint32_t i = 0; i < batch.strings.size(); ++i)
      EXPECT_EQ(decoded.strings[i], batch.strings[i]);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(BatchCodec, RunsSharingValuesAndUnusedValuesEncodeAsTheirReadings) {
  ReadingBatch batch = sample_batch();
  batch.values.push_back(99.0);  // no run's
  ReadingRun again = batch.runs[0];
  again.file_sequence = 5;
  batch.runs.push_back(again);  // the values of run 0 once more
  ReadingBatch decoded;
  EXPECT_EQ(round_trip(batch, decoded), "");
  EXPECT_EQ(decoded.values.size(), 14u);
  EXPECT_NE(check_batch(batch).find("cover"), std::string::npos);
  EXPECT_EQ(check_batch(decoded), "");
}

TEST(BatchCodec, AnEmptyBatchIsAFrame) {
  ReadingBatch decoded = sample_batch();
  EXPECT_EQ(decode_batch_frame(payload_of(encode(ReadingBatch{})), decoded), "");
  EXPECT_TRUE(decoded.runs.empty());
  EXPECT_TRUE(decoded.empty());
  EXPECT_EQ(decoded.strings.size(), 1u);
}

TEST(BatchCodec, EveryTruncationIsRefused) {
  const std::string frame = encode(sample_batch());
  const std::string payload = payload_of(frame);
  for (std::size_t n = 0; n < frame.size(); ++n) {
    std::string_view bytes = std::string_view(frame).substr(0, n), taken;
    EXPECT_FALSE(take_batch_frame(bytes, taken)) << n;
    EXPECT_EQ(bytes.size(), n);
  }
  for (std::size_t n = 0; n < payload.size(); ++n)
    EXPECT_NE(decode(std::string_view(payload).substr(0, n)), "") << n;
  EXPECT_NE(decode(payload + '\0'), "");
  EXPECT_EQ(decode(payload), "");
}

TEST(BatchCodec, TakeBatchFrameSplitsConsecutiveFrames) {
  const std::string first = encode(sample_batch()), second = encode(one_run());
  const std::string both = first + second;
  std::string_view bytes = both, payload;
  ASSERT_TRUE(take_batch_frame(bytes, payload));
  EXPECT_EQ(payload, payload_of(first));
  EXPECT_EQ(batch_frame_length(first), payload.size());
  ASSERT_TRUE(take_batch_frame(bytes, payload));
  EXPECT_EQ(payload, payload_of(second));
  EXPECT_TRUE(bytes.empty());
  EXPECT_FALSE(take_batch_frame(bytes, payload));
}

TEST(BatchCodec, EveryFlippedByteIsRefusedOrKeepsTheStructuralRules) {
  const std::string payload = payload_of(encode(sample_batch()));
  std::size_t refused = 0;
  for (std::size_t i = 0; i < payload.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string damaged = payload;
      damaged[i] = static_cast<char>(static_cast<unsigned char>(damaged[i]) ^ x);
      ReadingBatch decoded;
      const std::string why = decode_batch_frame(damaged, decoded);
      if (!why.empty()) {
        ++refused;
        continue;
      }
      EXPECT_EQ(check_batch(decoded), "") << "byte " << i << " ^ " << int{x};
      std::uint64_t readings = 0;
      for (const auto& r : decoded.runs) readings += r.count;
      EXPECT_EQ(readings, decoded.values.size());
    }
  }
  EXPECT_GT(refused, payload.size());  // every count, id and time byte matters
}

// Bytes of a run (batch_codec.hpp), counted field by field.
constexpr std::size_t kRunBytes = 4 + 6 * 4 + 2 + 1 + 1 + 2 + 4 + 4 * 8 + 8 + 1;
static_assert(kRunBytes == kRunBytesV3);

// Offsets into the payload of sample_batch(): counts, string lengths, text, runs, values.
struct Layout {
  std::size_t strings, runs, values, text, run_at;
  explicit Layout(const std::string& payload) {
    std::uint32_t n[4];
    std::memcpy(n, payload.data(), sizeof n);
    strings = n[0], runs = n[1], values = n[2], text = n[3];
    run_at = 16 + 4 * strings + text;
  }
};

std::string with_u32(std::string payload, std::size_t at, std::uint32_t v) {
  std::memcpy(payload.data() + at, &v, 4);
  return payload;
}

TEST(BatchCodec, OutOfRangeIdsAndCountsAreRefused) {
  const std::string payload = payload_of(encode(sample_batch()));
  const Layout l(payload);
  ASSERT_EQ(l.runs, 3u);
  auto refused = [&](const std::string& damaged, const char* rule) {
    const std::string why = decode(damaged);
    EXPECT_NE(why.find(rule), std::string::npos) << rule << ": got '" << why << "'";
  };
  const auto strings = static_cast<std::uint32_t>(l.strings);
  refused(with_u32(payload, l.run_at + 4, strings), "string id out of range");
  refused(with_u32(payload, l.run_at + kRunBytes + 24, 0xffffffff), "string id out of range");
  refused(with_u32(payload, l.run_at, 0), "run count out of range");
  refused(with_u32(payload, l.run_at + 2 * kRunBytes, 5),
          "run count out of range");  // past the values
  refused(with_u32(payload, l.run_at, 3), "runs do not cover the values");
  refused(with_u32(payload, 0, strings + 1), "counts do not match the frame size");
  refused(with_u32(payload, 4, 0xffffffff), "counts do not match the frame size");
  refused(with_u32(payload, 8, static_cast<std::uint32_t>(l.values - 1)), "counts do not match");
  std::uint32_t length;
  std::memcpy(&length, payload.data() + 16 + 4, 4);
  refused(with_u32(payload, 16 + 4, length + 1000), "string outside the frame");
  refused(with_u32(payload, 16 + 4, length - 1), "string bytes do not add up");
}

TEST(BatchCodec, StructuralRulesAreAlwaysChecked) {
  struct Case {
    const char* rule;
    void (*breaks)(ReadingBatch&);
  };
  const Case cases[] = {
      {"interval_minutes", [](ReadingBatch& b) { b.runs[0].interval_minutes = 10; }},
      {"interval_minutes", [](ReadingBatch& b) { b.runs[0].interval_minutes = 0; }},
      {"time out of range", [](ReadingBatch& b) { b.runs[0].first_start = kNoTime; }},
      {"time out of range", [](ReadingBatch& b) { b.runs[0].update_datetime = 400000000000; }},
      {"time out of range", [](ReadingBatch& b) { b.runs[0].file_created = -70000000000; }},
      {"time out of range", [](ReadingBatch& b) { b.runs[0].msats_load_datetime = kNoTime + 1; }},
      {"not aligned", [](ReadingBatch& b) { b.runs[0].first_start += 60; }},
      {"crosses a NEM day", [](ReadingBatch& b) { b.runs[0].first_start += 86400 - 3600; }},
      // 1969-12-31T23:30:00+10:00 and the next interval are two NEM days.
      {"crosses a NEM day", [](ReadingBatch& b) { b.runs[0].first_start = -36000 - 1800; }},
      {"value not finite", [](ReadingBatch& b) { b.values[1] = std::nan(""); }},
      {"value not finite", [](ReadingBatch& b) { b.values[2] = -INFINITY; }},
  };
  for (const auto& c : cases) {
    ReadingBatch batch = one_run();
    c.breaks(batch);
    for (auto checks : {FrameChecks::structural, FrameChecks::ndjson_schema}) {
      const std::string why = decode(payload_of(encode(batch)), checks);
      EXPECT_NE(why.find(c.rule), std::string::npos) << c.rule << ": got '" << why << "'";
      EXPECT_EQ(check_batch(batch, checks), why);
    }
  }
  EXPECT_EQ(check_batch(one_run()), "");
}

// What the NEM12 reader may keep (with a warning) is not the codec's to refuse by default.
TEST(BatchCodec, TheNdjsonSchemaRulesOnlyWhenAskedFor) {
  struct Case {
    const char* rule;
    void (*breaks)(ReadingBatch&);
  };
  const Case cases[] = {
      {"nmi", [](ReadingBatch& b) { b.runs[0].nmi = b.strings.intern("NMI00000012"); }},
      {"nmi", [](ReadingBatch& b) { b.runs[0].nmi = 0; }},
      {"suffix", [](ReadingBatch& b) { b.runs[0].suffix = b.strings.intern("E1E2"); }},
      {"uom", [](ReadingBatch& b) { b.runs[0].uom = 0; }},
      {"quality", [](ReadingBatch& b) { b.runs[0].quality = 'X'; }},
      {"method", [](ReadingBatch& b) { b.runs[0].method = 100; }},
      {"reason_code", [](ReadingBatch& b) { b.runs[0].reason_code = 1000; }},
      {"reason_code", [](ReadingBatch& b) { b.runs[0].reason_code = -2; }},
      {"value negative", [](ReadingBatch& b) { b.values[2] = -0.5; }},
  };
  for (const auto& c : cases) {
    ReadingBatch batch = one_run();
    c.breaks(batch);
    const std::string payload = payload_of(encode(batch));
    EXPECT_EQ(decode(payload, FrameChecks::structural), "") << c.rule;
    EXPECT_EQ(check_batch(batch, FrameChecks::structural), "") << c.rule;
    const std::string why = decode(payload, FrameChecks::ndjson_schema);
    EXPECT_NE(why.find(c.rule), std::string::npos) << c.rule << ": got '" << why << "'";
    EXPECT_EQ(check_batch(batch, FrameChecks::ndjson_schema), why);
  }
  EXPECT_EQ(decode(payload_of(encode(one_run())), FrameChecks::ndjson_schema), "");
  // What the default mode keeps from a NEM12 file passes the schema too: quality V, and F or S
  // without a reason.
  for (char quality : {'V', 'S', 'F'}) {
    ReadingBatch batch = one_run();
    batch.runs[0].quality = quality;
    batch.runs[0].reason_code = kNoReasonCode;
    EXPECT_EQ(check_batch(batch, FrameChecks::ndjson_schema), "") << quality;
  }
}

TEST(BatchCodec, CheckBatchWantsRunsToCoverTheValuesExactly) {
  ReadingBatch batch = sample_batch();
  EXPECT_EQ(check_batch(batch), "");  // runs out of value order are fine
  ReadingBatch gap = batch;
  gap.runs[0].count = 3;
  EXPECT_NE(check_batch(gap).find("cover"), std::string::npos);
  ReadingBatch overlap = batch;
  overlap.runs[1].count = 3;
  EXPECT_NE(check_batch(overlap).find("cover"), std::string::npos);
  ReadingBatch past = batch;
  past.runs[0].count = 5;
  EXPECT_NE(check_batch(past).find("count"), std::string::npos);
  ReadingBatch empty_run = batch;
  empty_run.runs[0].count = 0;
  EXPECT_NE(check_batch(empty_run).find("count"), std::string::npos);
  ReadingBatch bad_id = batch;
  bad_id.runs[2].reason_description = static_cast<std::uint32_t>(batch.strings.size());
  EXPECT_NE(check_batch(bad_id).find("string id"), std::string::npos);
}

TEST(BatchCodec, TheEncoderRefusesARunOutsideItsBatch) {
  std::string out = "kept";
  ReadingBatch past = sample_batch();
  past.runs[1].first_value = 9;
  EXPECT_THROW(append_batch_frame(out, past), std::invalid_argument);
  ReadingBatch bad_id = sample_batch();
  bad_id.runs[0].uom = 1000;
  EXPECT_THROW(append_batch_frame(out, bad_id), std::invalid_argument);
  EXPECT_EQ(out, "kept");
}

// Layout v1 (MTRDRB01 files): the same run without its file_sequence.
TEST(BatchCodec, LayoutV1IsTheRunWithoutFileSequence) {
  const ReadingBatch batch = sample_batch();
  const std::string v2 = payload_of(encode(batch));
  const std::string v1 = payload_in_older_layout(v2, kRunBytesV1);
  ReadingBatch decoded;
  ASSERT_EQ(decode_batch_frame(v1, decoded, {FrameChecks::structural, FrameLayout::v1}), "");
  ReadingBatch expected = batch;
  for (auto& r : expected.runs) r.file_sequence = 0;
  EXPECT_EQ(first_difference(expected, decoded), "");
  EXPECT_NE(decode_batch_frame(v2, decoded, {FrameChecks::structural, FrameLayout::v1}), "");
  EXPECT_NE(decode_batch_frame(v1, decoded, {FrameChecks::structural, FrameLayout::v3}), "");
}

// Layout v2 (MTRDRB02 files, MTRJNL02 journals): the same run without its line_step.
TEST(BatchCodec, LayoutV2IsTheRunWithoutLineStep) {
  ReadingBatch batch = sample_batch();
  const std::string v3 = payload_of(encode(batch));
  const std::string v2 = payload_in_older_layout(v3, kRunBytesV2);
  ReadingBatch decoded;
  ASSERT_EQ(decode_batch_frame(v2, decoded, {FrameChecks::structural, FrameLayout::v2}), "");
  ReadingBatch expected = batch;
  for (auto& r : expected.runs) r.line_step = 0;
  EXPECT_EQ(first_difference(expected, decoded), "");
  EXPECT_NE(decode_batch_frame(v3, decoded, {FrameChecks::structural, FrameLayout::v2}), "");
  // A line_step other than 0 or 1 is refused.
  batch.runs[0].line_step = 2;
  EXPECT_NE(decode_batch_frame(payload_of(encode(batch)), decoded, {}), "");
}

}  // namespace
}  // namespace meterd::test
