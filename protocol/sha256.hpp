// Incremental SHA-256 of an input's raw bytes: the file ledger's content hash, computed while
// the reader streams the file (one pass, no second read), and the HTTP API's ingest id.
// OpenSSL's (already linked for TLS): its SHA-NI/AVX code is ~20 % faster than our own was.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace meterd {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(std::string_view bytes);
  std::string hex_digest();                           // finalises; call once
  static std::string hex_of(std::string_view bytes);  // of bytes in memory

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace meterd
