#!/usr/bin/env bash
# Checks the include graph per folder: arrows point down only (app -> actors -> storage ->
# protocol), and each third-party library is used by the one layer that owns it. The CMake
# libraries enforce the first rule at compile time as well (each sees only its own and lower
# include roots); this script also catches a wrong include in a header nobody compiles yet, and
# names the file and line.
#   scripts/check-layers.sh        exits 1 and lists every violation
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# folder: the project folders its files may include.
declare -A allowed=(
  [protocol]="protocol"
  [storage]="storage protocol"
  [actors]="actors storage protocol"
  [app]="app actors storage protocol"
)
# third-party header prefix: the only folders that may include it (tests and bench may too).
declare -A owner=(
  [caf/]="actors"
  [boost/beast]="app"
  [boost/asio]="app"
  [openssl/ssl]="app"
  [simdjson]="protocol"
  [archive]="protocol"
  [boost/iostreams]="protocol"
  [zstd]="storage"
)

status=0
for folder in protocol storage actors app; do
  while IFS=: read -r file line text; do
    target=$(sed -E 's/.*#include[[:space:]]*"([^/"]+)\/.*/\1/' <<<"$text")
    if [[ " ${allowed[$folder]} " != *" $target "* ]]; then
      echo "$file:$line: $folder/ may not include $target/ (${text#*#})"
      status=1
    fi
  done < <(grep -nE '^[[:space:]]*#include[[:space:]]*"[^/"]+/' -- "$folder"/*.hpp "$folder"/*.cpp 2>/dev/null |
           sed -E 's/^([^:]+):([0-9]+):/\1:\2:/' || true)
  while IFS=: read -r file line text; do
    header=$(sed -E 's/.*#include[[:space:]]*<([^>]+)>.*/\1/' <<<"$text")
    for prefix in "${!owner[@]}"; do
      if [[ "$header" == "$prefix"* && " ${owner[$prefix]} " != *" $folder "* ]]; then
        echo "$file:$line: <$header> belongs to ${owner[$prefix]}/, not $folder/"
        status=1
      fi
    done
  done < <(grep -nE '^[[:space:]]*#include[[:space:]]*<' -- "$folder"/*.hpp "$folder"/*.cpp 2>/dev/null || true)
done

# Every project folder that holds C++ must be one of the layers, bench/ or tests/.
for dir in $(git ls-files '*.cpp' '*.hpp' | cut -d/ -f1 | sort -u); do
  case "$dir" in protocol | storage | actors | app | bench | tests) ;;
    *) echo "$dir/: C++ outside the layers (protocol, storage, actors, app), bench/ and tests/"; status=1 ;;
  esac
done

if [[ $status -eq 0 ]]; then
  echo "check-layers: every include points down (app -> actors -> storage -> protocol)"
fi
exit "$status"
