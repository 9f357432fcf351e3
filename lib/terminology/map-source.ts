/**
 * Map files loaded once and kept in memory, reloaded when a file changes on disk (polled with
 * `fs.watchFile`, which also sees a file replaced by rename as editors and release scripts do).
 * A reload that fails keeps the previous table and reports the error; lookups never wait for a
 * reload.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { loadMapFile, type LoadOptions } from './map-loaders';
import { MapSet, type MapTable } from './maps';

export interface MapFileSpec extends LoadOptions { file: string }

export interface MapSourceEvents {
  /** A file was (re)loaded: name, number of source codes, issues found. */
  loaded?(file: string, table: MapTable): void;
  /** A (re)load failed; the previous table (if any) stays in use. */
  failed?(file: string, err: Error): void;
}

/** The map files of one configuration. */
export class MapSource {
  private tables: (MapTable | undefined)[];
  private current = new MapSet([]);
  private closed = false;
  private readonly listeners: ((curr: Stats, prev: Stats) => void)[] = [];
  /** Settles once every file had its first load attempt (never rejects). */
  readonly ready: Promise<void>;

  constructor(readonly specs: MapFileSpec[], private readonly events: MapSourceEvents = {}, opts: { watch?: boolean; intervalMs?: number } = {}) {
    this.tables = specs.map(() => undefined);
    this.ready = Promise.all(specs.map((_, i) => this.load(i))).then(() => undefined);
    if (opts.watch !== false) {
      specs.forEach((s, i) => {
        const l = (curr: Stats, prev: Stats): void => {
          if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) void this.load(i);
        };
        this.listeners.push(l);
        watchFile(s.file, { interval: opts.intervalMs ?? 2000, persistent: false }, l);
      });
    }
  }

  /** The maps as they are now (searched in the configured order). */
  get maps(): MapSet { return this.current; }

  /** Loaded tables (a file that never loaded is absent). */
  get loaded(): MapTable[] { return this.tables.filter((t): t is MapTable => t !== undefined); }

  /** Load (or reload) file `i` now. */
  async load(i: number): Promise<void> {
    const spec = this.specs[i]!;
    try {
      const t = await loadMapFile(spec.file, spec);
      if (this.closed) return;
      this.tables[i] = t;
      this.current = new MapSet(this.loaded);
      this.events.loaded?.(spec.file, t);
    } catch (e) {
      if (!this.closed) this.events.failed?.(spec.file, e instanceof Error ? e : new Error(String(e)));
    }
  }

  close(): void {
    this.closed = true;
    this.specs.forEach((s, i) => unwatchFile(s.file, this.listeners[i]));
  }
}
