#!/usr/bin/env node
// Test-only: read a Parquet file with an independent reader and print one JSON line
//   {"reader","ok","rows","types","checksum"[,"query"]}
// usage: node read-part.mjs duckdb|hyparquet FILE [SQL over view t]   (SQL: duckdb only)
// The checksum is SHA-256 over every value in a canonical text form, column by column in row
// order (null "\N", integers decimal, doubles JS shortest form, timestamps as integer µs,
// strings as is), so two readers that decode the same values print the same checksum.
// Exit 0 = read fine, 2 = the reader rejected the file.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'

const [reader, file, sql] = process.argv.slice(2)
const NULL = '\\N'

function finish(names, columns, rows, types, extra = {}) {
  const h = createHash('sha256')
  names.forEach((n, i) => h.update(`${n}\n${columns[i].join('\n')}\n`))
  const out = { reader, ok: true, rows, types: names.map((n, i) => `${n}:${types[i]}`).join(','),
                checksum: h.digest('hex'), ...extra }
  console.log(JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? v.toString() : v)))
}

async function duckdb() {
  const { DuckDBInstance } = await import('@duckdb/node-api')
  const db = await DuckDBInstance.create(':memory:', { threads: '1' })
  const con = await db.connect()
  await con.run(`CREATE VIEW t AS SELECT * FROM read_parquet('${file.replaceAll("'", "''")}', hive_partitioning = false)`)
  const desc = (await con.runAndReadAll('DESCRIBE t')).getRowObjectsJS()
  const names = desc.map(d => d.column_name)
  const columns = names.map(() => [])
  let rows = 0
  const text = v => {
    if (v === null || v === undefined) return NULL
    if (typeof v === 'object' && typeof v.micros === 'bigint') return v.micros.toString()
    return String(v)
  }
  for await (const chunk of await con.stream('SELECT * FROM t')) {
    for (let c = 0; c < chunk.columnCount; c++) columns[c].push(...chunk.getColumnValues(c).map(text))
    rows += chunk.rowCount
  }
  const extra = {}
  if (sql) extra.query = (await con.runAndReadAll(sql)).getRowObjectsJson()
  finish(names, columns, rows, desc.map(d => d.column_type), extra)
}

async function hyparquet() {
  const { parquetMetadata, parquetRead, parquetSchema } = await import('hyparquet')
  const { compressors } = await import('hyparquet-compressors')
  const buf = readFileSync(file)
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
  const parsers = { timestampFromMicroseconds: v => BigInt(v), timestampFromMilliseconds: v => BigInt(v) * 1000n }
  const md = parquetMetadata(ab, { parsers })
  const leaves = parquetSchema(md).children.map(c => c.element)
  const names = leaves.map(l => l.name)
  const rows = Number(md.num_rows)
  const columns = names.map(() => [])
  await parquetRead({ file: ab, metadata: md, compressors, parsers, rowFormat: 'array',
    onComplete(data) {
      for (const row of data) row.forEach((v, i) => columns[i].push(v === null || v === undefined ? NULL : String(v)))
    } })
  for (const [i, col] of columns.entries()) if (col.length !== rows) throw new Error(`${names[i]}: ${col.length} values, ${rows} rows`)
  const type = l => l.logical_type?.type ?? l.converted_type ?? l.type
  finish(names, columns, rows, leaves.map(type))
}

try {
  if (reader === 'duckdb') await duckdb()
  else if (reader === 'hyparquet') await hyparquet()
  else { console.error('usage: node read-part.mjs duckdb|hyparquet FILE [SQL]'); process.exit(1) }
} catch (e) {
  console.log(JSON.stringify({ reader, ok: false, error: String(e?.message ?? e) }))
  process.exit(2)
}
