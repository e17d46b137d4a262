#!/usr/bin/env bash
# The test command: installs what is needed, builds, and runs every test.
#   scripts/test.sh            (as root on a fresh Debian 12 machine)
# Environment: BUILD_DIR (default build), SANITIZE=1 for an ASan+UBSan build,
# METERD_LONG_TESTS=1 for the long soak runs.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/scripts/install-deps.sh"
# npm ci wipes and reinstalls: skip it when node_modules already matches the lockfile.
lock="$repo/tests/parquet/package-lock.json"
stamp="$repo/tests/parquet/node_modules/.meterd-installed-lock"
if ! cmp -s "$lock" "$stamp" 2>/dev/null; then
  "$repo/scripts/install-test-deps.sh"
  cp "$lock" "$stamp"
fi
build="${BUILD_DIR:-$repo/build}"
args=()
if [[ "${SANITIZE:-0}" == 1 ]]; then
  args+=(-DMETERD_SANITIZE=ON)
  build="${BUILD_DIR:-$repo/build-asan}"
fi
BUILD_TYPE=RelWithDebInfo "$repo/scripts/build.sh" "$build" "${args[@]}"
cd "$build"
ctest --output-on-failure --timeout 900 -j"${TEST_JOBS:-2}"
