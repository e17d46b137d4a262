// Opening inputs by content, continued (input_source_test.cpp): the limits that guard against
// hostile or broken inputs, and how corrupt input is reported.
#include "protocol/input_reader.hpp"
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

using namespace test;

// ---- limits ---------------------------------------------------------------------------------

long max_rss_kib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST(InputLimits, ZipBombIsStoppedEarlyWithBoundedMemory) {
  const auto dir = test::make_temp_dir("input-bomb");
  const auto bomb = dir / "bomb.zip";
  constexpr std::uint64_t kExpanded = 200ull << 20;
  write_zeros_zip(bomb, "zeros.csv", kExpanded);
  ASSERT_LT(std::filesystem::file_size(bomb), kExpanded / 500) << "not much of a bomb";

  Recorder recorder;
  recorder.keep_data = false;
  const long rss_before = max_rss_kib();
  const InputResult result = read_input(bomb, recorder);
  const long rss_growth_mib = (max_rss_kib() - rss_before) / 1024;

  ASSERT_TRUE(result.opened);
  ASSERT_EQ(recorder.members.size(), 1u);
  EXPECT_FALSE(recorder.members[0].complete);
  EXPECT_LT(recorder.bytes, kExpanded / 4) << "should stop long before the end";
  ASSERT_EQ(recorder.errors.size(), 1u) << recorder.all_errors();
  const std::string member = bomb.string() + "!zeros.csv";
  EXPECT_EQ(recorder.errors[0].first, member);
  EXPECT_EQ(recorder.errors[0].second.rfind(member + ": ", 0), 0u) << recorder.errors[0].second;
  EXPECT_NE(recorder.errors[0].second.find("expanded"), std::string::npos)
      << recorder.errors[0].second;
  EXPECT_NE(recorder.errors[0].second.find("over the limit of 200:1"), std::string::npos)
      << recorder.errors[0].second;
  EXPECT_LT(rss_growth_mib, 32) << "the bomb must stream, not be loaded";
  std::filesystem::remove_all(dir);
}

TEST(InputLimits, TotalExpandedBytesAreCappedAcrossMembers) {
  const std::string archive = zip({{"a.bin", random_bytes(600000, 4)},
                                   {"b.bin", random_bytes(600000, 5)},
                                   {"c.bin", random_bytes(600000, 6)}});
  InputLimits limits;
  limits.max_expanded_bytes = 1000000;
  const Recorder recorder = read_buffer("big.zip", archive, limits);
  ASSERT_EQ(recorder.members.size(), 2u) << "c.bin must not even start";
  EXPECT_TRUE(recorder.members[0].complete);
  EXPECT_FALSE(recorder.members[1].complete);
  ASSERT_EQ(recorder.errors.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.errors[0].first, "big.zip!b.bin");
  EXPECT_NE(recorder.errors[0].second.find("over 1000000 bytes"), std::string::npos)
      << recorder.errors[0].second;
}

// The fuzzer's find: a read that took the last good bytes and then met corrupt data lost those
// bytes, so whether the ratio limit or the corruption was reported hung on the read size.
TEST(InputLimits, ALimitReachedJustBeforeCorruptDataIsReportedWhateverTheReadSize) {
  const std::string plain(2u << 20, '0');
  std::string corrupt = bzip2(random_bytes(5000, 3));
  corrupt[corrupt.size() / 2] ^= 0x55;
  const std::string input = bzip2(plain) + corrupt;
  InputLimits limits;
  // Crossed by the last byte of the good stream, not one byte before.
  limits.max_ratio_bzip2 = (static_cast<double>(plain.size()) - 0.5) / input.size();
  const Recorder pushed = read_buffer("edge.bz2", input, limits);
  ASSERT_EQ(pushed.errors.size(), 1u) << pushed.all_errors();
  EXPECT_NE(pushed.errors[0].second.find("over the limit"), std::string::npos)
      << pushed.errors[0].second;
  for (const std::size_t read_size : {1ul, 7ul, 4096ul, 65536ul, 1ul << 20}) {
    InputReader reader("edge.bz2", input, limits);
    const Recorder pulled = pull_all(reader, [&] { return read_size; });
    ASSERT_EQ(pulled.errors.size(), 1u) << read_size << ": " << pulled.all_errors();
    EXPECT_NE(pulled.errors[0].second.find("over the limit"), std::string::npos)
        << read_size << ": " << pulled.errors[0].second;
    EXPECT_LT(pulled.bytes, plain.size()) << "the read that crosses the limit is not handed out";
  }
}

TEST(InputLimits, RatioIsOnlyCheckedPastTheFloor) {
  const std::string zeros(900000, '0');  // compresses ~1000:1 but stays under 1 MiB
  const Recorder recorder = read_buffer("small.gz", gzip(zeros));
  EXPECT_TRUE(recorder.errors.empty()) << recorder.all_errors();
  ASSERT_EQ(recorder.members.size(), 1u);
  EXPECT_EQ(recorder.members[0].data, zeros);

  InputLimits strict;
  strict.ratio_floor_bytes = 100000;
  const Recorder stopped = read_buffer("small.gz", gzip(zeros), strict);
  ASSERT_EQ(stopped.errors.size(), 1u);
  EXPECT_EQ(stopped.errors[0].first, "small.gz");
  EXPECT_NE(stopped.errors[0].second.find("zip bomb"), std::string::npos);
}

TEST(InputLimits, TooManyMembersStopsTheInput) {
  std::vector<Entry> entries;
  for (int i = 0; i < 6; ++i) entries.push_back({numbered("m", i, ".csv"), "x\n"});
  InputLimits limits;
  limits.max_members = 4;
  const Recorder recorder = read_buffer("many.zip", zip(entries), limits);
  EXPECT_EQ(recorder.members.size(), 4u);
  ASSERT_EQ(recorder.errors.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.errors[0].first, "many.zip!m4.csv");
  EXPECT_NE(recorder.errors[0].second.find("more than 4 members"), std::string::npos);
}

TEST(InputLimits, UnsafeMemberNamesAreRefusedAndTheRestStillRead) {
  const std::vector<Entry> entries = {{"../evil.csv", "a"},       {"/etc/cron.d/x", "b"},
                                      {"ok/../../up.csv", "c"},   {"C:\\win.csv", "d"},
                                      {"tab\there.csv", "e"},     {std::string(300, 'n'), "f"},
                                      {"ok/fine..name.csv", "g"}, {"..\\dos.csv", "h"}};
  const Recorder recorder = read_buffer("names.zip", zip(entries));
  ASSERT_EQ(recorder.names(), std::vector<std::string>{"names.zip!ok/fine..name.csv"});
  EXPECT_EQ(recorder.members[0].data, "g");
  ASSERT_EQ(recorder.errors.size(), 7u) << recorder.all_errors();
  EXPECT_EQ(recorder.errors[0].first, "names.zip!../evil.csv");
  EXPECT_NE(recorder.errors[0].second.find("\"..\" component"), std::string::npos);
  EXPECT_NE(recorder.errors[1].second.find("absolute path"), std::string::npos);
  EXPECT_NE(recorder.errors[2].second.find("\"..\" component"), std::string::npos);
  EXPECT_NE(recorder.errors[3].second.find("absolute path"), std::string::npos);
  EXPECT_EQ(recorder.errors[4].first, "names.zip!tab\\x09here.csv") << "escaped for logs";
  EXPECT_NE(recorder.errors[4].second.find("control character 0x09"), std::string::npos);
  EXPECT_NE(recorder.errors[5].second.find("300 bytes long, over the limit of 255"),
            std::string::npos);
  EXPECT_NE(recorder.errors[6].second.find("\"..\" component"), std::string::npos);
}

TEST(InputLimits, AllZeroMeterDataIsNotMistakenForABomb) {
  // A vacant premises reads 0 every 5 minutes for years: about 120:1 under deflate, the most
  // compressible real meter data there is, and well over the 1 MiB ratio floor.
  std::string text = "100,NEM12,202001011200,MDP1,RETAILER\n";
  std::string zeros;
  for (int i = 0; i < 288; ++i) zeros += ",0";
  for (int nmi = 0; nmi < 4; ++nmi) {
    text += "200,NMI000000" + std::to_string(nmi) + ",E1,E1,E1,N1,METER1,kWh,5,\n";
    for (int day = 0; day < 1500; ++day)
      text += "300," + std::to_string(20200101 + day) + zeros + ",A,,,20200102030405,\n";
  }
  text += "900\n";
  const Recorder gz = read_buffer("vacant.csv.gz", gzip(text));
  EXPECT_TRUE(gz.errors.empty()) << gz.all_errors();
  const Recorder zipped = read_buffer("vacant.zip", zip({{"vacant.csv", text}}));
  EXPECT_TRUE(zipped.errors.empty()) << zipped.all_errors();
  ASSERT_EQ(zipped.members.size(), 1u);
  EXPECT_EQ(zipped.members[0].data, text);
  // bzip2 squeezes the same data about 530:1: its own, higher limit lets it through.
  const Recorder bz = read_buffer("vacant.csv.bz2", bzip2(text));
  EXPECT_TRUE(bz.errors.empty()) << bz.all_errors();
  ASSERT_EQ(bz.members.size(), 1u);
  EXPECT_EQ(bz.members[0].data, text);
}

// ---- corrupt input --------------------------------------------------------------------------

TEST(InputErrors, CorruptZipMemberIsReportedWithItsName) {
  const std::string text = random_bytes(200000, 7);
  std::string archive = zip({{"bad.csv", text}, {"next.csv", "n\n"}}, /*deflate=*/false);
  archive[archive.size() / 3] ^= 0x55;  // inside bad.csv's stored bytes: its CRC no longer holds
  const Recorder recorder = read_buffer("broken.zip", archive);
  ASSERT_EQ(recorder.names(),
            (std::vector<std::string>{"broken.zip!bad.csv", "broken.zip!next.csv"}));
  EXPECT_FALSE(recorder.members[0].complete);
  EXPECT_TRUE(recorder.members[1].complete) << "a bad CRC does not lose the rest of the archive";
  EXPECT_EQ(recorder.members[1].data, "n\n");
  ASSERT_EQ(recorder.errors.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.errors[0].first, "broken.zip!bad.csv");
  EXPECT_NE(recorder.errors[0].second.find("broken.zip!bad.csv: cannot decompress"),
            std::string::npos)
      << recorder.errors[0].second;
}

TEST(InputErrors, CorruptDeflateDataIsReported) {
  std::string archive = zip({{"bad.csv", nem12_text(400)}});
  for (std::size_t i = 200; i < 260; ++i) archive[i] = '\xff';
  const Recorder recorder = read_buffer("broken.zip", archive);
  ASSERT_FALSE(recorder.errors.empty());
  EXPECT_NE(recorder.errors[0].second.find("broken.zip"), std::string::npos)
      << recorder.errors[0].second;
  for (const auto& m : recorder.members) EXPECT_FALSE(m.complete) << m.member.name;
}

TEST(InputErrors, TruncatedZipIsReported) {
  const std::string archive = zip({{"a.csv", nem12_text(50)}, {"b.csv", random_bytes(100000, 8)}});
  const std::string truncated = archive.substr(0, archive.size() - 60000);
  const Recorder recorder = read_buffer("cut.zip", truncated);
  ASSERT_FALSE(recorder.errors.empty());
  ASSERT_EQ(recorder.members.size(), 2u);
  EXPECT_TRUE(recorder.members[0].complete);
  EXPECT_FALSE(recorder.members[1].complete);
  EXPECT_EQ(recorder.errors[0].first, "cut.zip!b.csv");
  EXPECT_NE(recorder.errors[0].second.find("cut.zip!b.csv"), std::string::npos)
      << recorder.errors[0].second;
}

TEST(InputErrors, GarbageAfterAZipSignatureIsReported) {
  const Recorder recorder = read_buffer("fake.zip", std::string("PK\x03\x04", 4) + "not a zip");
  EXPECT_TRUE(recorder.members.empty());
  ASSERT_EQ(recorder.errors.size(), 1u);
  EXPECT_EQ(recorder.errors[0].first, "fake.zip");
  EXPECT_NE(recorder.errors[0].second.find("fake.zip"), std::string::npos);
}

TEST(InputErrors, TruncatedGzipIsReportedAndTheMemberLeftIncomplete) {
  // Large enough that decoding is well under way (the member has started) when the data runs out.
  const std::string text = random_bytes(3 << 20, 12);
  const std::string packed = gzip(text);
  for (const std::size_t keep : {packed.size() / 2, packed.size() - 4}) {
    const Recorder recorder = read_buffer("cut.csv.gz", packed.substr(0, keep));
    ASSERT_EQ(recorder.members.size(), 1u) << keep;
    EXPECT_FALSE(recorder.members[0].complete) << keep;
    EXPECT_LE(recorder.members[0].data.size(), text.size()) << keep;
    ASSERT_EQ(recorder.errors.size(), 1u) << keep;
    EXPECT_EQ(recorder.errors[0].first, "cut.csv.gz");
    EXPECT_NE(recorder.errors[0].second.find("cut.csv.gz: gzip: truncated"), std::string::npos)
        << recorder.errors[0].second;
  }
}

TEST(InputErrors, ShortTruncatedGzipFailsBeforeItsMemberStarts) {
  // The first bytes cannot be decoded, so it is not even known whether this is a file or an
  // archive: the error comes alone, with no on_member.
  const std::string packed = gzip(nem12_text(300));
  for (const std::size_t keep : {packed.size() / 2, std::size_t{5}}) {
    const Recorder recorder = read_buffer("cut.csv.gz", packed.substr(0, keep));
    EXPECT_TRUE(recorder.members.empty()) << keep;
    ASSERT_EQ(recorder.errors.size(), 1u) << keep;
    EXPECT_EQ(recorder.errors[0].first, "cut.csv.gz");
    EXPECT_NE(recorder.errors[0].second.find("cut.csv.gz: gzip:"), std::string::npos)
        << recorder.errors[0].second;
  }
}

TEST(InputErrors, CorruptGzipFailsItsChecksum) {
  std::string packed = gzip(random_bytes(50000, 9));
  packed[packed.size() - 6] ^= 1;  // inside the CRC32 of the trailer
  const Recorder recorder = read_buffer("crc.gz", packed);
  ASSERT_EQ(recorder.errors.size(), 1u);
  EXPECT_NE(recorder.errors[0].second.find("crc.gz: gzip: CRC mismatch"), std::string::npos)
      << recorder.errors[0].second;
}

TEST(InputErrors, TruncatedBzip2IsReported) {
  const std::string packed = bzip2(nem12_text(300));
  const Recorder recorder = read_buffer("cut.bz2", packed.substr(0, packed.size() / 2));
  ASSERT_EQ(recorder.errors.size(), 1u);
  EXPECT_EQ(recorder.errors[0].first, "cut.bz2");
  EXPECT_NE(recorder.errors[0].second.find("cut.bz2: bzip2:"), std::string::npos)
      << recorder.errors[0].second;
}

TEST(InputErrors, CorruptGzipInsideAZipNamesTheMemberAndTheNextMemberStillReads) {
  std::string bad = gzip(nem12_text(100));
  bad = bad.substr(0, bad.size() / 2);
  const Recorder recorder = read_buffer("mix.zip", zip({{"bad.csv.gz", bad}, {"good.csv", "g\n"}}));
  ASSERT_EQ(recorder.names(), std::vector<std::string>{"mix.zip!good.csv"});
  EXPECT_TRUE(recorder.members[0].complete);
  ASSERT_EQ(recorder.errors.size(), 1u) << recorder.all_errors();
  EXPECT_EQ(recorder.errors[0].first, "mix.zip!bad.csv.gz");
  EXPECT_NE(recorder.errors[0].second.find("mix.zip!bad.csv.gz: gzip:"), std::string::npos)
      << recorder.errors[0].second;
}

TEST(InputErrors, AFailingOuterArchiveIsReportedOnTheInnerMemberItCutShort) {
  // The inner zip reads its bytes through the outer member; when the outer runs out, the error
  // crosses libarchive's callback and must surface, once, naming the outer member.
  const std::string inner = zip({{"big.bin", random_bytes(400000, 14)}});
  const std::string outer = zip({{"first.csv", "f\n"}, {"inner.zip", inner}}, /*deflate=*/false);
  const Recorder recorder = read_buffer("cut.zip", outer.substr(0, outer.size() / 2));
  ASSERT_EQ(recorder.names(),
            (std::vector<std::string>{"cut.zip!first.csv", "cut.zip!inner.zip!big.bin"}));
  EXPECT_TRUE(recorder.members[0].complete);
  EXPECT_FALSE(recorder.members[1].complete);
  ASSERT_FALSE(recorder.errors.empty());
  EXPECT_EQ(recorder.errors[0].first, "cut.zip!inner.zip!big.bin");
  EXPECT_EQ(recorder.errors[0].second.rfind("cut.zip!inner.zip: ", 0), 0u) << recorder.all_errors();
  // Then the outer archive, which cannot go on to members after the broken one.
  ASSERT_EQ(recorder.errors.size(), 2u) << recorder.all_errors();
  EXPECT_EQ(recorder.errors[1].first, "cut.zip");
  EXPECT_NE(recorder.errors[1].second.find("cut.zip: the rest of the archive cannot be read"),
            std::string::npos)
      << recorder.errors[1].second;
}

TEST(InputErrors, EncryptedMembersAreRefusedByName) {
  const std::string locked = zip({{"secret.csv", nem12_text(5)}}, true, "hunter2");
  const std::string archive = zip({{"locked.zip", locked}, {"open.csv", "o\n"}}, false);
  for (const auto& [name, bytes] : {std::pair{"locked.zip", locked}, {"outer.zip", archive}}) {
    const Recorder recorder = read_buffer(name, bytes);
    ASSERT_FALSE(recorder.errors.empty()) << name;
    EXPECT_NE(recorder.errors[0].second.find("!secret.csv: encrypted"), std::string::npos)
        << recorder.all_errors();
    for (const auto& m : recorder.members)
      EXPECT_NE(m.member.name.find("open.csv"), std::string::npos);
  }
}

TEST(InputErrors, MissingFileAndDirectoryAreNotOpened) {
  const auto dir = test::make_temp_dir("input-missing");
  Recorder recorder;
  const InputResult missing = read_input(dir / "nope.csv", recorder);
  EXPECT_FALSE(missing.opened);
  EXPECT_NE(missing.error.find((dir / "nope.csv").string()), std::string::npos) << missing.error;
  EXPECT_NE(missing.error.find("No such file"), std::string::npos) << missing.error;
  const InputResult directory = read_input(dir, recorder);
  EXPECT_FALSE(directory.opened);
  EXPECT_NE(directory.error.find("directory"), std::string::npos) << directory.error;
  EXPECT_TRUE(recorder.members.empty());
  EXPECT_TRUE(recorder.errors.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd
