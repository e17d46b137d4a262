#include "protocol/input_zip.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <type_traits>

namespace meterd {
namespace {

constexpr std::size_t kBlockBytes = ZipReader::kMaxReadAhead / 2;

static_assert(std::is_same_v<la_ssize_t, long> && std::is_same_v<la_int64_t, long>,
              "on_read and on_seek are declared with long");

}  // namespace

ZipReader::ZipReader(ByteSource& raw, std::string name)
    : raw_(raw), name_(std::move(name)), block_(kBlockBytes) {
  archive_ = archive_read_new();
  if (archive_ == nullptr) throw InputError(name_ + ": cannot start a zip reader (out of memory)");
  // Only zip: gzip and bzip2 are handled (and limited) by our own layers, and any other format
  // libarchive knows is not something meter data arrives in.
  archive_read_support_format_zip(archive_);
  // Seekable sources are read from the central directory, the zip's own index. Without a seek
  // callback (nested archives, pipes), and for an archive whose index is missing (truncated),
  // libarchive reads front to back from the local headers instead.
  if (raw_.can_seek()) archive_read_set_seek_callback(archive_, &ZipReader::on_seek);
  if (archive_read_open(archive_, this, nullptr, &ZipReader::on_read, nullptr) != ARCHIVE_OK) {
    // The destructor will not run: free here.
    std::exception_ptr raw_failure = raw_failure_;
    const std::string why = archive_error_string(archive_) ? archive_error_string(archive_) : "";
    archive_read_free(archive_);
    if (raw_failure) std::rethrow_exception(raw_failure);
    throw InputError(name_ + ": not a readable zip archive: " + why);
  }
}

ZipReader::~ZipReader() {
  archive_read_free(archive_);
}

long ZipReader::on_read(struct archive* archive, void* self, const void** block) {
  auto& zip = *static_cast<ZipReader*>(self);
  try {
    const std::size_t got = zip.raw_.read(zip.block_.data(), zip.block_.size());
    zip.raw_bytes_ += got;
    *block = zip.block_.data();
    return static_cast<long>(got);
  } catch (...) {
    zip.raw_failure_ = std::current_exception();
    archive_set_error(archive, EIO, "reading the archive failed");
    return ARCHIVE_FATAL;
  }
}

long ZipReader::on_seek(struct archive* archive, void* self, long offset, int whence) {
  auto& zip = *static_cast<ZipReader*>(self);
  try {
    return static_cast<long>(zip.raw_.seek(offset, whence));
  } catch (...) {
    zip.raw_failure_ = std::current_exception();
    archive_set_error(archive, EIO, "seeking in the archive failed");
    return ARCHIVE_FATAL;
  }
}

void ZipReader::fail(const std::string& where, const std::string& doing, bool archive_lost) {
  if (raw_failure_) std::rethrow_exception(raw_failure_);
  const char* why = archive_error_string(archive_);
  std::string message = where + ": " + doing + ": " + (why ? why : "unknown libarchive error");
  if (archive_lost) fatal_error_ = message;
  throw InputError(message);
}

bool ZipReader::next(ZipMember& member) {
  // libarchive refuses every call after a fatal error, and its own message for that is blank.
  // A failure of the source below was reported where it struck: pass it on as it is.
  if (raw_failure_) std::rethrow_exception(raw_failure_);
  if (!fatal_error_.empty())
    throw InputError(name_ + ": the rest of the archive cannot be read after: " + fatal_error_);
  struct archive_entry* entry = nullptr;
  const int status = archive_read_next_header(archive_, &entry);
  if (status == ARCHIVE_EOF) return false;
  // ARCHIVE_WARN is a name that could not be converted to the locale: the raw name still comes
  // through and is judged by the caller's name checks.
  if (status < ARCHIVE_WARN) fail(name_, "cannot read the next member header", true);
  const char* path = archive_entry_pathname(entry);
  if (path == nullptr) path = archive_entry_pathname_utf8(entry);
  member.path = path ? path : "";
  member.regular = archive_entry_filetype(entry) == AE_IFREG;
  member.encrypted = archive_entry_is_encrypted(entry) != 0;
  member_path_ = member.path;
  return true;
}

std::size_t ZipReader::MemberData::read(char* out, std::size_t size) {
  const la_ssize_t got = archive_read_data(zip_.archive_, out, size);
  // Only ARCHIVE_FATAL loses the archive; after a bad CRC, say, the next member still reads.
  if (got < 0)
    zip_.fail(zip_.name_ + "!" + zip_.member_path_, "cannot decompress", got == ARCHIVE_FATAL);
  return static_cast<std::size_t>(got);
}

}  // namespace meterd
