#include "protocol/input_sniff.hpp"

namespace meterd {

const char* to_string(InputKind kind) {
  switch (kind) {
    case InputKind::plain:
      return "plain";
    case InputKind::gzip:
      return "gzip";
    case InputKind::bzip2:
      return "bzip2";
    case InputKind::zip:
      return "zip";
  }
  return "unknown";
}

InputKind sniff_input_kind(std::string_view head) {
  using namespace std::string_view_literals;
  // A local file header starts every non-empty zip; an empty zip is only its end record.
  if (head.starts_with("PK\x03\x04"sv) || head.starts_with("PK\x05\x06"sv)) return InputKind::zip;
  if (head.starts_with("\x1f\x8b"sv)) return InputKind::gzip;
  if (head.starts_with("BZh"sv)) return InputKind::bzip2;
  return InputKind::plain;
}

}  // namespace meterd
