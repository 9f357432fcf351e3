/**
 * SFTP {@link FileSource} (ssh2-sftp-client). The server's host key is pinned by its SHA-256
 * fingerprint (OpenSSH form, `SHA256:…`): a server presenting any other key is refused before
 * authentication, and with no pin the connection is refused too unless `allowUnknownHostKey` is
 * set — the error then names the fingerprint seen, so it can be checked out of band and pinned.
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import SftpClient from 'ssh2-sftp-client';
import { NhsError } from '../errors';
import { normaliseFingerprint, remoteError, remoteJoin, sessionCall, sshFingerprint, type FileSource, type RemoteEntry } from './source';

export interface SftpSourceOptions {
  host: string;
  port?: number;
  username: string;
  password?: string;
  /** PEM/OpenSSH private key text. */
  privateKey?: string;
  passphrase?: string;
  /** `SHA256:…` fingerprint(s) of the server's host key; several while a key rolls over. */
  hostKeys?: readonly string[];
  allowUnknownHostKey?: boolean;
  folder: string;
  archiveFolder?: string;
  /** Connect timeout (default 10 s). */
  timeoutMs?: number;
}

export class SftpSource implements FileSource {
  readonly kind = 'sftp' as const;
  private client: SftpClient | undefined;
  private connecting: Promise<SftpClient> | undefined;
  /** Fingerprint of the key the last connection attempt was offered (for the refusal error). */
  private seen: string | undefined;

  constructor(private readonly o: SftpSourceOptions) {}

  private connect(): Promise<SftpClient> {
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    const pins = new Set((this.o.hostKeys ?? []).filter((k) => k.trim()).map(normaliseFingerprint));
    const c = new SftpClient('nhs-esr');
    this.seen = undefined;
    this.connecting = c.connect({
      host: this.o.host,
      port: this.o.port ?? 22,
      username: this.o.username,
      ...(this.o.password ? { password: this.o.password } : {}),
      ...(this.o.privateKey ? { privateKey: this.o.privateKey } : {}),
      ...(this.o.passphrase ? { passphrase: this.o.passphrase } : {}),
      readyTimeout: this.o.timeoutMs ?? 10_000,
      retries: 0,
      hostVerifier: (key: Buffer): boolean => {
        this.seen = sshFingerprint(key);
        return pins.size === 0 ? this.o.allowUnknownHostKey === true : pins.has(this.seen);
      },
    }).then(
      () => {
        this.client = c;
        this.connecting = undefined;
        // A dropped connection is noticed on the next call; the client must not crash the process.
        c.on('error', () => { this.client = undefined; });
        c.on('close', () => { this.client = undefined; });
        return c;
      },
      async (e: unknown) => {
        this.connecting = undefined;
        await c.end().catch(() => undefined);
        const m = e instanceof Error ? e.message : String(e);
        if (this.seen && /host.*(verif|key)|verification/i.test(m)) {
          throw new NhsError('REMOTE_HOST_KEY_REFUSED', `SFTP ${this.o.host}: host key ${this.seen} is not the pinned key`, { cause: e, detail: { fingerprint: this.seen } });
        }
        throw remoteError('REMOTE_UNAVAILABLE', `SFTP ${this.o.host}:${this.o.port ?? 22} connect failed`, e);
      },
    );
    return this.connecting;
  }

  private run<T>(code: string, what: string, f: (c: SftpClient) => Promise<T>): Promise<T> {
    return sessionCall({ connect: () => this.connect(), close: () => this.close() }, code, what, f);
  }

  list(): Promise<RemoteEntry[]> {
    return this.run('REMOTE_UNAVAILABLE', 'SFTP list failed', async (c) =>
      (await c.list(this.o.folder)).filter((f) => f.type === '-').map((f) => ({ name: f.name, size: f.size, modifiedAt: f.modifyTime })));
  }

  download(name: string, localPath: string): Promise<number> {
    const remote = remoteJoin(this.o.folder, name);
    return this.run('REMOTE_DOWNLOAD_FAILED', 'SFTP download failed', async (c) => {
      // Our own stream, awaited until closed: get() can resolve before a file it opened itself
      // is flushed, and a size read then would be short.
      const ws = createWriteStream(localPath);
      const closed = new Promise<void>((resolve, reject) => { ws.once('close', resolve); ws.once('error', reject); });
      // A failed transfer may destroy the stream with an error: that rejection is reported by get().
      closed.catch(() => undefined);
      try {
        await c.get(remote, ws);
        if (!ws.writableEnded) ws.end();
        await closed;
      } finally {
        ws.destroy();
      }
      return (await stat(localPath)).size;
    });
  }

  archive(name: string): Promise<void> {
    const archive = this.o.archiveFolder;
    if (!archive) return Promise.resolve();
    return this.run('REMOTE_ARCHIVE_FAILED', 'SFTP archive failed', async (c) => {
      if (!(await c.exists(archive))) await c.mkdir(archive, true);
      await c.rename(remoteJoin(this.o.folder, name), remoteJoin(archive, name));
    });
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }
}
