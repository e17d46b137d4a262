// Incremental SHA-256 of an input's raw bytes: the file ledger's content hash, computed while
// the reader streams the file (one pass, no second read).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace meterd::actors {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  std::string hex_digest();  // finalises; call once

 private:
  void blocks(const unsigned char* p, std::size_t n);  // n whole 64-byte blocks
  std::array<std::uint32_t, 8> h_;
  std::array<unsigned char, 64> buf_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace meterd::actors
