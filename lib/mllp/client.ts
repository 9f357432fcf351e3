/**
 * MLLP sender (HL7 v2.5.1 Appendix C): one message in flight at a time per connection, each
 * answered by the next frame whose content the caller `accept`s (the ACK whose MSA-2 equals the
 * MSH-10 sent). Frames that do not match — a late ACK from a timed-out attempt, a foreign ACK —
 * are discarded and counted, never taken as this message's answer.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { NhsError } from '../errors';
import { backoffDelay, type BackoffOptions } from './backoff';
import { DEFAULT_MAX_FRAME_BYTES, MllpDecoder, encodeFrame } from './framing';

export interface MllpClientOptions {
  host: string;
  port: number;
  /** Present → TLS (pass `cert`/`key` for mutual TLS, `ca` to trust a private CA). */
  tls?: tls.ConnectionOptions;
  /** Default 10 000 ms → `MLLP_CONNECT_TIMEOUT`. */
  connectTimeoutMs?: number;
  /** Default 30 000 ms → `MLLP_ACK_TIMEOUT`. */
  ackTimeoutMs?: number;
  /** Keep the connection open between messages (default true); false = one connection per message. */
  keepAlive?: boolean;
  maxFrameBytes?: number;
  /** Wait this back-off before reconnecting after consecutive connect failures. */
  reconnect?: BackoffOptions;
  /** Injected clock (ms) so back-off is testable. */
  now?: () => number;
}

export interface MllpClientStats {
  sent: number;
  acks: number;
  /** Frames received that answered nothing we were waiting for. */
  discarded: number;
  connects: number;
  connectFailures: number;
}

interface Waiter {
  sock: net.Socket;
  accept: (frame: Buffer) => boolean;
  resolve: (frame: Buffer) => void;
  reject: (e: Error) => void;
}

/** Reusable MLLP client. Calls to {@link send} queue; ACKs are matched one at a time. */
export class MllpClient {
  readonly stats: MllpClientStats = { sent: 0, acks: 0, discarded: 0, connects: 0, connectFailures: 0 };
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private decoder: MllpDecoder;
  private waiter: Waiter | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private failures = 0;
  private lastFailureAt = 0;
  private closed = false;
  /** Cancels the back-off sleep or the connect in progress, so close() does not wait them out. */
  private abortPending: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: MllpClientOptions) {
    this.decoder = new MllpDecoder(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.now = opts.now ?? Date.now;
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /**
   * Send one message and resolve the answering frame. `accept` decides whether a received frame
   * is the answer (default: any frame). Rejects `MLLP_CONNECT_TIMEOUT`, `MLLP_CONNECT_FAILED`,
   * `MLLP_ACK_TIMEOUT`, `MLLP_CONNECTION_CLOSED`, `MLLP_FRAME_TOO_LARGE`, `MLLP_CLIENT_CLOSED`.
   */
  send(payload: Buffer | string, accept: (frame: Buffer) => boolean = () => true): Promise<Buffer> {
    const run = (): Promise<Buffer> => this.sendNow(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload, accept);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Close the connection; pending sends reject `MLLP_CLIENT_CLOSED`. */
  async close(): Promise<void> {
    this.closed = true;
    this.abortPending?.();
    this.abortPending = undefined;
    this.fail(closedError());
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end();
        setTimeout(() => s.destroy(), 200).unref();
      });
    }
  }

  private async sendNow(payload: Buffer, accept: (frame: Buffer) => boolean): Promise<Buffer> {
    if (this.closed) throw closedError();
    const sock = await this.connect();
    if (this.closed) {
      this.drop(sock);
      throw closedError();
    }
    const ackMs = this.opts.ackTimeoutMs ?? 30_000;
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          // The connection's state is unknown after a timeout: a late ACK must not be mistaken
          // for the next message's, so start the next send on a fresh connection.
          this.drop(sock);
          reject(new NhsError('MLLP_ACK_TIMEOUT', `no ACK within ${ackMs} ms from ${this.opts.host}:${this.opts.port}`, { detail: { ackTimeoutMs: ackMs } }));
        }, ackMs);
        this.waiter = {
          sock,
          accept,
          resolve: (f) => { clearTimeout(timer); resolve(f); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        };
        this.stats.sent++;
        sock.write(encodeFrame(payload));
      });
    } finally {
      this.waiter = undefined;
      if (this.opts.keepAlive === false) this.drop(sock, true);
    }
  }

  private drop(sock: net.Socket, graceful = false): void {
    if (this.socket === sock) this.socket = undefined;
    if (graceful) sock.end();
    else sock.destroy();
  }

  private fail(e: Error, sock?: net.Socket): void {
    const w = this.waiter;
    if (!w || (sock && w.sock !== sock)) return;
    this.waiter = undefined;
    w.reject(e);
  }

  private connect(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= this.openSocket().finally(() => { this.connecting = undefined; });
    return this.connecting;
  }

  private async openSocket(): Promise<net.Socket> {
    if (this.failures > 0) {
      const wait = this.lastFailureAt + backoffDelay(this.failures, this.opts.reconnect ?? { baseMs: 500, maxMs: 30_000 }) - this.now();
      if (wait > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, wait);
          this.abortPending = () => { clearTimeout(t); r(); };
        });
        this.abortPending = undefined;
      }
    }
    if (this.closed) throw closedError();
    const { host, port } = this.opts;
    const ms = this.opts.connectTimeoutMs ?? 10_000;
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = this.opts.tls ? tls.connect({ ...this.opts.tls, host, port }) : net.connect({ host, port });
      const ready = this.opts.tls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        s.destroy();
        reject(new NhsError('MLLP_CONNECT_TIMEOUT', `connect to ${host}:${port} timed out after ${ms} ms`, { detail: { connectTimeoutMs: ms } }));
      }, ms);
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new NhsError('MLLP_CONNECT_FAILED', `connect to ${host}:${port} failed: ${e.code ?? e.message}`, { cause: e, detail: { cause: e.code } }));
      });
      s.once(ready, () => {
        clearTimeout(timer);
        resolve(s);
      });
      this.abortPending = () => {
        clearTimeout(timer);
        s.destroy();
        reject(closedError());
      };
    }).catch((e: unknown) => {
      this.abortPending = undefined;
      if (this.closed) throw closedError();
      this.failures++;
      this.lastFailureAt = this.now();
      this.stats.connectFailures++;
      throw e;
    });
    this.abortPending = undefined;
    if (this.closed) {
      sock.destroy();
      throw closedError();
    }
    this.failures = 0;
    this.stats.connects++;
    sock.setNoDelay(true);
    sock.removeAllListeners('error');
    this.decoder = new MllpDecoder(this.opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    const decoder = this.decoder;
    sock.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        this.drop(sock);
        this.fail(e as Error, sock);
        return;
      }
      for (const f of frames) {
        const w = this.waiter;
        if (w && w.sock === sock && w.accept(f)) {
          this.waiter = undefined;
          this.stats.acks++;
          w.resolve(f);
        } else {
          this.stats.discarded++;
        }
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.socket === sock) this.socket = undefined;
      this.fail(new NhsError('MLLP_CONNECTION_CLOSED', `connection to ${host}:${port} closed before the ACK arrived`), sock);
    });
    this.socket = sock;
    return sock;
  }
}

function closedError(): NhsError {
  return new NhsError('MLLP_CLIENT_CLOSED', 'mllp client closed');
}
