/**
 * File sources for batch intakes (DESIGN.md §1 `lib/remote`): a local folder, SFTP and FTPS behind
 * one small interface. A source lists the files of one folder, downloads one to a local path,
 * and archives one (moves it into the archive folder) once its content is safely committed.
 * Credentials never appear in errors; every failure is an NhsError with a `REMOTE_*` code.
 */
import { createHash } from 'node:crypto';
import { NhsError } from '../errors';

export interface RemoteEntry {
  name: string;
  size: number;
  /** Last modification, ms since the epoch, when the server says. */
  modifiedAt?: number;
}

export interface FileSource {
  readonly kind: 'folder' | 'sftp' | 'ftps';
  /** Regular files in the source folder (not sub-folders). */
  list(): Promise<RemoteEntry[]>;
  /** Copy `name` to `localPath` (overwritten); resolves the bytes written. */
  download(name: string, localPath: string): Promise<number>;
  /** Move `name` into the archive folder; a no-op when none is configured. */
  archive(name: string): Promise<void>;
  /** Close any connection (the next call reconnects). */
  close(): Promise<void>;
}

/**
 * OpenSSH's fingerprint form of a raw host key blob: `SHA256:` + unpadded base64 of its SHA-256
 * (what `ssh-keygen -lf` and `ssh-keyscan | ssh-keygen -lf -` print).
 */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Normalise a configured fingerprint (with or without `SHA256:`, padding, spaces) for comparison. */
export function normaliseFingerprint(fp: string): string {
  const t = fp.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  return `SHA256:${t}`;
}

/**
 * A file-name pattern: `*` and `?` wildcards (case-insensitive, whole name), or a regular
 * expression written `/…/`.
 */
export function namePattern(p: string | undefined): RegExp {
  const s = (p ?? '').trim();
  if (!s) return /^.*$/;
  if (s.length > 2 && s.startsWith('/') && s.endsWith('/')) return new RegExp(s.slice(1, -1), 'i');
  return new RegExp(`^${s.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
}

/** A remote file name safe to join to a folder: no separators, not `.`/`..`. */
export function checkName(name: string): void {
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new NhsError('REMOTE_INVALID', 'file name is not a plain file name');
  }
}

/** Join a remote (POSIX) folder and a file name. */
export function remoteJoin(folder: string, name: string): string {
  checkName(name);
  const f = folder.trim() || '.';
  return f.endsWith('/') ? `${f}${name}` : `${f}/${name}`;
}

/** Wrap a driver error as an NhsError with `code`, dropping anything that could carry a secret. */
export function remoteError(code: string, what: string, e: unknown): NhsError {
  const m = e instanceof Error ? e.message : String(e);
  // Driver messages name host, path and reason; strip anything that looks like user:pass@.
  return new NhsError(code, `${what}: ${m.replace(/\/\/[^@\s/]*@/g, '//***@')}`, { cause: e });
}

/**
 * One call on a remote session: connect (or reuse), run `f`; on failure the session is closed,
 * since it may be unusable and the next call should start a fresh one, and the error is wrapped
 * with `code` ({@link remoteError}).
 */
export async function sessionCall<C, T>(session: { connect(): Promise<C>; close(): Promise<void> }, code: string, what: string, f: (c: C) => Promise<T>): Promise<T> {
  const c = await session.connect();
  try {
    return await f(c);
  } catch (e) {
    await session.close();
    throw remoteError(code, what, e);
  }
}
