#!/bin/sh
# Installs the test-only npm dependencies (DuckDB and hyparquet, pinned in
# tests/parquet/package-lock.json) that the storage tests use as independent Parquet readers.
# `npm ci` installs exactly the lockfile and fails if it is out of sync with package.json.
set -eu
cd "$(dirname "$0")/.."
exec npm ci --prefix tests/parquet --no-audit --no-fund
