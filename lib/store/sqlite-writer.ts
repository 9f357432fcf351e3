/**
 * Worker-thread entry of {@link ThreadedSqliteStore}: owns the SQLite write connection, so every
 * write transaction and its fsync run off the main thread (issue 9 item 5). Each request is a
 * call of one SqliteStore write method; requests that arrive together are group committed by
 * that store exactly as on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite';
import type { StoreOptions } from './types';

interface Request { id: number; method: string; args: unknown[] }

const port = parentPort;
if (port) {
  const store = new SqliteStore(workerData as StoreOptions);
  const opened = store.open();
  // Buffers arrive as Uint8Array after structured cloning; cycles (a hostile argument) survive it.
  const revive = (v: unknown, seen = new WeakSet<object>()): unknown => {
    if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (v && typeof v === 'object' && !(v instanceof Date) && !seen.has(v)) {
      seen.add(v);
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = revive(o[k], seen);
    }
    return v;
  };
  port.on('message', (req: Request | 'close') => {
    if (req === 'close') {
      // Chained on `opened` like every request, so the requests that came before it are queued first.
      void opened.catch(() => undefined).then(() => store.close()).finally(() => port.postMessage({ closed: true }));
      return;
    }
    void opened
      .then(() => (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[req.method]!(...req.args.map((a) => revive(a))))
      .then(
        (result) => port.postMessage({ id: req.id, result, stats: store.stats() }),
        (e: unknown) => port.postMessage({ id: req.id, stats: store.stats(), error: { code: (e as { code?: unknown }).code ?? 'STORE_UNAVAILABLE', message: e instanceof Error ? e.message : String(e) } }),
      );
  });
  opened.then(() => port.postMessage({ ready: true }), (e: unknown) => port.postMessage({ ready: false, error: { code: (e as { code?: unknown }).code ?? 'STORE_UNAVAILABLE', message: e instanceof Error ? e.message : String(e) } }));
}
