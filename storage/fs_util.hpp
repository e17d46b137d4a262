// Small POSIX helpers for the part lifecycle: every failure is a std::system_error carrying
// errno, so callers can tell ENOSPC from EIO.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace meterd::storage::fs {

// open(2) with O_CLOEXEC; throws on failure.
int open_file(const std::filesystem::path& path, int flags, int mode = 0644);
void close_file(int fd);
void fsync_fd(int fd, const std::filesystem::path& what);
void fsync_dir(const std::filesystem::path& dir);
void write_all(int fd, std::string_view bytes, const std::filesystem::path& what);
// Creates dir (and parents) and fsyncs each newly created directory's parent.
void make_dirs(const std::filesystem::path& dir);
// The durable, atomic file write every layer uses: `content` goes to a hidden temporary beside
// `path`, is fsynced, renamed over `path`, and the directory is fsynced. Readers see the old file
// or the whole new one; after a crash, at most a temporary is left (recovery removes those).
void atomic_replace(const std::filesystem::path& path, std::string_view content);
std::string read_all(const std::filesystem::path& path);  // "" if missing
// The hidden temporary of an interrupted write (".<name>.tmp"): recovery removes those.
bool is_temporary_name(const std::string& name);
// CRC-32C of a whole file, read a MiB at a time (recovery's check of recorded parts).
std::uint32_t file_crc32c(const std::filesystem::path& path);

}  // namespace meterd::storage::fs
