/**
 * SQLite backend of the store (better-sqlite3, WAL). Writes go through the group committer: every
 * batch is one `BEGIN IMMEDIATE` transaction, which also takes SQLite's single write lock, so the
 * audit chain step (read head → hash → insert → move head) is serialised across every process
 * that opens the same file. `busy_timeout` makes a second instance wait for that lock instead of
 * failing.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { NhsError } from '../errors';
import { StoreBase } from './base';
import {
  AUDIT_INSERT_COLUMNS, DEFAULT_LEASE_MS, MESSAGE_INSERT_COLUMNS, OUTBOX_INSERT_COLUMNS, OpFailure, PRUNE_CHUNK,
  QUARANTINE_INSERT_COLUMNS, auditRowValues, auditWhere, chainAudit, checkDestination, checkExpectedReleaseCount, checkFence, checkId, checkLease,
  checkLeaseMs, checkLimit, checkOwner, checkPruneSeq, checkQuarantineState, checkStatus, checkStatusDetail, closedError, invalid, isoTime, leaseEnd,
  messageWhere, newAuditDraft, newMessageRow, newOutboxRow, messageRecordOf, newQuarantineRow, outboxErrorText, outboxRecordOf, notFound,
  outboxWhere, quarantineAuditDraft, quarantinePatchColumns, quarantineWhere, resolveOptions,
  toAudit, toMessage, toOutbox, toQuarantine, whereSql, type AuditDraft, type MessageRow,
} from './common';
import { GroupCommitter, type Settleable } from './group-commit';
import { SqliteEsrState, type EsrState } from './esr-state';
import { SQLITE_MIGRATIONS } from './schema';
import type {
  AuditPruneResult, AuditQuery, AuditRecord, MessageQuery, MessageRecord, MessageStatus, NewAuditRecord, NewMessage,
  NewOutboxItem, NewQuarantineItem, OutboxItem, OutboxQuery, PruneResult, QuarantineItem, QuarantinePatch,
  QuarantineQuery, QuarantineState, Store, StoreLocation, StoreOptions,
} from './types';

type Row = Record<string, unknown>;

/** A queued write: a message append (batched into multi-row INSERTs) or any other operation. */
type SqlJob = Settleable & ({ msg: MessageRow; run?: undefined } | { msg?: undefined; run: () => unknown });

/**
 * Rows per multi-row message INSERT. One statement per row costs a VDBE run and a JS→C call each;
 * 64 rows × 10 columns = 640 parameters stays under SQLite's 32,766 limit and the statement is
 * prepared once.
 */
const MESSAGE_CHUNK = 64;
/** Inflight items a (re)starting sender may take back: unowned, lease expired (?: now), or its own (?: owner). */
const RECOVERABLE = "state = 'inflight' AND (lease_owner IS NULL OR next_attempt_at <= ? OR lease_owner = ?)";

const q = (_i: number): string => '?';

/** Constraint violations are a conflict in the data; anything else means the file is unusable. */
function mapError(e: unknown): NhsError {
  if (e instanceof NhsError) return e;
  const code = (e as { code?: unknown })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) {
    return new NhsError('STORE_CONFLICT', `constraint violated: ${msg}`, { cause: e });
  }
  return new NhsError('STORE_UNAVAILABLE', `SQLite store failed: ${msg}`, { cause: e });
}

function pushMessageValues(into: unknown[], r: MessageRow): void {
  into.push(r.id, r.channel, r.raw, r.control_id, r.message_type, r.meta, r.status, r.status_detail, r.received_at, r.updated_at);
}

/** SQLite implementation of {@link Store} (DESIGN.md §4 durability model). */
export class SqliteStore extends StoreBase implements Store {
  readonly backend = 'sqlite' as const;
  readonly location: StoreLocation;
  private readonly file: string;
  private db: Database.Database | undefined;
  private committer: GroupCommitter<SqlJob> | undefined;
  private st!: Record<string, Database.Statement>;
  private readonly dynamic = new Map<string, Database.Statement>();
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
      // higher one shipped (v3 landing after v4) still runs.
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
        "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE status = 'processed' AND updated_at < ? AND id NOT IN " +
        `(SELECT message_id FROM quarantine WHERE state = 'open' AND message_id IS NOT NULL) LIMIT ${PRUNE_CHUNK})`),
      pruneOutbox: db.prepare(`DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE state = 'done' AND updated_at < ? LIMIT ${PRUNE_CHUNK})`),
    };
  }

  private s(name: string): Database.Statement {
    const st = this.st[name];
    if (!st) throw new Error(`no statement ${name}`);
    return st;
  }

  private dyn(sql: string): Database.Statement {
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
        for (let k = 0; k < MESSAGE_CHUNK; k++) out[i + k] = messageRecordOf(jobs[i + k]!.msg!, last - MESSAGE_CHUNK + 1 + k);
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
    return messageRecordOf(j.msg, Number(this.insMessage.run(params).lastInsertRowid));
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

  /**
   * Validation runs before queueing, so a bad record never enters a batch. The hot path: kept
   * apart from write() so an append allocates no prepare closure.
   */
  private submitMessage(m: NewMessage): Promise<MessageRecord> {
    if (this.state !== 'open' || !this.committer) return Promise.reject(closedError());
    let msg: MessageRow;
    try {
      msg = newMessageRow(m, this.o);
    } catch (e) {
      return Promise.reject(mapError(e));
    }
    const committer = this.committer;
    return new Promise<MessageRecord>((resolve, reject) => {
      committer.submit({ msg, resolve, reject });
    });
  }

  /** Validation runs in `prepareRun` (before queueing), so a bad record never enters a batch. */
  private write<T>(prepareRun: () => () => T | OpFailure): Promise<T> {
    if (this.state !== 'open' || !this.committer) return Promise.reject(closedError());
    let run: () => T | OpFailure;
    try {
      run = prepareRun();
    } catch (e) {
      return Promise.reject(mapError(e));
    }
    const committer = this.committer;
    return new Promise<T>((resolve, reject) => {
      committer.submit({ run, resolve, reject });
    });
  }

  private read<T>(f: () => T): Promise<T> {
    if (!this.readable()) return Promise.reject(closedError());
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(mapError(e));
    }
  }

  // -------------------------------------------------------------------------------------------
  // message log
  // -------------------------------------------------------------------------------------------

  appendMessage(m: NewMessage): Promise<MessageRecord> {
    return this.submitMessage(m);
  }

  setMessageStatus(id: string, status: MessageStatus, detail?: string): Promise<void> {
    return this.write(() => {
      checkId(id);
      checkStatus(status);
      checkStatusDetail(detail);
      return () => {
        const info = this.s('setStatus').run(status, detail ?? null, this.now(), id);
        return info.changes === 0 ? new OpFailure(notFound('message')) : undefined;
      };
    });
  }

  getMessage(id: string): Promise<MessageRecord | undefined> {
    return this.read(() => {
      checkId(id);
      const r = this.s('getMessage').get(id) as Row | undefined;
      return r ? toMessage(r) : undefined;
    });
  }

  findMessages(query: MessageQuery): Promise<MessageRecord[]> {
    return this.read(() => {
      const w = messageWhere(query, q);
      const limit = checkLimit(query.limit);
      const rows = this.dyn(`SELECT * FROM messages${whereSql(w)} ORDER BY seq LIMIT ${limit}`).all(w.params) as Row[];
      return rows.map(toMessage);
    });
  }

  countMessages(query: MessageQuery): Promise<number> {
    return this.read(() => {
      const w = messageWhere(query, q);
      const r = this.dyn(`SELECT COUNT(*) AS n FROM messages${whereSql(w)}`).get(w.params) as { n: number };
      return Number(r.n);
    });
  }

  // -------------------------------------------------------------------------------------------
  // outbox
  // -------------------------------------------------------------------------------------------

  enqueue(item: NewOutboxItem): Promise<OutboxItem> {
    return this.write(() => {
      const row = newOutboxRow(item, this.o);
      const values = OUTBOX_INSERT_COLUMNS.map((c) => row[c]);
      return () => {
        const info = this.s('insOutbox').run(values);
        return outboxRecordOf(row, Number(info.lastInsertRowid));
      };
    });
  }

  claimNext(destination: string, leaseMs = DEFAULT_LEASE_MS, owner?: string): Promise<OutboxItem | undefined> {
    return this.write(() => {
      checkDestination(destination);
      checkLeaseMs(leaseMs);
      const who = checkOwner(owner);
      return () => {
        const head = this.s('head').get(destination) as Row | undefined;
        const nowDate = this.o.clock();
        const now = nowDate.toISOString();
        // Strict order: a head that is leased or not yet due blocks everything behind it.
        if (!head || String(head.next_attempt_at) > now) return undefined;
        const lease = leaseEnd(nowDate, leaseMs);
        this.s('claim').run(lease, now, who, head.seq);
        return toOutbox({ ...head, state: 'inflight', attempts: Number(head.attempts) + 1, next_attempt_at: lease, updated_at: now });
      };
    });
  }

  /** When a guarded outbox update matched nothing: missing, already in the target state, or conflict. */
  private outboxMiss(id: string, idempotentState: string): OpFailure | undefined {
    const r = this.s('outboxState').get(id) as { state: string } | undefined;
    if (!r) return new OpFailure(notFound('outbox item'));
    if (r.state === idempotentState) return undefined;
    return new OpFailure(new NhsError('STORE_CONFLICT', `outbox item is ${r.state}`));
  }

  ackOutbox(id: string): Promise<void> {
    return this.write(() => {
      checkId(id);
      return () => (this.s('ack').run(this.now(), id).changes === 0 ? this.outboxMiss(id, 'done') : undefined);
    });
  }

  retryOutbox(id: string, nextAttemptAt: Date, error: string, attempts?: number): Promise<void> {
    return this.write(() => {
      checkId(id);
      const at = isoTime(nextAttemptAt, 'nextAttemptAt');
      const err = outboxErrorText(error);
      const fence = checkFence(attempts);
      return () => (this.s('retry').run(at, err, this.now(), id, fence, fence).changes === 0 ? this.outboxMiss(id, '-') : undefined);
    });
  }

  parkOutbox(id: string, reason: string, attempts?: number): Promise<void> {
    return this.write(() => {
      checkId(id);
      const why = outboxErrorText(reason);
      const fence = checkFence(attempts);
      return () => (this.s('park').run(why, this.now(), id, fence, fence).changes === 0 ? this.outboxMiss(id, 'parked') : undefined);
    });
  }

  renewOutboxLease(id: string, attempts: number, leaseMs: number): Promise<boolean> {
    return this.write(() => {
      checkId(id);
      checkLease(attempts, leaseMs);
      return () => {
        const nowDate = this.o.clock();
        const lease = leaseEnd(nowDate, leaseMs);
        return this.s('renew').run(lease, nowDate.toISOString(), id, attempts).changes === 1;
      };
    });
  }

  recoverOutbox(destination?: string, owner?: string): Promise<number> {
    return this.write(() => {
      if (destination !== undefined) checkDestination(destination);
      const who = checkOwner(owner);
      return () => {
        const now = this.now();
        const info = destination === undefined ? this.s('recoverAll').run(now, now, now, who) : this.s('recoverOne').run(now, now, now, who, destination);
        return info.changes;
      };
    });
  }

  listOutbox(query: OutboxQuery): Promise<OutboxItem[]> {
    return this.read(() => {
      const w = outboxWhere(query, q);
      const limit = checkLimit(query.limit);
      return (this.dyn(`SELECT * FROM outbox${whereSql(w)} ORDER BY seq LIMIT ${limit}`).all(w.params) as Row[]).map(toOutbox);
    });
  }

  // -------------------------------------------------------------------------------------------
  // audit
  // -------------------------------------------------------------------------------------------

  appendAudit(r: NewAuditRecord): Promise<AuditRecord> {
    return this.write(() => {
      const draft = newAuditDraft(r, this.o);
      return () => this.chainStep(draft);
    });
  }

  /** Read head → hash → insert → move head; only ever inside a write transaction (the write lock). */
  private chainStep(draft: AuditDraft): AuditRecord {
    const head = this.s('auditHead').get() as { seq: number; hash: string };
    const rec = chainAudit(draft, { seq: Number(head.seq), hash: head.hash });
    this.s('insAudit').run(auditRowValues(rec));
    this.s('moveHead').run(rec.seq, rec.hash);
    return rec;
  }

  pruneAuditThrough(seq: number, checkpoint: NewAuditRecord): Promise<AuditPruneResult> {
    return this.write(() => {
      const through = checkPruneSeq(seq);
      const draft = newAuditDraft(checkpoint, this.o);
      return () => {
        // Checked under the write lock: a concurrent run that already pruned it loses here.
        if (this.s('auditHashAt').get(through) === undefined) return new OpFailure(notFound(`audit record ${through}`));
        const cp = this.chainStep(draft);
        return { pruned: this.s('pruneAudit').run(through).changes, checkpoint: cp };
      };
    });
  }

  queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return this.read(() => {
      const w = auditWhere(query, q);
      const limit = checkLimit(query.limit);
      const order = query.order === 'desc' ? 'DESC' : 'ASC';
      return (this.dyn(`SELECT * FROM audit${whereSql(w)} ORDER BY seq ${order} LIMIT ${limit}`).all(w.params) as Row[]).map(toAudit);
    });
  }

  auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    return this.read(() => {
      const h = this.s('auditHead').get() as { seq: number; hash: string } | undefined;
      return h && Number(h.seq) > 0 ? { seq: Number(h.seq), hash: h.hash } : undefined;
    });
  }

  // -------------------------------------------------------------------------------------------
  // quarantine
  // -------------------------------------------------------------------------------------------

  putQuarantine(item: NewQuarantineItem, audit?: NewAuditRecord): Promise<QuarantineItem> {
    return this.write(() => {
      const row = newQuarantineRow(item, this.o);
      const draft = quarantineAuditDraft(audit, row.id, this.o);
      const values = QUARANTINE_INSERT_COLUMNS.map((c) => row[c]);
      return () => {
        this.s('insQuarantine').run(values);
        if (draft) this.chainStep(draft);
        return toQuarantine(this.s('getQuarantine').get(row.id) as Row);
      };
    });
  }

  getQuarantine(id: string): Promise<QuarantineItem | undefined> {
    return this.read(() => {
      checkId(id);
      const r = this.s('getQuarantine').get(id) as Row | undefined;
      return r ? toQuarantine(r) : undefined;
    });
  }

  listQuarantine(query: QuarantineQuery): Promise<QuarantineItem[]> {
    return this.read(() => {
      const w = quarantineWhere(query, q);
      const limit = checkLimit(query.limit);
      return (this.dyn(`SELECT * FROM quarantine${whereSql(w)} ORDER BY seq LIMIT ${limit}`).all(w.params) as Row[]).map(toQuarantine);
    });
  }

  transitionQuarantine(id: string, from: QuarantineState, to: QuarantineState, patch: QuarantinePatch, audit?: NewAuditRecord, expectedReleaseCount?: number): Promise<QuarantineItem | undefined> {
    return this.write(() => {
      checkId(id);
      checkQuarantineState(from);
      checkQuarantineState(to);
      checkExpectedReleaseCount(expectedReleaseCount);
      const cols = quarantinePatchColumns(patch ?? {}, this.o);
      const draft = quarantineAuditDraft(audit, id, this.o);
      const guard = expectedReleaseCount === undefined ? '' : ' AND release_count = ?';
      const sql = `UPDATE quarantine SET state = ?, updated_at = ?${cols.map(([c]) => `, ${c} = ?`).join('')} WHERE id = ? AND state = ?${guard}`;
      return () => {
        // The state guard in the WHERE clause is the compare-and-set: the loser matches no row.
        const info = this.dyn(sql).run(to, this.now(), ...cols.map(([, v]) => v), id, from, ...(expectedReleaseCount === undefined ? [] : [expectedReleaseCount]));
        if (info.changes === 0) return undefined;
        if (draft) this.chainStep(draft);
        return toQuarantine(this.s('getQuarantine').get(id) as Row);
      };
    });
  }

  patchQuarantine(id: string, patch: QuarantinePatch, audit?: NewAuditRecord): Promise<QuarantineItem | undefined> {
    return this.write(() => {
      checkId(id);
      const cols = quarantinePatchColumns(patch ?? {}, this.o);
      const draft = quarantineAuditDraft(audit, id, this.o);
      const sql = `UPDATE quarantine SET updated_at = ?${cols.map(([c]) => `, ${c} = ?`).join('')} WHERE id = ?`;
      return () => {
        const info = this.dyn(sql).run(this.now(), ...cols.map(([, v]) => v), id);
        if (info.changes === 0) return undefined;
        if (draft) this.chainStep(draft);
        return toQuarantine(this.s('getQuarantine').get(id) as Row);
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // retention
  // -------------------------------------------------------------------------------------------

  protected pruneChunk(cutoff: string): Promise<PruneResult> {
    return this.write(() => () => ({
      messages: this.s('pruneMessages').run(cutoff).changes,
      outbox: this.s('pruneOutbox').run(cutoff).changes,
    }));
  }
}
