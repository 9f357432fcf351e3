/** A local folder as a {@link FileSource} (a mounted share, or the offline examples). */
import { copyFile, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkName, remoteError, type FileSource, type RemoteEntry } from './source';

export interface FolderSourceOptions {
  folder: string;
  /** Where processed files are moved; none leaves them in place (the ledger remembers them). */
  archiveFolder?: string;
}

export class FolderSource implements FileSource {
  readonly kind = 'folder' as const;

  constructor(private readonly o: FolderSourceOptions) {}

  async list(): Promise<RemoteEntry[]> {
    try {
      const out: RemoteEntry[] = [];
      for (const d of await readdir(this.o.folder, { withFileTypes: true })) {
        if (!d.isFile()) continue;
        const s = await stat(join(this.o.folder, d.name)).catch(() => undefined);
        if (s) out.push({ name: d.name, size: s.size, modifiedAt: s.mtimeMs });
      }
      return out;
    } catch (e) {
      throw remoteError('REMOTE_UNAVAILABLE', 'cannot list the folder', e);
    }
  }

  async download(name: string, localPath: string): Promise<number> {
    checkName(name);
    try {
      await copyFile(join(this.o.folder, name), localPath);
      return (await stat(localPath)).size;
    } catch (e) {
      throw remoteError('REMOTE_DOWNLOAD_FAILED', 'cannot copy the file', e);
    }
  }

  async archive(name: string): Promise<void> {
    checkName(name);
    if (!this.o.archiveFolder) return;
    try {
      await mkdir(this.o.archiveFolder, { recursive: true });
      await rename(join(this.o.folder, name), join(this.o.archiveFolder, name));
    } catch (e) {
      throw remoteError('REMOTE_ARCHIVE_FAILED', 'cannot archive the file', e);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
