// append_json_string, the one JSON string escaper: RFC 8259's short escapes where there is one,
// \u00XX for the other control bytes, and what it writes reads back (simdjson) as the same text.
#include <simdjson.h>

#include <gtest/gtest.h>

#include <string>

#include "protocol/reading_format.hpp"

namespace meterd::test {
namespace {

std::string json_literal(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

TEST(JsonStringTest, ShortEscapesWhereJsonHasThem) {
  EXPECT_EQ(json_literal("a\"b"), R"("a\"b")");
  EXPECT_EQ(json_literal("a\\b"), R"("a\\b")");
  EXPECT_EQ(json_literal("\n\r\t\b\f"), R"("\n\r\t\b\f")");
}

TEST(JsonStringTest, OtherControlBytesAsLowercaseUnicodeEscapes) {
  EXPECT_EQ(json_literal(std::string_view("\0", 1)), R"("\u0000")");
  EXPECT_EQ(json_literal("\x01\x1f\x0b"), R"("\u0001\u001f\u000b")");
}

TEST(JsonStringTest, PlainTextAndUtf8PassUnchanged) {
  EXPECT_EQ(json_literal(""), R"("")");
  EXPECT_EQ(json_literal("NMI 4102000000, kWh / ° é 電 \x7f"),
            "\"NMI 4102000000, kWh / ° é 電 \x7f\"");
  EXPECT_EQ(json_literal("x\ny\"z"), R"("x\ny\"z")");  // escapes between plain runs
}

TEST(JsonStringTest, EveryAsciiByteReadsBackTheSame) {
  std::string text;
  for (int c = 0; c < 128; ++c) text.push_back(static_cast<char>(c));
  text += "ä€𝄞";  // two-, three- and four-byte UTF-8
  const std::string document = "{\"s\":" + json_literal(text) + "}";
  simdjson::dom::parser parser;
  std::string_view back;
  ASSERT_EQ(parser.parse(document)["s"].get(back), simdjson::SUCCESS) << document;
  EXPECT_EQ(back, text);
}

}  // namespace
}  // namespace meterd::test
