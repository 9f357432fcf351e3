import * as tls from 'node:tls';
import { hostname } from 'node:os';
import { NhsError } from '../errors';

/**
 * RFC 5424 syslog messages sent over TLS (RFC 5425) with octet-counting framing, as IHE ATNA
 * "Record Audit Event" [ITI-20] uses to reach an Audit Record Repository.
 */

/** RFC 5424 §6.2.1: facility 10 (security/authorization), severity 5 (notice) → PRI 85. */
export const ATNA_PRI = 10 * 8 + 5;

const NILVALUE = '-';

/** RFC 5424 header fields are PRINTUSASCII without spaces, bounded length. */
function headerField(v: string | undefined, max: number): string {
  if (!v) return NILVALUE;
  const clean = v.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean.length ? clean : NILVALUE;
}

export interface SyslogFields {
  /** ISO 8601 timestamp (RFC 5424 §6.2.3). */
  time: string;
  msg: string;
  appName?: string;
  host?: string;
  procId?: string;
  /** ATNA uses MSGID `IHE+RFC-3881` for DICOM XML; we send FHIR JSON under `IHE+FHIR`. */
  msgId?: string;
  pri?: number;
}

/** One RFC 5424 message (no framing). MSG is UTF-8 with a BOM as §6.4 allows. */
export function formatSyslog(f: SyslogFields): Buffer {
  const header = `<${f.pri ?? ATNA_PRI}>1 ${headerField(f.time, 64)} ${headerField(f.host ?? hostname(), 255)} ${headerField(f.appName ?? 'node-red', 48)} ${headerField(f.procId ?? String(process.pid), 128)} ${headerField(f.msgId ?? 'IHE+FHIR', 32)} ${NILVALUE} `;
  return Buffer.concat([Buffer.from(header, 'ascii'), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(f.msg, 'utf8')]);
}

/** RFC 5425 §4.3 / RFC 6587 §3.4.1 octet-counting: `MSG-LEN SP SYSLOG-MSG`. */
export function frameOctetCounting(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/**
 * Incremental decoder for octet-counted frames (a collector's side; used by tests and by anyone
 * writing a local receiver). Rejects a bad length rather than resynchronising, because a framing
 * error on a TLS stream means the stream is corrupt.
 */
export class OctetCountingDecoder {
  private buf = Buffer.alloc(0);
  constructor(private readonly maxFrame = 1024 * 1024) {}

  push(chunk: Buffer): Buffer[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const sp = this.buf.indexOf(0x20);
      if (sp < 0) {
        if (this.buf.length > 10) throw new NhsError('SYSLOG_FRAMING', 'syslog frame length missing');
        return out;
      }
      const lenText = this.buf.subarray(0, sp).toString('ascii');
      if (!/^[1-9]\d{0,9}$/.test(lenText)) throw new NhsError('SYSLOG_FRAMING', 'syslog frame length is not a number');
      const len = Number(lenText);
      if (len > this.maxFrame) throw new NhsError('SYSLOG_FRAMING', 'syslog frame too large', { detail: { len } });
      if (this.buf.length < sp + 1 + len) return out;
      out.push(this.buf.subarray(sp + 1, sp + 1 + len));
      this.buf = this.buf.subarray(sp + 1 + len);
    }
  }
}

export interface SyslogTlsOptions extends tls.ConnectionOptions {
  host: string;
  port: number;
  /** Connect/write timeout in ms (default 5000) → SYSLOG_UNAVAILABLE. */
  timeoutMs?: number;
}

/**
 * A TLS syslog sender that keeps one connection open and reconnects on the next send after a
 * failure. `send` resolves when the bytes were handed to the TLS socket (syslog has no
 * application ACK); it rejects with `SYSLOG_UNAVAILABLE` when the collector cannot be reached.
 */
export class SyslogTlsClient {
  private socket: tls.TLSSocket | null = null;
  private connecting: Promise<tls.TLSSocket> | null = null;
  /** The socket of the connect in progress, so close() can destroy it. */
  private opening: tls.TLSSocket | null = null;
  private closed = false;

  constructor(private readonly opts: SyslogTlsOptions) {}

  private connect(): Promise<tls.TLSSocket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    this.connecting = new Promise<tls.TLSSocket>((resolve, reject) => {
      const { timeoutMs: _t, ...conn } = this.opts;
      const s = tls.connect({ ...conn, servername: conn.servername ?? (/^[\d.:]+$/.test(conn.host) ? undefined : conn.host) });
      this.opening = s;
      const timer = setTimeout(() => { s.destroy(); reject(new NhsError('SYSLOG_UNAVAILABLE', 'syslog collector connect timed out')); }, timeoutMs);
      // Destroyed by close() before the handshake finished: neither 'error' nor 'secureConnect' comes.
      s.once('close', () => { clearTimeout(timer); reject(new NhsError('SYSLOG_CLOSED', 'syslog connection closed while opening')); });
      s.once('secureConnect', () => {
        clearTimeout(timer);
        if (this.closed) { s.destroy(); reject(new NhsError('SYSLOG_CLOSED', 'syslog client closed')); return; }
        this.socket = s;
        s.on('error', () => { s.destroy(); });
        s.on('close', () => { if (this.socket === s) this.socket = null; });
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new NhsError('SYSLOG_UNAVAILABLE', `syslog collector unreachable: ${e.code ?? e.message}`, { cause: e }));
      });
    }).finally(() => { this.connecting = null; this.opening = null; });
    return this.connecting;
  }

  async send(messages: Buffer[]): Promise<void> {
    if (this.closed) throw new NhsError('SYSLOG_CLOSED', 'syslog client closed');
    const s = await this.connect();
    const data = Buffer.concat(messages.map(frameOctetCounting));
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    // A collector that stops reading never calls the write back: without the race a hung
    // collector would hang the audit node's done(). The socket is unusable after, so destroyed.
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        s.destroy();
        reject(new NhsError('AUDIT_EXPORT_TIMEOUT', `syslog collector did not take the write within ${timeoutMs} ms`));
      }, timeoutMs);
      s.write(data, (e) => (e ? reject(new NhsError('SYSLOG_UNAVAILABLE', 'syslog write failed', { cause: e })) : resolve()));
    }).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.connecting;
    if (pending) {
      this.opening?.destroy();
      await pending.then((sock) => { sock.destroy(); }, () => undefined);
    }
    const s = this.socket;
    this.socket = null;
    if (s && !s.destroyed) await new Promise<void>((resolve) => { s.end(resolve); setTimeout(() => { s.destroy(); resolve(); }, 1000).unref(); });
  }
}
