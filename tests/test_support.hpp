// Helpers shared by the tests: where ../shared is, and what to do when it is absent.
#pragma once

#include <filesystem>
#include <string>

#include "protocol/nem12_generator.hpp"

namespace meterd::test {

// ../shared next to the checkout. Tests that need it start with METERD_REQUIRE_SHARED(dir):
// it skips the test with a clear message when shared/ is absent, or fails it under CI=true
// (where shared/ is always there, so its absence is a broken set-up, not a reason to pass).
#define METERD_REQUIRE_SHARED(var)                                                             \
  const std::filesystem::path var = meterd::test::shared_dir();                                \
  if (var.empty()) {                                                                           \
    if (meterd::test::running_in_ci()) {                                                       \
      FAIL() << "../shared is missing but CI=true requires it";                                \
    } else {                                                                                   \
      GTEST_SKIP() << "../shared not found next to the checkout: skipping test that reads it"; \
    }                                                                                          \
  }

std::filesystem::path shared_dir();  // empty if absent
bool running_in_ci();
std::filesystem::path samples_dir();  // shared_dir()/data/nem12/samples
std::string read_file(const std::filesystem::path& path);
// `text` with every `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to);
std::filesystem::path source_dir();
std::filesystem::path meterd_binary();
// A fresh empty directory under the system temp dir, removed by the caller if wanted.
std::filesystem::path make_temp_dir(const std::string& prefix);
// A generated NEM12 file for a test's input (the product's own writer is app/nem12_file.hpp).
GeneratorStats generate_nem12_file(const GeneratorOptions& options,
                                   const std::filesystem::path& path);

}  // namespace meterd::test
