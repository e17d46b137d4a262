#include "app/http_auth.hpp"

#include <algorithm>
#include <cctype>

#include "protocol/sha256.hpp"

namespace meterd::app {

TokenAuth::TokenAuth(const std::string& tokens, std::uint32_t rps, std::uint32_t burst)
    : rps_(rps), burst_(std::max<double>(1, burst)) {
  std::size_t at = 0;
  while (at < tokens.size()) {
    auto comma = tokens.find(',', at);
    std::string item =
        tokens.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    item.erase(
        std::remove_if(item.begin(), item.end(), [](unsigned char c) { return std::isspace(c); }),
        item.end());
    if (item.size() == 71 && item.compare(0, 7, "sha256:") == 0) {
      std::string hex = item.substr(7);
      for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      hashes_.push_back(hex);
    }
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  buckets_.resize(hashes_.size() + 1);
  for (auto& b : buckets_) b.tokens = burst_;
}

std::string TokenAuth::hash_token(std::string_view token) {
  Sha256 h;
  h.update(token);
  return "sha256:" + h.hex_digest();
}

int TokenAuth::authenticate(std::string_view header) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size()) return -1;
  for (std::size_t i = 0; i < kBearer.size(); ++i)  // the scheme is case-insensitive
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i])))
      return -1;
  auto token = header.substr(kBearer.size());
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  const std::string presented = hash_token(token).substr(7);
  int found = -1;
  // Every entry is compared in full, whatever matches: the time does not depend on the token.
  for (std::size_t i = 0; i < hashes_.size(); ++i) {
    unsigned diff = 0;
    for (std::size_t k = 0; k < presented.size(); ++k)
      diff |= static_cast<unsigned>(presented[k] ^ hashes_[i][k]);
    found = diff == 0 ? static_cast<int>(i) : found;
  }
  return found;
}

bool TokenAuth::admit(int index, double& retry_after_s) {
  if (rps_ <= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  auto& b = buckets_[index < 0 ? buckets_.size() - 1 : static_cast<std::size_t>(index)];
  if (b.last != std::chrono::steady_clock::time_point{})
    b.tokens =
        std::min(burst_, b.tokens + rps_ * std::chrono::duration<double>(now - b.last).count());
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retry_after_s = (1 - b.tokens) / rps_;
  return false;
}

std::string TokenAuth::token_id(int index) const {
  if (index < 0 || static_cast<std::size_t>(index) >= hashes_.size()) return {};
  return "sha256:" + hashes_[static_cast<std::size_t>(index)].substr(0, 12);
}

}  // namespace meterd::app
