#!/usr/bin/env bash
# Configures and builds meterd into a build directory.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]     default BUILD_DIR: build
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$repo/build}"
shift || true
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$build" -j"${BUILD_JOBS:-$(nproc)}"
