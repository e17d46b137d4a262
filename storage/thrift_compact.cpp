#include "storage/thrift_compact.hpp"

#include <cstring>

namespace meterd::storage::thrift {

void Writer::header(int id, Type t) {
  const int delta = id - last_.back();
  if (delta > 0 && delta <= 15) {
    out_.push_back(static_cast<char>((delta << 4) | t));
  } else {
    out_.push_back(static_cast<char>(t));
    zigzag(id);
  }
  last_.back() = id;
}

void Writer::begin_list(int id, Type elem, std::uint32_t size) {
  header(id, kList);
  if (size < 15) {
    out_.push_back(static_cast<char>((size << 4) | elem));
  } else {
    out_.push_back(static_cast<char>(0xf0 | elem));
    varint(size);
  }
}

namespace {

struct Parser {
  const std::uint8_t* p;
  const std::uint8_t* end;
  int depth = 0;

  [[noreturn]] void fail(const char* what) { throw ThriftError(std::string("thrift: ") + what); }
  std::uint8_t byte() {
    if (p >= end) fail("truncated");
    return *p++;
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = byte();
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint too long");
  }
  std::int64_t zigzag() {
    const std::uint64_t v = varint();
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
  }

  void value(Type t, Value& out) {
    out.type = t;
    switch (t) {
      case kTrue:
        out.i = 1;
        return;
      case kFalse:
        out.i = 0;
        return;
      case kI8:
        out.i = static_cast<std::int8_t>(byte());
        return;
      case kI16:
      case kI32:
      case kI64:
        out.i = zigzag();
        return;
      case kDouble:
        if (end - p < 8) fail("truncated double");
        std::memcpy(&out.d, p, 8);
        p += 8;
        return;
      case kBinary: {
        const std::uint64_t n = varint();
        if (n > static_cast<std::uint64_t>(end - p)) fail("binary length out of bounds");
        out.bin = std::string_view(reinterpret_cast<const char*>(p), n);
        p += n;
        return;
      }
      case kList:
      case kSet: {
        const std::uint8_t h = byte();
        std::uint64_t n = h >> 4;
        if (n == 15) n = varint();
        const Type et = static_cast<Type>(h & 0x0f);
        if (n > static_cast<std::uint64_t>(end - p)) fail("list size out of bounds");
        out.elems.resize(n);
        for (auto& e : out.elems) {
          if (et == kTrue || et == kFalse) {  // bool list elements are one byte each
            e.type = et;
            e.i = byte() == 1;
          } else {
            value(et, e);
          }
        }
        return;
      }
      case kStruct:
        structure(out);
        return;
      case kMap: {
        const std::uint64_t n = varint();
        if (n == 0) return;
        if (n > static_cast<std::uint64_t>(end - p)) fail("map size out of bounds");
        const std::uint8_t kv = byte();
        for (std::uint64_t k = 0; k < n; ++k) {
          Value a, b;
          value(static_cast<Type>(kv >> 4), a);
          value(static_cast<Type>(kv & 0x0f), b);
        }
        return;
      }
      default:
        fail("unknown type");
    }
  }

  void structure(Value& out) {
    if (++depth > 32) fail("nesting too deep");
    out.type = kStruct;
    int last = 0;
    for (;;) {
      const std::uint8_t h = byte();
      if (h == 0) break;
      const Type t = static_cast<Type>(h & 0x0f);
      const int delta = h >> 4;
      const int id = delta ? last + delta : static_cast<int>(zigzag());
      last = id;
      out.fields.emplace_back(id, Value{});
      value(t, out.fields.back().second);
    }
    --depth;
  }
};

}  // namespace

const Value& Value::need(int id) const {
  const Value* v = field(id);
  if (!v) throw ThriftError("thrift: required field " + std::to_string(id) + " missing");
  return *v;
}

std::size_t parse_struct(const std::uint8_t* data, std::size_t size, Value& out) {
  Parser parser{data, data + size};
  parser.structure(out);
  return static_cast<std::size_t>(parser.p - data);
}

}  // namespace meterd::storage::thrift
