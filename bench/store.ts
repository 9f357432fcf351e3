/**
 * Store write throughput: appends/s of 1.5 KB records, with group commit and with one commit per
 * append (the baseline, `groupCommit: false`: a FIFO of single-write transactions in call order),
 * for SQLite FULL, SQLite NORMAL and PostgreSQL — side by side in one run, with ratios. Load is 256 appends in flight so group commit has something to group. Each pair
 * alternates rounds so shared-machine load changes hit both sides alike.
 *
 *   npm run bench:store                     (PostgreSQL from NHS_TEST_PG_URL, default local)
 *   NHS_BENCH_SECONDS=5 npm run bench:store
 *   NHS_BENCH_ONLY=postgres npm run bench:store
 *
 * Targets (bench/store.md): SQLite FULL group ≥ 50,000/s and ≥ 5× one-commit-per-append;
 * PostgreSQL group ≥ 10× one-commit-per-append.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import type { Store, StoreOptions } from '../lib/store';
import { median } from './stats';
// The built package (dist/, what Node-RED loads; `npm run bench:store` builds it first), not the
// TypeScript sources through tsx, whose keepNames wrappers add CPU to every call.
const { createStore } = require('../dist/lib/store') as typeof import('../lib/store');

const SECONDS = Number(process.env.NHS_BENCH_SECONDS ?? 4);
/** `NHS_BENCH_ONLY=postgres` (or `sqlite`) runs one backend, e.g. to profile it alone. */
const ONLY = process.env.NHS_BENCH_ONLY;
const runs = (backend: 'sqlite' | 'postgres'): boolean => ONLY === undefined || ONLY === '' || ONLY === backend;
const ROUNDS = 4;
const IN_FLIGHT = 256;
const RECORD = Buffer.alloc(1536);
for (let i = 0; i < RECORD.length; i++) RECORD[i] = 0x20 + ((i * 31) % 90);
const pgUrl = process.env.NHS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const tmp = join(__dirname, 'tmp', `store-${process.pid}`);

interface Result { name: string; perSec: number; appends: number; commits: number; avgBatch: number; cpuUsPerAppend: number }

/** One timed round of appends against an open store. */
async function round(store: Store, ms: number): Promise<{ n: number; secs: number; cpuUs: number; commits: number }> {
  const before = store.stats!().commits;
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await store.appendMessage({ channel: 'bench', raw: RECORD, controlId: `B${n}`, messageType: 'ADT^A01' });
      n++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { n, secs: (performance.now() - t0) / 1000, cpuUs: cpu.user + cpu.system, commits: store.stats!().commits - before };
}

/**
 * Group commit and its baseline measured in alternating rounds on open stores, so a change in
 * machine load (this box is shared) hits both alike; the figure is the median round.
 */
async function pair(label: string, opts: StoreOptions, optsBaseline: StoreOptions): Promise<Result[]> {
  const stores = [createStore(opts), createStore(optsBaseline)];
  const names = [`${label}, group commit`, `${label}, commit per append`];
  try {
    for (const st of stores) {
      await st.open();
      // Warm-up: page cache, prepared statements, pool connections.
      await Promise.all(Array.from({ length: IN_FLIGHT }, () => st.appendMessage({ channel: 'warm', raw: RECORD })));
    }
    const rounds: Awaited<ReturnType<typeof round>>[][] = [[], []];
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < 2; k++) rounds[k]!.push(await round(stores[k]!, (SECONDS * 1000) / ROUNDS));
    }
    return rounds.map((rs, k) => {
      const n = rs.reduce((a, x) => a + x.n, 0);
      const commits = rs.reduce((a, x) => a + x.commits, 0);
      return {
        name: names[k]!, perSec: median(rs.map((x) => x.n / x.secs)), appends: n, commits,
        avgBatch: commits ? n / commits : 0, cpuUsPerAppend: rs.reduce((a, x) => a + x.cpuUs, 0) / n,
      };
    });
  } finally {
    for (const st of stores) await st.close();
  }
}

async function pgReachable(): Promise<boolean> {
  const c = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

async function dropSchema(schema: string): Promise<void> {
  const c = new Client({ connectionString: pgUrl });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  mkdirSync(tmp, { recursive: true });
  const results: Result[] = [];
  const file = (k: string): string => join(tmp, `${k}.sqlite`);
  try {
    if (runs('sqlite')) results.push(...await pair('sqlite full', { backend: 'sqlite', file: file('fg'), durability: 'full' }, { backend: 'sqlite', file: file('fs'), durability: 'full', groupCommit: false }));
    if (runs('sqlite')) results.push(...await pair('sqlite normal', { backend: 'sqlite', file: file('ng'), durability: 'normal' }, { backend: 'sqlite', file: file('ns'), durability: 'normal', groupCommit: false }));
    if (!runs('postgres')) {
      // skipped on request
    } else if (await pgReachable()) {
      const schema = (k: string): string => `nhs_bench_${process.pid}_${k}`;
      try {
        results.push(...await pair('postgres full', { backend: 'postgres', url: pgUrl, schema: schema('g'), durability: 'full' }, { backend: 'postgres', url: pgUrl, schema: schema('s'), durability: 'full', groupCommit: false }));
      } finally {
        await dropSchema(schema('g'));
        await dropSchema(schema('s'));
      }
    } else {
      console.log(`PostgreSQL not reachable at ${pgUrl.replace(/\/\/[^@]*@/, '//…@')}: PostgreSQL rows skipped`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  console.log(`\nstore appends: 1.5 KB records, ${IN_FLIGHT} in flight, ${SECONDS} s each in ${ROUNDS} alternating rounds (median round shown), node ${process.version}, ${cpus().length} CPU(s), load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(1)).join(' ')} at start, ${loadavg().map((l) => l.toFixed(1)).join(' ')} at end\n`);
  console.log(`${'configuration'.padEnd(36)} ${'appends/s'.padStart(12)} ${'appends'.padStart(9)} ${'commits'.padStart(9)} ${'avg batch'.padStart(10)} ${'CPU µs/append'.padStart(14)}`);
  for (const r of results) {
    console.log(`${r.name.padEnd(36)} ${Math.round(r.perSec).toLocaleString('en-GB').padStart(12)} ${String(r.appends).padStart(9)} ${String(r.commits).padStart(9)} ${r.avgBatch.toFixed(1).padStart(10)} ${r.cpuUsPerAppend.toFixed(1).padStart(14)}`);
  }
  const get = (name: string): Result | undefined => results.find((r) => r.name === name);
  const ratio = (g: string, s: string): number | undefined => {
    const a = get(g);
    const b = get(s);
    return a && b ? a.perSec / b.perSec : undefined;
  };
  console.log('');
  const checks: [string, number | undefined, number][] = [
    ['sqlite full: group / commit-per-append', ratio('sqlite full, group commit', 'sqlite full, commit per append'), 5],
    ['sqlite normal: group / commit-per-append', ratio('sqlite normal, group commit', 'sqlite normal, commit per append'), 1],
    ['postgres: group / commit-per-append', ratio('postgres full, group commit', 'postgres full, commit per append'), 10],
  ];
  for (const [label, r, target] of checks) {
    if (r === undefined) continue;
    console.log(`${label.padEnd(44)} ${r.toFixed(1).padStart(7)}×   ${target > 1 ? (r >= target ? `target ≥ ${target}× met` : `target ≥ ${target}× MISSED`) : ''}`);
  }
  const fg = get('sqlite full, group commit');
  if (fg) console.log(`${'sqlite full group commit absolute'.padEnd(44)} ${Math.round(fg.perSec).toLocaleString('en-GB').padStart(7)}/s ${fg.perSec >= 50_000 ? 'target ≥ 50,000/s met' : 'target ≥ 50,000/s MISSED'}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
