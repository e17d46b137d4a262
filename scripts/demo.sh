#!/usr/bin/env bash
# The main job on the embedded default: install, build, start the daemon with conf/meterd.conf
# (data in ./meterd-data, spool in ./meterd-spool under demo-data/), feed it a generated demo
# dataset through the spool directory, wait until it is durable, query it, drain with SIGTERM.
#   scripts/demo.sh            (as root on a fresh Debian 12 machine)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh" "$repo/build-release"
meterd="$repo/build-release/meterd"
demo="$repo/demo-data"
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"

file="NEM12#DEMO0001#MDP#RETAILER.csv"
echo "== generating a demo dataset: 200 NMIs x 2 suffixes x 90 days of 30-minute data,"
echo "   with 400/500 records, a few malformed lines and re-sent days"
"$meterd" generate --nmis 200 --days 90 --interval 30 --v-days 0.05 --b2b 0.05 \
  --malformed 0.0005 --resent 0.01 --seed 7 -o "$demo/$file"

echo "== starting the daemon: meterd serve --config conf/meterd.conf (logs in demo-data/serve.log)"
"$meterd" serve --config "$repo/conf/meterd.conf" 2>"$demo/serve.log" &
daemon=$!
trap 'kill "$daemon" 2>/dev/null || true' EXIT
until [[ -d meterd-spool/incoming ]]; do
  kill -0 "$daemon" 2>/dev/null || { echo "the daemon did not start:" >&2; cat "$demo/serve.log" >&2; exit 1; }
  sleep 0.1
done

echo "== dropping the file into meterd-spool/incoming/ (written elsewhere, renamed in)"
cp "$demo/$file" "meterd-spool/.$file.tmp"
mv "meterd-spool/.$file.tmp" "meterd-spool/incoming/$file"
for _ in $(seq 1 1500); do
  compgen -G "meterd-spool/reports/*.json" >/dev/null && break
  kill -0 "$daemon" 2>/dev/null || { echo "the daemon stopped:" >&2; tail "$demo/serve.log" >&2; exit 1; }
  sleep 0.2
done
echo "== ingest report (meterd-spool/reports/):"
head -c 900 meterd-spool/reports/*.json
echo
echo "== stopping the daemon (SIGTERM drains and exits 0)"
kill -TERM "$daemon"
wait "$daemon"
trap - EXIT

first_nmi=$(sed -n '2s/^200,\([^,]*\),.*/\1/p' "$demo/$file")
echo "== meterd query --data-dir meterd-data --nmi $first_nmi --suffix E1 (first 6 of 48 x 90 rows)"
# Into a file first: `query | head` would end the query with SIGPIPE, which pipefail reports.
"$meterd" query --data-dir meterd-data --nmi "$first_nmi" --suffix E1 --format csv >one-stream.csv
head -7 one-stream.csv
echo "== its daily energy (rollup daily_energy, docs/rollups.md), first 4 days:"
"$meterd" query --data-dir meterd-data --rollup daily_energy --nmi "$first_nmi" --suffix E1 >one-rollup.csv
head -5 one-rollup.csv
echo "== rows in the store (newest version per key):"
"$meterd" query --data-dir meterd-data --format csv | tail -n +2 | wc -l
echo "== parts:"
find meterd-data/readings -name '*.parquet' | sort >parts.txt
head parts.txt
