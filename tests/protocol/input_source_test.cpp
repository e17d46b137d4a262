// Opening inputs by content: every fixture is built at run time (tests/protocol/input_fixtures.hpp,
// no binary fixtures in git), then read back through read_input / read_input_buffer and compared
// byte for byte.
#include "protocol/input_source.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/protocol/input_fixtures.hpp"
#include "tests/test_support.hpp"

namespace meterd {
namespace {

using namespace test;  // the fixtures

// ---- sniffing -------------------------------------------------------------------------------

TEST(InputSniff, KnowsEachKindByItsMagicBytes) {
  using namespace std::string_view_literals;
  EXPECT_EQ(sniff_input_kind("PK\x03\x04rest"sv), InputKind::zip);
  EXPECT_EQ(sniff_input_kind("PK\x05\x06"sv), InputKind::zip);
  EXPECT_EQ(sniff_input_kind("\x1f\x8b\x08"sv), InputKind::gzip);
  EXPECT_EQ(sniff_input_kind("BZh9"sv), InputKind::bzip2);
  EXPECT_EQ(sniff_input_kind("100,NEM12"sv), InputKind::plain);
  EXPECT_EQ(sniff_input_kind("PK"sv), InputKind::plain);
  EXPECT_EQ(sniff_input_kind(""sv), InputKind::plain);
}

// ---- each kind gives back exactly the original bytes ---------------------------------------

TEST(InputSource, PlainFileIsOneMemberNamedAfterThePath) {
  const auto dir = test::make_temp_dir("input-plain");
  const std::string text = nem12_text(30);
  write_file(dir / "meter.csv", text);
  Recorder recorder;
  const InputResult result = read_input(dir / "meter.csv", recorder);
  ASSERT_TRUE(result.opened) << result.error;
  ASSERT_EQ(recorder.members.size(), 1u);
  EXPECT_EQ(recorder.members[0].member.name, (dir / "meter.csv").string());
  EXPECT_EQ(recorder.members[0].member.outer_kind, InputKind::plain);
  EXPECT_EQ(recorder.members[0].member.depth, 0u);
  EXPECT_TRUE(recorder.members[0].complete);
  EXPECT_EQ(recorder.members[0].data, text);
  EXPECT_EQ(result.bytes_in, text.size());
  EXPECT_EQ(result.bytes_out, text.size());
  EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
  std::filesystem::remove_all(dir);
}

TEST(InputSource, EmptyFileIsOneEmptyMember) {
  const Recorder recorder = read_buffer("empty.csv", "");
  ASSERT_EQ(recorder.members.size(), 1u);
  EXPECT_TRUE(recorder.members[0].complete);
  EXPECT_EQ(recorder.members[0].data, "");
}

TEST(InputSource, GzipDecodesToTheOriginalBytes) {
  const std::string text = nem12_text(200);
  const Recorder recorder = read_buffer("meter.csv.gz", gzip(text));
  ASSERT_EQ(recorder.members.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.members[0].member.name, "meter.csv.gz");
  EXPECT_EQ(recorder.members[0].member.outer_kind, InputKind::gzip);
  EXPECT_EQ(recorder.members[0].member.depth, 1u);
  EXPECT_TRUE(recorder.members[0].complete);
  EXPECT_EQ(recorder.members[0].data, text);
}

TEST(InputSource, ConcatenatedGzipDecodesEveryStream) {
  const std::string a = nem12_text(3), b = "second part\n", c = random_bytes(70000, 1);
  const Recorder recorder = read_buffer("cat.gz", gzip(a) + gzip(b) + gzip(c));
  ASSERT_EQ(recorder.members.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.members[0].data, a + b + c);
  EXPECT_TRUE(recorder.members[0].complete);
}

TEST(InputSource, Bzip2DecodesToTheOriginalBytes) {
  const std::string text = nem12_text(200);
  const Recorder recorder = read_buffer("meter.csv.bz2", bzip2(text));
  ASSERT_EQ(recorder.members.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.members[0].member.outer_kind, InputKind::bzip2);
  EXPECT_EQ(recorder.members[0].data, text);
}

TEST(InputSource, ConcatenatedBzip2DecodesEveryStream) {
  const std::string a = nem12_text(3), b = random_bytes(300000, 2);
  const Recorder recorder = read_buffer("cat.bz2", bzip2(a) + bzip2(b));
  ASSERT_EQ(recorder.members.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.members[0].data, a + b);
}

TEST(InputSource, ZipWithOneMemberGivesThatMember) {
  const std::string text = nem12_text(50);
  for (const bool deflate : {true, false}) {
    const Recorder recorder = read_buffer("data.ZIP", zip({{"NEM12#1#A#B.csv", text}}, deflate));
    ASSERT_EQ(recorder.members.size(), 1u) << recorder.all_errors();
    EXPECT_EQ(recorder.members[0].member.name, "data.ZIP!NEM12#1#A#B.csv");
    EXPECT_EQ(recorder.members[0].member.outer_kind, InputKind::zip);
    EXPECT_EQ(recorder.members[0].member.depth, 1u);
    EXPECT_EQ(recorder.members[0].data, text);
    EXPECT_TRUE(recorder.members[0].complete);
  }
}

TEST(InputSource, MultiMemberZipGivesEachMemberSeparatelyInOrder) {
  const std::string a = nem12_text(5), b = nem12_text(9), c = random_bytes(3 << 20, 3);
  const std::string archive = zip(
      {{"a.csv", a}, {"sub/", "", AE_IFDIR}, {"sub/b.csv", b}, {"c.bin", c}, {"empty.csv", ""}});
  const Recorder recorder = read_buffer("multi.zip", archive);
  EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
  ASSERT_EQ(recorder.names(), (std::vector<std::string>{"multi.zip!a.csv", "multi.zip!sub/b.csv",
                                                        "multi.zip!c.bin", "multi.zip!empty.csv"}));
  EXPECT_EQ(recorder.members[0].data, a);
  EXPECT_EQ(recorder.members[1].data, b);
  EXPECT_EQ(recorder.members[2].data, c);
  EXPECT_EQ(recorder.members[3].data, "");
  for (const auto& m : recorder.members) EXPECT_TRUE(m.complete) << m.member.name;
}

TEST(InputSource, DirectoriesAndSymlinksInAZipAreSkippedQuietly) {
  const std::string archive = zip({{"dir/", "", AE_IFDIR},
                                   {"link.csv", "../../etc/passwd", AE_IFLNK},
                                   {"dir/real.csv", "100,NEM12\n"}});
  const Recorder recorder = read_buffer("links.zip", archive);
  EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
  ASSERT_EQ(recorder.names(), std::vector<std::string>{"links.zip!dir/real.csv"});
  EXPECT_EQ(recorder.members[0].data, "100,NEM12\n");
}

TEST(InputSource, ZipFromAPipeStreamsFromItsLocalHeaders) {
  const auto dir = test::make_temp_dir("input-pipe");
  const auto fifo = dir / "pipe.zip";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string a = nem12_text(40), b = random_bytes(2 << 20, 13);
  const std::string archive = zip({{"a.csv", a}, {"b.bin", b}});
  std::thread writer([&] { write_file(fifo, archive); });
  Recorder recorder;
  const InputResult result = read_input(fifo, recorder);
  writer.join();
  ASSERT_TRUE(result.opened) << result.error;
  EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
  ASSERT_EQ(recorder.names(),
            (std::vector<std::string>{fifo.string() + "!a.csv", fifo.string() + "!b.bin"}));
  EXPECT_EQ(recorder.members[0].data, a);
  EXPECT_EQ(recorder.members[1].data, b);
  EXPECT_EQ(result.bytes_in, archive.size());
  std::filesystem::remove_all(dir);
}

TEST(InputSource, EmptyZipHasNoMembersAndNoErrors) {
  const std::string archive = zip({});
  ASSERT_EQ(archive.substr(0, 4), std::string("PK\x05\x06", 4));
  const Recorder recorder = read_buffer("empty.zip", archive);
  EXPECT_TRUE(recorder.members.empty());
  EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
}

// ---- nesting --------------------------------------------------------------------------------

TEST(InputSource, NestedArchivesStreamThroughWithPathNames) {
  const std::string a = nem12_text(4), b = nem12_text(7), c = nem12_text(11), d = nem12_text(2);
  const std::string inner = zip({{"c.csv", c}, {"d.csv.bz2", bzip2(d)}});
  const std::string outer =
      zip({{"a.csv", a}, {"b.csv.gz", gzip(b)}, {"inner.zip", inner}, {"after.csv", a}});
  const Recorder recorder = read_buffer("outer.zip", outer);
  EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
  ASSERT_EQ(recorder.names(),
            (std::vector<std::string>{"outer.zip!a.csv", "outer.zip!b.csv.gz",
                                      "outer.zip!inner.zip!c.csv", "outer.zip!inner.zip!d.csv.bz2",
                                      "outer.zip!after.csv"}));
  EXPECT_EQ(recorder.members[1].data, b);
  EXPECT_EQ(recorder.members[1].member.depth, 2u);
  EXPECT_EQ(recorder.members[2].data, c);
  EXPECT_EQ(recorder.members[2].member.depth, 2u);
  EXPECT_EQ(recorder.members[3].data, d);
  EXPECT_EQ(recorder.members[3].member.depth, 3u);
  EXPECT_EQ(recorder.members[4].data, a);
  for (const auto& m : recorder.members) EXPECT_EQ(m.member.outer_kind, InputKind::zip);
}

TEST(InputSource, ZipInsideGzipIsOpened) {
  const std::string a = nem12_text(4), b = nem12_text(6);
  const Recorder recorder = read_buffer("bundle.zip.gz", gzip(zip({{"a.csv", a}, {"b.csv", b}})));
  EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
  ASSERT_EQ(recorder.names(),
            (std::vector<std::string>{"bundle.zip.gz!a.csv", "bundle.zip.gz!b.csv"}));
  EXPECT_EQ(recorder.members[0].data, a);
  EXPECT_EQ(recorder.members[1].data, b);
  EXPECT_EQ(recorder.members[0].member.outer_kind, InputKind::gzip);
}

TEST(InputSource, CompressionInsideCompressionIsUndoneLayerByLayer) {
  const std::string text = nem12_text(20);
  InputResult result;
  const Recorder recorder = read_buffer("twice.csv.bz2.gz", gzip(bzip2(gzip(text))), {}, &result);
  ASSERT_EQ(recorder.names(), std::vector<std::string>{"twice.csv.bz2.gz"});
  EXPECT_EQ(recorder.members[0].data, text);
  EXPECT_EQ(recorder.members[0].member.depth, 3u);
  EXPECT_EQ(result.bytes_in, gzip(bzip2(gzip(text))).size());
}

TEST(InputSource, InputsReadOnSeveralThreadsAtOnceDoNotInterfere) {
  std::vector<std::string> texts, archives;
  for (int i = 0; i < 4; ++i) {
    texts.push_back(nem12_text(30 + i) + random_bytes(200000, 20 + i));
    archives.push_back(zip({{"in.csv.gz", gzip(texts.back())}}));
  }
  std::vector<Recorder> recorders(archives.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < archives.size(); ++i)
    threads.emplace_back([&, i] {
      for (int round = 0; round < 5; ++round) {
        recorders[i] = Recorder{};
        read_input_buffer(numbered("t", i, ".zip"), archives[i], recorders[i]);
      }
    });
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < archives.size(); ++i) {
    ASSERT_EQ(recorders[i].members.size(), 1u) << i;
    EXPECT_EQ(recorders[i].members[0].data, texts[i]) << i;
  }
}

TEST(InputSource, NestingBeyondTheLimitIsAnErrorForThatMemberOnly) {
  const std::string deep = zip({{"l2.zip", zip({{"l3.zip", zip({{"deep.csv", "x\n"}})}})}});
  const std::string archive =
      zip({{"ok.csv", "ok\n"}, {"l1.zip", deep}, {"last.csv.gz", gzip("z\n")}});
  InputLimits limits;
  limits.max_nesting = 3;
  const Recorder recorder = read_buffer("top.zip", archive, limits);
  ASSERT_EQ(recorder.names(), (std::vector<std::string>{"top.zip!ok.csv", "top.zip!last.csv.gz"}));
  ASSERT_EQ(recorder.errors.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.errors[0].first, "top.zip!l1.zip!l2.zip!l3.zip");
  EXPECT_NE(recorder.errors[0].second.find("top.zip!l1.zip!l2.zip!l3.zip: zip nested 4 "
                                           "containers deep, over the limit of 3"),
            std::string::npos)
      << recorder.errors[0].second;

  limits.max_nesting = 4;  // one more level and the same archive reads fully
  const Recorder deeper = read_buffer("top.zip", archive, limits);
  EXPECT_TRUE(deeper.errors.empty()) << deeper.all_errors();
  EXPECT_EQ(deeper.names().at(1), "top.zip!l1.zip!l2.zip!l3.zip!deep.csv");
  EXPECT_EQ(deeper.members.at(1).member.depth, 4u);
}

// ---- chunking -------------------------------------------------------------------------------

TEST(InputChunks, ContentIsTheSameWhateverTheChunkSize) {
  const std::string a = nem12_text(120), b = random_bytes(1500000, 10);
  const std::string archive = zip({{"a.csv", a}, {"b.bin.gz", gzip(b)}, {"c.csv", "c"}});
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{4096},
                                  std::size_t{65537}, std::size_t{1} << 20}) {
    InputLimits limits;
    limits.chunk_bytes = chunk;
    const Recorder recorder = read_buffer("chunks.zip", archive, limits);
    ASSERT_EQ(recorder.members.size(), 3u) << chunk;
    EXPECT_EQ(recorder.members[0].data, a) << chunk;
    EXPECT_EQ(recorder.members[1].data, b) << chunk;
    EXPECT_EQ(recorder.members[2].data, "c") << chunk;
    EXPECT_LE(recorder.largest_chunk, chunk);
  }
}

TEST(InputChunks, DefaultChunksAreAboutOneMebibyte) {
  const std::string big = random_bytes(5 << 20, 11);
  const Recorder recorder = read_buffer("big.gz", gzip(big));
  ASSERT_EQ(recorder.members.size(), 1u);
  EXPECT_EQ(recorder.members[0].data, big);
  EXPECT_EQ(recorder.largest_chunk, std::size_t{1} << 20);
}

// ---- the real samples -----------------------------------------------------------------------

struct SampleCase {
  const char* file;
  const char* member;
  std::size_t size;
};

TEST(InputSamples, RealZipSamplesGiveTheirSingleMember) {
  METERD_REQUIRE_SHARED(shared);
  const SampleCase cases[] = {
      {"nemreader_99_nmis_5min.zip", "NEM12#20200101_20200101#None#EXAMPLE.csv", 123770},
      {"aemo_globalm_uppercase_ZIP_inner_name_differs.ZIP",
       "NEM12#05050200001000000#GLOBALM#NEMMCO", 3716},
      {"powercor_no100_double_ext.csv.zip", "Example_NEM12_powercor.csv", 1516},
  };
  for (const SampleCase& c : cases) {
    const auto path = test::samples_dir() / c.file;
    Recorder recorder;
    const InputResult result = read_input(path, recorder);
    ASSERT_TRUE(result.opened) << result.error;
    EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
    ASSERT_EQ(recorder.members.size(), 1u) << c.file;
    EXPECT_EQ(recorder.members[0].member.name, path.string() + "!" + c.member);
    EXPECT_EQ(recorder.members[0].data.size(), c.size) << c.file;
    EXPECT_TRUE(recorder.members[0].complete);
    EXPECT_EQ(recorder.members[0].data.find('\0'), std::string::npos);
    EXPECT_GE(result.bytes_in, std::filesystem::file_size(path));
  }
}

TEST(InputSamples, PlainSamplesComeThroughUnchanged) {
  METERD_REQUIRE_SHARED(shared);
  for (const char* file : {"aemo_s01_basic_30min_E1E2.csv", "err_zero_byte_file.csv",
                           "aemo_integm_15min_V_S15_E52_msatsload"}) {
    const auto path = test::samples_dir() / file;
    Recorder recorder;
    ASSERT_TRUE(read_input(path, recorder).opened);
    ASSERT_EQ(recorder.members.size(), 1u);
    EXPECT_EQ(recorder.members[0].data, test::read_file(path)) << file;
  }
}

}  // namespace
}  // namespace meterd
