// Fixtures shared by the input tests, built at run time (no binary fixtures in git): NEM12 text,
// incompressible bytes, gzip/bzip2/zip wrappings, and a visitor that records everything the push
// API hands it and checks the call order.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <bzlib.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/input_reader.hpp"
#include "protocol/input_source.hpp"

namespace meterd::test {

// ---- fixtures ------------------------------------------------------------------------------

inline std::string nem12_text(int days) {
  std::string text = "100,NEM12,200506081149,UNITEDDP,NEMMCO\n";
  text += "200,NEM1201009,E1E2,1,E1,N1,01009,kWh,30,20050610\n";
  // Appended piece by piece: `"literal" + std::string` trips GCC 12's -Wrestrict (a false
  // positive, GCC bug 105651) once inlined.
  for (int d = 0; d < days; ++d) {
    text += "300,200501";
    text += std::to_string(10 + d % 20);
    for (int i = 0; i < 48; ++i) {
      text += ',';
      text += std::to_string((d * 48 + i) % 997);
      text += ".25";
    }
    text += ",A,,,20050310121004,20050310182204\n";
  }
  return text + "900\n";
}

// prefix + i + suffix, built without `"literal" + std::string` (see nem12_text).
inline std::string numbered(std::string_view prefix, int i, std::string_view suffix) {
  std::string name(prefix);
  name += std::to_string(i);
  name += suffix;
  return name;
}

// Incompressible bytes: large fixtures that must not trip the expansion ratio.
inline std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

// gzip and bzip2 made with zlib and libbz2 directly, the libraries Boost.Iostreams decodes
// with (Boost's own compressors trip GCC 12's -Wrestrict, a false positive, once inlined into a
// test). Default parameters, as Boost's: deflate level 6, 32 KiB window; bzip2 blocks of 900k.
inline std::string gzip(std::string_view plain) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  std::string out;
  char block[1 << 16];
  int status = Z_OK;
  while (status == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(block);
    z.avail_out = sizeof block;
    status = deflate(&z, Z_FINISH);
    out.append(block, sizeof block - z.avail_out);
  }
  EXPECT_EQ(status, Z_STREAM_END);
  deflateEnd(&z);
  return out;
}
inline std::string bzip2(std::string_view plain) {
  bz_stream b{};
  EXPECT_EQ(BZ2_bzCompressInit(&b, 9, 0, 30), BZ_OK);
  b.next_in = const_cast<char*>(plain.data());
  b.avail_in = static_cast<unsigned>(plain.size());
  std::string out;
  char block[1 << 16];
  int status = BZ_FINISH_OK;
  while (status == BZ_FINISH_OK) {
    b.next_out = block;
    b.avail_out = sizeof block;
    status = BZ2_bzCompress(&b, BZ_FINISH);
    out.append(block, sizeof block - b.avail_out);
  }
  EXPECT_EQ(status, BZ_STREAM_END);
  BZ2_bzCompressEnd(&b);
  return out;
}

struct Entry {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;  // AE_IFDIR, AE_IFLNK (data is the link target)
};

inline la_ssize_t append_to_string(struct archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

// A zip written by libarchive; `deflate` false stores members uncompressed; a `password`
// encrypts them (traditional PKWARE encryption).
inline std::string zip(const std::vector<Entry>& entries, bool deflate = true,
                       const char* password = nullptr) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_set_option(a, "zip", "compression", deflate ? "deflate" : "store");
  if (password) {
    EXPECT_EQ(archive_write_set_option(a, "zip", "encryption", "zipcrypt"), ARCHIVE_OK);
    EXPECT_EQ(archive_write_set_passphrase(a, password), ARCHIVE_OK);
  }
  archive_write_set_bytes_in_last_block(a, 1);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, append_to_string, nullptr), ARCHIVE_OK);
  for (const Entry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, 0644);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.data.c_str());
    if (e.type == AE_IFREG) archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    EXPECT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    if (e.type == AE_IFREG) {
      EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A zip of `size` zeros written straight to disk a chunk at a time: the fixture itself never
// takes more than a chunk of memory.
inline void write_zeros_zip(const std::filesystem::path& path, const std::string& member,
                            std::uint64_t size) {
  struct archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, member.c_str());
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_size(entry, static_cast<la_int64_t>(size));
  ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK);
  const std::string zeros(1 << 20, '\0');
  for (std::uint64_t written = 0; written < size; written += zeros.size())
    archive_write_data(a, zeros.data(), std::min<std::uint64_t>(zeros.size(), size - written));
  archive_entry_free(entry);
  archive_write_close(a);
  archive_write_free(a);
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// ---- a visitor that records everything and checks the call order --------------------------

struct SeenMember {
  InputMember member;
  std::string data;
  bool complete = false;
  std::string error;
};

class Recorder : public InputVisitor {
 public:
  bool keep_data = true;
  std::vector<SeenMember> members;
  std::vector<std::pair<std::string, std::string>> errors;  // (member, message)
  std::size_t largest_chunk = 0;
  std::uint64_t bytes = 0;

  void on_member(const InputMember& member) override {
    EXPECT_FALSE(open_) << "on_member while " << members.back().member.name << " is open";
    members.push_back(SeenMember{member, {}, false, {}});
    open_ = true;
  }
  void on_chunk(std::string_view chunk) override {
    EXPECT_TRUE(open_);
    EXPECT_FALSE(chunk.empty());
    largest_chunk = std::max(largest_chunk, chunk.size());
    bytes += chunk.size();
    if (keep_data) members.back().data.append(chunk);
  }
  void on_member_end() override {
    EXPECT_TRUE(open_);
    members.back().complete = true;
    open_ = false;
  }
  void on_error(const std::string& member, const std::string& message) override {
    if (open_) {
      EXPECT_EQ(member, members.back().member.name);
      members.back().error = message;
      open_ = false;
    }
    errors.emplace_back(member, message);
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& m : members) out.push_back(m.member.name);
    return out;
  }
  std::string all_errors() const {
    std::string out;
    for (const auto& [member, message] : errors) out += member + " -> " + message + "\n";
    return out;
  }

 private:
  bool open_ = false;
};

inline Recorder read_buffer(std::string_view name, std::string_view bytes,
                            const InputLimits& limits = {}, InputResult* result_out = nullptr) {
  Recorder recorder;
  const InputResult result = read_input_buffer(name, bytes, recorder, limits);
  EXPECT_TRUE(result.opened);
  EXPECT_EQ(result.members, recorder.members.size());
  EXPECT_EQ(result.errors, recorder.errors.size());
  EXPECT_EQ(result.bytes_out, recorder.bytes);
  if (result_out) *result_out = result;
  return recorder;
}

// ---- pulling, the same way ------------------------------------------------------------------

// Pulls everything out of `reader` into `recorder`, as the push API would hand it over, reading
// chunks of the sizes `next_size` gives (the push API's chunks if it is empty).
inline void pull_into(InputReader& reader, Recorder& recorder,
                      const std::function<std::size_t()>& next_size = {}) {
  std::vector<char> buffer;
  for (;;) {
    const InputReader::Event event = reader.next();
    if (event.kind == InputReader::Event::Kind::end) break;
    if (event.kind == InputReader::Event::Kind::error) {
      EXPECT_FALSE(event.where.empty());
      EXPECT_FALSE(event.message.empty());
      recorder.on_error(event.where, event.message);
      continue;
    }
    recorder.on_member(event.member);
    for (;;) {
      const std::size_t size = next_size ? next_size() : reader.limits().chunk_bytes;
      if (buffer.size() < size) buffer.resize(size);
      const std::size_t got = reader.read(buffer.data(), size);
      if (got == 0) break;
      EXPECT_LE(got, size);
      recorder.on_chunk(std::string_view(buffer.data(), got));
    }
    if (reader.member_error().empty())
      recorder.on_member_end();
    else
      recorder.on_error(event.member.name, reader.member_error());
  }
  EXPECT_EQ(reader.next().kind, InputReader::Event::Kind::end) << "the end stays the end";
}

inline Recorder pull_all(InputReader& reader, const std::function<std::size_t()>& next_size = {}) {
  Recorder recorder;
  pull_into(reader, recorder, next_size);
  return recorder;
}

// ---- a catalogue of inputs, good and bad ------------------------------------------------------

struct InputCase {
  std::string name;
  std::string bytes;
  InputLimits limits;
  // A limit stops it: where exactly (and the numbers in the message) depends on the chunk size.
  bool stopped_by_limit = false;
};

// One of every shape the walk knows: each kind, nesting, skipped and refused members, corrupt
// and truncated data, every limit.
inline std::vector<InputCase> input_cases() {
  std::vector<InputCase> cases;
  const auto add = [&](std::string name, std::string bytes, InputLimits limits = {},
                       bool stopped = false) {
    cases.push_back({std::move(name), std::move(bytes), limits, stopped});
  };
  const std::string a = nem12_text(40), b = random_bytes(300000, 31), c = nem12_text(7);
  add("plain.csv", a);
  add("empty.csv", "");
  add("tiny.csv", "PK");
  add("meter.csv.gz", gzip(a));
  add("cat.gz", gzip(a) + gzip(b) + gzip(c));
  add("meter.csv.bz2", bzip2(a) + bzip2(c));
  add("twice.csv.bz2.gz", gzip(bzip2(gzip(c))));
  add("multi.zip", zip({{"a.csv", a}, {"sub/", "", AE_IFDIR}, {"sub/b.bin", b}, {"e.csv", ""}}));
  add("stored.zip", zip({{"a.csv", a}, {"b.bin", b}}, /*deflate=*/false));
  add("empty.zip", zip({}));
  add("links.zip", zip({{"l.csv", "../x", AE_IFLNK}, {"r.csv", c}}));
  const std::string inner = zip({{"c.csv", c}, {"d.csv.bz2", bzip2(a)}});
  add("nested.zip", zip({{"a.csv", a}, {"b.bin.gz", gzip(b)}, {"inner.zip", inner}, {"z.csv", c}}));
  add("bundle.zip.gz", gzip(zip({{"a.csv", a}, {"inner.zip", inner}})));
  const std::string deep = zip({{"l2.zip", zip({{"l3.zip", zip({{"deep.csv", "x\n"}})}})}});
  InputLimits shallow;
  shallow.max_nesting = 3;
  add("deep.zip", zip({{"ok.csv", "ok\n"}, {"l1.zip", deep}, {"last.csv.gz", gzip("z\n")}}),
      shallow);
  add("names.zip", zip({{"../evil.csv", "a"}, {"tab\there.csv", "b"}, {"ok.csv", "c"}}));
  add("locked.zip",
      zip({{"locked.zip", zip({{"s.csv", c}}, true, "pw")}, {"open.csv", "o\n"}}, false));
  InputLimits few;
  few.max_members = 2;
  add("many.zip", zip({{"m0", "0"}, {"m1", "1"}, {"m2", "2"}, {"m3", "3"}}), few);
  InputLimits small_total;
  small_total.max_expanded_bytes = 400000;
  add("big.zip", zip({{"a.bin", b}, {"b.bin", b}}), small_total, true);
  InputLimits strict_ratio;
  strict_ratio.ratio_floor_bytes = 100000;
  add("zeros.gz", gzip(std::string(3 << 20, '0')), strict_ratio, true);
  add("zeros.zip", zip({{"ok.csv", c}, {"zeros.csv", std::string(3 << 20, '0')}}), strict_ratio,
      true);
  std::string crc = zip({{"bad.bin", b}, {"next.csv", "n\n"}}, /*deflate=*/false);
  crc[crc.size() / 3] ^= 0x55;
  add("crc.zip", crc);
  std::string deflate = zip({{"bad.csv", nem12_text(400)}});
  for (std::size_t i = 200; i < 260; ++i) deflate[i] = '\xff';
  add("deflate.zip", deflate);
  const std::string two = zip({{"a.csv", a}, {"b.bin", b}});
  add("cut.zip", two.substr(0, two.size() - 60000));
  add("fake.zip", std::string("PK\x03\x04", 4) + "not a zip");
  const std::string packed = gzip(random_bytes(1 << 20, 32));
  add("cut.gz", packed.substr(0, packed.size() / 2));
  add("short.gz", packed.substr(0, 5));
  const std::string bz = bzip2(a);
  add("cut.bz2", bz.substr(0, bz.size() / 2));
  std::string bad_crc = gzip(b);
  bad_crc[bad_crc.size() - 6] ^= 1;
  add("crc.gz", bad_crc);
  add("mix.zip", zip({{"bad.csv.gz", packed.substr(0, 1000)}, {"good.csv", "g\n"}}));
  const std::string outer =
      zip({{"first.csv", "f\n"}, {"inner.zip", zip({{"big.bin", b}})}}, /*deflate=*/false);
  add("outer_cut.zip", outer.substr(0, outer.size() / 2));
  return cases;
}

}  // namespace meterd::test
