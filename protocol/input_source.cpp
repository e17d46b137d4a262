#include "protocol/input_source.hpp"

#include <algorithm>
#include <vector>

#include "protocol/input_byte_source.hpp"
#include "protocol/input_decompress.hpp"
#include "protocol/input_expansion.hpp"
#include "protocol/input_member_name.hpp"
#include "protocol/input_zip.hpp"

namespace meterd {
namespace {

// Walks the layers of one input depth-first, handing each member to the visitor as it streams.
class InputWalker {
 public:
  InputWalker(std::string input_name, InputVisitor& visitor, const InputLimits& limits,
              InputResult& result)
      : input_name_(std::move(input_name)),
        visitor_(visitor),
        limits_(limits),
        result_(result),
        budget_{limits, input_name_, result.bytes_in},
        chunk_(std::max<std::size_t>(limits.chunk_bytes, 1)) {}

  void walk_input(ByteSource& raw) {
    try {
      walk(input_name_, raw, 0);
    } catch (InputError& e) {
      report(e, input_name_);
    }
  }

 private:
  void walk(const std::string& name, ByteSource& source, unsigned depth) {
    SniffedByteSource sniffed(source);
    if (depth == 0) outer_kind_ = sniffed.kind();
    if (sniffed.kind() == InputKind::plain) return stream_member(name, sniffed, depth);
    if (depth >= limits_.max_nesting)
      throw InputError(name + ": " + to_string(sniffed.kind()) + " nested " +
                       std::to_string(depth + 1) + " containers deep, over the limit of " +
                       std::to_string(limits_.max_nesting));
    if (sniffed.kind() == InputKind::zip) return walk_zip(name, sniffed, depth + 1);
    walk_compressed(name, sniffed.kind(), sniffed, depth + 1);
  }

  void walk_compressed(const std::string& name, InputKind kind, ByteSource& source,
                       unsigned depth) {
    std::uint64_t compressed = 0;
    CountingByteSource counted(source, compressed);
    const auto decoded = make_decompressing_source(kind, counted, name);
    // The decompressor starts reading only now: nothing of it was counted before.
    ExpansionGuard guarded(*decoded, &compressed, 0, name, budget_,
                           kind == InputKind::bzip2 ? limits_.max_ratio_bzip2 : limits_.max_ratio);
    walk(name, guarded, depth);
  }

  void walk_zip(const std::string& name, ByteSource& source, unsigned depth) {
    ZipReader zip(source, name);
    ZipMember member;
    while (zip.next(member)) {
      if (!member.regular) continue;  // directories and links carry no data of their own
      const std::string member_name = name + "!" + printable_member_name(member.path);
      try {
        if (const std::string why = unsafe_member_name_reason(member.path, limits_.max_member_name);
            !why.empty())
          throw InputError(member_name + ": " + why);
        if (member.encrypted)
          throw InputError(member_name + ": encrypted members are not supported");
        ExpansionGuard guarded(zip.data(), zip.raw_bytes_counter(), ZipReader::kMaxReadAhead,
                               member_name, budget_, limits_.max_ratio);
        walk(member_name, guarded, depth);
      } catch (InputError& e) {
        report(e, member_name);
        if (e.stops_input()) throw;
        // Otherwise go on: next() skips the rest of this member, or throws if the archive itself
        // is past saving.
      }
    }
  }

  void stream_member(const std::string& name, ByteSource& source, unsigned depth) {
    if (result_.members >= limits_.max_members)
      throw InputError(name + ": " + input_name_ + " has more than " +
                           std::to_string(limits_.max_members) +
                           " members, the limit; the rest of the input is not read",
                       true);
    visitor_.on_member(InputMember{name, outer_kind_, depth});
    ++result_.members;
    open_member_ = name;
    member_open_ = true;
    for (;;) {
      const std::size_t got = read_fully(source, chunk_.data(), chunk_.size());
      if (got == 0) break;
      result_.bytes_out += got;
      visitor_.on_chunk(std::string_view(chunk_.data(), got));
      if (got < chunk_.size()) break;
    }
    member_open_ = false;
    visitor_.on_member_end();
  }

  // Each error reaches the visitor once, on the member it interrupted if one was open.
  void report(InputError& e, const std::string& where) {
    if (e.reported) return;
    e.reported = true;
    ++result_.errors;
    if (member_open_) {
      member_open_ = false;
      visitor_.on_error(open_member_, e.what());
    } else {
      visitor_.on_error(where, e.what());
    }
  }

  const std::string input_name_;
  InputVisitor& visitor_;
  const InputLimits& limits_;
  InputResult& result_;
  ExpansionBudget budget_;
  std::vector<char> chunk_;  // the one buffer every member streams through
  InputKind outer_kind_ = InputKind::plain;
  std::string open_member_;
  bool member_open_ = false;
};

InputResult read_source(std::string name, ByteSource& raw, InputVisitor& visitor,
                        const InputLimits& limits) {
  InputResult result;
  result.opened = true;
  CountingByteSource counted(raw, result.bytes_in);
  InputWalker(std::move(name), visitor, limits, result).walk_input(counted);
  return result;
}

}  // namespace

InputResult read_input(const std::filesystem::path& path, InputVisitor& visitor,
                       const InputLimits& limits) {
  std::unique_ptr<FileByteSource> file;
  try {
    file = std::make_unique<FileByteSource>(path);
  } catch (const InputError& e) {
    InputResult result;
    result.error = e.what();
    return result;
  }
  return read_source(path.string(), *file, visitor, limits);
}

InputResult read_input_buffer(std::string_view name, std::string_view bytes, InputVisitor& visitor,
                              const InputLimits& limits) {
  BufferByteSource buffer(bytes);
  return read_source(std::string(name), buffer, visitor, limits);
}

}  // namespace meterd
