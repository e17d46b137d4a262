// Thrift compact protocol: just what Parquet metadata needs (parquet-writer-guide.md §2).
//
// The writer emits fields in ascending id order so the one-byte short header always applies;
// it keeps a stack of "previous field id" per open struct. The reader parses into a small
// tree (footers and page headers are tiny next to the data) and skips unknown fields, so
// files from newer writers stay readable. Every length is bounded: corrupt input throws
// ThriftError, never reads out of bounds.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace meterd::storage::thrift {

enum Type : std::uint8_t {
  kStop = 0,
  kTrue = 1,
  kFalse = 2,
  kI8 = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

struct ThriftError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) { last_.push_back(0); }

  void i32(int id, std::int32_t v) { header(id, kI32), zigzag(v); }
  void i64(int id, std::int64_t v) { header(id, kI64), zigzag(v); }
  void boolean(int id, bool v) { header(id, v ? kTrue : kFalse); }
  void binary(int id, std::string_view v) { header(id, kBinary), raw_binary(v); }
  void begin_struct(int id) { header(id, kStruct), last_.push_back(0); }
  // Ends a struct opened with begin_struct() or begin_element().
  void end_struct() { out_.push_back(0), last_.pop_back(); }
  // A list field; then write `size` elements with the elem_* calls.
  void begin_list(int id, Type elem, std::uint32_t size);
  void begin_element() { last_.push_back(0); }  // struct element of a list
  void elem_i32(std::int32_t v) { zigzag(v); }
  void elem_binary(std::string_view v) { raw_binary(v); }
  void stop() { out_.push_back(0); }  // ends the top-level struct

  void varint(std::uint64_t v) {
    while (v >= 0x80) out_.push_back(static_cast<char>((v & 0x7f) | 0x80)), v >>= 7;
    out_.push_back(static_cast<char>(v));
  }

 private:
  void header(int id, Type t);
  void zigzag(std::int64_t v) {
    varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void raw_binary(std::string_view v) { varint(v.size()), out_.append(v); }

  std::string& out_;
  std::vector<int> last_;
};

// A parsed value. Structs keep (id, value) fields; lists keep elements.
struct Value {
  Type type = kStop;
  std::int64_t i = 0;  // ints, bools (1/0)
  double d = 0;
  std::string_view bin;                       // points into the parsed buffer
  std::vector<std::pair<int, Value>> fields;  // struct
  std::vector<Value> elems;                   // list / set

  const Value* field(int id) const {
    for (const auto& f : fields)
      if (f.first == id) return &f.second;
    return nullptr;
  }
  // Required-field accessors: throw ThriftError if absent or of the wrong kind.
  const Value& need(int id) const;
  std::int64_t int_or(int id, std::int64_t fallback) const {
    const Value* v = field(id);
    return v ? v->i : fallback;
  }
};

// Parses one struct starting at data; returns the bytes consumed.
std::size_t parse_struct(const std::uint8_t* data, std::size_t size, Value& out);

}  // namespace meterd::storage::thrift
