// What the libFuzzer targets share: a broken invariant aborts (libFuzzer then keeps the input),
// and readings fold into order-sensitive fingerprints for comparing two decodes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace meterd::fuzz {

// Set by each target to its own name, for the abort message.
inline const char* target_name = "fuzz";

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "%s: invariant violated: %s\n", target_name, what);
  std::abort();
}

inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

inline std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}

inline std::uint64_t mix(std::uint64_t h, std::string_view text) {
  for (char c : text) h = mix(h, static_cast<unsigned char>(c));
  return mix(h, text.size());
}

inline std::uint64_t bits_of(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

}  // namespace meterd::fuzz
