// A generated NEM12 file on disk, for `meterd generate` and `meterd bench`.
#pragma once

#include <filesystem>

#include "protocol/nem12_generator.hpp"

namespace meterd::app {

// Streams generate_nem12 into `path`. Throws std::runtime_error when it cannot be written.
GeneratorStats generate_nem12_file(const GeneratorOptions& options,
                                   const std::filesystem::path& path);

}  // namespace meterd::app
