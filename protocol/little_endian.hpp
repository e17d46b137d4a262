// The fixed-width fields of meterd's binary files (batch frames, batch files, the safety
// journal): little-endian, unaligned, no padding, copied with memcpy (no aliasing games).
#pragma once

#include <bit>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace meterd::little_endian {

static_assert(std::endian::native == std::endian::little,
              "meterd's binary files are little-endian: a big-endian port must swap here");

template <class T>
void append(std::string& out, T v) {
  static_assert(std::is_trivially_copyable_v<T>);
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.append(bytes, sizeof(T));
}

// Writes at `p` (room checked by the caller) and moves `p` on.
template <class T>
void store(char*& p, T v) {
  std::memcpy(p, &v, sizeof(T));
  p += sizeof(T);
}

// Reads at `p` (bytes checked by the caller) and moves `p` on.
template <class T>
T load(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}

// Takes a T off the front of `in`; false (nothing taken) when `in` is too short.
template <class T>
bool take(std::string_view& in, T& v) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(&v, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return true;
}

}  // namespace meterd::little_endian
