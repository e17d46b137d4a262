// The argument loop every subcommand shares: options with values, flags, plain arguments, and
// numbers read in full ("10x" is an error, not 10). Errors are std::invalid_argument with a
// message naming the option; each command prints it with its usage and exits 2.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace meterd::app {

class ArgReader {
 public:
  ArgReader(int argc, char** argv) : argc_(argc), argv_(argv) {}

  // Moves to the next argument; false when there is none.
  bool next() {
    if (++at_ >= argc_) return false;
    arg_ = argv_[at_];
    return true;
  }
  const std::string& arg() const { return arg_; }
  bool is(std::string_view name) const { return arg_ == name; }
  bool is_option() const { return arg_.size() > 1 && arg_[0] == '-'; }

  // The value after the current option.
  std::string value() {
    if (at_ + 1 >= argc_) throw std::invalid_argument(arg_ + " needs a value");
    return argv_[++at_];
  }

  // The value as a whole number in [lo, hi], all of it digits.
  template <class Number = std::uint64_t>
  Number number(Number lo = std::numeric_limits<Number>::min(),
                Number hi = std::numeric_limits<Number>::max()) {
    const std::string text = value();
    Number n{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (error != std::errc() || end != text.data() + text.size() || n < lo || n > hi)
      throw std::invalid_argument(arg_ + ": expected a whole number from " + std::to_string(lo) +
                                  " to " + std::to_string(hi) + ", got '" + text + "'");
    return n;
  }

  // KEY=VALUE (for --set).
  std::pair<std::string, std::string> key_value() {
    const std::string text = value();
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument(arg_ + " needs KEY=VALUE, got '" + text + "'");
    return {text.substr(0, eq), text.substr(eq + 1)};
  }

  [[noreturn]] void unknown() const {
    throw std::invalid_argument("unknown " + std::string(is_option() ? "option " : "argument ") +
                                arg_);
  }

 private:
  int argc_;
  char** argv_;
  int at_ = 0;  // argv_[0] is the subcommand itself
  std::string arg_;
};

}  // namespace meterd::app
