// libFuzzer target for opening inputs (protocol/input_reader.hpp), built and run by
// scripts/fuzz.sh: arbitrary bytes as a plain, gzip, bzip2 or zip input, nested or not.
//
// Beyond "no crash, no sanitizer report, no escaping exception" it checks that
//   * pulling in pseudo-random read sizes (1 byte to 64 KiB) gives the same members, bytes,
//     completeness and errors as the push API (itself a loop over the pull API in fixed
//     chunks), except for where exactly a limit stopped the input;
//   * every member is named after the input, no deeper than the nesting limit, and the counts
//     in InputResult match what was seen;
//   * content_hash() is the SHA-256 of the whole input, whatever the walk read.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/input_reader.hpp"
#include "protocol/input_source.hpp"
#include "protocol/sha256.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using meterd::fuzz::check;
using meterd::fuzz::mix;

constexpr std::string_view kName = "fuzz.in";

// FNV-1a, byte by byte: the same whatever the chunks the bytes came in.
std::uint64_t fold_bytes(std::uint64_t h, std::string_view bytes) {
  for (const char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

struct Member {
  std::string name;
  std::uint64_t bytes = 0, fingerprint = 0xcbf29ce484222325ULL;
  bool complete = false;
};

struct Walk {
  std::vector<Member> members;
  std::vector<std::string> error_places;
  bool stopped_by_limit = false;
  meterd::InputResult result;
};

void check_member(const meterd::InputMember& member, const meterd::InputLimits& limits) {
  check(member.name.rfind(kName, 0) == 0, "member not named after its input");
  check(member.depth <= limits.max_nesting, "member deeper than the nesting limit");
}

void note_error(Walk& walk, const std::string& where, const std::string& message) {
  check(!where.empty() && !message.empty(), "an error without a place or a message");
  walk.error_places.push_back(where);
  if (message.find("the rest of the input is not read") != std::string::npos)
    walk.stopped_by_limit = true;
}

class Recorder final : public meterd::InputVisitor {
 public:
  Recorder(Walk& walk, const meterd::InputLimits& limits) : walk_(walk), limits_(limits) {}
  void on_member(const meterd::InputMember& member) override {
    check(!open_, "on_member while a member is open");
    check_member(member, limits_);
    walk_.members.push_back({member.name});
    open_ = true;
  }
  void on_chunk(std::string_view bytes) override {
    check(open_ && !bytes.empty(), "on_chunk outside a member, or empty");
    walk_.members.back().bytes += bytes.size();
    walk_.members.back().fingerprint = fold_bytes(walk_.members.back().fingerprint, bytes);
  }
  void on_member_end() override {
    check(open_, "on_member_end outside a member");
    walk_.members.back().complete = true;
    open_ = false;
  }
  void on_error(const std::string& where, const std::string& message) override {
    if (open_) check(where == walk_.members.back().name, "error on another member than the open");
    open_ = false;
    note_error(walk_, where, message);
  }

 private:
  Walk& walk_;
  const meterd::InputLimits& limits_;
  bool open_ = false;
};

// Read sizes of 1 byte .. 64 KiB, biased to small ones where bugs live.
class Chunker {
 public:
  explicit Chunker(std::uint64_t seed) : state_(seed) {}
  std::size_t next() {
    state_ = mix(state_, 0x632be59bd9b4e019ULL);
    switch (state_ & 3) {
      case 0:
        return 1 + (state_ >> 8) % 4;
      case 1:
        return 1 + (state_ >> 8) % 64;
      case 2:
        return 1 + (state_ >> 8) % 4096;
      default:
        return 1 + (state_ >> 8) % 65536;
    }
  }

 private:
  std::uint64_t state_;
};

Walk pull(std::string_view input, const meterd::InputLimits& limits, std::uint64_t seed,
          std::string& content_hash) {
  Walk walk;
  meterd::InputReader reader(std::string(kName), input, limits);
  check(reader.opened(), "a buffer did not open");
  Chunker chunker(seed);
  std::vector<char> buffer(65536);
  for (;;) {
    const meterd::InputReader::Event event = reader.next();
    if (event.kind == meterd::InputReader::Event::Kind::end) break;
    if (event.kind == meterd::InputReader::Event::Kind::error) {
      note_error(walk, event.where, event.message);
      continue;
    }
    check_member(event.member, limits);
    Member member{event.member.name};
    const std::size_t size = chunker.next();
    while (const std::size_t got = reader.read(buffer.data(), size)) {
      check(got <= size, "read() gave more than asked");
      member.bytes += got;
      member.fingerprint = fold_bytes(member.fingerprint, std::string_view(buffer.data(), got));
    }
    member.complete = reader.member_error().empty();
    if (!member.complete) note_error(walk, member.name, reader.member_error());
    walk.members.push_back(member);
  }
  check(reader.next().kind == meterd::InputReader::Event::Kind::end, "the end did not stay");
  content_hash = reader.content_hash();
  walk.result = reader.result();
  return walk;
}

void check_counts(const Walk& walk) {
  check(walk.result.members == walk.members.size(), "InputResult.members != members seen");
  check(walk.result.errors == walk.error_places.size(), "InputResult.errors != errors seen");
  std::uint64_t bytes = 0;
  for (const Member& m : walk.members) bytes += m.bytes;
  check(walk.result.bytes_out == bytes, "InputResult.bytes_out != bytes seen");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  meterd::fuzz::target_name = "input_reader_fuzz";
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Small enough that a bomb ends within the time limit, large enough for real nesting.
  meterd::InputLimits limits;
  limits.max_expanded_bytes = 16u << 20;
  limits.chunk_bytes = 64u << 10;
  try {
    Walk pushed;
    Recorder recorder(pushed, limits);
    pushed.result = meterd::read_input_buffer(kName, input, recorder, limits);
    check(pushed.result.opened, "a buffer did not open");
    check_counts(pushed);

    std::string content_hash;
    const Walk pulled = pull(input, limits, mix(0x696e707574ULL, input) | 1, content_hash);
    check_counts(pulled);
    meterd::Sha256 whole;
    whole.update(input);
    check(content_hash == whole.hex_digest(), "content_hash() is not the hash of the input");

    check(pulled.stopped_by_limit == pushed.stopped_by_limit, "a limit stopped only one side");
    check(pulled.members.size() == pushed.members.size() || pushed.stopped_by_limit,
          "pull and push saw different members");
    for (std::size_t i = 0; i < pulled.members.size() && i < pushed.members.size(); ++i) {
      const Member &p = pulled.members[i], &q = pushed.members[i];
      check(p.name == q.name, "pull and push named a member differently");
      if (pushed.stopped_by_limit) continue;
      check(p.complete == q.complete, "pull and push disagree on a member's completeness");
      if (q.complete)
        check(p.bytes == q.bytes && p.fingerprint == q.fingerprint,
              "pull and push gave a member different bytes");
    }
    if (!pushed.stopped_by_limit)
      check(pulled.error_places == pushed.error_places, "pull and push reported different errors");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "input_reader_fuzz: exception escaped: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "input_reader_fuzz: non-standard exception escaped\n");
    std::abort();
  }
  return 0;
}
