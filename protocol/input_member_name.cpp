#include "protocol/input_member_name.hpp"

namespace meterd {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

bool is_control(unsigned char byte) {
  return byte < 0x20 || byte == 0x7f;
}

bool is_absolute(std::string_view name) {
  if (name.front() == '/' || name.front() == '\\') return true;
  // "C:..." is rooted on Windows even without a separator.
  const bool drive_letter =
      name.size() >= 2 && name[1] == ':' &&
      ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z'));
  return drive_letter;
}

// Zips made on Windows may separate with '\', so both count as separators.
bool has_parent_component(std::string_view name) {
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find_first_of("/\\", start);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

std::string unsafe_member_name_reason(std::string_view name, std::size_t max_bytes) {
  if (name.empty()) return "member has an empty name";
  if (name.size() > max_bytes)
    return "member name is " + std::to_string(name.size()) + " bytes long, over the limit of " +
           std::to_string(max_bytes);
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (is_control(byte))
      return "member name contains control character 0x" +
             std::string{kHexDigits[byte >> 4], kHexDigits[byte & 15]};
  }
  if (is_absolute(name)) return "member name is an absolute path";
  if (has_parent_component(name)) return "member name contains a \"..\" component";
  return {};
}

std::string printable_member_name(std::string_view name) {
  // Longer than any name the default limit lets through, short enough for a log line.
  constexpr std::size_t kMaxShown = 300;
  std::string out;
  for (const char c : name.substr(0, kMaxShown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (is_control(byte)) {
      out += "\\x";
      out += kHexDigits[byte >> 4];
      out += kHexDigits[byte & 15];
    } else {
      out += c;
    }
  }
  if (name.size() > kMaxShown) out += "...";
  return out;
}

}  // namespace meterd
