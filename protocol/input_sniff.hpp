// What an input is, judged by its first bytes rather than its name (names lie: ".ZIP",
// ".csv.zip", no extension at all).
#pragma once

#include <cstddef>
#include <string_view>

namespace meterd {

enum class InputKind { plain, gzip, bzip2, zip };

const char* to_string(InputKind kind);

// Enough leading bytes to tell every kind apart.
inline constexpr std::size_t kSniffBytes = 4;

// `head` is the first bytes of the input (fewer than kSniffBytes only if the input is shorter).
InputKind sniff_input_kind(std::string_view head);

}  // namespace meterd
