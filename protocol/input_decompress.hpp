// gzip and bzip2 streams, decoded on the fly through Boost.Iostreams.
#pragma once

#include <memory>
#include <string>

#include "protocol/input_byte_source.hpp"
#include "protocol/input_sniff.hpp"

namespace meterd {

// Decodes `compressed` (which must outlive the result). `kind` is gzip or bzip2; concatenated
// streams (pigz, pbzip2, `cat a.gz b.gz`) decode as one. Corrupt or truncated data throws an
// InputError naming `name`; what `compressed` throws passes through Boost.Iostreams unchanged.
std::unique_ptr<ByteSource> make_decompressing_source(InputKind kind, ByteSource& compressed,
                                                      std::string name);

}  // namespace meterd
