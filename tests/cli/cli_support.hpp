// Running the built `meterd` as a user does, for the CLI tests.
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/test_support.hpp"

namespace meterd::test {

struct CommandRun {
  int status = -1;
  std::string out, err;
};

// `meterd ARGS` through the shell; stdout and stderr captured whole.
inline CommandRun run_meterd(const std::string& args) {
  static const auto dir = make_temp_dir("meterd-cli");
  const auto out = dir / "stdout", err = dir / "stderr";
  const std::string command =
      meterd_binary().string() + " " + args + " >" + out.string() + " 2>" + err.string();
  const int raw = std::system(command.c_str());
  CommandRun run;
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.out = read_file(out);
  run.err = read_file(err);
  return run;
}

inline std::string quoted(const std::filesystem::path& path) {
  std::string out = "'";  // built piecewise: g++ 12 warns falsely (-Wrestrict) on "'" + string
  out += path.string();
  out += '\'';
  return out;
}

inline std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace meterd::test
