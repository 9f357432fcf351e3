/**
 * Worker-thread entry of {@link ThreadedSqliteStore}: owns the SQLite write connection, so every
 * write transaction and its fsync run off the main thread (issue 9 item 5). The main thread posts
 * the requests of one event-loop turn as one array; each is a call of one SqliteStore write method
 * (a message append arrives as a row built on the main thread: `appendMessageRow`). Calls made in
 * the same turn here are group committed by that store exactly as on the main thread, and the
 * answers settled together go back as one array too: one port message each way per batch, not
 * per write (a port message costs several µs of the main thread's CPU).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite';
import type { StoreOptions } from './types';

export interface WriterRequest { id: number; method: string; args: unknown[] }
export interface WriterAnswer { id: number; result?: unknown; error?: { code: string; message: string } }

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
  const errorOf = (e: unknown): { code: string; message: string } => {
    const code = (e as { code?: unknown } | null)?.code;
    return { code: typeof code === 'string' ? code : 'STORE_UNAVAILABLE', message: e instanceof Error ? e.message : String(e) };
  };
  // Answers settled in one burst (one group commit) leave in one port message.
  let out: WriterAnswer[] = [];
  let sending = false;
  const send = (): void => {
    sending = false;
    if (out.length === 0) return;
    const batch = out;
    out = [];
    port.postMessage({ answers: batch, stats: store.stats() });
  };
  const answer = (a: WriterAnswer): void => {
    out.push(a);
    if (sending) return;
    sending = true;
    setImmediate(send);
  };
  const run = (req: WriterRequest): void => {
    let p: Promise<unknown>;
    try {
      p = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[req.method]!(...req.args.map((a) => revive(a)));
    } catch (e) {
      p = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    p.then((result) => answer({ id: req.id, result }), (e: unknown) => answer({ id: req.id, error: errorOf(e) }));
  };
  let ready = false;
  port.on('message', (msg: WriterRequest[] | 'close') => {
    if (msg === 'close') {
      // Chained on `opened` like every request, so the requests that came before it are queued first.
      void opened.catch(() => undefined).then(() => store.close()).finally(() => {
        if (sending) send();
        port.postMessage({ closed: true });
      });
      return;
    }
    // Every call of the batch in this turn, so the store commits them together.
    if (ready) for (const req of msg) run(req);
    else void opened.then(() => { for (const req of msg) run(req); }, (e: unknown) => { for (const req of msg) answer({ id: req.id, error: errorOf(e) }); });
  });
  opened.then(() => {
    ready = true;
    port.postMessage({ ready: true });
  }, (e: unknown) => port.postMessage({ ready: false, error: errorOf(e) }));
}
