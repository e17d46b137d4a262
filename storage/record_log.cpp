#include "storage/record_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "storage/checksum.hpp"
#include "storage/fs_util.hpp"

namespace meterd::storage {

std::string RecordLog::line(std::string_view payload) {
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x ", crc32c(payload));
  std::string out(crc);
  out.append(payload);
  out.push_back('\n');
  return out;
}

RecordLog::RecordLog(std::filesystem::path path, bool writable)
    : path_(std::move(path)), writable_(writable) {
  const std::string text = fs::read_all(path_);
  std::size_t pos = 0, good_end = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {  // torn last line
      ++bad_;
      break;
    }
    const std::string_view l(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (l.size() < 9 || l[8] != ' ') {
      ++bad_;
      continue;
    }
    const std::string_view payload = l.substr(9);
    char crc[16];
    std::snprintf(crc, sizeof crc, "%08x", crc32c(payload));
    if (l.substr(0, 8) != std::string_view(crc, 8)) {
      ++bad_;
      continue;
    }
    records_.emplace_back(payload);
    ++size_;
    good_end = pos;
  }
  if (writable_) {
    if (good_end < text.size() && text.find('\n', good_end) == std::string::npos) {
      // Torn tail: cut it so that the next append starts on a fresh line.
      if (::truncate(path_.c_str(), static_cast<off_t>(good_end)) != 0)
        throw std::system_error(errno, std::generic_category(), "truncate " + path_.string());
    }
    open_for_append();
  }
}

RecordLog::~RecordLog() {
  if (fd_ >= 0) ::close(fd_);
}

void RecordLog::open_for_append() {
  const bool existed = std::filesystem::exists(path_);
  fd_ = fs::open_file(path_, O_WRONLY | O_CREAT | O_APPEND);
  if (!existed) {
    fs::fsync_fd(fd_, path_);
    fs::fsync_dir(path_.parent_path());
  }
}

void RecordLog::append(std::string_view payload) {
  if (!writable_) throw std::logic_error("RecordLog: read-only");
  fs::write_all(fd_, line(payload), path_);
  if (::fdatasync(fd_) != 0)
    throw std::system_error(errno, std::generic_category(), "fdatasync " + path_.string());
  ++size_;
}

void RecordLog::rewrite(const std::vector<std::string>& payloads) {
  if (!writable_) throw std::logic_error("RecordLog: read-only");
  std::string text;
  for (const auto& p : payloads) text += line(p);
  fs::atomic_replace(path_, text);
  ::close(fd_);
  fd_ = -1;
  open_for_append();
  records_ = payloads;
  size_ = payloads.size();
  bad_ = 0;
}

}  // namespace meterd::storage
