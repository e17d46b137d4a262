#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++-14, ASan + UBSan) and runs each for SECONDS:
#   nem12_reader_fuzz      Nem12Reader on NEM12/NEM13 files
#   reading_decoder_fuzz   ReadingDecoder on NDJSON request bodies and batch files
#   input_reader_fuzz      InputReader (gzip, bzip2, zip, nested) against the push API
#   audit_log_fuzz         the audit trail's reader and verify on tampered and torn logs
#
#   scripts/fuzz.sh [SECONDS]      default 60 each (CI); a long run: scripts/fuzz.sh 3600
#   FUZZ_TARGETS="reading_decoder_fuzz" scripts/fuzz.sh 3600     only the targets named
#
# Everything lives in $FUZZ_BUILD_DIR (default <repo>/build-fuzz, not committed):
#   seeds/    rebuilt each run: ../shared/data/nem12/samples (when present) + generated files
#   ndjson-seeds/  rebuilt each run: tests/fuzz/ndjson_seeds + a batch file of each
#   input-seeds/   rebuilt each run: the samples' archives + generated gzip, bzip2 and zip files
#   corpus/, ndjson-corpus/, input-corpus/   what libFuzzer found, kept between runs
#   crashes/  crash-*, leak-*, timeout-* inputs; re-run one with: build-fuzz/<target> FILE
# Exits non-zero when the build fails or the fuzzer finds a crash, leak, timeout or broken
# invariant.
set -euo pipefail

seconds="${1:-60}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$repo/build-fuzz}"
shared="${METERD_SHARED_DIR:-$repo/../shared}"
cxx="${FUZZ_CXX:-clang++-14}"
jobs="${FUZZ_BUILD_JOBS:-2}"

mkdir -p "$build/obj" "$build/seeds" "$build/corpus" "$build/crashes" "$build/ndjson-seeds" \
  "$build/ndjson-corpus" "$build/input-seeds" "$build/input-corpus" "$build/audit-seeds" \
  "$build/audit-corpus"

# make gives an incremental, header-aware (-MMD) build of the protocol sources without
# touching the project's CMake files.
cat >"$build/Makefile" <<EOF
REPO := $repo
CXX := $cxx
COMMON := -std=c++20 -g -march=haswell -I\$(REPO) -Wall -Wextra
SANITIZE := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LIBS := -lboost_iostreams -larchive -lsimdjson -lcrypto -lz -lbz2
PROTOCOL := \$(wildcard \$(REPO)/protocol/*.cpp)
OBJECTS := \$(patsubst \$(REPO)/protocol/%.cpp,obj/%.o,\$(PROTOCOL))

all: nem12_reader_fuzz reading_decoder_fuzz input_reader_fuzz audit_log_fuzz meterd_generate

obj/%.o: \$(REPO)/protocol/%.cpp
	\$(CXX) \$(COMMON) \$(SANITIZE) -fsanitize=fuzzer-no-link -MMD -MP -c \$< -o \$@

obj/nem12_reader_fuzz.o: \$(REPO)/tests/fuzz/nem12_reader_fuzz.cpp
	\$(CXX) \$(COMMON) \$(SANITIZE) -fsanitize=fuzzer -MMD -MP -c \$< -o \$@

nem12_reader_fuzz: obj/nem12_reader_fuzz.o \$(OBJECTS)
	\$(CXX) \$(SANITIZE) -fsanitize=fuzzer \$^ \$(LIBS) -o \$@

obj/reading_decoder_fuzz.o: \$(REPO)/tests/fuzz/reading_decoder_fuzz.cpp
	\$(CXX) \$(COMMON) \$(SANITIZE) -fsanitize=fuzzer -MMD -MP -c \$< -o \$@

reading_decoder_fuzz: obj/reading_decoder_fuzz.o \$(OBJECTS)
	\$(CXX) \$(SANITIZE) -fsanitize=fuzzer \$^ \$(LIBS) -o \$@

obj/input_reader_fuzz.o: \$(REPO)/tests/fuzz/input_reader_fuzz.cpp
	\$(CXX) \$(COMMON) \$(SANITIZE) -fsanitize=fuzzer -MMD -MP -c \$< -o \$@

input_reader_fuzz: obj/input_reader_fuzz.o \$(OBJECTS)
	\$(CXX) \$(SANITIZE) -fsanitize=fuzzer \$^ \$(LIBS) -o \$@

# The audit trail's reader: storage/audit_log.cpp and the file helpers it uses.
AUDIT_OBJECTS := obj/storage_audit_log.o obj/storage_fs_util.o obj/storage_checksum.o

obj/storage_%.o: \$(REPO)/storage/%.cpp
	\$(CXX) \$(COMMON) \$(SANITIZE) -fsanitize=fuzzer-no-link -MMD -MP -c \$< -o \$@

obj/audit_log_fuzz.o: \$(REPO)/tests/fuzz/audit_log_fuzz.cpp
	\$(CXX) \$(COMMON) \$(SANITIZE) -fsanitize=fuzzer -MMD -MP -c \$< -o \$@

audit_log_fuzz: obj/audit_log_fuzz.o \$(AUDIT_OBJECTS) \$(OBJECTS)
	\$(CXX) \$(SANITIZE) -fsanitize=fuzzer \$^ \$(LIBS) -o \$@

# A plain (unsanitised) 'meterd generate' for the seed files.
obj/generate_main.cpp:
	printf '#include "app/commands.hpp"\nint main(int c, char** v) { return meterd::app::run_generate(c - 1, v + 1); }\n' >\$@

meterd_generate: obj/generate_main.cpp \$(REPO)/app/cmd_generate.cpp \$(REPO)/app/nem12_file.cpp \$(REPO)/protocol/nem12_generator.cpp
	\$(CXX) \$(COMMON) -O2 \$^ -o \$@

-include \$(wildcard obj/*.d)
EOF
echo "fuzz.sh: building in $build" >&2
make -C "$build" -j"$jobs" --no-print-directory all

# Seeds: real files first (they carry the quirks), then small generated ones covering 5/15/30
# minutes, 400s, 500s, resent days, defects and CRLF.
rm -f "$build/seeds/"*
samples="$shared/data/nem12/samples"
if [[ -d "$samples" ]]; then
  cp "$samples"/* "$build/seeds/"
else
  echo "fuzz.sh: $samples not found; seeding with generated files only" >&2
fi
gen() { "$build/meterd_generate" generate "$@" 2>/dev/null; }
gen --nmis 2 --days 3 --interval 30 --seed 1 -o "$build/seeds/gen_30min.csv"
gen --nmis 1 --days 2 --interval 15 --seed 2 --v-days 0.5 --b2b 0.5 -o "$build/seeds/gen_15min_400_500.csv"
gen --nmis 1 --days 1 --interval 5 --seed 3 --v-days 1 --crlf -o "$build/seeds/gen_5min_V_crlf.csv"
gen --nmis 2 --days 4 --interval 30 --seed 4 --malformed 0.5 --resent 0.3 -o "$build/seeds/gen_30min_defects_resent.csv"
gen --nmis 1 --days 3 --interval 30 --seed 5 --suffixes E1,E2,B1,Q1 --b2b 1 --crlf -o "$build/seeds/gen_4suffix_b2b_crlf.csv"

rm -f "$build/ndjson-seeds/"*
cp "$repo/tests/fuzz/ndjson_seeds/"* "$build/ndjson-seeds/"

# Input seeds: every layer the walk knows, small (under -max_len) and nested.
rm -rf "$build/input-seeds/"*
is="$build/input-seeds"
if [[ -d "$samples" ]]; then
  find "$samples" -maxdepth 1 -type f -size -16k -exec cp {} "$is/" \;
fi
gen --nmis 1 --days 2 --interval 30 --seed 6 -o "$is/a.csv"
gen --nmis 1 --days 1 --interval 15 --seed 7 --b2b 1 -o "$is/b.csv"
gzip -c "$is/a.csv" >"$is/a.csv.gz"
bzip2 -c "$is/b.csv" >"$is/b.csv.bz2"
cat "$is/a.csv.gz" "$is/a.csv.gz" >"$is/cat.csv.gz"
# Found by the fuzzer: a limit crossed just before corrupt data must win at every read size.
bzip2 -c "$is/b.csv" >"$is/b.tmp"
{ head -c 1600000 /dev/zero | bzip2 -c; head -c 200 "$is/b.tmp"; printf 'XX'; tail -c +203 "$is/b.tmp"; } \
  >"$is/zeros_then_corrupt.bz2"
rm "$is/b.tmp"
if command -v zip >/dev/null; then
  (cd "$is" && zip -q inner.zip a.csv b.csv.bz2 && zip -q -0 outer.zip inner.zip a.csv.gz &&
    gzip -c outer.zip >outer.zip.gz && rm inner.zip)
else
  echo "fuzz.sh: zip not found; no generated zip seeds" >&2
fi

# Audit seeds are written by the target itself (METERD_FUZZ_SEED_DIR): logs from AuditLog.
rm -f "$build/audit-seeds/"*

targets="${FUZZ_TARGETS:-nem12_reader_fuzz reading_decoder_fuzz input_reader_fuzz audit_log_fuzz}"

# run_target NAME DICT CORPUS SEEDS [ENV=VALUE...]
run_target() {
  local name="$1" dict="$2" corpus="$3" seeds="$4"
  shift 4
  [[ " $targets " == *" $name "* ]] || return 0
  echo "fuzz.sh: $name for ${seconds}s" >&2
  (cd "$build" && env "$@" "./$name" \
    -max_total_time="$seconds" \
    -max_len=16384 \
    -timeout=25 \
    -rss_limit_mb=2560 \
    -print_final_stats=1 \
    -dict="$dict" \
    -artifact_prefix="$build/crashes/" \
    "$corpus" "$seeds")
}

status=0
run_target nem12_reader_fuzz "$repo/tests/fuzz/nem12.dict" corpus seeds || status=$?
if [[ $status -eq 0 ]]; then
  run_target reading_decoder_fuzz "$repo/tests/fuzz/ndjson.dict" ndjson-corpus ndjson-seeds \
    METERD_FUZZ_SEED_DIR="$build/ndjson-seeds" || status=$?
fi
if [[ $status -eq 0 ]]; then
  run_target input_reader_fuzz "$repo/tests/fuzz/input.dict" input-corpus input-seeds || status=$?
fi
if [[ $status -eq 0 ]]; then
  run_target audit_log_fuzz "$repo/tests/fuzz/audit.dict" audit-corpus audit-seeds \
    METERD_FUZZ_SEED_DIR="$build/audit-seeds" || status=$?
fi

if [[ $status -ne 0 ]]; then
  echo "fuzz.sh: FAILED (exit $status); inputs in $build/crashes:" >&2
  ls -l "$build/crashes" >&2
  exit "$status"
fi
echo "fuzz.sh: no crash in ${seconds}s per target ($targets); corpora: $(ls "$build/corpus" | wc -l) NEM12, $(ls "$build/ndjson-corpus" | wc -l) NDJSON/batch, $(ls "$build/input-corpus" | wc -l) archive inputs, $(ls "$build/audit-corpus" | wc -l) audit logs" >&2
