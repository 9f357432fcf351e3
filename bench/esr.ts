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
 * Each case runs in its own child process (plain node on dist/) so its peak RSS is its own, and
 * reports its CPU time per row (process.cpuUsage) beside rows/s: the machine is shared, rows/s moves
 * with its load, CPU per row much less.
 *
 * `npm run bench:esr` (not in `npm test`). Target (issue 13): ≥ 100,000 rows/s, ≥ 60 % of csv-parse
 * alone in the same run, peak RSS < 200 MB. Figures go in bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { goName, writeLargeGo } from '../test/lib/esr/fixtures';

const repoRoot = join(__dirname, '..');

const ROWS = Number(process.env.ESR_BENCH_ROWS ?? 1_000_000);

interface Result { case: string; rows: number; ms: number; cpuMs: number; rssMb: number; events?: number; load?: number }

/**
 * One case, in plain node on the built package (dist/), so its peak RSS is ours and not the
 * TypeScript loader's (tsx alone adds ~40 MB). Arguments: case, file, file2, state file.
 */
const CHILD = `
const { createReadStream } = require('node:fs');
const { tmpdir } = require('node:os');
const { parse } = require('csv-parse');
const { EsrIntake } = require('./dist/lib/esr/intake');
const { createStore } = require('./dist/lib/store');
const [which, file, file2, stateFile, name1, name2] = process.argv.slice(1);
const rss = () => process.resourceUsage().maxRSS / 1024;
// CPU time of this process (user + system, every thread: SQLite runs on this one): the per-row cost
// that does not depend on how busy the machine is, unlike rows/s.
const cpu0 = process.cpuUsage();
const cpuMs = () => { const c = process.cpuUsage(cpu0); return (c.user + c.system) / 1000; };
(async () => {
  if (which === 'csv') {
    const t0 = performance.now();
    let rows = 0;
    const p = createReadStream(file, { encoding: 'latin1', highWaterMark: 64 * 1024 }).pipe(parse({ delimiter: '~', quote: false, relax_column_count: true }));
    for await (const r of p) if (r.length > 0) rows++;
    process.stdout.write(JSON.stringify({ case: 'csv-parse alone', rows, ms: performance.now() - t0, cpuMs: cpuMs(), rssMb: rss() }));
    return;
  }
  const store = createStore({ backend: 'sqlite', file: stateFile, durability: 'normal' });
  await store.open();
  let rows = 0, events = 0;
  const sink = { record: () => { rows++; }, invalid: () => { rows++; }, event: () => { events++; }, alert: () => undefined };
  const steady = which === 'steady';
  const audited = which === 'first';
  const t0 = performance.now();
  const r = await new EsrIntake({ source: 'bench', node: 'bench', store, tempDir: tmpdir(), auditEvents: audited }, sink).processLocal(undefined, steady ? name2 : name1, steady ? file2 : file);
  const ms = performance.now() - t0;
  if (r.outcome !== 'processed') throw new Error('not processed: ' + r.outcome + ' ' + (r.reason || ''));
  await store.close();
  const name = steady ? 'ours, steady state (same extract again: full diff, no events)'
    : audited ? 'ours, first load, 1 audit record per event (every row a joiner)' : 'ours, first load, events not audited (every row a joiner)';
  process.stdout.write(JSON.stringify({ case: name, rows, ms, cpuMs: cpuMs(), rssMb: rss(), events }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

/**
 * `first-unaudited`: a fresh state, the first extract. `steady`: the state it left, the same
 * extract again under the next sequence number. `first`: a fresh state, audited per event.
 */
function run(which: string, dir: string, file: string, file2: string): Result {
  const state = join(dir, which === 'first' ? 'state-audited.sqlite' : 'state.sqlite');
  const out = execFileSync(process.execPath, ['-e', CHILD, which, file, file2, state, goName('GDR', 1), goName('GDR', 2)], { cwd: repoRoot, maxBuffer: 1 << 20 }).toString();
  return { ...(JSON.parse(out.slice(out.indexOf('{'))) as Result), load: loadavg()[0] };
}

async function main(): Promise<void> {
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
    const results = ['csv', 'first-unaudited', 'steady', 'first', 'csv'].map((w) => run(w, dir, file, file2));
    const csv = results.filter((r) => r.case === 'csv-parse alone');
    const base = Math.max(...csv.map((r) => r.rows / (r.ms / 1000)));
    // CPU µs per row: what one core spends per row, whatever else the machine runs; rows/s on a
    // quiet machine is about 1,000,000 / (µs per row) while one core is free for it.
    const cpuBase = Math.min(...csv.map((r) => (r.cpuMs * 1000) / r.rows));
    console.log('| case | rows | s | rows/s | vs csv-parse (best of 2) | CPU µs/row | CPU vs csv-parse (best) | peak RSS MB | events | load (1 min) |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const rate = r.rows / (r.ms / 1000);
      const perRow = (r.cpuMs * 1000) / r.rows;
      console.log(`| ${r.case} | ${r.rows.toLocaleString()} | ${(r.ms / 1000).toFixed(2)} | ${Math.round(rate).toLocaleString()} | ${((rate / base) * 100).toFixed(0)} % | ${perRow.toFixed(2)} | ${((cpuBase / perRow) * 100).toFixed(0)} % | ${r.rssMb.toFixed(0)} | ${r.events ?? ''} | ${r.load?.toFixed(2) ?? ''} |`);
    }
    console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => { console.error(e); process.exit(1); });
