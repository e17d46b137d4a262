#include "protocol/input_content_hash.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace meterd {
namespace {

// finish() reads the uncovered rest in pieces of this size: big enough to keep per-call
// overhead down, small enough not to matter next to the walk's own buffers.
constexpr std::size_t kFinishBufferBytes = 256 * 1024;

}  // namespace

std::size_t HashingByteSource::read(char* out, std::size_t size) {
  const std::size_t got = raw_.read(out, size);
  hash_in_order(out, got);
  position_ += got;
  return got;
}

std::uint64_t HashingByteSource::seek(std::int64_t offset, int whence) {
  position_ = raw_.seek(offset, whence);
  return position_;
}

void HashingByteSource::hash_in_order(const char* bytes, std::size_t size) {
  // Only bytes that extend the hashed prefix: a read ahead of it leaves a gap (finish fills it),
  // a read behind it (after a seek back) was hashed already.
  if (!digest_.empty() || position_ > hashed_ || position_ + size <= hashed_) return;
  const std::size_t skip = static_cast<std::size_t>(hashed_ - position_);
  sha_.update(std::string_view(bytes + skip, size - skip));
  hashed_ = position_ + size;
}

const std::string& HashingByteSource::finish() {
  if (!digest_.empty()) return digest_;
  std::vector<char> buffer(kFinishBufferBytes);
  const bool random_access = raw_.can_seek();
  for (;;) {
    // A stream is at hashed_ already: every byte read from it was read in order.
    const std::size_t got = random_access ? raw_.read_at(hashed_, buffer.data(), buffer.size())
                                          : raw_.read(buffer.data(), buffer.size());
    if (got == 0) break;
    sha_.update(std::string_view(buffer.data(), got));
    hashed_ += got;
    if (!random_access) position_ += got;
  }
  digest_ = sha_.hex_digest();
  return digest_;
}

InputFingerprint fingerprint_of(ByteSource& raw) {
  InputFingerprint fingerprint;
  fingerprint.size = raw.size();
  const std::size_t head =
      static_cast<std::size_t>(std::min<std::uint64_t>(fingerprint.size, kFingerprintHeadBytes));
  std::vector<char> buffer(head);
  std::size_t filled = 0;
  while (filled < head) {
    const std::size_t got = raw.read_at(filled, buffer.data() + filled, head - filled);
    if (got == 0) break;  // shrank since fstat: hash what is there
    filled += got;
  }
  Sha256 sha;
  sha.update(std::string_view(buffer.data(), filled));
  fingerprint.head_sha256 = sha.hex_digest();
  return fingerprint;
}

}  // namespace meterd
