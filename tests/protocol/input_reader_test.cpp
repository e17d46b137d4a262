// The pull API: InputReader gives, pulled in any chunk sizes, exactly what the push API hands a
// visitor (which is itself a loop over InputReader), member by member, error by error.
#include "protocol/input_reader.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/protocol/input_fixtures.hpp"
#include "tests/test_support.hpp"

namespace meterd {
namespace {

using namespace test;  // the fixtures

void expect_same_members(const Recorder& pulled, const Recorder& pushed, const std::string& what) {
  ASSERT_EQ(pulled.names(), pushed.names()) << what << "\n" << pulled.all_errors();
  for (std::size_t i = 0; i < pushed.members.size(); ++i) {
    const SeenMember &p = pulled.members[i], &q = pushed.members[i];
    EXPECT_EQ(p.member.outer_kind, q.member.outer_kind) << what << " " << q.member.name;
    EXPECT_EQ(p.member.depth, q.member.depth) << what << " " << q.member.name;
    EXPECT_EQ(p.complete, q.complete) << what << " " << q.member.name;
    if (q.complete) {
      EXPECT_TRUE(p.data == q.data) << what << " " << q.member.name;
    }
  }
}

std::vector<std::string> error_places(const Recorder& recorder) {
  std::vector<std::string> out;
  for (const auto& [where, message] : recorder.errors) out.push_back(where);
  return out;
}

TEST(InputReader, PulledInThePushApisChunksItGivesExactlyWhatThePushApiGives) {
  for (const InputCase& c : input_cases()) {
    for (const std::size_t chunk : {std::size_t{1} << 20, std::size_t{4096}}) {
      InputLimits limits = c.limits;
      limits.chunk_bytes = chunk;
      InputResult pushed_result;
      const Recorder pushed = read_buffer(c.name, c.bytes, limits, &pushed_result);
      InputReader reader(c.name, c.bytes, limits);
      ASSERT_TRUE(reader.opened());
      const Recorder pulled = pull_all(reader);
      const std::string what = c.name + " in chunks of " + std::to_string(chunk);
      expect_same_members(pulled, pushed, what);
      for (std::size_t i = 0; i < pushed.members.size() && i < pulled.members.size(); ++i)
        EXPECT_TRUE(pulled.members[i].data == pushed.members[i].data) << what << " " << i;
      EXPECT_EQ(pulled.errors, pushed.errors) << what;
      const InputResult& result = reader.result();
      EXPECT_EQ(result.members, pushed_result.members) << what;
      EXPECT_EQ(result.errors, pushed_result.errors) << what;
      EXPECT_EQ(result.bytes_in, pushed_result.bytes_in) << what;
      EXPECT_EQ(result.bytes_out, pushed_result.bytes_out) << what;
    }
  }
}

TEST(InputReader, ChunkBoundariesOfAnySizeGiveTheSameMembersAndErrors) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> any_size(1, 100000);
  const std::vector<std::pair<std::string, std::function<std::size_t()>>> patterns = {
      {"1", [] { return std::size_t{1}; }},
      {"7", [] { return std::size_t{7}; }},
      {"65537", [] { return std::size_t{65537}; }},
      {"random", [&] { return any_size(rng); }},
  };
  for (const InputCase& c : input_cases()) {
    if (c.bytes.size() > (1 << 20) && c.stopped_by_limit) continue;  // a byte at a time: slow
    const Recorder pushed = read_buffer(c.name, c.bytes, c.limits);
    for (const auto& [pattern, sizes] : patterns) {
      InputReader reader(c.name, c.bytes, c.limits);
      const Recorder pulled = pull_all(reader, sizes);
      const std::string what = c.name + " in chunks of " + pattern;
      expect_same_members(pulled, pushed, what);
      EXPECT_EQ(error_places(pulled), error_places(pushed)) << what << "\n" << pulled.all_errors();
      // How far a limit let the walk get, and so its message's numbers, depend on the chunks.
      if (!c.stopped_by_limit) {
        EXPECT_EQ(pulled.errors, pushed.errors) << what;
      }
    }
  }
}

TEST(InputReader, PullOrderOfNestedArchivesIsDepthFirst) {
  const std::string a = nem12_text(3), b = nem12_text(5);
  const std::string inner = zip({{"x.csv", a}, {"y.csv.gz", gzip(b)}});
  const std::string outer = zip({{"first.csv", b}, {"inner.zip", inner}, {"last.csv", a}});
  InputReader reader("o.zip", outer);
  std::vector<std::string> names;
  std::vector<unsigned> depths;
  for (auto event = reader.next(); event.kind != InputReader::Event::Kind::end;
       event = reader.next()) {
    ASSERT_EQ(event.kind, InputReader::Event::Kind::member) << event.message;
    names.push_back(event.member.name);
    depths.push_back(event.member.depth);
    EXPECT_EQ(event.member.outer_kind, InputKind::zip);
    char byte;
    EXPECT_EQ(reader.read(&byte, 1), 1u) << "every member here has bytes";
  }
  EXPECT_EQ(names, (std::vector<std::string>{"o.zip!first.csv", "o.zip!inner.zip!x.csv",
                                             "o.zip!inner.zip!y.csv.gz", "o.zip!last.csv"}));
  EXPECT_EQ(depths, (std::vector<unsigned>{1, 2, 3, 1}));
}

TEST(InputReader, ReadFillsTheBufferUntilTheMembersEnd) {
  const std::string text = random_bytes(200000, 41);
  const std::string packed = gzip(text);
  InputReader reader("r.gz", packed);
  ASSERT_EQ(reader.next().kind, InputReader::Event::Kind::member);
  std::string got(150000, '\0');
  EXPECT_EQ(reader.read(got.data(), got.size()), got.size()) << "full, though gzip decodes 64 KiB";
  EXPECT_EQ(reader.read(got.data(), got.size()), 50000u) << "short: the end";
  EXPECT_EQ(reader.read(got.data(), got.size()), 0u);
  EXPECT_EQ(reader.read(got.data(), got.size()), 0u);
  EXPECT_EQ(reader.member_error(), "");
  EXPECT_EQ(reader.next().kind, InputReader::Event::Kind::end);
  EXPECT_EQ(reader.read(got.data(), got.size()), 0u) << "no member open";
  EXPECT_EQ(reader.result().bytes_out, text.size());
}

TEST(InputReader, NextBeforeAMembersEndSkipsTheRestOfIt) {
  const std::string a = random_bytes(500000, 42), b = nem12_text(9);
  const std::string archive = zip({{"a.bin", a}, {"b.csv.gz", gzip(a)}, {"c.csv", b}});
  InputReader reader("skip.zip", archive);
  ASSERT_EQ(reader.next().member.name, "skip.zip!a.bin");
  char head[10];
  ASSERT_EQ(reader.read(head, sizeof head), sizeof head);
  EXPECT_EQ(std::string(head, sizeof head), a.substr(0, 10));
  EXPECT_EQ(reader.next().member.name, "skip.zip!b.csv.gz") << "a.bin skipped";
  const auto c = reader.next();  // b skipped without reading a byte of it
  ASSERT_EQ(c.member.name, "skip.zip!c.csv");
  std::string rest(b.size() + 1, '\0');
  EXPECT_EQ(reader.read(rest.data(), rest.size()), b.size());
  EXPECT_EQ(rest.substr(0, b.size()), b);
  EXPECT_EQ(reader.next().kind, InputReader::Event::Kind::end);
  EXPECT_EQ(reader.result().members, 3u);
  EXPECT_EQ(reader.result().errors, 0u);
  EXPECT_EQ(reader.result().bytes_out, 10 + b.size()) << "skipped bytes are not handed out";
}

TEST(InputReader, AMemberThatBreaksOffWhileSkippedComesAsAnErrorEvent) {
  std::string archive = zip({{"bad.bin", random_bytes(200000, 43)}, {"next.csv", "n\n"}}, false);
  archive[archive.size() / 3] ^= 0x55;  // bad.bin's CRC no longer holds
  InputReader reader("broken.zip", archive);
  ASSERT_EQ(reader.next().member.name, "broken.zip!bad.bin");
  const auto broken = reader.next();
  ASSERT_EQ(broken.kind, InputReader::Event::Kind::error);
  EXPECT_EQ(broken.where, "broken.zip!bad.bin");
  EXPECT_NE(broken.message.find("broken.zip!bad.bin: cannot decompress"), std::string::npos)
      << broken.message;
  EXPECT_EQ(reader.next().member.name, "broken.zip!next.csv");
  EXPECT_EQ(reader.result().errors, 1u);
}

TEST(InputReader, ALimitStillStopsAMemberBeingSkipped) {
  InputLimits limits;
  limits.ratio_floor_bytes = 100000;
  // Gzip inside: a zip member alone is credited its archive's read-ahead, too much for 4 MiB.
  const std::string bomb = zip({{"zeros.csv.gz", gzip(std::string(4 << 20, '0'))}});
  InputReader reader("bomb.zip", bomb, limits);
  ASSERT_EQ(reader.next().kind, InputReader::Event::Kind::member);
  const auto stopped = reader.next();
  ASSERT_EQ(stopped.kind, InputReader::Event::Kind::error);
  EXPECT_EQ(stopped.where, "bomb.zip!zeros.csv.gz");
  EXPECT_NE(stopped.message.find("zip bomb"), std::string::npos) << stopped.message;
  EXPECT_EQ(reader.next().kind, InputReader::Event::Kind::end);
}

TEST(InputReader, AnInputThatCannotBeOpenedSaysWhyAndHasNothingInIt) {
  const auto dir = test::make_temp_dir("reader-missing");
  InputReader missing(dir / "nope.csv");
  EXPECT_FALSE(missing.opened());
  EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();
  EXPECT_EQ(missing.result().error, missing.error());
  EXPECT_EQ(missing.next().kind, InputReader::Event::Kind::end);
  char byte;
  EXPECT_EQ(missing.read(&byte, 1), 0u);
  EXPECT_EQ(missing.content_hash(), "");
  EXPECT_FALSE(missing.fingerprint().has_value());
  InputReader directory(dir);
  EXPECT_FALSE(directory.opened());
  EXPECT_NE(directory.error().find("directory"), std::string::npos) << directory.error();
  std::filesystem::remove_all(dir);
}

TEST(InputReader, AReaderMovesWithItsWalk) {
  const std::string text = nem12_text(5);
  const std::string archive = zip({{"a.csv", text}, {"b.csv", text}});
  InputReader first("m.zip", archive);
  ASSERT_EQ(first.next().member.name, "m.zip!a.csv");
  InputReader moved = std::move(first);
  std::string got(text.size(), '\0');
  EXPECT_EQ(moved.read(got.data(), got.size()), text.size());
  EXPECT_EQ(got, text);
  EXPECT_EQ(moved.next().member.name, "m.zip!b.csv");
}

TEST(InputReader, ALimitStopsTheInputWithOneErrorAtTheMemberItStopped) {
  InputLimits limits;
  limits.max_expanded_bytes = 1000000;
  const std::string archive = zip({{"a.bin", random_bytes(600000, 44)},
                                   {"b.bin", random_bytes(600000, 45)},
                                   {"c.bin", random_bytes(600000, 46)}});
  InputReader reader("big.zip", archive, limits);
  std::vector<char> buffer(1 << 20);
  ASSERT_EQ(reader.next().member.name, "big.zip!a.bin");
  while (reader.read(buffer.data(), buffer.size()) > 0) {
  }
  EXPECT_EQ(reader.member_error(), "");
  ASSERT_EQ(reader.next().member.name, "big.zip!b.bin");
  while (reader.read(buffer.data(), buffer.size()) > 0) {
  }
  EXPECT_NE(reader.member_error().find("big.zip!b.bin: decompressing big.zip produced over"),
            std::string::npos)
      << reader.member_error();
  EXPECT_EQ(reader.next().kind, InputReader::Event::Kind::end) << "c.bin never starts";
  EXPECT_EQ(reader.result().errors, 1u);
}

}  // namespace
}  // namespace meterd
