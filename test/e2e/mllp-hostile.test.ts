/**
 * Hostile clients against `nhs-mllp-in` in a real Node-RED process (issue 17 item 3): slowloris,
 * 1,000 idle connections against the connection limit, a frame that never ends, a flood of tiny
 * frames, a client that never reads its ACKs, TLS handshake garbage, clients outside the
 * allow-list. Written against public behaviour only (a deployed flow, sockets, the admin HTTP
 * API), never against lib/ internals, so it holds across refactors of the listener.
 *
 * Throughout, in the background: a well-behaved sender on its own connection sends an ADT every
 * 200 ms and must get AA for every one; the admin API (`GET /flows`) is called every 200 ms and
 * must answer in < 1 s; the Node-RED process's RSS is sampled from /proc. Each attack is bounded
 * in count and time; its window's figures are printed as `HOSTILE {json}` lines.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { adt, frame, msaOf, peerConnect, splitFrames, type PeerClient } from '../helpers/mllp-peer';
import { sleep } from '../helpers/wait';

const built = existsSync(join(repoRoot, 'dist', 'nodes', 'mllp-in.js'));
const onLinux = existsSync('/proc/self/status');
const MAX_CONN = 16;
const MAX_FRAME = 64 * 1024;
const IDLE_S = 4;
const ADMIN_LIMIT_MS = 1000;

interface Sample { at: number; ms: number; ok: boolean; detail?: string }

/** Throw-away self-signed server certificate for the TLS listener, made with the system openssl. */
function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'server.pem');
  const key = join(dir, 'server.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A raw socket and what became of it (closed by whom, bytes received). */
interface Raw { sock: net.Socket; closed: boolean; closedAt: number; received: number; written: number; head: Buffer }
function raw(port: number, opts: { localAddress?: string } = {}): Promise<Raw> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', ...opts });
    const r: Raw = { sock, closed: false, closedAt: 0, received: 0, written: 0, head: Buffer.alloc(0) };
    sock.on('error', () => undefined);
    sock.on('data', (d: Buffer) => {
      r.received += d.length;
      if (r.head.length < 4096) r.head = Buffer.concat([r.head, d]).subarray(0, 4096);
    });
    sock.on('close', () => { r.closed = true; r.closedAt = Date.now(); resolve(r); });
    sock.on('connect', () => resolve(r));
  });
}
const quietly = (s: net.Socket): void => { s.on('error', () => undefined); s.destroy(); };

/** Write `chunk` until the peer closes, `maxBytes` are written, `maxMs` pass or `stop()` (honouring back-pressure). */
async function pump(r: Raw, chunk: () => Buffer, maxBytes: number, maxMs: number, stop: () => boolean = () => false): Promise<void> {
  const end = Date.now() + maxMs;
  while (!r.closed && r.written < maxBytes && Date.now() < end && !stop()) {
    const b = chunk();
    r.written += b.length;
    if (!r.sock.write(b)) {
      await new Promise<void>((res) => {
        const done = (): void => { clearTimeout(t); r.sock.off('drain', done); r.sock.off('close', done); res(); };
        const t = setTimeout(done, 200);
        r.sock.on('drain', done);
        r.sock.on('close', done);
      });
    }
  }
}

/** Figures of every attack window, printed once at the end as `HOSTILE {json}` lines. */
const figures: Record<string, unknown>[] = [];
after(() => { for (const f of figures) console.log(`HOSTILE ${JSON.stringify(f)}`); });

type Figures = Record<string, unknown> & { adminMaxMs: number; rssStartMb: number; rssMaxMb: number };

interface Rig {
  nr: NodeRedProcess;
  port: number;
  tlsPort: number;
  certPem: Buffer;
  baselineRss: number;
  rssNow(): number;
  /** Run `attack` with the background probes on; return the window's figures (assertGood / assertResponsive judge them). */
  during(name: string, attack: () => Promise<Record<string, unknown> | void>): Promise<Figures>;
}

/**
 * A fresh Node-RED with two `nhs-mllp-in` listeners in commit mode (plain with an allow-list of
 * 127.0.0.1, and TLS), maxConnections ${MAX_CONN}, maxFrameBytes 64 KiB, idle close 4 s, and the
 * background probes: the admin API every 200 ms, a good sender every 200 ms, RSS every 100 ms.
 */
function useRig(): Rig {
  let nr: NodeRedProcess | undefined;
  let dir = '';
  let running = true;
  const admin: Sample[] = [];
  const good: Sample[] = [];
  const rss: { at: number; mb: number }[] = [];
  let loops: Promise<unknown>[] = [];
  const rig = {} as Rig;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nhs-hostile-'));
    const { cert, key } = makeCert(dir);
    rig.certPem = readFileSync(cert);
    const port = (rig.port = await freePort());
    const tlsPort = (rig.tlsPort = await freePort());
    const common = { store: 'st', ackMode: 'commit', host: '127.0.0.1', maxConnections: MAX_CONN, maxFrameBytes: MAX_FRAME, idleTimeout: IDLE_S, wires: [[], []] };
    const n = (nr = rig.nr = await startNodeRed({ flows: [] }));
    // Deployed through the admin API so the TLS key travels as a credential (no local file paths).
    await n.deploy([
      { id: 'f1', type: 'tab', label: 'hostile' },
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'hostile.sqlite'), durability: 'normal' },
      { id: 'in-plain', type: 'nhs-mllp-in', z: 'f1', name: 'plain listener', port, allow: '127.0.0.1', ...common },
      { id: 'tlscfg', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: false, credentials: { certdata: readFileSync(cert, 'utf8'), keydata: readFileSync(key, 'utf8') } },
      { id: 'in-tls', type: 'nhs-mllp-in', z: 'f1', name: 'TLS listener', port: tlsPort, tls: 'tlscfg', allow: '', ...common },
    ]);
    // Both listeners up: a TCP connect is accepted (then closed).
    for (const p of [port, tlsPort]) {
      const end = Date.now() + 15000;
      for (;;) {
        const r = await raw(p);
        quietly(r.sock);
        if (!r.closed) break;
        if (Date.now() > end) throw new Error(`listener on ${p} never came up:\n${n.output()}`);
        await sleep(100);
      }
    }
    const pid = n.child.pid as number;
    rig.rssNow = () => rssMb(pid);
    loops = [
      (async () => {
        while (running) {
          const t0 = performance.now();
          try {
            const r = await fetch(`${n.url}/flows`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
            await r.text();
            admin.push({ at: Date.now(), ms: performance.now() - t0, ok: r.status === 200 });
          } catch (e) {
            admin.push({ at: Date.now(), ms: performance.now() - t0, ok: false, detail: String(e) });
          }
          await sleep(200);
        }
      })(),
      (async () => {
        let c: PeerClient | undefined;
        let i = 0;
        while (running) {
          const id = `GOOD${++i}`;
          const t0 = performance.now();
          try {
            c ??= await peerConnect(port);
            const ack = msaOf(await c.request(adt(id), 5000));
            good.push({ at: Date.now(), ms: performance.now() - t0, ok: ack.code === 'AA' && ack.controlId === id, detail: ack.code });
          } catch (e) {
            good.push({ at: Date.now(), ms: performance.now() - t0, ok: false, detail: String(e) });
            c?.close();
            c = undefined;
          }
          await sleep(200);
        }
        c?.close();
      })(),
      (async () => {
        while (running) {
          try { rss.push({ at: Date.now(), mb: rssMb(pid) }); } catch { /* process gone: the assertions say so */ }
          await sleep(100);
        }
      })(),
    ];
    // Warm up (JIT, SQLite pages, the good sender's first round trips), then take the baseline.
    await sleep(1500);
    rig.baselineRss = Math.max(...rss.slice(-5).map((s) => s.mb));
  });

  after(async () => {
    running = false;
    await Promise.all(loops);
    await nr?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  rig.during = async (name, attack) => {
    const start = Date.now();
    const rssStartMb = rig.rssNow();
    const extra = (await attack()) ?? {};
    // At least 2 s of samples per attack, so a fast attack is still measured.
    while (Date.now() - start < 2000) await sleep(50);
    const end = Date.now();
    await sleep(400); // let the samples that started inside the window finish
    const inWin = <T extends { at: number }>(xs: T[]): T[] => xs.filter((s) => s.at >= start && s.at <= end + 400);
    const a = inWin(admin);
    const g = inWin(good);
    const r = inWin(rss);
    const sorted = a.map((s) => s.ms).sort((x, y) => x - y);
    const f: Figures = {
      attack: name, seconds: +((end - start) / 1000).toFixed(1),
      adminRequests: a.length, adminFailed: a.filter((s) => !s.ok).length,
      adminMedianMs: Math.round(sorted[Math.floor(sorted.length / 2)] ?? NaN), adminMaxMs: Math.round(sorted[sorted.length - 1] ?? NaN),
      goodSent: g.length, goodAA: g.filter((s) => s.ok).length, goodMaxMs: Math.round(Math.max(...g.map((s) => s.ms))),
      rssBaselineMb: Math.round(rig.baselineRss), rssStartMb: Math.round(rssStartMb), rssMaxMb: Math.round(Math.max(...r.map((s) => s.mb))),
      ...extra,
    };
    f.goodFailures = g.filter((s) => !s.ok).map((s) => s.detail);
    figures.push(f);
    return f;
  };
  return rig;
}

/** The good sender sent all through the window and got AA for every message. */
function assertGood(f: Figures): void {
  assert.ok((f.goodSent as number) >= 3, `${String(f.attack)}: the good sender sent ${String(f.goodSent)} messages`);
  assert.deepEqual(f.goodFailures, [], `${String(f.attack)}: every message of the good sender got AA`);
}

/** The process grew by less than `mb` during the window (its RSS, read from /proc). */
function assertBoundedMemory(f: Figures, mb = 100): void {
  assert.ok(f.rssMaxMb - f.rssStartMb < mb, `${String(f.attack)}: RSS grew ${f.rssMaxMb - f.rssStartMb} MB (limit ${mb} MB)`);
}

/** The admin API answered every request of the window, each in < 1 s. */
function assertResponsive(f: Figures): void {
  assert.ok((f.adminRequests as number) >= 3, `${String(f.attack)}: admin API sampled ${String(f.adminRequests)} times`);
  assert.equal(f.adminFailed, 0, `${String(f.attack)}: every admin request answered 200`);
  assert.ok(f.adminMaxMs < ADMIN_LIMIT_MS, `${String(f.attack)}: admin API answered in ${f.adminMaxMs} ms at worst (limit ${ADMIN_LIMIT_MS} ms)`);
}

const skip = !built ? 'dist/ not built (npm test builds it first)' : !onLinux ? 'needs /proc for RSS' : false;

describe('nhs-mllp-in under hostile clients (real Node-RED)', { skip, timeout: 90_000 }, () => {
  const rig = useRig();

  it('slowloris: 8 connections dribbling a frame a byte a second; each completed frame is then ACKed', async () => {
    const text = frame(adt('SLOW'));
    const conns = await Promise.all(Array.from({ length: 8 }, () => raw(rig.port)));
    assert.ok(conns.every((c) => !c.closed), 'all 8 accepted (below the limit)');
    const f = await rig.during('slowloris', async () => {
      for (let i = 0; i < 5; i++) {
        for (const c of conns) c.sock.write(text.subarray(i, i + 1));
        await sleep(1000);
      }
      return { connections: conns.length, bytesEach: 5 };
    });
    assertResponsive(f);
    assertGood(f);
    assertBoundedMemory(f);
    // Nothing was ACKed while the frame was incomplete; the rest at once gets one AA each.
    assert.ok(conns.every((c) => c.received === 0));
    for (const c of conns) c.sock.write(text.subarray(5));
    const end = Date.now() + 10000;
    while (conns.some((c) => c.received === 0) && Date.now() < end) await sleep(50);
    for (const c of conns) {
      assert.ok(c.received > 0, 'a slowloris frame, once complete, is answered');
      quietly(c.sock);
    }
  });

  it(`1,000 idle connections against maxConnections ${MAX_CONN}: the rest are refused at once, the idle ones closed after ${IDLE_S} s`, async () => {
    const all: Raw[] = [];
    const f = await rig.during('idle-1000', async () => {
      for (let b = 0; b < 10; b++) all.push(...(await Promise.all(Array.from({ length: 100 }, () => raw(rig.port)))));
      await sleep(1000);
      const open = all.filter((c) => !c.closed).length;
      return { attempted: all.length, heldOpen: open, refused: all.length - open };
    });
    assertResponsive(f);
    assertGood(f);
    assertBoundedMemory(f);
    const open = all.filter((c) => !c.closed);
    // The good sender holds one slot; the limit is never exceeded.
    assert.ok(open.length <= MAX_CONN - 1, `${open.length} idle connections held open (limit ${MAX_CONN}, one slot is the good sender's)`);
    assert.ok(open.length >= 1, 'free slots were filled, so the limit, not a crash, refused the rest');
    // The idle timeout gives the slots back.
    const end = Date.now() + (IDLE_S + 6) * 1000;
    while (all.some((c) => !c.closed) && Date.now() < end) await sleep(100);
    const still = all.filter((c) => !c.closed).length;
    for (const c of all) quietly(c.sock);
    assert.equal(still, 0, `idle connections still open ${IDLE_S + 6} s later`);
    // A new sender gets a slot and an AA.
    const c = await peerConnect(rig.port);
    assert.equal(msaOf(await c.request(adt('AFTERIDLE'), 5000)).code, 'AA');
    c.close();
  });

  it(`a frame that never ends is cut at maxFrameBytes (${MAX_FRAME / 1024} KiB), again and again for 3 s`, async () => {
    const cut: Raw[] = [];
    const f = await rig.during('endless-frame', async () => {
      const filler = Buffer.alloc(16 * 1024, 'A');
      const stopAt = Date.now() + 3000;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (Date.now() < stopAt) {
          const c = await raw(rig.port);
          c.sock.write(Buffer.from([0x0b]));
          // Up to 64 MiB or 8 s each: far more than the limit, so only a cut stops it early.
          await pump(c, () => filler, 64 * 1024 * 1024, 8000);
          cut.push(c);
          quietly(c.sock);
        }
      }));
      return { connections: cut.length, maxWrittenKiB: Math.max(...cut.map((c) => Math.round(c.written / 1024))) };
    });
    assertResponsive(f);
    assertGood(f);
    assertBoundedMemory(f);
    assert.ok(cut.length >= 4);
    for (const c of cut) {
      assert.ok(c.closed, 'the server closed the endless frame');
      assert.ok(c.written < 64 * 1024 * 1024, `cut before the client's cap (${c.written} bytes written)`);
      assert.equal(c.received, 0, 'no ACK for a frame that never ended');
    }
  });

  it('TLS listener: handshake garbage, truncated ClientHellos and plain MLLP do not block a good TLS sender', async () => {
    const tlsGood = async (id: string): Promise<string> => {
      const s = tls.connect({ port: rig.tlsPort, host: '127.0.0.1', ca: rig.certPem, servername: 'localhost' });
      s.on('error', () => undefined);
      try {
        await new Promise<void>((res, rej) => { s.once('secureConnect', () => res()); s.once('error', rej); setTimeout(() => rej(new Error('TLS handshake timed out')), 5000); });
        let buf = Buffer.alloc(0);
        const got = new Promise<string>((res, rej) => {
          const t = setTimeout(() => rej(new Error('no ACK over TLS')), 5000);
          s.on('data', (d: Buffer) => {
            buf = Buffer.concat([buf, d]);
            const r = splitFrames(buf);
            if (r.frames[0]) { clearTimeout(t); res(r.frames[0].toString('latin1')); }
          });
        });
        s.write(frame(adt(id)));
        return msaOf(await got).code;
      } finally {
        s.destroy();
      }
    };
    assert.equal(await tlsGood('TLSBEFORE'), 'AA');
    const garbage: Raw[] = [];
    const tlsAcks: string[] = [];
    const f = await rig.during('tls-garbage', async () => {
      const kinds = [
        () => randomBytes(2048), // noise
        () => Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), // ClientHello cut short
        () => Buffer.from([0x16, 0x03, 0x03, 0xff, 0xff]), // a record header promising 64 KiB that never come
        () => frame(adt('PLAINONTLS')), // plain MLLP on the TLS port
      ];
      for (let round = 0; round < 5; round++) {
        const batch = await Promise.all(Array.from({ length: 40 }, () => raw(rig.tlsPort)));
        batch.forEach((c, i) => { if (!c.closed) c.sock.write((kinds[i % kinds.length] as () => Buffer)()); });
        garbage.push(...batch);
        tlsAcks.push(await tlsGood(`TLSDURING${round}`));
        await sleep(300);
      }
      await sleep(1000);
      return { garbageConnections: garbage.length, stillOpenAfter1s: garbage.filter((c) => !c.closed).length };
    });
    assertResponsive(f);
    assertGood(f);
    assertBoundedMemory(f);
    assert.deepEqual(tlsAcks, ['AA', 'AA', 'AA', 'AA', 'AA'], 'the good TLS sender got AA during the attack');
    assert.ok(garbage.every((c) => !c.head.includes('MSA|')), 'garbage never got an HL7 answer');
    for (const c of garbage) quietly(c.sock);
    assert.equal(await tlsGood('TLSAFTER'), 'AA');
  });

  it('clients outside the allow-list are refused before any byte is read', async () => {
    const refused: Raw[] = [];
    const f = await rig.during('allow-list', async () => {
      for (let round = 0; round < 5; round++) {
        const batch = await Promise.all(Array.from({ length: 60 }, () => raw(rig.port, { localAddress: '127.0.0.2' })));
        for (const c of batch) if (!c.closed) c.sock.write(frame(adt('OUTSIDER')));
        refused.push(...batch);
        await sleep(200);
      }
      await sleep(500);
      return { attempts: refused.length, heldOpen: refused.filter((c) => !c.closed).length };
    });
    assertResponsive(f);
    assertGood(f);
    assertBoundedMemory(f);
    assert.ok(refused.every((c) => c.closed), 'every outsider was disconnected');
    assert.equal(refused.reduce((n, c) => n + c.received, 0), 0, 'no outsider got a byte back');
  });

  it(`TLS listener: connections that never finish their handshake count against maxConnections ${MAX_CONN}`, async () => {
    const half: Raw[] = await Promise.all(Array.from({ length: 3 * MAX_CONN }, () => raw(rig.tlsPort)));
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    for (const c of half) if (!c.closed) c.sock.write(hello);
    await sleep(2000);
    const held = half.filter((c) => !c.closed).length;
    figures.push({ attack: 'tls-half-handshakes', attempted: half.length, heldOpenAfter2s: held, limit: MAX_CONN });
    for (const c of half) quietly(c.sock);
    assert.ok(held <= MAX_CONN, `${held} half-open TLS handshakes held (limit ${MAX_CONN})`);
  });

  it('Node-RED stayed up and logged no uncaught error', () => {
    assert.equal(rig.nr.child.exitCode, null);
    assert.doesNotMatch(rig.nr.output(), /uncaught|unhandled/i);
  });
});

// The two attacks below are the heaviest: each gets a fresh Node-RED so its memory figure is its own.

describe('nhs-mllp-in: a flood of tiny frames (real Node-RED)', { skip, timeout: 60_000 }, () => {
  const rig = useRig();
  let f: Figures | undefined;

  it('100,000 tiny frames from one client are each answered', async () => {
    const c = await raw(rig.port);
    let acks = 0;
    let rest: Buffer = Buffer.alloc(0);
    c.sock.on('data', (d: Buffer) => {
      const r = splitFrames(Buffer.concat([rest, d]));
      rest = r.rest;
      acks += r.frames.length;
    });
    // 40 tiny frames per write: a 1-byte body (not HL7, so an AR each) and an empty frame.
    const batch = Buffer.concat(Array.from({ length: 20 }, () => Buffer.from([0x0b, 0x78, 0x1c, 0x0d, 0x0b, 0x1c, 0x0d])));
    const perBatch = 40;
    let sent = 0;
    f = await rig.during('tiny-frame-flood', async () => {
      // Up to 100,000 frames or 4 s of writing, then the answers (all of them, or 30 s).
      await pump(c, () => batch, (100_000 / perBatch) * batch.length, 4000);
      sent = Math.round(c.written / batch.length) * perBatch;
      const end = Date.now() + 30000;
      while (acks < sent && !c.closed && Date.now() < end) await sleep(50);
      return { framesSent: sent, acksReceived: acks };
    });
    assert.equal(acks, sent, 'every tiny frame got its own answer');
    quietly(c.sock);
  });

  it('…meanwhile the admin API answers in < 1 s, the good sender keeps getting AA and memory stays bounded', () => {
    assert.ok(f, 'the flood ran');
    assertResponsive(f);
    assertGood(f);
    assertBoundedMemory(f);
  });
});

describe('nhs-mllp-in: a client that never reads its ACKs (real Node-RED)', { skip, timeout: 60_000 }, () => {
  const rig = useRig();

  it('memory stays bounded (back-pressure) and the admin API answers in < 1 s', async () => {
    // Each message draws an AE with one ERR per broken segment (up to 50): far more bytes back than sent.
    const body = ['MSH|^~\\&|EVIL|EVIL|R|R|20260101120000||ADT^A01^ADT_A01|NR|P|2.5.1', ...Array.from({ length: 60 }, (_, i) => `Z${i % 10}`)].join('\r');
    const one = frame(body);
    const probe = await peerConnect(rig.port);
    const ackBytes = Buffer.byteLength(await probe.request(body, 5000), 'latin1');
    probe.close();
    const c = await raw(rig.port);
    c.sock.pause(); // never reads: its receive window fills, then the server's send buffer
    let stopped = false;
    const f = await rig.during('never-reads-acks', async () => {
      // Up to 40 MiB or 8 s; stop early once the process has grown 300 MB (the point is made).
      const tooBig = (): boolean => (stopped ||= rig.rssNow() - rig.baselineRss > 300);
      await pump(c, () => one, 40 * 1024 * 1024, 8000, tooBig);
      const messages = Math.round(c.written / one.length);
      return { bytesSent: c.written, messagesSent: messages, messageBytes: one.length, ackBytesEach: ackBytes, unreadAckMb: Math.round((messages * ackBytes) / 1048576), stoppedAtRssLimit: stopped };
    }).finally(() => quietly(c.sock));
    assertBoundedMemory(f);
    assertResponsive(f);
    assertGood(f);
  });
});
