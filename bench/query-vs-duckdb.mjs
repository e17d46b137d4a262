#!/usr/bin/env node
// `meterd query --nmi N` against DuckDB over the same data directory, side by side in one run:
// the newest version of every reading of one NMI, as rows. Generates and ingests the data the
// first time (4 files x 250 NMIs x 35 days of 5-minute readings: ~10 M readings).
//
//   node bench/query-vs-duckdb.mjs [--meterd build/meterd] [--dir DIR] [--nmis 250] [--days 35]
//                                  [--files 4] [--runs 7] [--full]
//
// meterd: the wall time of the whole `meterd query` process (start, open the store read-only,
// query, write CSV), and its peak RSS when /usr/bin/time is there. DuckDB (npm, pinned in
// tests/parquet; scripts/install-test-deps.sh): the time of the query inside its process, the
// rows read into JavaScript, with the instance and its metadata already warm from the run before.
// Prints medians and the ratio. --full adds one full scan by meterd (time and peak RSS).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const opts = { meterd: join(repo, 'build', 'meterd'), dir: '/tmp/meterd-query-bench', nmis: 250,
               days: 35, files: 4, runs: 7, full: false }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const key = argv[i].replace(/^--/, '')
  if (!(key in opts)) throw new Error(`unknown option ${argv[i]}`)
  opts[key] = typeof opts[key] === 'boolean' ? true : argv[++i]
}
const data = join(opts.dir, 'data')
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const hasTime = existsSync('/usr/bin/time')

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r
}

// One `meterd query`: wall seconds, peak RSS in MiB (or null).
function meterd(args) {
  const t0 = process.hrtime.bigint()
  const r = hasTime ? run('/usr/bin/time', ['-f', '%M', opts.meterd, ...args])
                    : run(opts.meterd, args)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const kib = hasTime ? Number(r.stderr.trim().split('\n').pop()) : NaN
  return { seconds, rss: Number.isFinite(kib) ? kib / 1024 : null }
}

if (!existsSync(join(data, 'manifest'))) {
  mkdirSync(join(opts.dir, 'in'), { recursive: true })
  const files = []
  for (let f = 0; f < Number(opts.files); f++) {
    const file = join(opts.dir, 'in', `f${f}.csv`)
    run(opts.meterd, ['generate', '--nmis', String(opts.nmis), '--days', String(opts.days),
                      '--interval', '5', '--seed', String(f + 1),
                      '--start', `202401${String(f + 1).padStart(2, '0')}`, '-o', file])
    files.push(file)
  }
  run(opts.meterd, ['ingest', '--data-dir', data, ...files])
}
const sample = readFileSync(join(opts.dir, 'in', `f${Math.floor(Number(opts.files) / 2)}.csv`),
                            'utf8').slice(0, 4096).split('\n')[1]
const nmi = sample.split(',')[1]
const out = join(opts.dir, 'out.csv')

const meterdRuns = []
let rss = 0
for (let i = 0; i < Number(opts.runs); i++) {
  const m = meterd(['query', '--data-dir', data, '--nmi', nmi, '--output', out])
  meterdRuns.push(m.seconds)
  rss = Math.max(rss, m.rss ?? 0)
}
const meterdRows = readFileSync(out, 'utf8').split('\n').length - 2  // header, final newline

const require = createRequire(join(repo, 'tests', 'parquet', 'package.json'))
const { DuckDBInstance } = require('@duckdb/node-api')
const db = await DuckDBInstance.create(':memory:')
const con = await db.connect()
const sql = `SELECT * FROM read_parquet('${data}/readings/*/*.parquet') WHERE nmi = '${nmi}'
  QUALIFY row_number() OVER (PARTITION BY nmi, suffix, interval_start
    ORDER BY update_datetime DESC NULLS LAST, file_created DESC NULLS LAST, line DESC) = 1
  ORDER BY nmi, suffix, interval_start`
const duckRuns = []
let duckRows = 0
for (let i = 0; i <= Number(opts.runs); i++) {  // the first run warms up and is not counted
  const t0 = process.hrtime.bigint()
  const rows = (await con.runAndReadAll(sql)).getRows()
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (i > 0) duckRuns.push(seconds)
  duckRows = rows.length
}

const m = median(meterdRuns), d = median(duckRuns)
console.log(`one NMI (${nmi}) over ${data}, ${opts.runs} runs each, medians:`)
console.log(`  meterd query: ${(m * 1000).toFixed(1)} ms (whole process), ${meterdRows} rows, ` +
            `peak RSS ${hasTime ? rss.toFixed(1) + ' MiB' : 'n/a (no /usr/bin/time)'}`)
console.log(`  DuckDB      : ${(d * 1000).toFixed(1)} ms (query inside its process), ${duckRows} rows`)
console.log(`  meterd / DuckDB: ${(m / d).toFixed(2)}`)
if (meterdRows !== duckRows) console.log('  ROWS DIFFER: the answers are not the same')
if (opts.full) {
  const f = meterd(['query', '--data-dir', data, '--output', '/dev/null'])
  console.log(`full scan, meterd query as CSV: ${f.seconds.toFixed(2)} s, peak RSS ` +
              `${f.rss === null ? 'n/a' : f.rss.toFixed(1) + ' MiB'}`)
}
