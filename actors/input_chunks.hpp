// Pull-style access to the bytes of an input file, one chunk at a time, so that a reader actor
// can stop between chunks when it runs out of credit.
//
// Plain files are read directly. Anything else (gzip, bzip2, zip, nested) goes through
// protocol/input_source.hpp on a helper thread that hands over decoded chunks through a small
// bounded queue, so a compressed input is as pausable as a plain one.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace meterd::actors {

class InputChunks {
 public:
  virtual ~InputChunks() = default;
  // Fills up to `capacity` bytes; returns 0 at the end of the current member (a plain file has
  // one member). Throws std::system_error.
  virtual std::size_t read(char* buffer, std::size_t capacity) = 0;
  // After read() returned 0: starts the next member; false at the end of the input.
  virtual bool next_member() { return false; }
  // Name of the current member ("outer.zip!inner.csv"); empty for a plain file.
  virtual std::string member_name() const { return {}; }
  // After read() returned 0: why the member broke off, empty if it ended normally.
  virtual std::string member_error() const { return {}; }
};

// Throws std::system_error when the file cannot be opened.
std::unique_ptr<InputChunks> open_input(const std::filesystem::path& path);

// Tests replace the opener to inject read failures; an empty function restores the default.
using InputOpener = std::function<std::unique_ptr<InputChunks>(const std::filesystem::path&)>;
void set_input_opener(InputOpener opener);
// The default opener (sniffs the content), for a test opener that wraps it.
std::unique_ptr<InputChunks> open_default_input(const std::filesystem::path& path);
// The raw bytes of a file, whatever it contains (for the content hash).
std::unique_ptr<InputChunks> open_raw_input(const std::filesystem::path& path);
// Compressed or archived input (archive_chunks.cpp).
std::unique_ptr<InputChunks> open_archive_input(const std::filesystem::path& path);

}  // namespace meterd::actors
