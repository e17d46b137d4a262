// The content hash of inputs (file ledger) and the HTTP API's ingest id.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "protocol/sha256.hpp"

namespace meterd {
namespace {

TEST(Sha256Test, KnownDigests) {
  Sha256 empty;
  EXPECT_EQ(empty.hex_digest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.update("a");
  abc.update("bc");
  EXPECT_EQ(abc.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 longer;
  std::string million(1000000, 'a');
  longer.update(std::string_view(million).substr(0, 333));
  longer.update(std::string_view(million).substr(333));
  EXPECT_EQ(longer.hex_digest(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, AgreesAcrossChunkingsOnLongInput) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>((i * 131) ^ (i >> 7)));
  Sha256 whole;
  whole.update(data);
  Sha256 pieces;
  for (std::size_t i = 0; i < data.size(); i += 37)
    pieces.update(std::string_view(data).substr(i, 37));
  EXPECT_EQ(whole.hex_digest(), pieces.hex_digest());
}

}  // namespace
}  // namespace meterd
