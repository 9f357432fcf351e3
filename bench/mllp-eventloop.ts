/**
 * Commit mode without blocking the event loop (issue 9 item 5), both ways in one run: the store's
 * writes on the event loop (`writerThread: false`, as before) and on the store's writer thread
 * (`writerThread: true`, opt-in on nhs-store). A real listener (lib/mllp server + lib/channel
 * inbound, `commit`, SQLite FULL) in this process, the load generator in a child process (so its
 * own work does not count as this loop's delay).
 *   t           median latency of one commit alone (200 sequential appends, idle store)
 *   loop p99    perf_hooks.monitorEventLoopDelay during the 16-connection load
 *   msg/s       AAs per second at 16 connections; target ≥ 50 % of the disk bound 16 ÷ t
 *   p99 @1      request→AA p99 at one connection; target ≤ 3 × t
 *
 *   npm run bench:mllp-eventloop      NHS_BENCH_SECONDS=5 per cell
 */
import { fork } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { InboundChannel } from '../lib/channel';
import { MllpServer } from '../lib/mllp';
import { createStore } from '../lib/store';
import { adt, frame, splitFrames } from '../test/helpers/mllp-peer';

const SECONDS = Number(process.env.NHS_BENCH_SECONDS ?? 5);

/** Child: C connections for SECONDS, each waiting for its AA; prints { n, p99 } as JSON. */
async function load(port: number, conns: number): Promise<void> {
  const lat: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: conns }, async (_, w) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.setNoDelay(true);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let buf: Buffer = Buffer.alloc(0);
    let wake: (() => void) | undefined;
    sock.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); wake?.(); });
    for (let i = 0; Date.now() < end; i++) {
      const t0 = performance.now();
      sock.write(frame(adt(`E${w}-${i}`)));
      for (;;) {
        const r = splitFrames(buf);
        if (r.frames.length) { buf = r.rest; break; }
        await new Promise<void>((res) => { wake = res; });
      }
      lat.push(performance.now() - t0);
      n++;
    }
    sock.destroy();
  }));
  lat.sort((a, b) => a - b);
  process.send?.({ n, p99: lat[Math.floor(lat.length * 0.99)] ?? 0 });
}

/** The disk's median single-commit latency: 200 sequential appends to an idle store on this loop. */
async function commitLatency(dir: string): Promise<number> {
  const store = createStore({ backend: 'sqlite', file: join(dir, 'solo.sqlite'), durability: 'full' });
  await store.open();
  const single: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await store.appendMessage({ channel: 'solo', raw: Buffer.from(adt(`S${i}`)) });
    single.push(performance.now() - t0);
  }
  await store.close();
  single.sort((a, b) => a - b);
  return single[100]!;
}

async function cell(writerThread: boolean, dir: string, t: number): Promise<Record<string, number>> {
  const file = join(dir, `${writerThread ? 'thread' : 'inline'}.sqlite`);
  const store = createStore({ backend: 'sqlite', file, durability: 'full', writerThread });
  await store.open();
  const channel = new InboundChannel({ policy: 'commit', channel: 'in', owner: 'bench', store: async () => store, emit: () => undefined });
  const server = new MllpServer({ port: 0, host: '127.0.0.1', onFrame: channel.onFrame, maxConnections: 64 });
  const { port } = await server.listen();
  await channel.start();
  const run = async (conns: number): Promise<{ n: number; p99: number; loopP99: number }> => {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const child = fork(__filename, ['--load', String(port), String(conns)], { execArgv: ['--import', 'tsx'] });
    const r = await new Promise<{ n: number; p99: number }>((resolve) => child.once('message', (m) => resolve(m as { n: number; p99: number })));
    h.disable();
    return { ...r, loopP99: h.percentile(99) / 1e6 };
  };
  const one = await run(1);
  const sixteen = await run(16);
  await channel.close();
  await server.close();
  await store.close();
  return { t, msgsPerSec: sixteen.n / SECONDS, bound: 16 / (t / 1000), loopP99: sixteen.loopP99, p99at1: one.p99 };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--load') return load(Number(process.argv[3]), Number(process.argv[4]));
  const dir = join(__dirname, 'tmp', `eventloop-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${SECONDS} s per cell`);
  console.log('| writes | t (median commit) | event-loop p99 @16 | msg/s @16 | ≥ 50 % of 16 ÷ t | p99 @1 | ≤ 3 × t |');
  console.log('|---|---|---|---|---|---|---|');
  const t = await commitLatency(dir);
  for (const writerThread of [false, true]) {
    const r = await cell(writerThread, dir, t);
    console.log(`| ${writerThread ? 'writer thread' : 'event loop (before)'} | ${r.t!.toFixed(2)} ms | ${r.loopP99!.toFixed(2)} ms | ${Math.round(r.msgsPerSec!)} | ${(100 * r.msgsPerSec! / r.bound!).toFixed(0)} % of ${Math.round(r.bound!)} | ${r.p99at1!.toFixed(2)} ms | ${(r.p99at1! / r.t!).toFixed(1)} × t |`);
  }
  console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
