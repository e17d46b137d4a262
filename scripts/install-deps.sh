#!/usr/bin/env bash
# Installs everything meterd needs to build and run, from Debian's packages only.
# Idempotent: skips apt when every package is already installed. Run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libcaf-dev libsimdjson-dev libmimalloc-dev libboost-iostreams-dev libboost-dev
  libarchive-dev libzstd-dev zlib1g-dev libbz2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev clang-format
  libssl-dev openssl  # TLS of the HTTP API; the TLS test makes a certificate
  libxxhash-dev  # XXH3: the forwarder's keys of the requests it sent (header-only)
  prometheus  # promtool: the HTTP metrics test checks /metrics with a real Prometheus parser
)
# The test-only Parquet readers come from npm; Debian's npm is needed only where no npm exists.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
