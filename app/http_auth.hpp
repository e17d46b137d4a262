// Bearer-token authentication and per-token rate limiting for the HTTP API.
//
// The config holds sha256 hashes of the tokens (http_tokens = sha256:<hex>@TENANT/ROLES,...),
// never the tokens: a presented token is hashed and compared with every entry in constant
// time, so neither the config file nor response timing gives a token away.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "actors/config.hpp"

namespace meterd::app {

class TokenAuth {
 public:
  // `tokens`: the http_tokens option. `rps` 0 = no rate limit.
  TokenAuth(const std::string& tokens, std::uint32_t rps, std::uint32_t burst);

  bool enabled() const { return !bindings_.empty(); }
  // The value of an Authorization header -> index of the token, or -1 (missing or unknown).
  int authenticate(std::string_view authorization) const;
  // One request of token `index` (-1: anonymous, when auth is off). False when over its rate;
  // `retry_after_s` then says when the next one will be allowed.
  bool admit(int index, double& retry_after_s);

  static std::string hash_token(std::string_view token);  // "sha256:<hex>"
  // How the audit trail names token `index`: "sha256:" and the first 12 hex digits of its
  // hash (never the token); "" for -1 (anonymous).
  std::string token_id(int index) const;
  // The tenant and roles of token `index` (-1: anonymous, when auth is off: the default tenant
  // with every role).
  const actors::TokenBinding& binding(int index) const;

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last{};
  };
  std::vector<actors::TokenBinding> bindings_;
  double rps_, burst_;
  std::mutex mutex_;
  std::vector<Bucket> buckets_;  // per token, plus one for anonymous at the end
};

}  // namespace meterd::app
