// Encodings and the Thrift codec, in isolation: round trips over awkward inputs.
#include <gtest/gtest.h>

#include <random>

#include "storage/encoding.hpp"
#include "storage/thrift_compact.hpp"

namespace meterd::storage {
namespace {

TEST(HybridEncoding, RoundTripsRunsAndLiteralsAtEveryWidth) {
  std::mt19937 rng(7);
  for (int width = 0; width <= 20; ++width) {
    const std::uint32_t max = width == 0 ? 0 : (1u << width) - 1;
    std::vector<std::uint32_t> expect;
    std::string out;
    HybridEncoder enc;
    enc.reset(&out, width);
    for (int chunk = 0; chunk < 200; ++chunk) {
      const std::uint32_t v = max ? rng() % (max + 1) : 0;
      if (rng() % 2) {
        const std::uint32_t n = 1 + rng() % 40;
        enc.run(v, n);
        expect.insert(expect.end(), n, v);
      } else {
        std::vector<std::uint32_t> lit(1 + rng() % 13);
        for (auto& x : lit) x = max ? rng() % (max + 1) : 0;
        enc.literals(lit.data(), lit.size());
        expect.insert(expect.end(), lit.begin(), lit.end());
      }
    }
    enc.finish();
    std::vector<std::uint32_t> got(expect.size());
    ASSERT_TRUE(decode_hybrid(out, width, got.size(), got.data())) << "width " << width;
    EXPECT_EQ(got, expect) << "width " << width;
  }
}

TEST(HybridEncoding, GuideExamples) {
  std::string out;
  HybridEncoder enc;
  enc.reset(&out, 1);
  enc.run(1, 1000);
  enc.finish();
  EXPECT_EQ(out, std::string("\xd0\x0f\x01", 3));  // parquet-writer-guide §7.2
}

TEST(HybridEncoding, RejectsTruncatedInput) {
  std::uint32_t v[16];
  EXPECT_FALSE(decode_hybrid(std::string_view("\x05", 1), 3, 16, v));
  EXPECT_FALSE(decode_hybrid({}, 3, 1, v));
}

TEST(DeltaEncoding, RoundTripsSortedRandomAndExtremeValues) {
  std::mt19937_64 rng(3);
  for (std::size_t n : {1u, 2u, 127u, 128u, 129u, 1000u, 5000u}) {
    std::vector<std::int64_t> v(n);
    std::int64_t t = 1109599200LL * 1000000;
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 300 == 299)
        t -= 86400LL * 30 * 1000000;  // a key change jumps back
      else
        t += 1800LL * 1000000;
      v[i] = t;
    }
    v[n / 2] = (n % 2) ? INT64_MIN : INT64_MAX;  // widest possible deltas
    for (int mode = 0; mode < 2; ++mode) {
      if (mode == 1)
        for (auto& x : v) x = static_cast<std::int64_t>(rng());
      std::string out;
      encode_delta(out, v.data(), v.size());
      std::vector<std::int64_t> got(n);
      ASSERT_EQ(decode_delta(out, n, got.data()), out.size());
      EXPECT_EQ(got, v) << n;
    }
  }
}

TEST(DeltaEncoding, GuideExample) {
  const std::int64_t v[] = {1000, 1030, 1060, 1090, 1120};
  std::string out;
  encode_delta(out, v, 5);
  EXPECT_EQ(out, std::string("\x80\x01\x04\x05\xd0\x0f\x3c\x00\x00\x00\x00", 11));
}

TEST(ThriftCompact, WritesAndParsesNestedStructsListsAndLongFieldIds) {
  std::string out;
  thrift::Writer w(out);
  w.i32(1, -500);
  w.begin_struct(2);
  w.i64(1, 1LL << 40);
  w.boolean(3, true);
  w.end_struct();
  w.begin_list(3, thrift::kBinary, 20);
  for (int i = 0; i < 20; ++i) {
    std::string element = "s";  // not "s" + std::string: GCC 12's -Wrestrict false positive
    element += std::to_string(i);
    w.elem_binary(element);
  }
  w.i32(40, 7);  // delta > 15: long form
  w.stop();
  thrift::Value v;
  ASSERT_EQ(thrift::parse_struct(reinterpret_cast<const std::uint8_t*>(out.data()), out.size(), v),
            out.size());
  EXPECT_EQ(v.need(1).i, -500);
  EXPECT_EQ(v.need(2).need(1).i, 1LL << 40);
  EXPECT_EQ(v.need(2).need(3).i, 1);
  ASSERT_EQ(v.need(3).elems.size(), 20u);
  EXPECT_EQ(v.need(3).elems[19].bin, "s19");
  EXPECT_EQ(v.need(40).i, 7);
  EXPECT_THROW(
      thrift::parse_struct(reinterpret_cast<const std::uint8_t*>(out.data()), out.size() - 3, v),
      thrift::ThriftError);
}

}  // namespace
}  // namespace meterd::storage
