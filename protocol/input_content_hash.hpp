// The SHA-256 of an input's raw bytes (the file ledger's content hash), computed while the walk
// reads them, so that parsing and hashing are one pass over the file.
//
// The walk does not always read in file order: a zip is read through its central directory
// (libarchive reads the end of the file first, then the members from the front), and a walk
// stopped early (a limit, a corrupt member) never reads the rest. So only the contiguous prefix
// is hashed as it grows; bytes read out of order are not hashed then, and finish() reads what
// was never covered (with read_at, which leaves the stream alone) before it gives the digest.
// For a zip that is its central directory again: a few KiB read twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/input_byte_source.hpp"
#include "protocol/sha256.hpp"

namespace meterd {

// Passes `raw`'s bytes through unchanged, hashing the prefix read in order. `raw` must be at
// its start and outlive this.
class HashingByteSource final : public ByteSource {
 public:
  explicit HashingByteSource(ByteSource& raw) : raw_(raw) {}
  std::size_t read(char* out, std::size_t size) override;
  bool can_seek() const override { return raw_.can_seek(); }
  std::uint64_t seek(std::int64_t offset, int whence) override;
  // Not part of the stream, so not hashed.
  std::size_t read_at(std::uint64_t offset, char* out, std::size_t size) override {
    return raw_.read_at(offset, out, size);
  }
  std::uint64_t size() override { return raw_.size(); }

  // The hex SHA-256 of all of `raw`: reads and hashes the part not yet hashed, to the end of
  // the source (read_at for a source that can seek, else on from the stream, which then is at
  // its end). From then on nothing more is hashed; later calls give the same digest.
  const std::string& finish();

 private:
  void hash_in_order(const char* bytes, std::size_t size);

  ByteSource& raw_;
  Sha256 sha_;
  std::uint64_t position_ = 0;  // of the stream in `raw_`
  std::uint64_t hashed_ = 0;    // bytes [0, hashed_) are in sha_
  std::string digest_;
};

struct InputFingerprint {
  std::uint64_t size = 0;   // bytes, as fstat says
  std::string head_sha256;  // hex SHA-256 of the first min(size, kFingerprintHeadBytes) bytes
};

inline constexpr std::size_t kFingerprintHeadBytes = 64 * 1024;

// Of a source that can seek, with read_at: its stream is not disturbed.
InputFingerprint fingerprint_of(ByteSource& raw);

}  // namespace meterd
