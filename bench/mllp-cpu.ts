/**
 * Main-thread CPU per message of the inbound channel path (decode by MSH-18, parse, keep, ACK,
 * hand-off, emit with `toJSON` and `readAck` as nhs-mllp-in does) without sockets or a load
 * generator, so the figure compares code rather than how busy the shared machine is (bench/mllp.md,
 * issue 9 item 5). 16 frames per turn, the next 16 once their replies have settled (16 senders
 * waiting for their ACK); frames built beforehand.
 *   imm  policy `immediate` (no store)
 *   el   `commit`, SQLite FULL, writes on this event loop
 *   wt   `commit`, SQLite FULL, writes on the store's writer thread
 *   pg   `commit`, PostgreSQL (NHS_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test)
 * CPU is this process's main thread alone (/proc/self/task/<pid>/stat), and the whole process.
 *
 *   npm run bench:mllp-cpu              NHS_BENCH_MESSAGES=16000, NHS_BENCH_MODES=imm,el,wt,pg
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as Channel from '../lib/channel';
import type * as Hl7 from '../lib/hl7';
import type * as StoreLib from '../lib/store';
import { adt } from '../test/helpers/mllp-peer';

// The built package, as Node-RED loads it (see bench/mllp.md on tsx's wrappers).
const { InboundChannel } = require('../dist/lib/channel') as typeof Channel;
const { readAck } = require('../dist/lib/hl7') as typeof Hl7;
const { createStore } = require('../dist/lib/store') as typeof StoreLib;

const N = Number(process.env.NHS_BENCH_MESSAGES ?? 16_000);
const MODES = (process.env.NHS_BENCH_MODES ?? 'imm,el,wt,pg').split(',');
const PG_URL = process.env.NHS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** [main thread, its kernel part] in µs (10 ms ticks). */
function mainThreadCpu(): [number, number] {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return [(Number(x[11]) + Number(x[12])) * 10_000, Number(x[12]) * 10_000];
}

async function run(mode: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'nhs-mllp-cpu-'));
  const schema = `bench_cpu_${process.pid}`;
  const store = mode === 'imm' ? undefined : mode === 'pg'
    ? createStore({ backend: 'postgres', url: PG_URL, schema, durability: 'full' })
    : createStore({ backend: 'sqlite', file: join(dir, 'cpu.sqlite'), durability: 'full', writerThread: mode === 'wt' });
  await store?.open();
  const channel = new InboundChannel({
    policy: store ? 'commit' : 'immediate', channel: 'in', owner: 'bench', ...(store ? { store: () => Promise.resolve(store) } : {}),
    emit: (r) => { r.message?.toJSON(); if (r.ack) void (r.ackInfo ?? readAck(r.ack)); },
  });
  await channel.start();
  const sessions = Array.from({ length: 16 }, (_, i) => ({ id: `s${i}`, remoteAddress: '127.0.0.1', remotePort: 1000 + i, secure: false, authorized: false, open: true, received: 0 }));
  const frames = Array.from({ length: 1024 }, (_, i) => Buffer.from(adt(`C${i}`), 'latin1'));
  let seq = 0;
  const round = async (): Promise<void> => {
    const out: unknown[] = [];
    for (let c = 0; c < 16; c++) out.push(channel.onFrame(frames[seq++ % frames.length]!, sessions[c] as never, seq));
    await Promise.all(out);
    await new Promise((r) => setImmediate(r));
  };
  for (let i = 0; i < 100; i++) await round();
  const [c0, k0] = mainThreadCpu();
  const p0 = process.cpuUsage();
  const t0 = performance.now();
  const rounds = Math.ceil(N / 16);
  for (let i = 0; i < rounds; i++) await round();
  const [c1, k1] = mainThreadCpu();
  const p1 = process.cpuUsage(p0);
  const secs = (performance.now() - t0) / 1000;
  const n = rounds * 16;
  await channel.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  if (mode === 'pg') {
    const { Client } = require('pg') as typeof import('pg');
    const c = new Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => c.end());
  }
  return `| ${mode} | ${((c1 - c0) / n).toFixed(1)} (${((k1 - k0) / n).toFixed(1)}) | ${((p1.user + p1.system) / n).toFixed(1)} | ${(n / secs).toFixed(0)} | ${loadavg()[0]!.toFixed(2)} |`;
}

async function main(): Promise<void> {
  console.log(`${N} messages per mode, 16 per turn; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('| mode | main-thread CPU µs/msg (kernel) | process CPU µs/msg | msg/s | load |\n|---|---|---|---|---|');
  for (const m of MODES) console.log(await run(m));
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
