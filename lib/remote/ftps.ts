/**
 * FTPS {@link FileSource} (basic-ftp), explicit TLS (`AUTH TLS` on the control port, RFC 4217)
 * with the server certificate checked against the system CAs or the configured `ca`, and the
 * host name against the certificate — never `rejectUnauthorized: false`. Data connections are
 * protected too (basic-ftp sends `PROT P`).
 */
import { stat } from 'node:fs/promises';
import { Client } from 'basic-ftp';
import { remoteError, remoteJoin, sessionCall, type FileSource, type RemoteEntry } from './source';

export interface FtpsSourceOptions {
  host: string;
  port?: number;
  username: string;
  password?: string;
  /** PEM CA certificate(s) that sign the server certificate (default: the system CAs). */
  ca?: string;
  /** Name the certificate must carry (default `host`). */
  servername?: string;
  folder: string;
  archiveFolder?: string;
  timeoutMs?: number;
}

export class FtpsSource implements FileSource {
  readonly kind = 'ftps' as const;
  private client: Client | undefined;

  constructor(private readonly o: FtpsSourceOptions) {}

  private async connect(): Promise<Client> {
    if (this.client && !this.client.closed) return this.client;
    const c = new Client(this.o.timeoutMs ?? 10_000);
    try {
      await c.access({
        host: this.o.host,
        port: this.o.port ?? 21,
        user: this.o.username,
        password: this.o.password ?? '',
        secure: true,
        secureOptions: {
          rejectUnauthorized: true,
          servername: this.o.servername ?? this.o.host,
          ...(this.o.ca ? { ca: this.o.ca } : {}),
        },
      });
    } catch (e) {
      c.close();
      const code = (e as { code?: unknown })?.code;
      throw remoteError(typeof code === 'string' && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(code) ? 'REMOTE_CERT_REFUSED' : 'REMOTE_UNAVAILABLE', `FTPS ${this.o.host}:${this.o.port ?? 21} connect failed`, e);
    }
    this.client = c;
    return c;
  }

  private run<T>(code: string, what: string, f: (c: Client) => Promise<T>): Promise<T> {
    return sessionCall({ connect: () => this.connect(), close: () => this.close() }, code, what, f);
  }

  list(): Promise<RemoteEntry[]> {
    return this.run('REMOTE_UNAVAILABLE', 'FTPS list failed', async (c) =>
      (await c.list(this.o.folder)).filter((f) => f.isFile).map((f) => ({ name: f.name, size: f.size, ...(f.modifiedAt ? { modifiedAt: f.modifiedAt.getTime() } : {}) })));
  }

  download(name: string, localPath: string): Promise<number> {
    const remote = remoteJoin(this.o.folder, name);
    return this.run('REMOTE_DOWNLOAD_FAILED', 'FTPS download failed', async (c) => {
      await c.downloadTo(localPath, remote);
      return (await stat(localPath)).size;
    });
  }

  archive(name: string): Promise<void> {
    const archive = this.o.archiveFolder;
    if (!archive) return Promise.resolve();
    return this.run('REMOTE_ARCHIVE_FAILED', 'FTPS archive failed', async (c) => {
      const home = await c.pwd();
      await c.ensureDir(archive);
      await c.cd(home);
      await c.rename(remoteJoin(this.o.folder, name), remoteJoin(archive, name));
    });
  }

  close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    return Promise.resolve();
  }
}
