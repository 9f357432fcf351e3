/**
 * ESR intake throughput on a generated 1,000,000-row GO full extract (250,000 people, 750,000
 * assignments; synthetic): csv-parse alone on the same file (the named baseline: `~` delimiter,
 * ISO-8859-1 stream, rows counted) vs ours — parse + validate every row + joiner/mover/leaver diff
 * against the workforce state in a SQLite store (the node's path: lib/esr/intake.ts, records
 * handed to a no-op sink, state and file watermark committed every 500 rows, one audit record per
 * event). Ours runs three ways: the steady state (the same extract again: a full diff against
 * 1,000,000 stored entities, no events), the first load (every person and assignment is a joiner:
 * 1,000,000 events) with the per-event audit records switched off, and the first load as the node
 * runs it (1,000,000 hash-chained audit records too).
 * Each case runs in its own child process so its peak RSS is its own.
 *
 * `npm run bench:esr` (not in `npm test`). Target (issue 13): ≥ 100,000 rows/s, ≥ 60 % of csv-parse
 * alone in the same run, peak RSS < 200 MB. Figures go in bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { EsrIntake } from '../lib/esr/intake';
import { createStore } from '../lib/store';
import { goName, writeLargeGo } from '../test/lib/esr/fixtures';

const ROWS = Number(process.env.ESR_BENCH_ROWS ?? 1_000_000);

interface Result { case: string; rows: number; ms: number; rssMb: number; events?: number }

async function csvParseAlone(file: string): Promise<Result> {
  const t0 = performance.now();
  let rows = 0;
  const p = createReadStream(file, { encoding: 'latin1', highWaterMark: 1 << 20 }).pipe(parse({ delimiter: '~', quote: false, relax_column_count: true }));
  for await (const r of p as AsyncIterable<string[]>) if (r.length > 0) rows++;
  return { case: 'csv-parse alone', rows, ms: performance.now() - t0, rssMb: process.resourceUsage().maxRSS / 1024 };
}

async function ours(file: string, file2: string, dir: string, second: boolean, audited: boolean): Promise<Result> {
  const store = createStore({ backend: 'sqlite', file: join(dir, 'state.sqlite'), durability: 'normal' });
  await store.open();
  let events = 0;
  let rows = 0;
  const sink = { record: () => { rows++; }, invalid: () => { rows++; }, event: () => { events++; }, alert: () => undefined };
  const opts = { source: 'bench', node: 'bench', store, tempDir: dir, reprocessDuplicates: true, auditEvents: audited };
  if (second) {
    // The steady state: state already holds the first load.
    await new EsrIntake(opts, sink).processLocal(undefined, goName('GDR', 1), file);
    rows = 0;
    events = 0;
  }
  const t0 = performance.now();
  const r = await new EsrIntake(opts, sink).processLocal(undefined, goName('GDR', second ? 2 : 1), second ? file2 : file);
  const ms = performance.now() - t0;
  if (r.outcome !== 'processed') throw new Error(`not processed: ${r.outcome} ${r.reason ?? ''}`);
  await store.close();
  const name = second ? 'ours, steady state (same extract again: full diff, no events)'
    : audited ? 'ours, first load, 1 audit record per event (every row a joiner)' : 'ours, first load, events not audited (every row a joiner)';
  return { case: name, rows, ms, rssMb: process.resourceUsage().maxRSS / 1024, events };
}

async function child(which: string, file: string, file2: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'esr-bench-run-'));
  try {
    const r = which === 'csv' ? await csvParseAlone(file) : await ours(file, file2, dir, which === 'steady', which !== 'first-unaudited');
    process.stdout.write(JSON.stringify(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(which: string, file: string, file2: string): Result {
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, which, file, file2], { maxBuffer: 1 << 20 }).toString();
  return JSON.parse(out.slice(out.indexOf('{'))) as Result;
}

async function main(): Promise<void> {
  if (process.argv[2]) return child(process.argv[2], process.argv[3]!, process.argv[4]!);
  const dir = mkdtempSync(join(tmpdir(), 'esr-bench-'));
  try {
    const file = join(dir, goName('GDR', 1));
    const g0 = performance.now();
    writeLargeGo(file, goName('GDR', 1), ROWS);
    // The same extract under the next sequence number (its header names it), for the steady state.
    const file2 = join(dir, goName('GDR', 2));
    writeLargeGo(file2, goName('GDR', 2), ROWS);
    const mb = statSync(file).size / 1048576;
    console.log(`generated ${ROWS.toLocaleString()} rows, ${mb.toFixed(0)} MB in ${((performance.now() - g0) / 1000).toFixed(1)} s; ${cpus().length} CPUs, node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const results = ['csv', 'steady', 'first-unaudited', 'first', 'csv'].map((w) => run(w, file, file2));
    const base = Math.max(...results.filter((r) => r.case === 'csv-parse alone').map((r) => r.rows / (r.ms / 1000)));
    console.log('| case | rows | s | rows/s | vs csv-parse (best of 2) | peak RSS MB | events |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const rate = r.rows / (r.ms / 1000);
      console.log(`| ${r.case} | ${r.rows.toLocaleString()} | ${(r.ms / 1000).toFixed(2)} | ${Math.round(rate).toLocaleString()} | ${((rate / base) * 100).toFixed(0)} % | ${r.rssMb.toFixed(0)} | ${r.events ?? ''} |`);
    }
    console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => { console.error(e); process.exit(1); });
