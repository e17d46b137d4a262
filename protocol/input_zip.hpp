// Zip archives read as a stream through libarchive: members come out one after another, each
// readable as a ByteSource, and the archive itself is pulled from any ByteSource, so a zip inside
// a zip (or inside a gzip) streams straight out of its parent without a temporary copy.
//
// A zip in a file or buffer is read through its central directory; one that can only be streamed
// (nested, from a pipe, or truncated so that the directory is gone) is read from its local
// headers, which do not say which members are symlinks: there a symlink comes through as a small
// regular member holding the link's target.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "protocol/input_byte_source.hpp"

struct archive;

namespace meterd {

struct ZipMember {
  std::string path;      // as stored in the archive
  bool regular = false;  // false for directories, symlinks and the like
  bool encrypted = false;
};

class ZipReader {
 public:
  // Reads `raw` (which must outlive the reader); `name` names the archive in messages.
  // Throws InputError if `raw` does not start like a zip libarchive can read. Here and below,
  // whatever `raw` throws (its own InputError, a std::system_error of the file) is rethrown as
  // it was, once libarchive has returned.
  ZipReader(ByteSource& raw, std::string name);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  // Moves to the next member, skipping what is left of the current one. False at the end.
  // Throws InputError when the archive cannot be read any further.
  bool next(ZipMember& member);
  // The current member's decompressed bytes. Throws InputError on corrupt data.
  ByteSource& data() { return data_; }
  // Running count of bytes pulled from `raw`: the compressed side of the expansion ratio.
  const std::uint64_t* raw_bytes_counter() const { return &raw_bytes_; }
  // How far the counter can run ahead of what libarchive has consumed: the block being read plus
  // one more when a header straddles two blocks.
  static constexpr std::uint64_t kMaxReadAhead = 2 * 64 * 1024;

 private:
  class MemberData final : public ByteSource {
   public:
    explicit MemberData(ZipReader& zip) : zip_(zip) {}
    std::size_t read(char* out, std::size_t size) override;

   private:
    ZipReader& zip_;
  };

  static long on_read(struct archive*, void* self, const void** block);
  static long on_seek(struct archive*, void* self, long offset, int whence);
  [[noreturn]] void fail(const std::string& where, const std::string& doing, bool archive_lost);

  ByteSource& raw_;
  std::string name_;
  std::string member_path_;
  struct archive* archive_ = nullptr;
  std::vector<char> block_;
  std::uint64_t raw_bytes_ = 0;
  // An exception from `raw_` cannot cross libarchive's C frames: it is parked here and rethrown
  // once libarchive has returned.
  std::exception_ptr raw_failure_;
  std::string fatal_error_;  // set once libarchive gave up on the archive
  MemberData data_{*this};
};

}  // namespace meterd
