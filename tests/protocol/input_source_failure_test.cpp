// A failure of the source itself (read(2) failed) is not the content's fault: InputReader throws
// it to its caller unchanged, through every layer (gzip and bzip2 via Boost.Iostreams, zip via
// libarchive's C callbacks), while the push API reports it once, as it always did.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "protocol/input_reader.hpp"
#include "protocol/input_source.hpp"
#include "tests/protocol/input_fixtures.hpp"

namespace meterd {
namespace {

using namespace test;  // the fixtures

// Fails the read that would go past `fail_after` bytes read in all, as a dying disk would
// (wherever the reads went: a zip reads its end first). `random_access` false makes it a pipe.
class FailingSource final : public ByteSource {
 public:
  FailingSource(std::string_view bytes, std::uint64_t fail_after, bool random_access)
      : inner_(bytes), fail_after_(fail_after), random_access_(random_access) {}
  std::size_t read(char* out, std::size_t size) override {
    if (delivered_ >= fail_after_)
      throw std::system_error(EIO, std::generic_category(), "injected read failure");
    const std::size_t got =
        inner_.read(out, std::min<std::uint64_t>(size, fail_after_ - delivered_));
    delivered_ += got;
    return got;
  }
  bool can_seek() const override { return random_access_; }
  std::uint64_t seek(std::int64_t offset, int whence) override {
    return inner_.seek(offset, whence);
  }
  std::size_t read_at(std::uint64_t offset, char* out, std::size_t size) override {
    return inner_.read_at(offset, out, size);
  }
  std::uint64_t size() override { return inner_.size(); }

 private:
  BufferByteSource inner_;
  const std::uint64_t fail_after_;
  const bool random_access_;
  std::uint64_t delivered_ = 0;
};

struct FailureCase {
  std::string name;
  std::string bytes;
  bool random_access = true;
};

std::vector<FailureCase> failure_cases() {
  const std::string a = nem12_text(30), b = random_bytes(300000, 51);
  const std::string inner = zip({{"c.csv", a}, {"d.bin", b}});
  return {
      {"plain.bin", b},
      {"plain.csv.gz", gzip(a + b)},
      {"plain.csv.bz2", bzip2(a + b)},
      {"index.zip", zip({{"a.csv", a}, {"b.bin", b}, {"c.csv", a}})},
      {"pipe.zip", zip({{"a.csv", a}, {"b.bin", b}, {"c.csv", a}}), false},
      {"nested.zip", zip({{"a.csv", a}, {"inner.zip", inner}, {"z.csv", a}}, false)},
      {"deflated_nested.zip", zip({{"inner.zip", inner}, {"z.csv", a}})},
      {"gz_in.zip", zip({{"a.csv.gz", gzip(b)}, {"b.csv.bz2", bzip2(a)}})},
      {"zip_in.gz", gzip(zip({{"a.csv", a}, {"b.bin", b}}))},
  };
}

// Raw bytes a full walk of the case reads, failure-free; which must give what the push API gives
// for the same bytes (the wrapper itself changes nothing).
std::uint64_t walk_bytes(const FailureCase& c) {
  InputReader reader(c.name, std::make_unique<FailingSource>(c.bytes, ~0ull, c.random_access));
  const Recorder pulled = pull_all(reader);
  const Recorder pushed = read_buffer(c.name, c.bytes);
  EXPECT_TRUE(pulled.errors.empty()) << c.name << "\n" << pulled.all_errors();
  EXPECT_EQ(pulled.names(), pushed.names()) << c.name;
  for (std::size_t i = 0; i < pulled.members.size() && i < pushed.members.size(); ++i)
    EXPECT_TRUE(pulled.members[i].data == pushed.members[i].data) << c.name << " " << i;
  return reader.result().bytes_in;
}

std::vector<std::uint64_t> failure_points(std::uint64_t total) {
  return {0, 1, 3, 4, 5, 100, total / 7, total / 3, total / 2, total - total / 5, total - 1};
}

bool mentions_injected(const Recorder& recorder) {
  for (const auto& [where, message] : recorder.errors)
    if (message.find("injected") != std::string::npos) return true;
  return false;
}

TEST(InputSourceFailure, ComesOutOfThePullApiUnchangedFromEveryLayer) {
  for (const FailureCase& c : failure_cases()) {
    const std::uint64_t total = walk_bytes(c);
    ASSERT_GT(total, 1000u) << c.name;
    const Recorder clean = read_buffer(c.name, c.bytes);
    std::size_t thrown = 0;
    const std::vector<std::uint64_t> points = failure_points(total);
    for (const std::uint64_t fail_after : points) {
      const std::string what = c.name + " failing after " + std::to_string(fail_after);
      InputReader reader(c.name,
                         std::make_unique<FailingSource>(c.bytes, fail_after, c.random_access));
      Recorder seen;
      try {
        pull_into(reader, seen, [] { return std::size_t{100000}; });
        // Only if the walk never needed the bytes it could not have: a zip's last read-ahead.
        EXPECT_EQ(fail_after + 1, total) << what;
        EXPECT_EQ(seen.names(), clean.names()) << what;
        EXPECT_TRUE(seen.errors.empty()) << what << "\n" << seen.all_errors();
        continue;
      } catch (const std::system_error& e) {
        ++thrown;
        EXPECT_EQ(e.code(), std::error_code(EIO, std::generic_category())) << what;
        EXPECT_NE(std::string(e.what()).find("injected read failure"), std::string::npos)
            << what << ": " << e.what();
      }
      EXPECT_FALSE(mentions_injected(seen)) << what << ": reported as content\n"
                                            << seen.all_errors();
      // The walk is over, and says so again rather than pretend the input ended.
      EXPECT_THROW(reader.next(), std::system_error) << what;
      char byte;
      EXPECT_THROW(reader.read(&byte, 1), std::system_error) << what;
    }
    EXPECT_GE(thrown, points.size() - 1) << c.name;
  }
}

TEST(InputSourceFailure, ThePushApiReportsItOnceAndEndsTheInput) {
  constexpr InputReadOptions kReported{.hash_content = false, .report_source_failures = true};
  for (const FailureCase& c : failure_cases()) {
    const std::uint64_t total = walk_bytes(c);
    for (const std::uint64_t fail_after : failure_points(total)) {
      const std::string what = c.name + " failing after " + std::to_string(fail_after);
      InputReader reader(c.name,
                         std::make_unique<FailingSource>(c.bytes, fail_after, c.random_access), {},
                         kReported);
      Recorder recorder;
      const InputResult result = visit_input(reader, recorder);
      if (recorder.errors.empty() && fail_after + 1 == total) continue;  // see above: read-ahead
      ASSERT_FALSE(recorder.errors.empty()) << what;
      const auto& [where, message] = recorder.errors.back();
      EXPECT_EQ(message, std::string("injected read failure: ") + std::strerror(EIO)) << what;
      EXPECT_EQ(where.rfind(c.name, 0), 0u) << what << ": " << where;
      for (std::size_t i = 0; i + 1 < recorder.errors.size(); ++i)
        EXPECT_EQ(recorder.errors[i].second.find("injected"), std::string::npos) << what;
      if (!recorder.members.empty() && !recorder.members.back().complete) {
        EXPECT_EQ(recorder.members.back().error, message) << what << ": on the member it cut";
        EXPECT_EQ(where, recorder.members.back().member.name) << what;
      }
      EXPECT_EQ(result.errors, recorder.errors.size()) << what;
      EXPECT_EQ(reader.next().kind, InputReader::Event::Kind::end) << what;
    }
  }
}

TEST(InputSourceFailure, PushingAReaderThatThrowsThrows) {
  const FailureCase c = failure_cases()[3];  // index.zip
  InputReader reader(c.name, std::make_unique<FailingSource>(c.bytes, c.bytes.size() / 2, true));
  Recorder recorder;
  EXPECT_THROW(visit_input(reader, recorder), std::system_error);
  EXPECT_FALSE(mentions_injected(recorder));
}

// /proc/self/mem reads fail with EIO at offset 0 (nothing is mapped there): a real read(2)
// failure of a file that opened fine.
bool proc_mem_fails_to_read() {
  const int fd = ::open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char byte;
  const bool eio = ::read(fd, &byte, 1) < 0 && errno == EIO;
  ::close(fd);
  return eio;
}

TEST(InputSourceFailure, AFailedReadOfAFileThrowsFromThePullApi) {
  if (!proc_mem_fails_to_read()) GTEST_SKIP() << "/proc/self/mem does not fail with EIO here";
  InputReader reader("/proc/self/mem");
  ASSERT_TRUE(reader.opened()) << reader.error();
  try {
    reader.next();
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::error_code(EIO, std::generic_category()));
    EXPECT_EQ(std::string(e.what()), std::string("cannot read /proc/self/mem: ") + strerror(EIO));
  }
}

TEST(InputSourceFailure, AFailedReadOfAFileIsReportedByReadInputAsBefore) {
  if (!proc_mem_fails_to_read()) GTEST_SKIP() << "/proc/self/mem does not fail with EIO here";
  Recorder recorder;
  const InputResult result = read_input("/proc/self/mem", recorder);
  EXPECT_TRUE(result.opened);
  EXPECT_TRUE(recorder.members.empty()) << "it fails before anything is known of it";
  ASSERT_EQ(recorder.errors.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.errors[0].first, "/proc/self/mem");
  EXPECT_EQ(recorder.errors[0].second, std::string("cannot read /proc/self/mem: ") + strerror(EIO));
  EXPECT_EQ(result.errors, 1u);
}

}  // namespace
}  // namespace meterd
