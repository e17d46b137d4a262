// Format sniffing has one home, protocol's sniff_reading_format: ReadingFormatSniffer gives its
// answer for a stream cut into chunks anywhere (a BOM or the batch file magic split between
// chunks, leading whitespace longer than a chunk), so the HTTP server, the forwarder and the
// pipeline's decoder agree.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/reading_decoder.hpp"

namespace meterd {
namespace {

const std::string kLine =
    R"({"nmi":"SNIFF00001","suffix":"E1","interval_start":"2024-03-01T00:00:00+10:00",)"
    R"("interval_minutes":30,"value":1.5,"uom":"kWh","quality":"A"})"
    "\n";

ReadingFormat sniff_in_pieces(std::string_view bytes, std::size_t piece) {
  ReadingFormatSniffer sniffer;
  for (std::size_t at = 0; at < bytes.size(); at += piece) sniffer.feed(bytes.substr(at, piece));
  return sniffer.format();
}

TEST(ReadingFormatSnifferTest, AgreesWithTheProtocolSnifferHoweverTheBytesAreCut) {
  const std::string bom = "\xEF\xBB\xBF";
  const std::vector<std::string> inputs = {
      kLine,
      bom + kLine,
      "\r\n\t  " + kLine,
      bom + " \n" + kLine,
      "100,NEM12,200405011135,MDA1,Ret1\n",
      bom + "100,NEM12\n",
      std::string(kBatchFileMagic) + "rest",
      "MTRD" + kLine,                 // a magic prefix that turns out not to be one
      "  " + bom + kLine,             // a BOM after whitespace is not a BOM
      "\xEF\xBB" + std::string("{"),  // half a BOM
      std::string(10000, ' ') + kLine,
      std::string(10000, '\n') + "200,x\n",
  };
  for (const auto& input : inputs) {
    const auto whole = sniff_reading_format(input);
    ASSERT_NE(whole, ReadingFormat::undecided) << input;
    for (std::size_t piece : {1u, 2u, 3u, 5u, 7u, 8u, 9u, 4096u})
      EXPECT_EQ(sniff_in_pieces(input, piece), whole) << "pieces of " << piece << ": " << input;
  }
}

TEST(ReadingFormatSnifferTest, UndecidedWhileOnlyABomAndWhitespaceCame) {
  ReadingFormatSniffer sniffer;
  EXPECT_EQ(sniffer.feed("\xEF"), ReadingFormat::undecided);
  EXPECT_EQ(sniffer.feed("\xBB\xBF"), ReadingFormat::undecided);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(sniffer.feed(std::string(1u << 16, ' ')), ReadingFormat::undecided);
  EXPECT_EQ(sniffer.feed(""), ReadingFormat::undecided);
  EXPECT_EQ(sniffer.feed("\n{"), ReadingFormat::ndjson);
  EXPECT_EQ(sniffer.feed("100,NEM12"), ReadingFormat::ndjson);  // decided stays decided
}

}  // namespace
}  // namespace meterd
