/** One way to make a {@link FileSource} from plain settings (what the `nhs-esr-source` node holds). */
import { NhsError } from '../errors';
import { FolderSource } from './folder';
import { FtpsSource } from './ftps';
import { SftpSource } from './sftp';
import type { FileSource } from './source';

export * from './source';
export { FolderSource } from './folder';
export { FtpsSource } from './ftps';
export { SftpSource } from './sftp';

export interface FileSourceSettings {
  protocol: 'folder' | 'sftp' | 'ftps';
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  /** SFTP: pinned host key fingerprints (`SHA256:…`), comma or newline separated in the editor. */
  hostKeys?: string[];
  allowUnknownHostKey?: boolean;
  /** FTPS: CA certificate(s), PEM. */
  ca?: string | Buffer | (string | Buffer)[];
  servername?: string;
  folder: string;
  archiveFolder?: string;
  timeoutMs?: number;
}

export function createFileSource(s: FileSourceSettings): FileSource {
  if (!s.folder) throw new NhsError('REMOTE_INVALID', 'a folder is required');
  const archive = s.archiveFolder ? { archiveFolder: s.archiveFolder } : {};
  if (s.protocol === 'folder') return new FolderSource({ folder: s.folder, ...archive });
  if (!s.host) throw new NhsError('REMOTE_INVALID', `${s.protocol} needs a host`);
  if (!s.username) throw new NhsError('REMOTE_INVALID', `${s.protocol} needs a user name`);
  const timeout = s.timeoutMs ? { timeoutMs: s.timeoutMs } : {};
  if (s.protocol === 'sftp') {
    return new SftpSource({
      host: s.host, username: s.username, folder: s.folder, ...archive, ...timeout,
      ...(s.port ? { port: s.port } : {}), ...(s.password ? { password: s.password } : {}),
      ...(s.privateKey ? { privateKey: s.privateKey } : {}), ...(s.passphrase ? { passphrase: s.passphrase } : {}),
      hostKeys: s.hostKeys ?? [], allowUnknownHostKey: s.allowUnknownHostKey === true,
    });
  }
  if (s.protocol === 'ftps') {
    const ca = Array.isArray(s.ca) ? s.ca.map(String).join('\n') : s.ca !== undefined ? String(s.ca) : undefined;
    return new FtpsSource({
      host: s.host, username: s.username, folder: s.folder, ...archive, ...timeout,
      ...(s.port ? { port: s.port } : {}), ...(s.password ? { password: s.password } : {}),
      ...(ca ? { ca } : {}), ...(s.servername ? { servername: s.servername } : {}),
    });
  }
  throw new NhsError('REMOTE_INVALID', 'protocol must be folder, sftp or ftps');
}
