#include "tests/test_support.hpp"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace meterd::test {

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("METERD_SHARED_DIR"); env && *env) {
    if (std::filesystem::is_directory(env)) return env;
    return {};
  }
  std::filesystem::path dir = METERD_SHARED_DIR;
  if (std::filesystem::is_directory(dir / "data" / "nem12" / "samples"))
    return std::filesystem::weakly_canonical(dir);
  return {};
}

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::filesystem::path samples_dir() {
  return shared_dir() / "data" / "nem12" / "samples";
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::filesystem::path source_dir() {
  return METERD_SOURCE_DIR;
}
std::filesystem::path meterd_binary() {
  return METERD_BINARY;
}

std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

GeneratorStats generate_nem12_file(const GeneratorOptions& options,
                                   const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary);
  const GeneratorStats stats = generate_nem12(
      options, [&](std::string_view chunk) { out.write(chunk.data(), chunk.size()); });
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
  return stats;
}

}  // namespace meterd::test
