/**
 * MLLP request/response throughput and latency on loopback, side by side in one run:
 *   raw        a bare node:net server that answers each frame with a fixed ACK (the ceiling)
 *   simple-hl7 simple-hl7's TCP server (parses, builds an ACK)
 *   medplum    @medplum/hl7 Hl7Server (parses, message.buildAck())
 *   nhs-imm    nhs-mllp-in inside the Node-RED runtime, ACK policy `immediate`
 *   nhs-commit nhs-mllp-in inside Node-RED, policy `commit`, SQLite synchronous=FULL
 * Each server runs in its own child process; this process is the load generator: C connections,
 * each sending one ~400-byte ADT^A01 and waiting for its ACK before the next.
 *
 *   npm run bench:mllp                 NHS_BENCH_SECONDS=3 (per cell) by default
 * Targets (bench/mllp.md): nhs-imm ≥ 60 % of raw at 16 connections; nhs-commit ≥ 2× the best
 * peer (simple-hl7, medplum) at 16 connections.
 */
import { freePort } from '../test/helpers/node-red-process';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { adt, frame, splitFrames } from '../test/helpers/mllp-peer';

const SECONDS = Number(process.env.NHS_BENCH_SECONDS ?? 3);
const CONNS = [1, 4, 16];
const ALL_KINDS = ['raw', 'simple-hl7', 'medplum', 'nhs-imm', 'nhs-commit'] as const;
type Kind = (typeof ALL_KINDS)[number];
// NHS_BENCH_KINDS=nhs-imm,nhs-commit runs a subset (for profiling); the targets need all five.
const KINDS: readonly Kind[] = process.env.NHS_BENCH_KINDS ? (process.env.NHS_BENCH_KINDS.split(',') as Kind[]) : ALL_KINDS;
const tmp = join(__dirname, 'tmp', `mllp-${process.pid}`);

// ------------------------------------------------------------------------------------------
// Server side (child process): `--serve <kind> <dir>` prints `READY <port>`.
// ------------------------------------------------------------------------------------------
async function serve(kind: Kind, dir: string): Promise<void> {
  let storeStats: () => unknown = () => null;
  // The parent asks for this process's CPU time and (nhs-*) the store's commit counters per cell.
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'EXIT') process.exit(0); // a normal exit, so --cpu-prof writes its profile
    console.log(`STATS ${JSON.stringify({ cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), store: storeStats() })}`);
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
  const flow = [
    { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'bench.sqlite'), durability: 'full' },
    { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: kind === 'nhs-imm' ? 'immediate' : 'commit', maxConnections: 100, wires: [[], []] },
  ];
  // The helper wraps Node methods in sinon spies that record every call; a benchmark must not
  // pay for that, so put the runtime's own methods back once the flow is loaded.
  const proto = helper._NodePrototype;
  const saved: Record<string, unknown> = {};
  for (const m of ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send']) saved[m] = proto[m];
  // The built package (dist/, what Node-RED loads; `npm run bench:mllp` builds it first), not the
  // TypeScript sources through tsx, whose keepNames wrappers cost CPU on every call.
  await helper.load([require('../dist/nodes/mllp-in'), require('../dist/nodes/store')], flow);
  helper._sandbox.restore();
  Object.assign(proto, saved);
  const store = await helper.getNode('st').getStore();
  storeStats = () => store.stats();
  ready(await helper.getNode('in').mllpPort());
}


// ------------------------------------------------------------------------------------------
// Load generator
// ------------------------------------------------------------------------------------------
interface Cell { perSec: number; p50: number; p99: number; n: number; total: number; note?: string }
interface ServerStats { cpu: NodeJS.CpuUsage; elu: EventLoopUtilization; store: { commits: number; writes: number; maxBatch: number } | null }

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

interface Server { proc: ChildProcess; port: number; stats(): Promise<ServerStats> }

function startServer(kind: Kind, dir: string): Promise<Server> {
  // NHS_BENCH_SERVER_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the server processes.
  const extra = (process.env.NHS_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...extra, '--import', 'tsx', __filename, '--serve', kind, dir], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  let waiting: ((s: ServerStats) => void)[] = [];
  const stats = (): Promise<ServerStats> => new Promise((r) => { waiting.push(r); proc.stdin?.write('STATS\n'); });
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

async function main(): Promise<void> {
  const results = new Map<string, Cell>();
  console.log(`MLLP request/response on loopback, ${SECONDS}s per cell, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const kind of KINDS) {
    const dir = join(tmp, kind);
    mkdirSync(dir, { recursive: true });
    const server = await startServer(kind, dir);
    const { proc, port } = server;
    const stats = (): Promise<ServerStats> => server.stats();
    try {
      for (const c of CONNS) {
        const s0 = await stats();
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
        let note = `server ${usPerMsg.toFixed(0)} µs CPU/msg (${sysPerMsg.toFixed(0)} kernel), cpu server ${cpuPct(s0.cpu, s1.cpu, ms).toFixed(0)} % (loop busy ${(performance.eventLoopUtilization(s1.elu, s0.elu).utilization * 100).toFixed(0)} %) loadgen ${cpuPct(g0, g1, ms).toFixed(0)} %`;
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
  rmSync(tmp, { recursive: true, force: true });
  const header = `| server | ${CONNS.map((c) => `${c} conn msg/s (p50 / p99 ms)`).join(' | ')} |`;
  console.log(`\n${header}\n|${'---|'.repeat(CONNS.length + 1)}`);
  for (const kind of KINDS) {
    console.log(`| ${kind} | ${CONNS.map((c) => { const r = results.get(`${kind}/${c}`) as Cell; return `${r.perSec.toFixed(0)} (${r.p50.toFixed(2)} / ${r.p99.toFixed(2)})`; }).join(' | ')} |`);
  }
  if (KINDS.length !== ALL_KINDS.length) return;
  const at16 = (k: Kind): number => results.get(`${k}/16`)?.perSec ?? 0;
  const imm = at16('nhs-imm') / at16('raw');
  const bestPeer = Math.max(at16('simple-hl7'), at16('medplum'));
  const commit = at16('nhs-commit') / bestPeer;
  console.log(`\nnhs-imm / raw at 16 conn: ${(imm * 100).toFixed(0)} % (target ≥ 60 %) ${imm >= 0.6 ? 'MET' : 'NOT MET'}`);
  console.log(`nhs-commit / best peer at 16 conn: ${commit.toFixed(2)}× (target ≥ 2×) ${commit >= 2 ? 'MET' : 'NOT MET'}`);
}

if (process.argv[2] === '--serve') {
  serve(process.argv[3] as Kind, process.argv[4] as string).catch((e: unknown) => { console.error(e); process.exit(1); });
} else {
  main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
}
