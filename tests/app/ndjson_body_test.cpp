// A /v1/readings body is judged by protocol's ReadingFormatSniffer (decode_ndjson_body), so the
// HTTP server and the pipeline agree on what is NDJSON, however the body is cut into chunks.
#include <gtest/gtest.h>

#include <string>

#include "app/http_ingest.hpp"
#include "protocol/batch_file.hpp"

namespace meterd::app {
namespace {

using http_internal::decode_ndjson_body;

const std::string kLine =
    R"({"nmi":"SNIFF00001","suffix":"E1","interval_start":"2024-03-01T00:00:00+10:00",)"
    R"("interval_minutes":30,"value":1.5,"uom":"kWh","quality":"A"})"
    "\n";

InputLimits chunks_of(std::size_t bytes) {
  InputLimits limits;
  limits.chunk_bytes = bytes;
  return limits;
}

TEST(NdjsonBodyTest, ABomCutBetweenChunksAndLongLeadingWhitespaceStillDecode) {
  for (std::size_t chunk : {1u, 2u, 3u, 64u, 1u << 20}) {
    auto with_bom = decode_ndjson_body("\xEF\xBB\xBF" + kLine + kLine, chunks_of(chunk));
    EXPECT_TRUE(with_bom.error.empty()) << with_bom.error;
    EXPECT_FALSE(with_bom.not_ndjson) << chunk;
    EXPECT_EQ(with_bom.rejects, 0u) << chunk;
    EXPECT_EQ(with_bom.readings, 2u) << chunk;
    EXPECT_FALSE(with_bom.batch_file.empty()) << chunk;
  }
  // More whitespace than a chunk, and more than the visitor holds back for the reader.
  auto spaced = decode_ndjson_body(std::string(200000, '\n') + kLine, chunks_of(4096));
  EXPECT_FALSE(spaced.not_ndjson);
  EXPECT_EQ(spaced.rejects, 0u);
  EXPECT_EQ(spaced.readings, 1u);
}

TEST(NdjsonBodyTest, OtherFormatsAreNotNdjsonAndNothingIsKept) {
  for (const std::string& body : {std::string("100,NEM12,200405011135,MDA1,Ret1\n"),
                                  std::string(kBatchFileMagic) + kLine, "  \xEF\xBB\xBF" + kLine}) {
    for (std::size_t chunk : {1u, 1u << 20}) {
      auto decoded = decode_ndjson_body(body, chunks_of(chunk));
      EXPECT_TRUE(decoded.not_ndjson) << body;
      EXPECT_TRUE(decoded.batch_file.empty()) << body;
    }
  }
}

TEST(NdjsonBodyTest, AnInvalidLineKeepsNothingAndWhitespaceAloneHasNoReadings) {
  auto invalid = decode_ndjson_body(kLine + "{\"nmi\":\n" + kLine, {});
  EXPECT_FALSE(invalid.not_ndjson);
  EXPECT_EQ(invalid.rejects, 1u);
  EXPECT_EQ(invalid.readings, 2u);
  EXPECT_FALSE(invalid.issues.issues.empty());
  EXPECT_TRUE(invalid.batch_file.empty());

  auto blank = decode_ndjson_body(" \n\n\t", chunks_of(1));
  EXPECT_FALSE(blank.not_ndjson);
  EXPECT_EQ(blank.readings, 0u);
  EXPECT_EQ(blank.rejects, 0u);
  EXPECT_TRUE(blank.batch_file.empty());
}

}  // namespace
}  // namespace meterd::app
