#!/usr/bin/env node
// Test-only oracle for meterd's shipped rollups, sharing no code with meterd: DuckDB SQL over
// the readings as `meterd query --format csv` prints them (the winners), periods cut from the
// NEM-time text (every time there ends in +10:00). Prints one rollup as CSV, meterd's columns,
// in key order.
// usage: node rollup-oracle.mjs READINGS.csv daily_energy|monthly_energy|monthly_peak_demand|daily_completeness
import { DuckDBInstance } from '@duckdb/node-api'

const [csv, rollup] = process.argv.slice(2)
const db = await DuckDBInstance.create(':memory:', { threads: '1' })
const con = await db.connect()
await con.run(`CREATE VIEW r AS SELECT nmi, suffix, uom, quality,
    interval_start AS t, CAST(interval_minutes AS INTEGER) AS minutes, CAST(value AS DOUBLE) AS value,
    substr(interval_start, 1, 10) || 'T00:00:00+10:00' AS day,
    substr(interval_start, 1, 7) || '-01T00:00:00+10:00' AS month,
    substr(interval_start, 1, 14) || CASE WHEN CAST(substr(interval_start, 15, 2) AS INTEGER) >= 30
      THEN '30' ELSE '00' END || ':00+10:00' AS half_hour
  FROM read_csv('${csv.replaceAll("'", "''")}', header = true, all_varchar = true)`)

const energy = period => `SELECT nmi, suffix, uom, '' AS quality, ${period} AS period_start,
    sum(value) AS value, count(*) AS readings, '' AS at
  FROM r GROUP BY ALL ORDER BY nmi, suffix, uom, period_start`

const queries = {
  daily_energy: energy('day'),
  monthly_energy: energy('month'),
  // The largest 30-minute total of each stream and month; the earliest window of equal ones.
  monthly_peak_demand: `WITH w AS (
      SELECT nmi, suffix, uom, month, half_hour, sum(value) AS total, count(*) AS n
      FROM r GROUP BY ALL),
    ranked AS (SELECT *, row_number() OVER (PARTITION BY nmi, suffix, uom, month
                                            ORDER BY total DESC, half_hour) AS rank,
                         sum(n) OVER (PARTITION BY nmi, suffix, uom, month) AS readings
               FROM w)
    SELECT nmi, suffix, uom, '' AS quality, month AS period_start, total AS value, readings,
           half_hour AS at
    FROM ranked WHERE rank = 1 ORDER BY nmi, suffix, uom, period_start`,
  daily_completeness: `WITH d AS (
      SELECT nmi, suffix, day, count(*) AS present, greatest(count(*), 1440 // min(minutes)) AS expected,
             count(*) FILTER (WHERE quality = 'A') AS a, count(*) FILTER (WHERE quality = 'E') AS e,
             count(*) FILTER (WHERE quality IN ('S', 'F')) AS sf,
             count(*) FILTER (WHERE quality = 'N') AS n,
             count(*) FILTER (WHERE quality NOT IN ('A', 'E', 'S', 'F', 'N')) AS v
      FROM r GROUP BY ALL)
    SELECT nmi, suffix, '' AS uom, '' AS quality, day AS period_start, present / expected AS value,
           present AS readings, expected, a / expected AS share_a, e / expected AS share_e,
           sf / expected AS share_sf, n / expected AS share_n, v / expected AS share_v,
           (expected - present) / expected AS share_missing
    FROM d ORDER BY nmi, suffix, period_start`,
}
if (!queries[rollup]) {
  console.error('usage: node rollup-oracle.mjs READINGS.csv ' + Object.keys(queries).join('|'))
  process.exit(1)
}
const result = await con.runAndReadAll(queries[rollup])
const names = result.columnNames()
const text = v => (v === null || v === undefined ? '' : String(v))
const quote = s => (/[",\n]/.test(s) ? '"' + s.replaceAll('"', '""') + '"' : s)
const lines = [names.join(',')]
for (const row of result.getRowsJS()) lines.push(row.map(v => quote(text(v))).join(','))
process.stdout.write(lines.join('\n') + '\n')
