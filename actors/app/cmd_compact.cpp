// `meterd compact`: placeholder until the storage layer's implementation lands (same day).
#include <cstdio>

#include "actors/app/commands.hpp"

namespace meterd::app {

int run_compact(int, char**) {
  std::fputs("meterd compact: not implemented yet\n", stderr);
  return 2;
}

}  // namespace meterd::app
