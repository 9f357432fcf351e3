/**
 * SQLite with its writes on one worker thread (issue 9 item 5): the worker owns the write
 * connection, so no write transaction or fsync runs on the caller's event loop; reads stay on
 * this thread on a second connection (WAL lets them run beside the writer). Same {@link Store}
 * interface, same durability contract: a write resolves only after the worker's commit.
 * Group commit happens in the worker, among the requests that reach it together.
 *
 * The writes of one event-loop turn go to the worker as one port message (and come back as one),
 * and a message append is validated and turned into its row here, at call time (as the in-thread
 * store does), so the worker only inserts it and answers its seq: per message this thread pays
 * for building the row, not for cloning the record both ways (bench/mllp.md). The row holds its
 * own copy of the bytes: structured cloning copies the whole ArrayBuffer behind a Buffer, and the
 * caller's frame may be a view of a 64 KB socket read; the copy is a view of Node's 8 KB pool,
 * which the rows of one batch share, so it is cloned once per batch.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { NhsError } from '../errors';
import { closedError, resolveOptions, type ResolvedOptions } from './options';
import { messageRecordOf, newMessageRow, type MessageRow } from './rows';
import { SqliteStore } from './sqlite';
import { mapError } from './sqlite-engine';
import type { WriterAnswer, WriterRequest } from './sqlite-writer';
import type { MessageRecord, NewMessage, Store, StoreLocation, StoreOptions, StoreStats } from './types';
import type { AlertState } from './alert-state';
import type { EsrState } from './esr-state';

type Reply = { answers: WriterAnswer[]; stats: StoreStats } | { ready: boolean; error?: { code: string; message: string } } | { closed: true };
type Waiter = { resolve(v: unknown): void; reject(e: unknown): void; row?: MessageRow };

/** Uint8Array (what a Buffer becomes across threads) back to Buffer, deep in plain records. */
function revive(v: unknown): unknown {
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = revive(o[k]);
  }
  return v;
}

// appendMessage is a method of its own (below).
const WRITES = [
  'setMessageStatus', 'enqueue', 'claimNext', 'renewOutboxLease', 'ackOutbox', 'retryOutbox', 'parkOutbox',
  'recoverOutbox', 'appendAudit', 'pruneAuditThrough', 'putQuarantine', 'transitionQuarantine', 'patchQuarantine',
  'openHandoff', 'advanceHandoff', 'adoptHandoff', 'prune',
] as const;
const READS = ['getMessage', 'findMessages', 'countMessages', 'listOutbox', 'queryAudit', 'auditHead', 'getQuarantine', 'listQuarantine', 'replayMessages', 'listHandoffs', 'size'] as const;

class ThreadedSqlite {
  readonly backend = 'sqlite' as const;
  readonly location: StoreLocation;
  private worker: Worker | undefined;
  private readonly reader: SqliteStore;
  private readonly pending = new Map<number, Waiter>();
  /** Requests of this turn, posted together by `send` (one setImmediate per turn). */
  private outgoing: WriterRequest[] = [];
  private sendScheduled = false;
  private readonly ro: ResolvedOptions;
  private next = 0;
  private state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  private opening: Promise<void> | undefined;
  private lastStats: StoreStats = { commits: 0, writes: 0, failedWrites: 0, maxBatch: 0, batchFallbacks: 0 };

  constructor(private readonly opts: StoreOptions) {
    // The reader runs no background retention: the writer does.
    this.reader = new SqliteStore({ ...opts, retentionDays: 0, sizeWarnBytes: opts.sizeWarnBytes ?? 0 });
    this.location = this.reader.location;
    this.ro = resolveOptions(opts);
    for (const m of WRITES) (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => this.call(m, args);
    for (const m of READS) (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => (this.reader as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m]!(...args);
  }

  open(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(closedError());
    if (this.opening) return this.opening;
    this.state = 'opening';
    const js = join(__dirname, 'sqlite-writer.js');
    const { onError: _e, clock: _c, idGen: _i, ...data } = this.opts;
    // Built: the compiled entry. From source (tests run TypeScript through tsx): register tsx's
    // require hook inside the worker first, as a loader registered on this thread does not reach it.
    const worker = existsSync(js)
      ? new Worker(js, { workerData: data })
      : new Worker(`require('tsx/cjs'); require(${JSON.stringify(join(__dirname, 'sqlite-writer.ts'))});`, { eval: true, workerData: data });
    this.worker = worker;
    this.opening = new Promise<void>((resolve, reject) => {
      worker.on('message', (r: Reply) => {
        if ('ready' in r) {
          if (r.ready) resolve();
          else reject(new NhsError(r.error?.code ?? 'STORE_UNAVAILABLE', r.error?.message ?? 'store writer failed to open'));
          return;
        }
        if ('closed' in r) return;
        this.lastStats = r.stats;
        for (const a of r.answers) this.answered(a);
      });
      worker.on('error', (e) => {
        const err = new NhsError('STORE_UNAVAILABLE', `store writer thread failed: ${e.message}`);
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.opts.onError?.(err);
      });
    }).then(() => this.reader.open()).then(() => { this.state = 'open'; }, async (e: unknown) => {
      this.state = 'closed';
      await worker.terminate();
      throw e;
    });
    return this.opening;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    await this.opening?.catch(() => undefined);
    if (this.state !== 'open') { this.state = 'closed'; return; }
    this.state = 'closed';
    const w = this.worker!;
    this.send();
    // The writer settles every queued write, then closes its connection.
    await new Promise<void>((resolve) => {
      w.on('message', (r: Reply) => { if ('closed' in r) resolve(); });
      w.postMessage('close');
    });
    await w.terminate();
    await this.reader.close();
  }

  /**
   * The ESR intake's and the monitor's state on the reader's connection (a second connection to the
   * same file, like a second instance: each of their writes is its own `BEGIN IMMEDIATE`, which
   * waits for the writer thread's lock through busy_timeout). Without these, an `nhs-esr` or
   * `nhs-monitor` on a writer-thread store failed with "this store has no ESR/alert state".
   */
  esrState(): EsrState {
    if (this.state !== 'open') throw closedError();
    return this.reader.esrState();
  }

  alertState(): AlertState {
    if (this.state !== 'open') throw closedError();
    return this.reader.alertState();
  }

  /** The writer's counters as of its last answer (group commit evidence, as SqliteStore.stats). */
  stats(): StoreStats {
    return { ...this.lastStats };
  }

  /** The hot path: validated and made into its row here, now; the worker answers the seq. */
  appendMessage(m: NewMessage): Promise<MessageRecord> {
    if (this.state !== 'open' || !this.worker) return Promise.reject(closedError());
    let row: MessageRow;
    try {
      row = newMessageRow(m, this.ro);
    } catch (e) {
      return Promise.reject(mapError(e));
    }
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, row });
      this.post({ id, method: 'appendMessageRow', args: [row] });
    });
  }

  private call(method: string, args: unknown[]): Promise<unknown> {
    if (this.state !== 'open' || !this.worker) return Promise.reject(closedError());
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ id, method, args });
    });
  }

  private post(req: WriterRequest): void {
    this.outgoing.push(req);
    if (this.sendScheduled) return;
    this.sendScheduled = true;
    setImmediate(this.send);
  }

  /** Post this turn's requests as one port message. */
  private readonly send = (): void => {
    this.sendScheduled = false;
    const batch = this.outgoing;
    if (batch.length === 0 || !this.worker) return;
    this.outgoing = [];
    try {
      this.worker.postMessage(batch);
    } catch {
      // One is not cloneable (a function, a symbol): post them one by one, in order, so only a
      // bad argument is refused and the others still go.
      for (const req of batch) {
        try {
          this.worker.postMessage([req]);
        } catch (e) {
          const p = this.pending.get(req.id);
          this.pending.delete(req.id);
          p?.reject(new NhsError('STORE_INVALID', `argument cannot be stored: ${e instanceof Error ? e.message : String(e)}`));
        }
      }
    }
  };

  private answered(a: WriterAnswer): void {
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    if (a.error) p.reject(new NhsError(a.error.code, a.error.message));
    else if (p.row) p.resolve(messageRecordOf(p.row, a.result as number));
    else p.resolve(revive(a.result));
  }
}

/** A SQLite {@link Store} whose writes run on a worker thread. */
export function threadedSqliteStore(opts: StoreOptions): Store {
  return new ThreadedSqlite(opts) as unknown as Store;
}
