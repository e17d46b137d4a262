// Checksums used by storage: CRC-32 (IEEE, the one Parquet's PageHeader.crc and gzip use) and
// CRC-32C (Castagnoli, hardware-accelerated with SSE4.2) for whole parts and manifest records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace meterd::storage {

// CRC-32/ISO-HDLC as in zlib's crc32(): pass the previous result to continue a stream.
std::uint32_t crc32_ieee(const void* data, std::size_t size, std::uint32_t crc = 0);
// CRC-32C: cheap enough to run over every byte we write.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);
inline std::uint32_t crc32c(std::string_view s, std::uint32_t crc = 0) {
  return crc32c(s.data(), s.size(), crc);
}

}  // namespace meterd::storage
