/**
 * MLLP request/response throughput and latency on loopback, side by side in one run:
 *   raw        a bare node:net server that answers each frame with a fixed ACK (the ceiling)
 *   simple-hl7 simple-hl7's TCP server (parses, builds an ACK)
 *   medplum    @medplum/hl7 Hl7Server (parses, message.buildAck())
 *   nhs-imm    nhs-mllp-in inside the Node-RED runtime, ACK policy `immediate`
 *   nhs-commit nhs-mllp-in inside Node-RED, policy `commit`, SQLite synchronous=FULL, the store's
 *              default write path
 *   nhs-commit-el / nhs-commit-wt  the same with the SQLite writes on the event loop / on the
 *              store's writer thread (`writerThread` false / true)
 *   nhs-commit-pg  the same on PostgreSQL (NHS_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test;
 *              synchronous_commit=on)
 * Each server runs in its own child process; this process is the load generator: C connections,
 * each sending one ~400-byte ADT^A01 and waiting for its ACK before the next.
 *
 *   npm run bench:mllp                 NHS_BENCH_SECONDS=3 (per cell) by default
 * Targets (bench/mllp.md): nhs-imm ≥ 60 % of raw at 16 connections. Issue 9 item 5, per commit
 * row, against t = the store's median single-commit latency measured in this run (200 sequential
 * appends to an idle store of the same backend): event-loop p99 at 16 connections ≤ 5 ms;
 * msg/s at 16 connections ≥ 50 % of 16 ÷ t; p99 at 1 connection ≤ 3 × t.
 */
import { freePort } from '../test/helpers/node-red-process';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { adt, frame, splitFrames } from '../test/helpers/mllp-peer';

const SECONDS = Number(process.env.NHS_BENCH_SECONDS ?? 3);
// NHS_BENCH_CONNS=16 runs a subset of the connection counts (for profiling).
const CONNS = process.env.NHS_BENCH_CONNS ? process.env.NHS_BENCH_CONNS.split(',').map(Number) : [1, 4, 16];
const ALL_KINDS = ['raw', 'simple-hl7', 'medplum', 'nhs-imm', 'nhs-commit', 'nhs-commit-el', 'nhs-commit-wt', 'nhs-commit-pg'] as const;
type Kind = (typeof ALL_KINDS)[number];
const COMMIT_KINDS: readonly Kind[] = ['nhs-commit', 'nhs-commit-el', 'nhs-commit-wt', 'nhs-commit-pg'];
// NHS_BENCH_KINDS=nhs-imm,nhs-commit runs a subset (for profiling); the targets need them all.
const KINDS: readonly Kind[] = process.env.NHS_BENCH_KINDS ? (process.env.NHS_BENCH_KINDS.split(',') as Kind[]) : ALL_KINDS;
const PG_URL = process.env.NHS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// One schema per run: the server child gets the parent's name, so the parent drops what it used.
const PG_SCHEMA = process.env.NHS_BENCH_PG_SCHEMA ?? `bench_mllp_${process.pid}`;
const tmp = join(__dirname, 'tmp', `mllp-${process.pid}`);

// ------------------------------------------------------------------------------------------
// Server side (child process): `--serve <kind> <dir>` prints `READY <port>`.
// ------------------------------------------------------------------------------------------
/**
 * CPU time of this process's main thread alone (µs, Linux /proc; 10 ms ticks), as
 * process.cpuUsage() also counts the store's writer thread.
 */
function mainThreadCpu(): number {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

async function serve(kind: Kind, dir: string): Promise<void> {
  let storeStats: () => unknown = () => null;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  // The parent asks for this process's CPU time, its event-loop delay p99 since the last ask and
  // (nhs-*) the store's commit counters per cell. `STATS 16` before the 16-connection cell turns
  // the delay monitor on for that cell only: its 1 ms timer wakes an idle loop 1,000 times a
  // second, which would show as CPU per message in the slow 1-connection cells.
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'EXIT') process.exit(0); // a normal exit, so --cpu-prof writes its profile
    const loopP99 = delay.count ? delay.percentile(99) / 1e6 : NaN;
    delay.disable();
    delay.reset();
    if (l === 'STATS 16' && kind.startsWith('nhs-')) delay.enable();
    console.log(`STATS ${JSON.stringify({ cpu: process.cpuUsage(), main: mainThreadCpu(), loopP99, elu: performance.eventLoopUtilization(), store: storeStats() })}`);
  });
  const ready = (port: number): void => { console.log(`READY ${port}`); };
  if (kind === 'raw') {
    const ack: Buffer = frame('MSH|^~\\&|R|R|S|S|20260101||ACK^A01^ACK|1|P|2.5.1\rMSA|AA|1\r');
    const s = net.createServer((sock) => {
      sock.setNoDelay(true);
      let pending: Buffer = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        const r = splitFrames(pending.length ? Buffer.concat([pending, d]) : d);
        pending = r.rest;
        for (let i = 0; i < r.frames.length; i++) sock.write(ack);
      });
      sock.on('error', () => undefined);
    });
    s.listen(0, '127.0.0.1', () => ready((s.address() as net.AddressInfo).port));
    return;
  }
  const port = await freePort();
  if (kind === 'simple-hl7') {
     
    const hl7 = require('simple-hl7');
    const app = hl7.tcp();
    app.use((_req: unknown, res: { end(): void }) => res.end());
    app.start(port);
    setTimeout(() => ready(port), 200);
    return;
  }
  if (kind === 'medplum') {
     
    const { Hl7Server } = require('@medplum/hl7');
    const server = new Hl7Server((conn: any) => {
      conn.addEventListener('message', ({ message }: any) => conn.send(message.buildAck()));
    });
    server.start(port);
    setTimeout(() => ready(port), 200);
    return;
  }
   
  const helper = require('node-red-node-test-helper');
  helper.init(require.resolve('node-red'));
  await new Promise<void>((r) => helper.startServer(r));
  // nhs-commit: the nhs-store defaults; -el / -wt: the SQLite write path chosen; -pg: PostgreSQL.
  const storeDef: Record<string, unknown> = kind === 'nhs-commit-pg'
    ? { id: 'st', type: 'nhs-store', backend: 'postgres', schema: PG_SCHEMA, durability: 'full' }
    : { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'bench.sqlite'), durability: 'full' };
  if (kind === 'nhs-commit-el' || kind === 'nhs-commit-wt') storeDef.writerThread = kind === 'nhs-commit-wt';
  const flow = [
    storeDef,
    { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: kind === 'nhs-imm' ? 'immediate' : 'commit', maxConnections: 100, wires: [[], []] },
  ];
  // The helper wraps Node methods in sinon spies that record every call; a benchmark must not
  // pay for that, so put the runtime's own methods back once the flow is loaded.
  const proto = helper._NodePrototype;
  const saved: Record<string, unknown> = {};
  for (const m of ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send']) saved[m] = proto[m];
  // The built package (dist/, what Node-RED loads; `npm run bench:mllp` builds it first), not the
  // TypeScript sources through tsx, whose keepNames wrappers cost CPU on every call.
  await helper.load([require('../dist/nodes/mllp-in'), require('../dist/nodes/store')], flow, { st: { url: PG_URL } });
  helper._sandbox.restore();
  Object.assign(proto, saved);
  const store = await helper.getNode('st').getStore();
  storeStats = () => store.stats();
  ready(await helper.getNode('in').mllpPort());
}


// ------------------------------------------------------------------------------------------
// Load generator
// ------------------------------------------------------------------------------------------
interface Cell { perSec: number; p50: number; p99: number; n: number; total: number; note?: string; usPerMsg?: number; mainUsPerMsg?: number; loopP99?: number }
interface ServerStats { cpu: NodeJS.CpuUsage; main: number; loopP99: number; elu: EventLoopUtilization; store: { commits: number; writes: number; maxBatch: number } | null }

async function load(port: number, conns: number, ms: number): Promise<Cell> {
  const lat: number[] = [];
  const stopAt = performance.now() + ms;
  const warmUntil = performance.now() + Math.min(500, ms / 4);
  let counted = 0;
  let total = 0;
  let t0 = 0;
  const one = (c: number): Promise<void> => new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.setNoDelay(true);
    let i = 0;
    let sentAt = 0;
    let pending: Buffer = Buffer.alloc(0);
    const send = (): void => {
      if (performance.now() >= stopAt) { sock.destroy(); resolve(); return; }
      sentAt = performance.now();
      sock.write(frame(adt(`B${c}-${i++}`)));
    };
    sock.on('connect', send);
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      const r = splitFrames(pending.length ? Buffer.concat([pending, d]) : d);
      pending = r.rest;
      for (let k = 0; k < r.frames.length; k++) {
        const now = performance.now();
        total++;
        if (now >= warmUntil) {
          if (t0 === 0) t0 = now;
          lat.push(now - sentAt);
          counted++;
        }
        send();
      }
    });
  });
  await Promise.all(Array.from({ length: conns }, (_, c) => one(c)));
  const secs = (performance.now() - (t0 || performance.now())) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { perSec: secs > 0 ? counted / secs : 0, p50: q(0.5), p99: q(0.99), n: counted, total };
}

interface Server { proc: ChildProcess; port: number; stats(next?: number): Promise<ServerStats> }

function startServer(kind: Kind, dir: string): Promise<Server> {
  // NHS_BENCH_SERVER_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the server processes.
  const extra = (process.env.NHS_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...extra, '--import', 'tsx', __filename, '--serve', kind, dir], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'production', NHS_BENCH_PG_SCHEMA: PG_SCHEMA } });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  let waiting: ((s: ServerStats) => void)[] = [];
  const stats = (next?: number): Promise<ServerStats> => new Promise((r) => { waiting.push(r); proc.stdin?.write(next === undefined ? 'STATS\n' : `STATS ${next}\n`); });
  return new Promise((resolve, reject) => {
    lines.on('line', (l) => {
      if (l.startsWith('READY ')) resolve({ proc, port: Number(l.slice(6)), stats });
      if (l.startsWith('STATS ')) { const w = waiting; waiting = []; for (const f of w) f(JSON.parse(l.slice(6)) as ServerStats); }
    });
    proc.on('exit', (code) => reject(new Error(`${kind} server exited (${code})`)));
  });
}

/** CPU share of one process over a cell (100 % = one core), from two cpuUsage() readings. */
const cpuPct = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage, ms: number): number => ((b.user - a.user + b.system - a.system) / 1000 / ms) * 100;

/** The store's median single-commit latency t: 200 sequential appends to an idle store, this process. */
async function commitLatency(backend: 'sqlite' | 'postgres', dir: string): Promise<{ median: number; p99: number }> {
   
  const { createStore } = require('../dist/lib/store') as typeof import('../lib/store');
  const store = backend === 'sqlite'
    ? createStore({ backend, file: join(dir, 'solo.sqlite'), durability: 'full' })
    : createStore({ backend, url: PG_URL, schema: `${PG_SCHEMA}_solo`, durability: 'full' });
  await store.open();
  const single: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await store.appendMessage({ channel: 'solo', raw: Buffer.from(adt(`S${i}`)) });
      single.push(performance.now() - t0);
    }
  } finally {
    await store.close();
  }
  single.sort((a, b) => a - b);
  return { median: single[100]!, p99: single[197]! };
}

async function dropPgSchemas(): Promise<void> {
   
  const { Client } = require('pg') as typeof import('pg');
  const c = new Client({ connectionString: PG_URL });
  await c.connect();
  try {
    for (const s of [PG_SCHEMA, `${PG_SCHEMA}_solo`]) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await c.end();
  }
}

const load1 = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const results = new Map<string, Cell>();
  console.log(`MLLP request/response on loopback, ${SECONDS}s per cell, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${load1()}`);
  const usesPg = KINDS.includes('nhs-commit-pg');
  const t: Partial<Record<'sqlite' | 'postgres', number>> = {};
  if (KINDS.some((k) => COMMIT_KINDS.includes(k))) {
    mkdirSync(join(tmp, 'solo'), { recursive: true });
    // The p99 of a lone commit is printed too: the 1-connection p99 cannot be below it.
    const sq = await commitLatency('sqlite', join(tmp, 'solo'));
    t.sqlite = sq.median;
    let line = `t (median single commit, idle store): SQLite ${sq.median.toFixed(3)} ms (p99 ${sq.p99.toFixed(3)} ms = ${(sq.p99 / sq.median).toFixed(1)} × t)`;
    if (usesPg) {
      const pg = await commitLatency('postgres', tmp);
      t.postgres = pg.median;
      line += `, PostgreSQL ${pg.median.toFixed(3)} ms (p99 ${pg.p99.toFixed(3)} ms = ${(pg.p99 / pg.median).toFixed(1)} × t)`;
    }
    console.log(line);
  }
  try {
    await runKinds(results);
  } finally {
    if (usesPg) await dropPgSchemas();
  }
  rmSync(tmp, { recursive: true, force: true });
  report(results, t);
}

async function runKinds(results: Map<string, Cell>): Promise<void> {
  for (const kind of KINDS) {
    const dir = join(tmp, kind);
    mkdirSync(dir, { recursive: true });
    const server = await startServer(kind, dir);
    const { proc, port } = server;
    const stats = (next?: number): Promise<ServerStats> => server.stats(next);
    try {
      for (const c of CONNS) {
        const s0 = await stats(c);
        const g0 = process.cpuUsage();
        const t0 = performance.now();
        const cell = await load(port, c, SECONDS * 1000);
        const ms = performance.now() - t0;
        const g1 = process.cpuUsage();
        const s1 = await stats();
        // Whole cell incl. warm-up: where the CPU went (server vs this load generator) and how
        // many appends shared each commit.
        // CPU per message is far steadier than msg/s on a shared machine: it compares code, not load.
        const usPerMsg = (s1.cpu.user - s0.cpu.user + s1.cpu.system - s0.cpu.system) / Math.max(1, cell.total);
        const sysPerMsg = (s1.cpu.system - s0.cpu.system) / Math.max(1, cell.total);
        const mainPerMsg = (s1.main - s0.main) / Math.max(1, cell.total);
        cell.usPerMsg = usPerMsg;
        cell.mainUsPerMsg = mainPerMsg;
        // NaN (no delay measured in this cell) arrives as null through JSON.
        cell.loopP99 = s1.loopP99 ?? NaN;
        let note = `server ${usPerMsg.toFixed(0)} µs CPU/msg (${sysPerMsg.toFixed(0)} kernel; main thread ${mainPerMsg.toFixed(0)}), loop p99 ${cell.loopP99.toFixed(2)} ms, cpu server ${cpuPct(s0.cpu, s1.cpu, ms).toFixed(0)} % (loop busy ${(performance.eventLoopUtilization(s1.elu, s0.elu).utilization * 100).toFixed(0)} %) loadgen ${cpuPct(g0, g1, ms).toFixed(0)} %`;
        if (s0.store && s1.store) {
          const commits = s1.store.commits - s0.store.commits;
          const writes = s1.store.writes - s0.store.writes;
          note += `  ${writes} appends / ${commits} commits = ${(writes / Math.max(1, commits)).toFixed(1)} per commit (max ${s1.store.maxBatch})`;
        }
        cell.note = note;
        results.set(`${kind}/${c}`, cell);
        console.log(`  ${kind.padEnd(11)} ${String(c).padStart(2)} conn  ${cell.perSec.toFixed(0).padStart(7)} msg/s  p50 ${cell.p50.toFixed(2)} ms  p99 ${cell.p99.toFixed(2)} ms  ${note}`);
      }
    } finally {
      if (process.env.NHS_BENCH_SERVER_ARGS) {
        proc.stdin?.write('EXIT\n');
        await new Promise((r) => proc.once('exit', r));
      } else proc.kill('SIGKILL');
    }
  }
}

function report(results: Map<string, Cell>, t: Partial<Record<'sqlite' | 'postgres', number>>): void {
  const header = `| server | ${CONNS.map((c) => `${c} conn msg/s (p50 / p99 ms)`).join(' | ')} |`;
  console.log(`\n${header}\n|${'---|'.repeat(CONNS.length + 1)}`);
  for (const kind of KINDS) {
    console.log(`| ${kind} | ${CONNS.map((c) => { const r = results.get(`${kind}/${c}`) as Cell; return `${r.perSec.toFixed(0)} (${r.p50.toFixed(2)} / ${r.p99.toFixed(2)})`; }).join(' | ')} |`);
  }
  // Issue 9 item 5, per commit row, against t of the same backend from this run.
  const commitRows = KINDS.filter((k) => COMMIT_KINDS.includes(k) && results.has(`${k}/16`) && results.has(`${k}/1`));
  if (commitRows.length) {
    console.log(`\n| commit row | t | event-loop p99 @16 (≤ 5 ms) | msg/s @16 | vs 16 ÷ t (≥ 50 %) | p99 @1 (≤ 3 × t) | CPU µs/msg @16 (main thread) |\n|---|---|---|---|---|---|---|`);
    for (const k of commitRows) {
      const tt = (k === 'nhs-commit-pg' ? t.postgres : t.sqlite) as number;
      const c16 = results.get(`${k}/16`) as Cell;
      const c1 = results.get(`${k}/1`) as Cell;
      const bound = 16 / (tt / 1000);
      console.log(`| ${k} | ${tt.toFixed(2)} ms | ${c16.loopP99?.toFixed(2)} ms | ${c16.perSec.toFixed(0)} | ${((100 * c16.perSec) / bound).toFixed(0)} % of ${bound.toFixed(0)} | ${c1.p99.toFixed(2)} ms = ${(c1.p99 / tt).toFixed(1)} × t | ${c16.usPerMsg?.toFixed(0)} (${c16.mainUsPerMsg?.toFixed(0)}) |`);
    }
  }
  console.log(`load average at end: ${load1()}`);
  if (KINDS.length !== ALL_KINDS.length) return;
  const at16 = (k: Kind): number => results.get(`${k}/16`)?.perSec ?? 0;
  const imm = at16('nhs-imm') / at16('raw');
  const bestPeer = Math.max(at16('simple-hl7'), at16('medplum'));
  const commit = at16('nhs-commit') / bestPeer;
  console.log(`\nnhs-imm / raw at 16 conn: ${(imm * 100).toFixed(0)} % (target ≥ 60 %) ${imm >= 0.6 ? 'MET' : 'NOT MET'}`);
  console.log(`nhs-commit / best peer at 16 conn: ${commit.toFixed(2)}× (withdrawn target, for the record)`);
}

if (process.argv[2] === '--serve') {
  serve(process.argv[3] as Kind, process.argv[4] as string).catch((e: unknown) => { console.error(e); process.exit(1); });
} else {
  main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
}
