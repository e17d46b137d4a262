#include "app/http_auth.hpp"

#include <algorithm>
#include <cctype>

#include "protocol/sha256.hpp"

namespace meterd::app {

TokenAuth::TokenAuth(const std::string& tokens, std::uint32_t rps, std::uint32_t burst)
    : rps_(rps), burst_(std::max<double>(1, burst)) {
  actors::Config parsed;
  parsed.set("http_tokens", tokens);  // validates, as the config file's loader did
  bindings_ = parsed.token_bindings();
  buckets_.resize(bindings_.size() + 1);
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
  for (std::size_t i = 0; i < bindings_.size(); ++i) {
    unsigned diff = 0;
    for (std::size_t k = 0; k < presented.size(); ++k)
      diff |= static_cast<unsigned>(presented[k] ^ bindings_[i].hash[k]);
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
  if (index < 0 || static_cast<std::size_t>(index) >= bindings_.size()) return {};
  return "sha256:" + bindings_[static_cast<std::size_t>(index)].hash.substr(0, 12);
}

const actors::TokenBinding& TokenAuth::binding(int index) const {
  static const actors::TokenBinding anonymous;  // auth off: the default tenant, every role
  if (index < 0 || static_cast<std::size_t>(index) >= bindings_.size()) return anonymous;
  return bindings_[static_cast<std::size_t>(index)];
}

}  // namespace meterd::app
