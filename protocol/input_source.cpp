#include "protocol/input_source.hpp"

#include <algorithm>
#include <vector>

namespace meterd {
namespace {

constexpr InputReadOptions kPushOptions{.hash_content = false, .report_source_failures = true};

}  // namespace

InputResult visit_input(InputReader& reader, InputVisitor& visitor) {
  // The one buffer every member streams through.
  std::vector<char> chunk(std::max<std::size_t>(reader.limits().chunk_bytes, 1));
  for (;;) {
    const InputReader::Event event = reader.next();
    switch (event.kind) {
      case InputReader::Event::Kind::end:
        return reader.result();
      case InputReader::Event::Kind::error:
        visitor.on_error(event.where, event.message);
        break;
      case InputReader::Event::Kind::member: {
        visitor.on_member(event.member);
        while (const std::size_t got = reader.read(chunk.data(), chunk.size()))
          visitor.on_chunk(std::string_view(chunk.data(), got));
        if (reader.member_error().empty())
          visitor.on_member_end();
        else
          visitor.on_error(event.member.name, reader.member_error());
        break;
      }
    }
  }
}

InputResult read_input(const std::filesystem::path& path, InputVisitor& visitor,
                       const InputLimits& limits) {
  InputReader reader(path, limits, kPushOptions);
  return visit_input(reader, visitor);
}

InputResult read_input_buffer(std::string_view name, std::string_view bytes, InputVisitor& visitor,
                              const InputLimits& limits) {
  InputReader reader(std::string(name), bytes, limits, kPushOptions);
  return visit_input(reader, visitor);
}

}  // namespace meterd
