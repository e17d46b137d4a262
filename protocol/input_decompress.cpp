#include "protocol/input_decompress.hpp"

#include <algorithm>
#include <string>

#include <boost/iostreams/concepts.hpp>
#include <boost/iostreams/filter/bzip2.hpp>
#include <boost/iostreams/filter/gzip.hpp>
#include <boost/iostreams/filter/zlib.hpp>
#include <boost/iostreams/filtering_stream.hpp>

#include <bzlib.h>
#include <zlib.h>

namespace meterd {
namespace {

namespace io = boost::iostreams;

// Large enough that decoding is not dominated by per-call overhead, small enough to stay cheap
// when archives nest.
constexpr std::streamsize kBufferBytes = 64 * 1024;

// Boost copies devices, so this holds the source by pointer.
struct ByteSourceDevice {
  using char_type = char;
  using category = io::source_tag;
  ByteSource* source;
  std::streamsize read(char* out, std::streamsize size) {
    const std::size_t got = source->read(out, static_cast<std::size_t>(size));
    return got == 0 ? -1 : static_cast<std::streamsize>(got);
  }
};

std::string describe_zlib(int code) {
  switch (code) {
    case Z_DATA_ERROR:
      return "corrupt deflate data";
    case Z_BUF_ERROR:
      return "truncated deflate data";
    case Z_MEM_ERROR:
      return "out of memory";
    default:
      return "zlib error " + std::to_string(code);
  }
}

std::string describe(const io::gzip_error& e) {
  switch (e.error()) {
    case io::gzip::zlib_error:
      return describe_zlib(e.zlib_error_code());
    case io::gzip::bad_crc:
      return "CRC mismatch (corrupt data)";
    case io::gzip::bad_length:
      return "length mismatch (corrupt data)";
    case io::gzip::bad_header:
      return "bad gzip header (not gzip, or garbage after the data)";
    case io::gzip::bad_footer:
      return "truncated (gzip trailer missing)";
    case io::gzip::bad_method:
      return "unsupported gzip compression method";
    default:
      return "gzip error " + std::to_string(e.error());
  }
}

std::string describe(const io::bzip2_error& e) {
  switch (e.error()) {
    case BZ_DATA_ERROR:
      return "corrupt bzip2 data";
    case BZ_DATA_ERROR_MAGIC:
      return "bad bzip2 header (not bzip2, or garbage after the data)";
    case BZ_UNEXPECTED_EOF:
      return "truncated bzip2 data";
    case BZ_MEM_ERROR:
      return "out of memory";
    default:
      return "bzip2 error " + std::to_string(e.error());
  }
}

class DecompressingSource final : public ByteSource {
 public:
  DecompressingSource(InputKind kind, ByteSource& compressed, std::string name)
      : name_(std::move(name)), kind_(kind) {
    if (kind == InputKind::gzip)
      in_.push(io::gzip_decompressor(io::gzip::default_window_bits, kBufferBytes), kBufferBytes);
    else
      in_.push(io::bzip2_decompressor(false, kBufferBytes), kBufferBytes);
    in_.push(ByteSourceDevice{&compressed}, kBufferBytes);
  }

  ~DecompressingSource() override {
    // Closing a half-read stream may complain about it; the reader already knows.
    try {
      in_.reset();
    } catch (...) {
    }
  }

  std::size_t read(char* out, std::size_t size) override {
    if (finished_) return 0;
    std::streambuf& decoded = *in_.rdbuf();
    // Only the decoders' own errors become InputErrors: what the source below throws (a
    // std::system_error of the file) passes through as it is.
    try {
      // At most one refill per call, and only once what the last one decoded was handed out:
      // a decoder error then comes after the same bytes whatever the caller's read sizes, so
      // the expansion limits see the same walk.
      if (decoded.in_avail() <= 0 && decoded.sgetc() == std::char_traits<char>::eof()) {
        finished_ = true;
        return 0;
      }
      const std::streamsize ready =
          std::min<std::streamsize>(static_cast<std::streamsize>(size), decoded.in_avail());
      return static_cast<std::size_t>(decoded.sgetn(out, ready));
    } catch (const InputError&) {
      throw;  // from the layer below, already names its culprit
    } catch (const io::gzip_error& e) {
      fail(describe(e));
    } catch (const io::bzip2_error& e) {
      fail(describe(e));
    } catch (const io::zlib_error& e) {
      fail(describe_zlib(e.error()));
    } catch (const std::ios_base::failure& e) {
      fail(e.what());
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw InputError(name_ + ": " + to_string(kind_) + ": " + what);
  }

  std::string name_;
  InputKind kind_;
  io::filtering_istream in_;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<ByteSource> make_decompressing_source(InputKind kind, ByteSource& compressed,
                                                      std::string name) {
  return std::make_unique<DecompressingSource>(kind, compressed, std::move(name));
}

}  // namespace meterd
