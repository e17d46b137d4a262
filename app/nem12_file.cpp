#include "app/nem12_file.hpp"

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace meterd::app {

GeneratorStats generate_nem12_file(const GeneratorOptions& options,
                                   const std::filesystem::path& path) {
  const auto close = [](std::FILE* f) { std::fclose(f); };
  std::unique_ptr<std::FILE, decltype(close)> file(std::fopen(path.c_str(), "wb"), close);
  if (!file) throw std::runtime_error("cannot create " + path.string());
  const GeneratorStats stats = generate_nem12(options, [&](std::string_view chunk) {
    if (std::fwrite(chunk.data(), 1, chunk.size(), file.get()) != chunk.size())
      throw std::runtime_error("cannot write " + path.string());
  });
  if (std::fclose(file.release()) != 0) throw std::runtime_error("cannot write " + path.string());
  return stats;
}

}  // namespace meterd::app
