/**
 * A bounded store under sustained `commit` load (DESIGN.md §4, issue 9 item 3): N messages of
 * ~1.5 KB go through a real MLLP listener (lib/mllp server + lib/channel inbound, SQLite FULL,
 * hand-off watermark), C connections each waiting for its AA. The store's clock is fake: it
 * advances one retention period every `PERIOD` messages, and retention runs every `PERIOD / 4`
 * messages, so the store should level off at about `PERIOD × 1.25` messages whatever N is.
 *
 *   npm run bench:mllp-retention                      N=1,000,000, PERIOD=100,000, C=16
 *   NHS_BENCH_N=200000 npm run bench:mllp-retention   a shorter run
 * Prints the largest file size seen (database + WAL), the final size, and the disk used per
 * million messages before the first deletion (the figure docs/store.md states).
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { InboundChannel } from '../lib/channel';
import { MllpServer } from '../lib/mllp';
import { createStore } from '../lib/store';
import { adt, frame, splitFrames } from '../test/helpers/mllp-peer';

const N = Number(process.env.NHS_BENCH_N ?? 1_000_000);
const PERIOD = Number(process.env.NHS_BENCH_PERIOD ?? 100_000);
const C = Number(process.env.NHS_BENCH_CONNS ?? 16);
const DAY = 86_400_000;

/** A synthetic ADT^A01 padded with NTE segments to about 1.5 KB. */
function message(id: string): string {
  const base = adt(id);
  const nte = `NTE|1||${'Synthetic note text for a bench message, no patient data. '.repeat(4)}`;
  let text = base;
  for (let i = 0; text.length < 1500; i++) text += `\r${nte.replace('NTE|1', `NTE|${i + 1}`)}`;
  return text;
}

/** Bytes on disk per million ~1.5 KB messages: 100,000 appended to a fresh file, closed (WAL checkpointed), scaled. */
async function perMillionMessages(dir: string, _len: number): Promise<number> {
  const file = join(dir, 'size.sqlite');
  const s = createStore({ backend: 'sqlite', file, durability: 'normal' });
  await s.open();
  for (let i = 0; i < 100_000; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, k) => s.appendMessage({ channel: 'size', raw: Buffer.from(message(`S${i + k}`), 'latin1'), controlId: `S${i + k}`, messageType: 'ADT^A01', owner: 'bench', meta: { remoteAddress: '127.0.0.1', charset: 'utf-8', session: 'f3c1b7a0-0000-4000-8000-000000000000', valid: true } })));
  }
  await s.close();
  return statSync(file).size * 10;
}

async function main(): Promise<void> {
  const dir = join(__dirname, 'tmp', `retention-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'store.sqlite');
  let clock = Date.parse('2030-01-01T00:00:00.000Z');
  const store = createStore({ backend: 'sqlite', file, durability: 'full', retentionDays: 1, clock: () => new Date(clock) });
  await store.open();
  let handed = 0;
  const channel = new InboundChannel({
    policy: 'commit', channel: 'bench-in', owner: 'bench', store: async () => store,
    handoffGraceMs: 50, handoffIntervalMs: 100, emit: () => { handed++; },
  });
  const server = new MllpServer({ port: 0, host: '127.0.0.1', onFrame: channel.onFrame, maxConnections: C + 4 });
  server.on('connection', (s: { id: string }) => channel.replies.sessionOpened(s.id));
  const { port } = await server.listen();
  await channel.start();

  const onDisk = (): number => ['', '-wal'].reduce((n, s) => { try { return n + statSync(file + s).size; } catch { return n; } }, 0);
  const sample = message('X').length;
  let sent = 0;
  let maxBytes = 0;
  let perMillion = 0;
  let pruned = 0;
  let nextHousekeeping = Math.floor(PERIOD / 4);
  let nextReport = 100_000;
  const t0 = Date.now();
  const housekeeping = async (): Promise<void> => {
    // One retention period of fake time per PERIOD messages.
    clock = Date.parse('2030-01-01T00:00:00.000Z') + (sent / PERIOD) * DAY;
    pruned += (await store.prune!()).messages;
    maxBytes = Math.max(maxBytes, onDisk());
  };

  const worker = async (): Promise<void> => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.setNoDelay(true);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let buf: Buffer = Buffer.alloc(0);
    let wake: (() => void) | undefined;
    sock.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); wake?.(); });
    while (sent < N) {
      const id = `R${sent++}`;
      sock.write(frame(message(id)));
      for (;;) {
        const r = splitFrames(buf);
        if (r.frames.length) { buf = r.rest; break; }
        await new Promise<void>((res) => { wake = res; });
      }
      if (sent >= nextHousekeeping) {
        nextHousekeeping += Math.floor(PERIOD / 4);
        await housekeeping();
      }
      if (sent >= nextReport) {
        nextReport += 100_000;
        console.log(`# ${sent} sent, ${Math.round(onDisk() / 1048576)} MB on disk, ${pruned} pruned, ${Math.round(sent / ((Date.now() - t0) / 1000))} msg/s`);
      }
    }
    sock.destroy();
  };
  await Promise.all(Array.from({ length: C }, () => worker()));
  await new Promise((r) => setTimeout(r, 500));
  await housekeeping();
  const size = await store.size();
  perMillion = await perMillionMessages(dir, message('M').length);
  console.log(`messages: ${N} × ${sample} bytes through commit mode, ${C} connections, retention 1 (fake) day = ${PERIOD} messages`);
  console.log(`handed over: ${handed}; pruned: ${pruned}; kept at the end: ${size.messages}`);
  console.log(`disk per million 1.5 KB messages (100,000 appended, WAL checkpointed, × 10): ${Math.round(perMillion / 1048576)} MB`);
  console.log(`largest file (db + WAL): ${Math.round(maxBytes / 1048576)} MB; final: ${Math.round(size.bytes / 1048576)} MB`);
  console.log(`run: ${Math.round((Date.now() - t0) / 1000)} s, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await channel.close();
  await server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
