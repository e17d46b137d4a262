// Pull-style access to the bytes of an input file, one chunk at a time, so that a reader actor
// can stop between chunks when it runs out of credit.
//
// Plain files only for now: protocol/input_source.hpp (gzip/bzip2/zip by content) is being
// written; when it lands, open_input() switches to it and nothing else changes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>

namespace meterd::actors {

class InputChunks {
 public:
  virtual ~InputChunks() = default;
  // Fills up to `capacity` bytes; returns 0 at end of input. Throws std::system_error.
  virtual std::size_t read(char* buffer, std::size_t capacity) = 0;
};

// Throws std::system_error when the file cannot be opened.
std::unique_ptr<InputChunks> open_input(const std::filesystem::path& path);

// Tests replace the opener to inject read failures; an empty function restores the default.
using InputOpener = std::function<std::unique_ptr<InputChunks>(const std::filesystem::path&)>;
void set_input_opener(InputOpener opener);
// The default opener, for a test opener that wraps it.
std::unique_ptr<InputChunks> open_plain_input(const std::filesystem::path& path);

}  // namespace meterd::actors
