/**
 * MLLP listener over `net` or `tls` (HL7 v2.5.1 Appendix C; TLS per IHE ITI TF-2 §3.2 "secure
 * node" practice: optional mutual TLS with `requestCert` + `rejectUnauthorized`).
 *
 * Each connection gets its own {@link MllpDecoder}; each complete frame goes to `onFrame`, and the
 * replies are written in the order the frames arrived on that connection even when a later reply
 * is ready first (HL7 v2.5.1 Appendix C.4.3: the ACK answers the message before it).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { NhsError, toNhsError } from '../errors';
import { parseAllowList, type AllowList } from './allow-list';
import { DEFAULT_MAX_FRAME_BYTES, MllpDecoder, encodeFrame } from './framing';

export type LogFn = (level: 'debug' | 'info' | 'warn', text: string) => void;

/** One accepted connection, as handlers and the response node see it. No socket leaks out. */
export interface MllpSession {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** TLS in use; `authorized` says whether the client certificate verified against the CA. */
  readonly secure: boolean;
  readonly authorized: boolean;
  readonly open: boolean;
  /** Frames received so far on this connection. */
  readonly received: number;
  close(): void;
}

/**
 * Called once per complete frame. Resolve the bytes (or latin1 text) to send back, or undefined
 * to send nothing. A rejection closes the connection: the peer will time out and resend, which is
 * the only honest answer when we cannot tell it whether the message was kept.
 */
export type FrameHandler = (frame: Buffer, session: MllpSession, seq: number) => Promise<Buffer | string | undefined> | Buffer | string | undefined;

export interface MllpServerOptions {
  port?: number;
  host?: string;
  /** Present → a TLS listener. Pass `requestCert: true, rejectUnauthorized: true, ca` for mutual TLS. */
  tls?: tls.TlsOptions;
  /** Refuse connections beyond this many (0 = no limit). Default 100. */
  maxConnections?: number;
  /** Close a connection with no traffic and no reply pending for this long (0 = never). */
  idleTimeoutMs?: number;
  /** Source addresses/CIDRs allowed to connect; empty = everyone. */
  allow?: string | readonly string[];
  maxFrameBytes?: number;
  /**
   * Frames one connection may have un-answered (handed to `onFrame`, reply not yet written) before
   * the server stops reading from it; reading resumes as they are answered. Bounds the work and
   * memory one fast client can claim. Default 64.
   */
  maxInFlight?: number;
  /** TLS only: drop a connection whose handshake has not finished after this long. Default 10 s. */
  handshakeTimeoutMs?: number;
  /**
   * Close a connection whose replies have sat unwritten (the peer does not read; `write()` said
   * wait) for this long (0 = never). Default 60 s. Reading is paused meanwhile anyway.
   */
  writeStallTimeoutMs?: number;
  onFrame: FrameHandler;
  log?: LogFn;
  idGen?: () => string;
}

export interface MllpServerStats {
  accepted: number;
  refused: number;
  frames: number;
  junkBytes: number;
  oversize: number;
  /** Connections closed with a half-received frame. */
  truncated: number;
  /** Times reading was paused: too many frames in flight, or the peer not reading its replies. */
  paused: number;
  /** Connections closed because their replies stayed unwritten past `writeStallTimeoutMs`. */
  stalled: number;
  /** TLS connections still in their handshake dropped to make room for a newcomer at the limit. */
  evicted: number;
}

class Session implements MllpSession {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly secure: boolean;
  readonly authorized: boolean;
  received = 0;
  pending = 0;
  /** Replies of this connection waiting in the server's per-turn write queue. */
  queued = 0;
  open = true;
  /** Frames handed to the handler whose reply has not been written (or dropped) yet. */
  inFlight = 0;
  /** Frames decoded but not yet dispatched, held while `inFlight` is at the limit. */
  backlog: Buffer[] = [];
  backlogHead = 0;
  /** `write()` returned false: the socket's buffer is over its high-water mark until 'drain'. */
  writeBlocked = false;
  /** Reading is paused by us (not by the peer). */
  paused = false;
  pumping = false;
  stallTimer: NodeJS.Timeout | undefined;
  tail: Promise<void> = Promise.resolve();
  readonly decoder: MllpDecoder;

  constructor(readonly socket: net.Socket, id: string, maxFrameBytes: number) {
    this.id = id;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.secure = socket instanceof tls.TLSSocket;
    this.authorized = this.secure && (socket as tls.TLSSocket).authorized;
    this.decoder = new MllpDecoder(maxFrameBytes);
  }

  close(): void {
    this.open = false;
    this.socket.destroy();
  }
}

/** An MLLP listener. Emits `connection` / `disconnect` (MllpSession) and `listening`. */
export class MllpServer extends EventEmitter {
  readonly stats: MllpServerStats = { accepted: 0, refused: 0, frames: 0, junkBytes: 0, oversize: 0, truncated: 0, paused: 0, stalled: 0, evicted: 0 };
  private readonly server: net.Server;
  private readonly sessions = new Map<string, Session>();
  private readonly allow: AllowList;
  private readonly log: LogFn;
  private readonly maxConnections: number;
  private readonly maxFrameBytes: number;
  private readonly maxInFlight: number;
  private readonly writeStallMs: number;
  private readonly idGen: () => string;
  private closing = false;
  /** A bind still in progress (a host name is being looked up): close() must wait for it. */
  private pendingListen: Promise<unknown> | undefined;
  /** Every raw socket the gate let in, TLS handshake done or not, so close() can destroy them. */
  private readonly rawSockets = new Set<net.Socket>();
  /** TLS only: raw sockets whose handshake has not finished, oldest first, by `address|port`. */
  private readonly handshaking = new Map<string, net.Socket>();

  constructor(private readonly opts: MllpServerOptions) {
    super();
    this.allow = parseAllowList(opts.allow);
    this.log = opts.log ?? (() => undefined);
    this.maxConnections = opts.maxConnections ?? 100;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.idGen = opts.idGen ?? randomUUID;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 64);
    this.writeStallMs = opts.writeStallTimeoutMs ?? 60_000;
    if (opts.tls) {
      // Node's default handshake timeout is 120 s: far too long for a slot a stranger can hold.
      const s = tls.createServer({ ...opts.tls, handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000 }, (sock) => this.accept(sock));
      // Handshake failures (bad client certificate, plain TCP on a TLS port) are the peer's problem.
      // With a listener attached Node leaves the socket open (a handshake timeout too): close it here.
      s.on('tlsClientError', (e, sock) => {
        this.log('warn', `mllp: TLS handshake refused (${(e as NodeJS.ErrnoException).code ?? e.message})`);
        sock.destroy();
      });
      this.server = s;
    } else {
      this.server = net.createServer((sock) => this.accept(sock));
    }
    // Gate before the TLS handshake, on the raw socket, so refused peers cost nothing.
    this.server.prependListener('connection', (sock: net.Socket) => this.gate(sock));
    // Runtime server errors go to listeners when there are any; never an uncaught 'error'.
    this.server.on('error', (e) => {
      if (!this.server.listening) return; // a bind failure: listen() rejects with it
      if (this.listenerCount('error') > 0) this.emit('error', e);
      else this.log('warn', `mllp: listener error ${(e as NodeJS.ErrnoException).code ?? e.message}`);
    });
  }

  /** Bind; resolves the bound address (use port 0 in tests). Rejects `MLLP_LISTEN_FAILED`. */
  listen(): Promise<net.AddressInfo> {
    const p = new Promise<net.AddressInfo>((resolve, reject) => {
      const onErr = (e: Error): void => reject(new NhsError('MLLP_LISTEN_FAILED', `mllp: cannot listen on port ${this.opts.port ?? 0}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { cause: e }));
      this.server.once('error', onErr);
      this.server.listen({ port: this.opts.port ?? 0, host: this.opts.host || undefined }, () => {
        this.server.off('error', onErr);
        resolve(this.server.address() as net.AddressInfo);
        this.emit('listening');
      });
    });
    this.pendingListen = p;
    const clear = (): void => { if (this.pendingListen === p) this.pendingListen = undefined; };
    p.then(clear, clear);
    return p;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  get connections(): number {
    return this.sessions.size;
  }

  /** The live session with this id, if its connection is still open. */
  session(id: string): MllpSession | undefined {
    return this.sessions.get(id);
  }

  /** Stop accepting, drop every connection, resolve when the port is free (safe to call twice). */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sessions.values()) s.close();
    // A peer that never finishes its TLS handshake has no session yet but would hold server.close().
    for (const sock of this.rawSockets) sock.destroy();
    this.rawSockets.clear();
    // Its failure is listen()'s caller's to report; here it only means there is nothing to unbind.
    await this.pendingListen?.catch(() => undefined);
    await new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
  }

  private gate(sock: net.Socket): void {
    const addr = sock.remoteAddress;
    let why: string | undefined;
    if (this.closing) why = 'closing';
    else if (!this.allow.allows(addr)) why = 'source address not in allow-list';
    // Counted from the TCP accept: a TLS handshake in progress holds a slot like a session does.
    else if (this.maxConnections > 0 && this.rawSockets.size >= this.maxConnections && !this.evictHandshake()) why = `max connections (${this.maxConnections}) reached`;
    if (why) {
      this.stats.refused++;
      this.log('warn', `mllp: connection from ${addr ?? '?'} refused: ${why}`);
      sock.destroy();
      return;
    }
    this.rawSockets.add(sock);
    const key = `${addr ?? ''}|${sock.remotePort ?? 0}`;
    if (this.opts.tls) this.handshaking.set(key, sock);
    sock.once('close', () => {
      this.rawSockets.delete(sock);
      if (this.handshaking.get(key) === sock) this.handshaking.delete(key);
    });
  }

  /**
   * At the limit, the oldest connection still in its TLS handshake gives way to a newcomer, so
   * half-open handshakes can neither exceed the limit nor lock out a sender that completes its
   * handshake at once. Established sessions are never evicted.
   */
  private evictHandshake(): boolean {
    const first = this.handshaking.entries().next();
    if (first.done) return false;
    const [key, oldest] = first.value;
    this.handshaking.delete(key);
    this.rawSockets.delete(oldest);
    this.stats.evicted++;
    this.log('warn', `mllp: dropped a connection from ${oldest.remoteAddress ?? '?'} still in its TLS handshake: max connections (${this.maxConnections}) reached`);
    oldest.destroy();
    return true;
  }

  private accept(sock: net.Socket): void {
    if (sock.destroyed) return;
    this.handshaking.delete(`${sock.remoteAddress ?? ''}|${sock.remotePort ?? 0}`);
    const s = new Session(sock, this.idGen(), this.maxFrameBytes);
    this.sessions.set(s.id, s);
    this.stats.accepted++;
    sock.setNoDelay(true);
    if (this.opts.idleTimeoutMs) {
      const idleMs = this.opts.idleTimeoutMs;
      sock.setTimeout(idleMs);
      sock.on('timeout', () => {
        // Waiting on our own reply is not idleness: look again later.
        if (s.pending > 0 || s.inFlight > 0) {
          sock.setTimeout(idleMs);
          return;
        }
        this.log('info', `mllp: closing idle connection ${s.id}`);
        s.close();
      });
    }
    sock.on('data', (chunk: Buffer) => this.onData(s, chunk));
    sock.on('drain', () => {
      s.writeBlocked = false;
      if (s.stallTimer) clearTimeout(s.stallTimer);
      s.stallTimer = undefined;
      this.pump(s);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => this.log('debug', `mllp: connection ${s.id} error ${e.code ?? e.message}`));
    sock.on('close', () => {
      s.open = false;
      if (s.stallTimer) clearTimeout(s.stallTimer);
      s.backlog = [];
      if (s.decoder.partial) {
        this.stats.truncated++;
        this.log('warn', `mllp: connection ${s.id} closed mid-frame (${s.decoder.bufferedBytes} bytes dropped, never ACKed)`);
      }
      s.decoder.reset();
      this.sessions.delete(s.id);
      this.emit('disconnect', s);
    });
    this.emit('connection', s);
  }

  private onData(s: Session, chunk: Buffer): void {
    let frames: Buffer[];
    const junkBefore = s.decoder.stats.junkBytes;
    try {
      frames = s.decoder.push(chunk);
    } catch (e) {
      this.stats.oversize++;
      const err = toNhsError(e, 'MLLP_FRAME_ERROR');
      this.log('warn', `mllp: closing connection ${s.id} from ${s.remoteAddress}: ${err.message}`);
      s.close();
      return;
    }
    const junk = s.decoder.stats.junkBytes - junkBefore;
    if (junk > 0) {
      this.stats.junkBytes += junk;
      this.log('debug', `mllp: ${junk} bytes outside any frame discarded on ${s.id}`);
    }
    if (frames.length === 0) return;
    this.scheduleFlush();
    if (s.backlogHead < s.backlog.length) {
      for (const f of frames) s.backlog.push(f);
    } else {
      s.backlog = frames;
      s.backlogHead = 0;
    }
    this.pump(s);
  }

  /**
   * Dispatch held frames while the connection is under its in-flight limit, then pause or resume
   * reading. Pausing is the only back-pressure TCP gives us: the peer's writes then block in its
   * own kernel buffers, so neither its frames nor our replies pile up in this process.
   */
  private pump(s: Session): void {
    if (s.pumping) return; // re-entered from a reply written while dispatching: the loop below continues
    s.pumping = true;
    try {
      while (s.open && s.backlogHead < s.backlog.length && s.inFlight < this.maxInFlight) {
        const f = s.backlog[s.backlogHead++] as Buffer;
        this.dispatch(s, f);
      }
    } finally {
      s.pumping = false;
    }
    if (s.backlogHead >= s.backlog.length && s.backlog.length > 0) {
      s.backlog = [];
      s.backlogHead = 0;
    }
    if (!s.open) return;
    const hold = s.writeBlocked || s.inFlight >= this.maxInFlight || s.backlogHead < s.backlog.length;
    if (hold && !s.paused) {
      s.paused = true;
      this.stats.paused++;
      s.socket.pause();
    } else if (!hold && s.paused) {
      s.paused = false;
      s.socket.resume();
    }
  }

  /** A frame's reply was written (or there was none): one fewer in flight. */
  private settled(s: Session): void {
    s.inFlight--;
    if (s.paused || s.backlogHead < s.backlog.length) this.pump(s);
  }

  /** Write a reply; a full socket buffer pauses reading until 'drain'. */
  private write(s: Session, b: Buffer): void {
    if (s.socket.write(b) || s.writeBlocked) return;
    s.writeBlocked = true;
    if (this.writeStallMs > 0) {
      s.stallTimer = setTimeout(() => {
        if (!s.writeBlocked || !s.open) return;
        this.stats.stalled++;
        this.log('warn', `mllp: closing connection ${s.id}: its replies stayed unread for ${this.writeStallMs} ms`);
        s.close();
      }, this.writeStallMs);
      s.stallTimer.unref();
    }
    this.pump(s);
  }

  /**
   * Replies that were ready in the turn their frame arrived, written together once the poll phase
   * has read every connection (one immediate per loop turn). On loopback and on VMs a write to a
   * peer that is asleep pays for waking it; writing the turn's replies back to back wakes each
   * peer once per turn instead of interleaving wake-ups with parsing. Measured in bench/mllp.md.
   */
  private outQ: Session[] = [];
  private outB: Buffer[] = [];
  private flushScheduled = false;
  private readonly flushOut = (): void => {
    this.flushScheduled = false;
    const q = this.outQ;
    const b = this.outB;
    this.outQ = [];
    this.outB = [];
    for (let i = 0; i < q.length; i++) {
      const s = q[i] as Session;
      s.queued--;
      if (s.open) this.write(s, b[i] as Buffer);
      this.settled(s);
    }
  };

  /** A reply ready in the turn its frame arrived: into the per-turn queue. */
  private queueReply(s: Session, r: Buffer | string | undefined): void {
    if (r === undefined || !s.open) {
      this.settled(s);
      return;
    }
    s.queued++;
    this.outQ.push(s);
    this.outB.push(encodeFrame(r));
    this.scheduleFlush();
  }

  /**
   * A reply that became ready later (after a commit, or from the flow): written at once, so it
   * does not wait behind the flow work queued for this turn; after its connection's queued
   * replies if any are still waiting, so replies leave in arrival order. A group commit settles
   * its replies in one burst, so these writes are back to back too.
   */
  private lateReply(s: Session, r: Buffer | string | undefined): void {
    if (r === undefined || !s.open) {
      this.settled(s);
      return;
    }
    if (s.queued > 0) this.queueReply(s, r);
    else {
      this.write(s, encodeFrame(r));
      this.settled(s);
    }
  }

  /** Scheduled before frames are handled, so the replies go out before the flow work the handler queues. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushOut);
  }

  private dispatch(s: Session, frame: Buffer): void {
    const seq = ++s.received;
    this.stats.frames++;
    s.inFlight++;
    let result: Promise<Buffer | string | undefined> | Buffer | string | undefined;
    try {
      result = this.opts.onFrame(frame, s, seq);
    } catch (e) {
      result = Promise.reject(toNhsError(e, 'MLLP_HANDLER_FAILED'));
    }
    // A reply ready now, with no earlier reply still pending on this connection (the
    // request/response case): write it in this turn, no promise per message.
    if (s.pending === 0 && !isThenable(result)) {
      this.queueReply(s, result);
      return;
    }
    s.pending++;
    const reply = Promise.resolve(result);
    // Mark handled now: it may settle long before the replies queued ahead of it.
    reply.catch(() => undefined);
    // Chain on the previous reply so ACKs leave in arrival order. With nothing else pending the
    // previous tail has settled, so wait on this reply alone.
    s.tail = (s.pending === 1 ? reply : s.tail.then(() => reply)).then(
      (r) => {
        s.pending--;
        this.lateReply(s, r);
      },
      (e: unknown) => {
        s.pending--;
        s.inFlight--;
        this.log('warn', `mllp: no reply for frame ${seq} on ${s.id} (${toNhsError(e, 'MLLP_HANDLER_FAILED').code}); closing connection`);
        s.close();
      },
    );
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
