/**
 * SQLite backend of the store (better-sqlite3, WAL): connection and write path. Writes go through
 * the group committer: every batch is one `BEGIN IMMEDIATE` transaction, which also takes SQLite's
 * single write lock, so the audit chain step (read head → hash → insert → move head) is serialised
 * across every process that opens the same file. `busy_timeout` makes a second instance wait for
 * that lock instead of failing.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { NhsError } from '../errors';
import { StoreBase } from './base';
import { chainAudit, type AuditDraft } from './chain';
import { invalid } from './checks';
import { closedError, OpFailure, PRUNE_CHUNK, resolveOptions } from './options';
import {
  AUDIT_INSERT_COLUMNS, auditRowValues, MESSAGE_INSERT_COLUMNS, messageRecordOf, newMessageRow, OUTBOX_INSERT_COLUMNS,
  QUARANTINE_INSERT_COLUMNS, type MessageRow,
} from './rows';
import { GroupCommitter, type Settleable } from './group-commit';
import { SqliteEsrState, type EsrState } from './esr-state';
import { SqliteAlertState, type AlertState } from './alert-state';
import { SQLITE_MIGRATIONS } from './schema';
import type { AuditRecord, MessageRecord, NewMessage, StoreLocation, StoreOptions } from './types';

export type Row = Record<string, unknown>;

/** A queued write: a message append (batched into multi-row INSERTs) or any other operation. `seqOnly`: the append settles with its seq alone (the writer thread's callers build the record themselves). */
type SqlJob = Settleable & ({ msg: MessageRow; run?: undefined; seqOnly?: boolean } | { msg?: undefined; run: () => unknown; seqOnly?: undefined });

/**
 * Rows per multi-row message INSERT. One statement per row costs a VDBE run and a JS→C call each;
 * 64 rows × 10 columns = 640 parameters stays under SQLite's 32,766 limit and the statement is
 * prepared once.
 */
const MESSAGE_CHUNK = 64;
/** Inflight items a (re)starting sender may take back: unowned, lease expired (?: now), or its own (?: owner). */
const RECOVERABLE = "state = 'inflight' AND (lease_owner IS NULL OR next_attempt_at <= ? OR lease_owner = ?)";

/** SQLite placeholders are all `?`. */
export const q = (_i: number): string => '?';

/**
 * Constraint violations are a conflict in the data; SQLITE_FULL (ENOSPC on the file, its WAL or
 * journal: SQLite result code 13) is `STORE_FULL`, so the operator is told the disk is full rather
 * than that the store is unreachable (hazard HAZ-021 C8); anything else means the file is unusable.
 */
export function mapError(e: unknown): NhsError {
  if (e instanceof NhsError) return e;
  const code = (e as { code?: unknown })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) {
    return new NhsError('STORE_CONFLICT', `constraint violated: ${msg}`, { cause: e });
  }
  if (code === 'SQLITE_FULL') return new NhsError('STORE_FULL', `SQLite store failed: ${msg}`, { cause: e });
  return new NhsError('STORE_UNAVAILABLE', `SQLite store failed: ${msg}`, { cause: e });
}

/** What a committed message append settles with: its record, or (seqOnly) its seq. */
function appended(j: SqlJob, seq: number): unknown {
  return j.seqOnly ? seq : messageRecordOf(j.msg!, seq);
}

function pushMessageValues(into: unknown[], r: MessageRow): void {
  into.push(r.id, r.channel, r.raw, r.control_id, r.message_type, r.meta, r.status, r.status_detail, r.received_at, r.updated_at, r.owner);
}

/**
 * The SQLite connection and write path beneath {@link SqliteStore}: open and migrate, prepared
 * statements, group commit (one `BEGIN IMMEDIATE` per batch), reads. The operations are in sqlite.ts.
 */
export abstract class SqliteEngine extends StoreBase {
  readonly backend = 'sqlite' as const;
  readonly location: StoreLocation;
  private readonly file: string;
  protected db: Database.Database | undefined;
  private committer: GroupCommitter<SqlJob> | undefined;
  protected st!: Record<string, Database.Statement>;
  protected readonly dynamic = new Map<string, Database.Statement>();
  private batchTx!: Database.Transaction<(jobs: SqlJob[]) => unknown[]>;
  private oneTx!: Database.Transaction<(job: SqlJob) => unknown>;
  private insMessages!: Database.Statement;
  private insMessage!: Database.Statement;

  constructor(opts: StoreOptions) {
    if (typeof opts.file !== 'string' || opts.file.length === 0) throw invalid('SQLite store needs a file path');
    super(resolveOptions(opts));
    this.file = opts.file === ':memory:' ? opts.file : resolvePath(opts.file);
    this.location = Object.freeze({ backend: 'sqlite', file: this.file });
  }

  protected start(): Promise<void> {
    return Promise.resolve().then(() => this.openSync());
  }

  protected abort(): void {
    try { this.db?.close(); } catch { /* already failing */ }
  }

  protected settleWrites(): Promise<void> {
    return this.committer?.drain() ?? Promise.resolve();
  }

  /** The monitor's alert state (lib/store/alert-state.ts, schema v5); only while open. */
  alertState(): AlertState {
    if (!this.readable() || !this.db) throw closedError();
    return new SqliteAlertState(this.db);
  }

  /** The ESR intake's workforce state (lib/store/esr-state.ts, schema v4); only while open. */
  esrState(): EsrState {
    if (!this.readable() || !this.db) throw closedError();
    return new SqliteEsrState(this.db);
  }

  protected release(): void {
    this.db?.close();
  }

  protected mapError(e: unknown): NhsError {
    return mapError(e);
  }

  private openSync(): void {
    if (this.file !== ':memory:') mkdirSync(dirname(this.file), { recursive: true });
    const db = new Database(this.file, { timeout: this.o.timeoutMs });
    this.db = db;
    db.pragma(`busy_timeout = ${Math.floor(this.o.timeoutMs)}`);
    // Only takes effect on a new, empty file (before WAL is set): 1.5 KB records fill 8 KB pages
    // with fewer WAL frame headers and B-tree splits than 4 KB ones.
    db.pragma('page_size = 8192');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${this.o.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    // Checkpoint every 10,000 pages (~80 MB of WAL at 8 KB pages) instead of 1,000: each checkpoint
    // fsyncs the main file, and at 1,000 pages those fsyncs halved append throughput.
    db.pragma('wal_autocheckpoint = 10000');
    // Above the ~80 MB the WAL reaches between checkpoints, so after a checkpoint the WAL file is
    // rewritten in place rather than cut back and grown again: a commit that extends the file
    // makes its fsync also flush the file-size change (bench/store.md).
    db.pragma(`journal_size_limit = ${96 * 1024 * 1024}`);
    this.migrate(db);
    this.prepare(db);
    this.batchTx = db.transaction((jobs: SqlJob[]) => this.runBatch(jobs));
    this.oneTx = db.transaction((job: SqlJob) => this.runJob(job));
    this.committer = new GroupCommitter<SqlJob>((jobs) => this.commit(jobs), this.o.groupCommit);
  }

  /** Idempotent; BEGIN IMMEDIATE makes a second instance opening the same file wait its turn. */
  private migrate(db: Database.Database): void {
    db.transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
      // Every listed version not yet applied, in list order: a lower version merged in after a
      // higher one (v3/v4 landing after v5) still runs.
      const applied = new Set((db.prepare('SELECT version FROM schema_version').all() as { version: number }[]).map((r) => r.version));
      for (const m of SQLITE_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
      }
    }).immediate();
  }

  private prepare(db: Database.Database): void {
    const ins = (table: string, cols: readonly string[]): Database.Statement =>
      db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
    const tuple = `(${MESSAGE_INSERT_COLUMNS.map(() => '?').join(', ')})`;
    this.insMessage = ins('messages', MESSAGE_INSERT_COLUMNS);
    this.insMessages = db.prepare(`INSERT INTO messages (${MESSAGE_INSERT_COLUMNS.join(', ')}) VALUES ${Array<string>(MESSAGE_CHUNK).fill(tuple).join(', ')}`);
    this.st = {
      setStatus: db.prepare('UPDATE messages SET status = ?, status_detail = ?, updated_at = ? WHERE id = ?'),
      getMessage: db.prepare('SELECT * FROM messages WHERE id = ?'),
      insOutbox: ins('outbox', OUTBOX_INSERT_COLUMNS),
      head: db.prepare("SELECT * FROM outbox WHERE destination = ? AND state IN ('pending', 'inflight') ORDER BY seq LIMIT 1"),
      claim: db.prepare("UPDATE outbox SET state = 'inflight', attempts = attempts + 1, next_attempt_at = ?, updated_at = ?, lease_owner = ? WHERE seq = ?"),
      renew: db.prepare("UPDATE outbox SET next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'inflight' AND attempts = ?"),
      outboxState: db.prepare('SELECT state FROM outbox WHERE id = ?'),
      ack: db.prepare("UPDATE outbox SET state = 'done', updated_at = ? WHERE id = ? AND state IN ('pending', 'inflight')"),
      // The last two ? are the optional claim fence (attempts), given twice.
      retry: db.prepare("UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'inflight') AND (? IS NULL OR attempts = ?)"),
      park: db.prepare("UPDATE outbox SET state = 'parked', last_error = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'inflight') AND (? IS NULL OR attempts = ?)"),
      // Ours (owner), unowned, or expired; ? order: now, now, now, owner[, destination].
      recoverAll: db.prepare(`UPDATE outbox SET state = 'pending', next_attempt_at = ?, updated_at = ?, lease_owner = NULL WHERE ${RECOVERABLE}`),
      recoverOne: db.prepare(`UPDATE outbox SET state = 'pending', next_attempt_at = ?, updated_at = ?, lease_owner = NULL WHERE ${RECOVERABLE} AND destination = ?`),
      auditHead: db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1'),
      insAudit: ins('audit', AUDIT_INSERT_COLUMNS),
      moveHead: db.prepare('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1'),
      auditHashAt: db.prepare('SELECT hash FROM audit WHERE seq = ?'),
      pruneAudit: db.prepare('DELETE FROM audit WHERE seq <= ?'),
      insQuarantine: ins('quarantine', QUARANTINE_INSERT_COLUMNS),
      getQuarantine: db.prepare('SELECT * FROM quarantine WHERE id = ?'),
      pruneMessages: db.prepare(
        // Handed over (at or below the hand-off watermark) or processed; see Store.prune.
        "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE updated_at < ? AND (status = 'processed' OR EXISTS (SELECT 1 FROM handoff h " +
        'WHERE h.channel = messages.channel AND (h.owner = messages.owner OR messages.owner IS NULL) AND messages.seq <= h.seq)) AND id NOT IN ' +
        `(SELECT message_id FROM quarantine WHERE state = 'open' AND message_id IS NOT NULL) LIMIT ${PRUNE_CHUNK})`),
      pruneOutbox: db.prepare(`DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE state = 'done' AND updated_at < ? LIMIT ${PRUNE_CHUNK})`),
    };
  }

  protected s(name: string): Database.Statement {
    const st = this.st[name];
    if (!st) throw new Error(`no statement ${name}`);
    return st;
  }

  protected dyn(sql: string): Database.Statement {
    let st = this.dynamic.get(sql);
    if (!st) {
      st = this.db!.prepare(sql);
      if (this.dynamic.size < 500) this.dynamic.set(sql, st);
    }
    return st;
  }

  // -------------------------------------------------------------------------------------------
  // write path
  // -------------------------------------------------------------------------------------------

  private async commit(jobs: SqlJob[]): Promise<void> {
    if (jobs.length > 1) {
      let results: unknown[];
      try {
        results = this.batchTx.immediate(jobs);
      } catch {
        // One write broke the shared transaction (it rolled back whole): give each its own.
        this.counters.batchFallbacks++;
        for (const j of jobs) this.commitOne(j);
        return;
      }
      this.settleCommitted(jobs, results);
      return;
    }
    for (const j of jobs) this.commitOne(j);
  }

  /** Runs a batch in order; consecutive message appends go MESSAGE_CHUNK rows per INSERT. */
  private runBatch(jobs: SqlJob[]): unknown[] {
    const out = new Array<unknown>(jobs.length);
    let i = 0;
    while (i < jobs.length) {
      let end = i;
      while (end < jobs.length && jobs[end]!.msg) end++;
      // Full chunks of a run of message appends, one statement each.
      for (; end - i >= MESSAGE_CHUNK; i += MESSAGE_CHUNK) {
        const params: unknown[] = [];
        for (let k = i; k < i + MESSAGE_CHUNK; k++) pushMessageValues(params, jobs[k]!.msg!);
        // AUTOINCREMENT under the write lock numbers the rows of one INSERT consecutively.
        const last = Number(this.insMessages.run(params).lastInsertRowid);
        for (let k = 0; k < MESSAGE_CHUNK; k++) out[i + k] = appended(jobs[i + k]!, last - MESSAGE_CHUNK + 1 + k);
      }
      for (; i < end; i++) out[i] = this.runJob(jobs[i]!);
      if (i < jobs.length) {
        out[i] = this.runJob(jobs[i]!);
        i++;
      }
    }
    return out;
  }

  private runJob(j: SqlJob): unknown {
    if (!j.msg) return j.run();
    const params: unknown[] = [];
    pushMessageValues(params, j.msg);
    return appended(j, Number(this.insMessage.run(params).lastInsertRowid));
  }

  private commitOne(j: SqlJob): void {
    let r: unknown;
    try {
      r = this.oneTx.immediate(j);
    } catch (e) {
      this.counters.failedWrites++;
      j.reject(mapError(e));
      return;
    }
    this.counters.commits++;
    this.counters.maxBatch = Math.max(this.counters.maxBatch, 1);
    this.settle(j, r);
  }

  /** A message append: the hot path, batched into multi-row INSERTs (see runBatch). */
  protected submitMessage(m: NewMessage): Promise<MessageRecord> {
    return this.queue<SqlJob, MessageRecord>(this.committer, () => ({ msg: newMessageRow(m, this.o) }));
  }

  /**
   * The writer thread's append (sqlite-thread.ts): the row was built and validated by
   * `newMessageRow` on the caller's thread, which makes the record itself; this resolves its seq.
   */
  appendMessageRow(row: MessageRow): Promise<number> {
    return this.queue<SqlJob, number>(this.committer, () => ({ msg: row, seqOnly: true }));
  }

  /** Validation runs in `prepareRun` (before queueing), so a bad record never enters a batch. */
  protected write<T>(prepareRun: () => () => T | OpFailure): Promise<T> {
    return this.queue<SqlJob, T>(this.committer, () => ({ run: prepareRun() }));
  }

  protected read<T>(f: () => T): Promise<T> {
    if (!this.readable()) return Promise.reject(closedError());
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(mapError(e));
    }
  }

  /** Read head → hash → insert → move head; only ever inside a write transaction (the write lock). */
  protected chainStep(draft: AuditDraft): AuditRecord {
    const head = this.s('auditHead').get() as { seq: number; hash: string };
    const rec = chainAudit(draft, { seq: Number(head.seq), hash: head.hash });
    this.s('insAudit').run(auditRowValues(rec));
    this.s('moveHead').run(rec.seq, rec.hash);
    return rec;
  }
}
