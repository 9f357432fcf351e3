/**
 * A reusable MLLP test peer, written independently of lib/mllp (a plain split on FS CR) so tests
 * of our framing are not checked by our framing. Client: send raw bytes or frames and read
 * frames back. Server: record every frame and answer with an ACK (or whatever `reply` says).
 * Synthetic data only (NHS number 9000000009).
 */
import * as net from 'node:net';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

export function frame(body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  return Buffer.concat([Buffer.from([VT]), b, Buffer.from([FS, CR])]);
}

/** Split complete `VT … FS CR` blocks out of `buf`; returns frames and the unconsumed rest. */
export function splitFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const start = buf.indexOf(VT, pos);
    if (start < 0) return { frames, rest: Buffer.alloc(0) };
    const end = buf.indexOf(Buffer.from([FS, CR]), start);
    if (end < 0) return { frames, rest: buf.subarray(start) };
    frames.push(Buffer.from(buf.subarray(start + 1, end)));
    pos = end + 2;
  }
}

/** A synthetic HL7 v2.5.1 ADT^A01 (fictitious patient, test-range NHS number). */
export function adt(controlId: string, opts: { event?: string; charset?: string; family?: string; nhs?: string } = {}): string {
  const msh18 = opts.charset ? `|||||${opts.charset}` : '';
  return [
    `MSH|^~\\&|SENDAPP|SENDFAC|RECVAPP|RECVFAC|20260101120000||ADT^${opts.event ?? 'A01'}^ADT_A01|${controlId}|P|2.5.1${msh18}`,
    `EVN|${opts.event ?? 'A01'}|20260101120000`,
    `PID|1||${opts.nhs ?? '9000000009'}^^^NHS^NH||${opts.family ?? 'TESTPATIENT'}^ALEX^^^MX||19800101|U`,
    'PV1|1|I|WARD1^BED1',
  ].join('\r');
}

/** MSH-10 of a message, by field position (no parser: the peer must not depend on ours). */
export function controlIdOf(text: string): string {
  const msh = text.split('\r').find((s) => s.startsWith('MSH')) ?? '';
  return msh.split('|')[9] ?? '';
}

/** MSA-1 and MSA-2 of an ACK. */
export function msaOf(ack: string): { code: string; controlId: string } {
  const msa = ack.split('\r').find((s) => s.startsWith('MSA')) ?? '';
  const f = msa.split('|');
  return { code: f[1] ?? '', controlId: f[2] ?? '' };
}

/** A minimal ACK for `text` (HL7 v2.5.1 §2.9.2 original-mode acknowledgement). */
export function peerAck(text: string, code = 'AA'): string {
  return [`MSH|^~\\&|PEER|PEER|SENDAPP|SENDFAC|20260101120001||ACK|P${Date.now()}${Math.random().toString(36).slice(2, 6)}|P|2.5.1`, `MSA|${code}|${controlIdOf(text)}`].join('\r');
}

export interface PeerClient {
  socket: net.Socket;
  frames: Buffer[];
  sendRaw(b: Buffer | string): void;
  send(body: string | Buffer): void;
  /** Resolve the next (unread) frame received, as latin1 text. */
  next(timeoutMs?: number): Promise<string>;
  /** Send a message and wait for its answer. */
  request(body: string | Buffer, timeoutMs?: number): Promise<string>;
  closed: Promise<void>;
  close(): void;
}

export function peerConnect(port: number, host = '127.0.0.1'): Promise<PeerClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    let buf: Buffer = Buffer.alloc(0);
    let read = 0;
    const frames: Buffer[] = [];
    const waiters: (() => void)[] = [];
    let isClosed = false;
    const closed = new Promise<void>((r) => socket.on('close', () => { isClosed = true; r(); waiters.splice(0).forEach((w) => w()); }));
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      const r = splitFrames(Buffer.concat([buf, d]));
      buf = r.rest;
      frames.push(...r.frames);
      waiters.splice(0).forEach((w) => w());
    });
    const c: PeerClient = {
      socket,
      frames,
      closed,
      sendRaw: (b) => socket.write(typeof b === 'string' ? Buffer.from(b, 'latin1') : b),
      send: (body) => socket.write(frame(body)),
      next(timeoutMs = 5000) {
        return new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error('peer: no frame in time')), timeoutMs);
          const check = (): void => {
            if (read < frames.length) { clearTimeout(t); res((frames[read++] as Buffer).toString('latin1')); return; }
            if (isClosed) { clearTimeout(t); rej(new Error('peer: connection closed')); return; }
            waiters.push(check);
          };
          check();
        });
      },
      request(body, timeoutMs) {
        c.send(body);
        return c.next(timeoutMs);
      },
      close: () => socket.destroy(),
    };
    socket.once('connect', () => resolve(c));
    socket.once('error', reject);
  });
}

export interface PeerServer {
  port: number;
  /** Every frame received, in order, across connections. */
  received: Buffer[];
  connections: number;
  /** Resolve once `n` frames have been received in total. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * An MLLP receiver. `reply` returns the answer for a frame (default an AA), or undefined to stay
 * silent (an ACK timeout for the sender).
 */
export function peerServer(reply: (text: string, index: number) => string | Buffer | undefined = (t) => peerAck(t)): Promise<PeerServer> {
  return new Promise((resolve) => {
    const sockets = new Set<net.Socket>();
    const received: Buffer[] = [];
    const waiters: (() => void)[] = [];
    const server = net.createServer((sock) => {
      sockets.add(sock);
      ps.connections++;
      let buf: Buffer = Buffer.alloc(0);
      sock.on('error', () => undefined);
      sock.on('close', () => sockets.delete(sock));
      sock.on('data', (d: Buffer) => {
        const r = splitFrames(Buffer.concat([buf, d]));
        buf = r.rest;
        for (const f of r.frames) {
          received.push(f);
          const ans = reply(f.toString('latin1'), received.length - 1);
          if (ans !== undefined) sock.write(frame(ans));
        }
        waiters.splice(0).forEach((w) => w());
      });
    });
    const ps: PeerServer = {
      port: 0,
      received,
      connections: 0,
      waitFor(n, timeoutMs = 5000) {
        return new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error(`peer server: ${received.length}/${n} frames`)), timeoutMs);
          const check = (): void => {
            if (received.length >= n) { clearTimeout(t); res(); } else waiters.push(check);
          };
          check();
        });
      },
      close() {
        for (const s of sockets) s.destroy();
        return new Promise((r) => server.close(() => r()));
      },
    };
    server.listen(0, '127.0.0.1', () => {
      ps.port = (server.address() as net.AddressInfo).port;
      resolve(ps);
    });
  });
}
