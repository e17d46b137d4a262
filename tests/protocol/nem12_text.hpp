// Small hand-written NEM12 files for the reader's tests.
#pragma once

#include <string>
#include <vector>

namespace meterd::test {

inline constexpr bool kStrict = true;  // parse_bytes' strict flag, named
inline constexpr const char* kNem12Block = "200,NEM1201009,E1E2,1,E1,N1,01009,kWh,30,20050610";

// `n` interval values, each followed by a comma.
inline std::string interval_values(unsigned n, const char* value = "1.5") {
  std::string out;
  for (unsigned i = 0; i < n; ++i) out.append(value).append(",");
  return out;
}

// The 100 header, `block`, the body lines and a 900, each line ended by `eol`.
inline std::string nem12_file(const std::vector<std::string>& body,
                              const std::string& block = kNem12Block, const char* eol = "\n") {
  std::string out = "100,NEM12,200506081149,UNITEDDP,NEMMCO";
  out.append(eol).append(block).append(eol);
  for (const auto& line : body) out.append(line).append(eol);
  return out.append("900").append(eol);
}

}  // namespace meterd::test
