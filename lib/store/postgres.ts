/**
 * PostgreSQL backend of the store (`pg` Pool), for several Node-RED instances sharing one store.
 * Group commit: one batch commits at a time while the next accumulates; consecutive message,
 * outbox and audit appends in a batch become multi-row INSERTs. The audit chain step locks the
 * `audit_head` row (SELECT … FOR UPDATE) inside the committing transaction, which serialises it
 * across instances. Connect and query timeouts turn an unreachable server into
 * `STORE_UNAVAILABLE` within bounded time.
 */
import { Client, Pool, type ClientBase, type PoolClient, type QueryResultRow } from 'pg';
import { NhsError } from '../errors';
import { StoreBase } from './base';
import {
  AUDIT_INSERT_COLUMNS, DEFAULT_LEASE_MS, MESSAGE_INSERT_COLUMNS, OUTBOX_INSERT_COLUMNS, OpFailure, PRUNE_CHUNK,
  QUARANTINE_INSERT_COLUMNS, auditRowValues, auditWhere, chainAudit, checkDestination, checkExpectedReleaseCount, checkFence, checkId, checkLease,
  checkLeaseMs, checkLimit, checkOwner, checkPruneSeq, checkQuarantineState, checkStatus, checkStatusDetail, closedError, invalid, isoTime, leaseEnd,
  messageWhere, newAuditDraft, newMessageRow, newOutboxRow, messageRecordOf, newQuarantineRow, outboxErrorText, outboxRecordOf, notFound,
  outboxWhere, quarantineAuditDraft, quarantinePatchColumns, quarantineWhere, resolveOptions,
  toAudit, toMessage, toOutbox, toQuarantine, whereSql, type AuditDraft, type MessageRow, type OutboxRow,
} from './common';
import { GroupCommitter, type Settleable } from './group-commit';
import { PostgresEsrState, type EsrState } from './esr-state';
import { postgresMigrations } from './schema';
import type {
  AuditPruneResult, AuditQuery, AuditRecord, MessageQuery, MessageRecord, MessageStatus, NewAuditRecord, NewMessage,
  NewOutboxItem, NewQuarantineItem, OutboxItem, OutboxQuery, PruneResult, QuarantineItem, QuarantinePatch,
  QuarantineQuery, QuarantineState, Store, StoreLocation, StoreOptions,
} from './types';

type Row = Record<string, unknown>;

type PgJob = Settleable & (
  | { kind: 'message'; row: MessageRow }
  | { kind: 'outbox'; row: OutboxRow }
  | { kind: 'audit'; draft: AuditDraft }
  | { kind: 'op'; run: (c: PoolClient) => Promise<unknown> }
);

const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Rows per multi-row audit INSERT: stays far below PostgreSQL's 65,535 bind parameters. */
const INSERT_CHUNK = 500;
/** Sizes of the prepared multi-row message/outbox INSERTs, largest first, ending in 1. */
const INSERT_SIZES = [256, 128, 64, 32, 16, 4, 1] as const;
const ph = (i: number): string => `$${i}`;
/**
 * With the pipeline idle, a burst of at least twice this many appends is split in two (halves of
 * at least this size) so both halves are in the pipeline; smaller batches are not split further,
 * so the split does not cascade into ever smaller batches.
 */
const SPLIT_FLOOR = 128;

interface InsertShape<R> {
  columns: readonly string[];
  /** Row fields bound as parameters, in order. */
  params: readonly (keyof R & string)[];
  /** One VALUES tuple, given the placeholder of the i-th bound field. */
  tuple: (p: (i: number) => string) => string;
}
type ShapeRow<T extends 'messages' | 'outbox'> = T extends 'messages' ? MessageRow : OutboxRow;

/**
 * Appended rows: what every new row has in common (newMessageRow/newOutboxRow: status
 * 'received' / state 'pending', attempts 0, no detail or error, updated_at = received_at /
 * created_at = next_attempt_at) is SQL text, not a parameter — 7 instead of 10 bound values per
 * message, 6 instead of 11 per outbox item, less for pg to serialise and for the server to bind.
 */
const INSERT_SHAPES: { messages: InsertShape<MessageRow>; outbox: InsertShape<OutboxRow> } = {
  messages: {
    columns: MESSAGE_INSERT_COLUMNS,
    params: ['id', 'channel', 'raw', 'control_id', 'message_type', 'meta', 'received_at'],
    tuple: (p) => `(${p(0)}, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, 'received', NULL, ${p(6)}, ${p(6)})`,
  },
  outbox: {
    columns: OUTBOX_INSERT_COLUMNS,
    params: ['id', 'destination', 'payload', 'control_id', 'meta', 'created_at'],
    tuple: (p) => `(${p(0)}, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, 'pending', 0, ${p(5)}, NULL, ${p(5)}, ${p(5)})`,
  },
};

/** SQLSTATE class 23 (integrity) is a data conflict; everything else means the store is not usable now. */
function mapError(e: unknown): NhsError {
  if (e instanceof NhsError) return e;
  const code = (e as { code?: unknown })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof code === 'string' && code.startsWith('23')) return new NhsError('STORE_CONFLICT', `constraint violated: ${msg}`, { cause: e });
  if (typeof code === 'string' && code.startsWith('40')) return new NhsError('STORE_CONFLICT', `transaction conflict: ${msg}`, { cause: e });
  return new NhsError('STORE_UNAVAILABLE', `PostgreSQL store failed: ${msg}`, { cause: e });
}

function duplicateId(): NhsError {
  return new NhsError('STORE_CONFLICT', 'constraint violated: duplicate id');
}

/** Errors where re-running the batch one write at a time cannot help (connection gone, timeout). */
function isConnectionLevel(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string' || code.length !== 5) return true;
  return code.startsWith('08') || code.startsWith('57') || code.startsWith('53');
}

/** PostgreSQL implementation of {@link Store}. */
export class PostgresStore extends StoreBase implements Store {
  readonly backend = 'postgres' as const;
  /** The schema only: the url may carry a password and never leaves this object. */
  readonly location: StoreLocation;
  private readonly url: string;
  private readonly schema: string;
  private readonly t: { messages: string; outbox: string; audit: string; head: string; quarantine: string; version: string };
  /** The two retention DELETEs ($1: cut-off), fixed once the schema is known. */
  private readonly pruneSql: { messages: string; outbox: string };
  private pool: Pool | undefined;
  private committer: GroupCommitter<PgJob> | undefined;
  private readonly insertText = new Map<string, string>();
  /** Dedicated connection in pipeline mode for append batches (see commitPipelined). */
  private pipe: Promise<Client> | undefined;
  /** Settles after the newest pipelined batch has settled its promises; never rejects. */
  private lastSettled: Promise<void> = Promise.resolve();
  /** The same for the batch before it: at most two batches are in the pipeline. */
  private prevSettled: Promise<void> = Promise.resolve();
  /** Pipelined batches sent and not yet settled. */
  private inPipe = 0;

  constructor(opts: StoreOptions) {
    if (typeof opts.url !== 'string' || opts.url.length === 0) throw invalid('PostgreSQL store needs a connection url');
    const schema = opts.schema ?? 'nhs_interop';
    if (!SCHEMA_RE.test(schema)) throw invalid('schema must be a plain SQL identifier');
    super(resolveOptions(opts));
    this.url = opts.url;
    this.schema = schema;
    this.location = Object.freeze({ backend: 'postgres', schema });
    const q = (n: string): string => `"${schema}".${n}`;
    this.t = { messages: q('messages'), outbox: q('outbox'), audit: q('audit'), head: q('audit_head'), quarantine: q('quarantine'), version: q('schema_version') };
    this.pruneSql = {
      messages: `DELETE FROM ${this.t.messages} WHERE seq IN (SELECT seq FROM ${this.t.messages} WHERE status = 'processed' AND updated_at < $1 AND id NOT IN ` +
        `(SELECT message_id FROM ${this.t.quarantine} WHERE state = 'open' AND message_id IS NOT NULL) LIMIT ${PRUNE_CHUNK})`,
      outbox: `DELETE FROM ${this.t.outbox} WHERE seq IN (SELECT seq FROM ${this.t.outbox} WHERE state = 'done' AND updated_at < $1 LIMIT ${PRUNE_CHUNK})`,
    };
  }

  protected async abort(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
  }

  protected async settleWrites(): Promise<void> {
    await this.committer?.drain();
    await this.lastSettled;
  }

  esrState(): EsrState {
    if (!this.readable() || !this.pool) throw closedError();
    return new PostgresEsrState(this.pool, this.schema);
  }

  protected async release(): Promise<void> {
    await this.pipe?.then((c) => c.end()).catch(() => undefined);
    await this.pool?.end().catch(() => undefined);
  }

  protected mapError(e: unknown): NhsError {
    return mapError(e);
  }

  protected async start(): Promise<void> {
    const pool = new Pool({
      connectionString: this.url,
      max: 10,
      connectionTimeoutMillis: this.o.timeoutMs,
      query_timeout: this.o.timeoutMs,
      idleTimeoutMillis: 30_000,
      options: `-c synchronous_commit=${this.o.durability === 'full' ? 'on' : 'off'}`,
      application_name: 'node-red-contrib-nhs-interop',
    });
    // An idle client dropped by the server must not crash Node-RED; the next query reports it.
    pool.on('error', () => undefined);
    this.pool = pool;
    await this.tx(async (c) => {
      // Serialises two instances migrating the same schema (CREATE SCHEMA IF NOT EXISTS races).
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nhs-interop-migrate:${this.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.t.version} (version INTEGER NOT NULL)`);
      // Every listed version not yet applied, in list order (a lower one merged in late still runs).
      const r = await c.query<{ version: number }>(`SELECT version FROM ${this.t.version}`);
      const applied = new Set(r.rows.map((x) => Number(x.version)));
      for (const m of postgresMigrations(this.schema)) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await c.query(`INSERT INTO ${this.t.version} (version) VALUES ($1)`, [m.version]);
      }
    });
    this.committer = new GroupCommitter<PgJob>((jobs) => this.commit(jobs), this.o.groupCommit, (q) => this.batchSize(q));
  }

  /**
   * A batch that runs as exactly one INSERT statement (all message or all outbox appends, a size
   * of INSERT_SIZES) needs no BEGIN/COMMIT: a single statement is atomic, and in autocommit its
   * reply comes only after its commit is flushed (synchronous_commit=on). Saves two round trips —
   * for a lone append (low traffic, or `groupCommit: false`) one instead of three.
   */
  private isOneStatement(jobs: PgJob[]): boolean {
    const kind = jobs[0]!.kind;
    if (kind !== 'message' && kind !== 'outbox') return false;
    if (!(INSERT_SIZES as readonly number[]).includes(jobs.length)) return false;
    return jobs.every((j) => j.kind === kind);
  }

  /** Run `f` on a pooled client outside an explicit transaction (see isOneStatement). */
  private async withClient<T>(f: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool!.connect();
    let failed: Error | undefined;
    try {
      return await f(c);
    } catch (e) {
      failed = e instanceof Error ? e : new Error(String(e));
      throw e;
    } finally {
      c.release(failed && isConnectionLevel(failed) ? failed : undefined);
    }
  }

  /** Run `f` in one transaction on a pooled client; a failed client is destroyed, not reused. */
  private async tx<T>(f: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool!.connect();
    let failed: Error | undefined;
    try {
      await c.query('BEGIN');
      const out = await f(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      failed = e instanceof Error ? e : new Error(String(e));
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      // A timed-out query may still run on that connection: drop it rather than reuse it.
      c.release(failed && isConnectionLevel(failed) ? failed : undefined);
    }
  }

  // -------------------------------------------------------------------------------------------
  // write path
  // -------------------------------------------------------------------------------------------

  /**
   * Entry point of the group committer. With group commit on, a batch that is one multi-row
   * INSERT goes down the pipeline; anything else — and every write with `groupCommit: false`, the
   * one-at-a-time baseline — first waits until every pipelined batch has settled (an op may read
   * or update rows just appended), then runs and commits before the next batch starts.
   */
  private async commit(jobs: PgJob[]): Promise<void> {
    if (this.o.groupCommit && this.isOneStatement(jobs)) {
      await this.commitPipelined(jobs);
      return;
    }
    await this.lastSettled;
    await this.commitSerial(jobs);
  }

  /**
   * With the pipeline idle, a burst of appends is split in two so the second half is already on
   * the wire while the server works on the first; batches are cut to a prepared INSERT size so
   * each is one statement. Under steady load the appends in flight settle into two alternating
   * batches: the server inserts and flushes one while Node settles the other and collects the
   * next.
   */
  private batchSize(queued: readonly PgJob[]): number {
    const n = queued.length;
    const kind = queued[0]?.kind;
    if (kind !== 'message' && kind !== 'outbox') return n;
    let same = 1;
    while (same < n && queued[same]!.kind === kind) same++;
    if (same < n && same < SPLIT_FLOOR) return n;
    const cap = this.inPipe === 0 && same >= 2 * SPLIT_FLOOR ? Math.max(SPLIT_FLOOR, Math.ceil(same / 2)) : same;
    return INSERT_SIZES.find((size) => size <= cap)!;
  }

  /** The pipeline connection, opened on first use and again after it failed. */
  private pipeClient(): Promise<Client> {
    if (!this.pipe) {
      const c = new Client({
        connectionString: this.url,
        pipeline: true,
        connectionTimeoutMillis: this.o.timeoutMs,
        query_timeout: this.o.timeoutMs,
        options: `-c synchronous_commit=${this.o.durability === 'full' ? 'on' : 'off'}`,
        application_name: 'node-red-contrib-nhs-interop',
      });
      // A dropped connection fails its pending queries; the next batch opens a new one.
      c.on('error', () => this.dropPipe(c));
      c.on('end', () => this.dropPipe(c));
      const p = c.connect().then(() => c, (e: unknown) => {
        this.dropPipe(c);
        throw e;
      });
      p.catch(() => undefined);
      this.pipe = p;
    }
    return this.pipe;
  }

  private dropPipe(c: Client): void {
    const p = this.pipe;
    if (!p) return;
    void p.then((open) => {
      if (open === c && this.pipe === p) this.pipe = undefined;
    }, () => {
      if (this.pipe === p) this.pipe = undefined;
    });
    c.end().catch(() => undefined);
  }

  /**
   * Pipelined append batches: each batch is one multi-row INSERT in autocommit (atomic; its reply
   * comes after its commit is flushed, synchronous_commit=on), sent on one connection in pipeline
   * mode without waiting for the previous batch's reply. The server runs statements of one
   * connection strictly in order, so seqs and commits follow call order, and replies arrive in
   * order; each batch's promises settle after its own commit and after the previous batch has
   * settled, so nothing is confirmed before the earlier outcome is known. At most two batches
   * are in the pipeline. A duplicate id does not fail the statement (ON CONFLICT (id) DO NOTHING,
   * see insertMany), so there is no row-by-row retry that could reorder; any other failure fails
   * the whole batch — and a connection-level one the batches behind it on that connection.
   */
  private async commitPipelined(jobs: PgJob[]): Promise<void> {
    await this.prevSettled;
    const before = this.lastSettled;
    let client: Client;
    try {
      client = await this.pipeClient();
    } catch (e) {
      await before;
      this.failJobs(jobs, e);
      return;
    }
    const table = jobs[0]!.kind === 'message' ? 'messages' : 'outbox';
    const rows = jobs.map((j) => (j as { row: MessageRow | OutboxRow }).row);
    // Sent now (pipeline mode writes at once); awaited below, after the committer moved on.
    const sent = this.insertMany(client, table, rows);
    sent.catch(() => undefined);
    this.inPipe++;
    const settled = (async (): Promise<void> => {
      let seqs: (number | undefined)[] | undefined;
      let failed: unknown;
      try {
        seqs = await sent;
      } catch (e) {
        failed = e;
        if (isConnectionLevel(e)) this.dropPipe(client);
      }
      await before;
      if (seqs === undefined) this.failJobs(jobs, failed);
      else this.settleCommitted(jobs, this.recordsOf(table, rows, seqs));
    })().catch((e: unknown) => this.failJobs(jobs, e)).finally(() => { this.inPipe--; });
    this.prevSettled = before;
    this.lastSettled = settled;
  }

  private recordsOf(table: 'messages' | 'outbox', rows: readonly (MessageRow | OutboxRow)[], seqs: readonly (number | undefined)[]): unknown[] {
    const out = new Array<unknown>(rows.length);
    for (let k = 0; k < rows.length; k++) {
      const seq = seqs[k];
      out[k] = seq === undefined ? new OpFailure(duplicateId())
        : table === 'messages' ? messageRecordOf(rows[k] as MessageRow, seq) : outboxRecordOf(rows[k] as OutboxRow, seq);
    }
    return out;
  }

  private failJobs(jobs: PgJob[], e: unknown): void {
    this.counters.failedWrites += jobs.length;
    const err = mapError(e);
    for (const j of jobs) j.reject(err);
  }

  private async commitSerial(jobs: PgJob[]): Promise<void> {
    let results: unknown[];
    try {
      results = this.isOneStatement(jobs)
        ? await this.withClient((c) => this.runBatch(c, jobs))
        : await this.tx((c) => this.runBatch(c, jobs));
    } catch (e) {
      if (jobs.length > 1 && !isConnectionLevel(e)) {
        // One write broke the shared transaction: re-run each in its own so only it fails.
        this.counters.batchFallbacks++;
        for (const j of jobs) await this.commitSerial([j]);
        return;
      }
      this.failJobs(jobs, e);
      return;
    }
    this.settleCommitted(jobs, results);
  }

  /** Executes a batch in order; runs of appends of one kind become multi-row INSERTs. */
  private async runBatch(c: PoolClient, jobs: PgJob[]): Promise<unknown[]> {
    const out: unknown[] = new Array<unknown>(jobs.length);
    let i = 0;
    while (i < jobs.length) {
      const j = jobs[i]!;
      if (j.kind === 'op') {
        out[i] = await j.run(c);
        i++;
        continue;
      }
      let end = i + 1;
      while (end < jobs.length && jobs[end]!.kind === j.kind) end++;
      const run = jobs.slice(i, end);
      if (j.kind !== 'audit') {
        const table = j.kind === 'message' ? 'messages' : 'outbox';
        const rows = run.map((x) => (x as { row: MessageRow | OutboxRow }).row);
        const recs = this.recordsOf(table, rows, await this.insertMany(c, table, rows));
        for (let k = 0; k < rows.length; k++) out[i + k] = recs[k];
      } else {
        const recs = await this.appendAuditRun(c, run.map((x) => (x as { draft: AuditDraft }).draft));
        recs.forEach((r, k) => { out[i + k] = r; });
      }
      i = end;
    }
    return out;
  }

  /**
   * Multi-row INSERT … RETURNING seq as named prepared statements of fixed sizes (greedy: 256, 128, 64, 32,
   * 16, 4, 1 rows). PostgreSQL parses and plans each size once per connection instead of parsing a
   * fresh 2,560-parameter statement for every batch; a batch of n rows takes at most a handful of
   * round trips. Only the columns that differ between new rows are bound (see INSERT_SHAPES).
   */
  private async insertMany<T extends 'messages' | 'outbox'>(c: ClientBase, table: T, rows: readonly ShapeRow<T>[]): Promise<(number | undefined)[]> {
    const shape = INSERT_SHAPES[table] as InsertShape<ShapeRow<T>>;
    const cols = shape.params;
    const width = cols.length;
    const seqs: (number | undefined)[] = new Array<number | undefined>(rows.length);
    let start = 0;
    while (start < rows.length) {
      const size = INSERT_SIZES.find((n) => n <= rows.length - start)!;
      const params: unknown[] = new Array<unknown>(size * width);
      for (let k = 0, p = 0; k < size; k++) {
        const r = rows[start + k]!;
        for (let x = 0; x < width; x++) params[p++] = r[cols[x]!];
      }
      // rowMode 'array': one small array per returned row instead of a keyed object.
      const res = await c.query<[string, string]>({ name: `nhs_ins_${table}_${size}`, text: this.insertSql(table, size), values: params, rowMode: 'array' });
      // RETURNING follows VALUES order; a row skipped as a duplicate id is missing (undefined).
      const got = res.rows;
      for (let k = 0, g = 0; k < size; k++) {
        const hit = got[g];
        if (hit !== undefined && hit[1] === rows[start + k]!.id) {
          seqs[start + k] = Number(hit[0]);
          g++;
        }
      }
      start += size;
    }
    return seqs;
  }

  private insertSql(table: 'messages' | 'outbox', size: number): string {
    const key = `${table}:${size}`;
    let sql = this.insertText.get(key);
    if (sql === undefined) {
      const shape = INSERT_SHAPES[table];
      const width = shape.params.length;
      const tuples: string[] = [];
      for (let r = 0; r < size; r++) tuples.push(shape.tuple((i) => `$${r * width + i + 1}`));
      // A duplicate id skips that row instead of failing the statement (the caller rejects that
      // one append), so one bad row never sends a batch down a row-by-row retry.
      sql = `INSERT INTO ${this.t[table]} (${shape.columns.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING RETURNING seq, id`;
      this.insertText.set(key, sql);
    }
    return sql;
  }

  /** Chain step for a run of audit appends: one head lock, one multi-row insert, one head move. */
  private async appendAuditRun(c: PoolClient, drafts: AuditDraft[]): Promise<AuditRecord[]> {
    const h = await c.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM ${this.t.head} WHERE id = 1 FOR UPDATE`);
    let head = { seq: Number(h.rows[0]!.seq), hash: h.rows[0]!.hash };
    const recs: AuditRecord[] = [];
    for (const d of drafts) {
      const rec = chainAudit(d, head);
      recs.push(rec);
      head = { seq: rec.seq, hash: rec.hash };
    }
    for (let start = 0; start < recs.length; start += INSERT_CHUNK) {
      const params: unknown[] = [];
      const tuples = recs.slice(start, start + INSERT_CHUNK).map((r) => `(${auditRowValues(r).map((v) => { params.push(v); return `$${params.length}`; }).join(', ')})`);
      await c.query(`INSERT INTO ${this.t.audit} (${AUDIT_INSERT_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
    }
    await c.query(`UPDATE ${this.t.head} SET seq = $1, hash = $2 WHERE id = 1`, [head.seq, head.hash]);
    return recs;
  }

  /**
   * Lock the chain head first in a write op that may append audit: the same lock order as every
   * audit append (head, then rows), so two instances cannot deadlock on head ↔ item.
   */
  private async lockHead(c: PoolClient): Promise<void> {
    await c.query(`SELECT seq FROM ${this.t.head} WHERE id = 1 FOR UPDATE`);
  }

  private submit<T>(build: () => Omit<PgJob, 'resolve' | 'reject'>): Promise<T> {
    if (this.state !== 'open' || !this.committer) return Promise.reject(closedError());
    let job: Omit<PgJob, 'resolve' | 'reject'>;
    try {
      job = build();
    } catch (e) {
      return Promise.reject(mapError(e));
    }
    const committer = this.committer;
    // `job` is fresh from build(): completed in place rather than copied.
    return new Promise<T>((resolve, reject) => {
      committer.submit(Object.assign(job, { resolve, reject }) as PgJob);
    });
  }

  /** A write op: validated by `prepare` before queueing, then run inside the batch transaction. */
  private write<T>(prepare: () => (c: PoolClient) => Promise<T | OpFailure>): Promise<T> {
    return this.submit<T>(() => ({ kind: 'op', run: prepare() }));
  }

  private async read<T extends QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> {
    if (!this.readable() || !this.pool) throw closedError();
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (e) {
      throw mapError(e);
    }
  }

  private guardRead(): void {
    if (!this.readable()) throw closedError();
  }

  // -------------------------------------------------------------------------------------------
  // message log
  // -------------------------------------------------------------------------------------------

  appendMessage(m: NewMessage): Promise<MessageRecord> {
    return this.submit(() => ({ kind: 'message', row: newMessageRow(m, this.o) }));
  }

  setMessageStatus(id: string, status: MessageStatus, detail?: string): Promise<void> {
    return this.write(() => {
      checkId(id);
      checkStatus(status);
      checkStatusDetail(detail);
      return async (c) => {
        const r = await c.query(`UPDATE ${this.t.messages} SET status = $1, status_detail = $2, updated_at = $3 WHERE id = $4`, [status, detail ?? null, this.now(), id]);
        return r.rowCount === 0 ? new OpFailure(notFound('message')) : undefined;
      };
    });
  }

  async getMessage(id: string): Promise<MessageRecord | undefined> {
    this.guardRead();
    checkId(id);
    const rows = await this.read<Row>(`SELECT * FROM ${this.t.messages} WHERE id = $1`, [id]);
    return rows[0] ? toMessage(rows[0]) : undefined;
  }

  async findMessages(q: MessageQuery): Promise<MessageRecord[]> {
    this.guardRead();
    const w = messageWhere(q, ph);
    const limit = checkLimit(q.limit);
    return (await this.read<Row>(`SELECT * FROM ${this.t.messages}${whereSql(w)} ORDER BY seq LIMIT ${limit}`, w.params)).map(toMessage);
  }

  async countMessages(q: MessageQuery): Promise<number> {
    this.guardRead();
    const w = messageWhere(q, ph);
    const rows = await this.read<{ n: string }>(`SELECT COUNT(*) AS n FROM ${this.t.messages}${whereSql(w)}`, w.params);
    return Number(rows[0]?.n ?? 0);
  }

  // -------------------------------------------------------------------------------------------
  // outbox
  // -------------------------------------------------------------------------------------------

  enqueue(item: NewOutboxItem): Promise<OutboxItem> {
    return this.submit(() => ({ kind: 'outbox', row: newOutboxRow(item, this.o) }));
  }

  claimNext(destination: string, leaseMs = DEFAULT_LEASE_MS, owner?: string): Promise<OutboxItem | undefined> {
    return this.write(() => {
      checkDestination(destination);
      checkLeaseMs(leaseMs);
      const who = checkOwner(owner);
      return async (c) => {
        // FOR UPDATE on the head row: a second instance waits, then re-reads it as leased.
        const r = await c.query<Row>(
          `SELECT * FROM ${this.t.outbox} WHERE destination = $1 AND state IN ('pending', 'inflight') ORDER BY seq LIMIT 1 FOR UPDATE`,
          [destination]);
        const head = r.rows[0];
        const nowDate = this.o.clock();
        const now = nowDate.toISOString();
        if (!head || String(head.next_attempt_at) > now) return undefined;
        const lease = leaseEnd(nowDate, leaseMs);
        await c.query(`UPDATE ${this.t.outbox} SET state = 'inflight', attempts = attempts + 1, next_attempt_at = $1, updated_at = $2, lease_owner = $3 WHERE seq = $4`, [lease, now, who, head.seq]);
        return toOutbox({ ...head, state: 'inflight', attempts: Number(head.attempts) + 1, next_attempt_at: lease, updated_at: now });
      };
    });
  }

  private async outboxMiss(c: PoolClient, id: string, idempotentState: string): Promise<OpFailure | undefined> {
    const r = await c.query<{ state: string }>(`SELECT state FROM ${this.t.outbox} WHERE id = $1`, [id]);
    const s = r.rows[0]?.state;
    if (s === undefined) return new OpFailure(notFound('outbox item'));
    if (s === idempotentState) return undefined;
    return new OpFailure(new NhsError('STORE_CONFLICT', `outbox item is ${s}`));
  }

  ackOutbox(id: string): Promise<void> {
    return this.write(() => {
      checkId(id);
      return async (c) => {
        const r = await c.query(`UPDATE ${this.t.outbox} SET state = 'done', updated_at = $1 WHERE id = $2 AND state IN ('pending', 'inflight')`, [this.now(), id]);
        return r.rowCount === 0 ? this.outboxMiss(c, id, 'done') : undefined;
      };
    });
  }

  retryOutbox(id: string, nextAttemptAt: Date, error: string, attempts?: number): Promise<void> {
    return this.write(() => {
      checkId(id);
      const at = isoTime(nextAttemptAt, 'nextAttemptAt');
      const err = outboxErrorText(error);
      const fence = checkFence(attempts);
      return async (c) => {
        const r = await c.query(
          `UPDATE ${this.t.outbox} SET state = 'pending', next_attempt_at = $1, last_error = $2, updated_at = $3 WHERE id = $4 AND state IN ('pending', 'inflight') AND ($5::int IS NULL OR attempts = $5)`,
          [at, err, this.now(), id, fence]);
        return r.rowCount === 0 ? this.outboxMiss(c, id, '-') : undefined;
      };
    });
  }

  parkOutbox(id: string, reason: string, attempts?: number): Promise<void> {
    return this.write(() => {
      checkId(id);
      const why = outboxErrorText(reason);
      const fence = checkFence(attempts);
      return async (c) => {
        const r = await c.query(
          `UPDATE ${this.t.outbox} SET state = 'parked', last_error = $1, updated_at = $2 WHERE id = $3 AND state IN ('pending', 'inflight') AND ($4::int IS NULL OR attempts = $4)`,
          [why, this.now(), id, fence]);
        return r.rowCount === 0 ? this.outboxMiss(c, id, 'parked') : undefined;
      };
    });
  }

  renewOutboxLease(id: string, attempts: number, leaseMs: number): Promise<boolean> {
    return this.write(() => {
      checkId(id);
      checkLease(attempts, leaseMs);
      return async (c) => {
        const nowDate = this.o.clock();
        const lease = leaseEnd(nowDate, leaseMs);
        const r = await c.query(
          `UPDATE ${this.t.outbox} SET next_attempt_at = $1, updated_at = $2 WHERE id = $3 AND state = 'inflight' AND attempts = $4`,
          [lease, nowDate.toISOString(), id, attempts]);
        return r.rowCount === 1;
      };
    });
  }

  recoverOutbox(destination?: string, owner?: string): Promise<number> {
    return this.write(() => {
      if (destination !== undefined) checkDestination(destination);
      const who = checkOwner(owner);
      return async (c) => {
        const now = this.now();
        // Ours, unowned, or expired: an item another live owner holds keeps its lease.
        const set = `UPDATE ${this.t.outbox} SET state = 'pending', next_attempt_at = $1, updated_at = $1, lease_owner = NULL
          WHERE state = 'inflight' AND (lease_owner IS NULL OR next_attempt_at <= $1 OR lease_owner = $2)`;
        const r = destination === undefined
          ? await c.query(set, [now, who])
          : await c.query(`${set} AND destination = $3`, [now, who, destination]);
        return r.rowCount ?? 0;
      };
    });
  }

  async listOutbox(q: OutboxQuery): Promise<OutboxItem[]> {
    this.guardRead();
    const w = outboxWhere(q, ph);
    const limit = checkLimit(q.limit);
    return (await this.read<Row>(`SELECT * FROM ${this.t.outbox}${whereSql(w)} ORDER BY seq LIMIT ${limit}`, w.params)).map(toOutbox);
  }

  // -------------------------------------------------------------------------------------------
  // audit
  // -------------------------------------------------------------------------------------------

  appendAudit(r: NewAuditRecord): Promise<AuditRecord> {
    return this.submit(() => ({ kind: 'audit', draft: newAuditDraft(r, this.o) }));
  }

  pruneAuditThrough(seq: number, checkpoint: NewAuditRecord): Promise<AuditPruneResult> {
    return this.write(() => {
      const through = checkPruneSeq(seq);
      const draft = newAuditDraft(checkpoint, this.o);
      return async (c) => {
        // Under the head lock, so serialised with every append and with a concurrent prune.
        await this.lockHead(c);
        const anchor = await c.query(`SELECT 1 FROM ${this.t.audit} WHERE seq = $1`, [through]);
        if (anchor.rowCount === 0) return new OpFailure(notFound(`audit record ${through}`));
        const [cp] = await this.appendAuditRun(c, [draft]);
        const del = await c.query(`DELETE FROM ${this.t.audit} WHERE seq <= $1`, [through]);
        return { pruned: del.rowCount ?? 0, checkpoint: cp! };
      };
    });
  }

  async queryAudit(q: AuditQuery): Promise<AuditRecord[]> {
    this.guardRead();
    const w = auditWhere(q, ph);
    const limit = checkLimit(q.limit);
    const order = q.order === 'desc' ? 'DESC' : 'ASC';
    return (await this.read<Row>(`SELECT * FROM ${this.t.audit}${whereSql(w)} ORDER BY seq ${order} LIMIT ${limit}`, w.params)).map(toAudit);
  }

  async auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    this.guardRead();
    const rows = await this.read<{ seq: string; hash: string }>(`SELECT seq, hash FROM ${this.t.head} WHERE id = 1`, []);
    const h = rows[0];
    return h && Number(h.seq) > 0 ? { seq: Number(h.seq), hash: h.hash } : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // quarantine
  // -------------------------------------------------------------------------------------------

  putQuarantine(item: NewQuarantineItem, audit?: NewAuditRecord): Promise<QuarantineItem> {
    return this.write(() => {
      const row = newQuarantineRow(item, this.o);
      const draft = quarantineAuditDraft(audit, row.id, this.o);
      const cols = QUARANTINE_INSERT_COLUMNS;
      const sql = `INSERT INTO ${this.t.quarantine} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`;
      return async (c) => {
        if (draft) await this.lockHead(c);
        const r = toQuarantine((await c.query<Row>(sql, cols.map((k) => row[k]))).rows[0]!);
        if (draft) await this.appendAuditRun(c, [draft]);
        return r;
      };
    });
  }

  async getQuarantine(id: string): Promise<QuarantineItem | undefined> {
    this.guardRead();
    checkId(id);
    const rows = await this.read<Row>(`SELECT * FROM ${this.t.quarantine} WHERE id = $1`, [id]);
    return rows[0] ? toQuarantine(rows[0]) : undefined;
  }

  async listQuarantine(q: QuarantineQuery): Promise<QuarantineItem[]> {
    this.guardRead();
    const w = quarantineWhere(q, ph);
    const limit = checkLimit(q.limit);
    return (await this.read<Row>(`SELECT * FROM ${this.t.quarantine}${whereSql(w)} ORDER BY seq LIMIT ${limit}`, w.params)).map(toQuarantine);
  }

  transitionQuarantine(id: string, from: QuarantineState, to: QuarantineState, patch: QuarantinePatch, audit?: NewAuditRecord, expectedReleaseCount?: number): Promise<QuarantineItem | undefined> {
    return this.write(() => {
      checkId(id);
      checkQuarantineState(from);
      checkQuarantineState(to);
      checkExpectedReleaseCount(expectedReleaseCount);
      const cols = quarantinePatchColumns(patch ?? {}, this.o);
      const draft = quarantineAuditDraft(audit, id, this.o);
      const set = cols.map(([c], i) => `, ${c} = $${i + 3}`).join('');
      const n = cols.length + 2;
      // The state guard is the compare-and-set: under READ COMMITTED the loser re-checks the
      // committed row, no longer matches, and updates nothing.
      const guard = expectedReleaseCount === undefined ? '' : ` AND release_count = $${n + 3}`;
      const sql = `UPDATE ${this.t.quarantine} SET state = $1, updated_at = $2${set} WHERE id = $${n + 1} AND state = $${n + 2}${guard} RETURNING *`;
      return async (c) => {
        if (draft) await this.lockHead(c);
        const r = await c.query<Row>(sql, [to, this.now(), ...cols.map(([, v]) => v), id, from, ...(expectedReleaseCount === undefined ? [] : [expectedReleaseCount])]);
        if (!r.rows[0]) return undefined;
        // Only the compare-and-set winner reaches the chain step: the loser writes no audit.
        if (draft) await this.appendAuditRun(c, [draft]);
        return toQuarantine(r.rows[0]);
      };
    });
  }

  patchQuarantine(id: string, patch: QuarantinePatch, audit?: NewAuditRecord): Promise<QuarantineItem | undefined> {
    return this.write(() => {
      checkId(id);
      const cols = quarantinePatchColumns(patch ?? {}, this.o);
      const draft = quarantineAuditDraft(audit, id, this.o);
      const set = cols.map(([c], i) => `, ${c} = $${i + 2}`).join('');
      const sql = `UPDATE ${this.t.quarantine} SET updated_at = $1${set} WHERE id = $${cols.length + 2} RETURNING *`;
      return async (c) => {
        if (draft) await this.lockHead(c);
        const r = await c.query<Row>(sql, [this.now(), ...cols.map(([, v]) => v), id]);
        if (!r.rows[0]) return undefined;
        if (draft) await this.appendAuditRun(c, [draft]);
        return toQuarantine(r.rows[0]);
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // retention
  // -------------------------------------------------------------------------------------------

  protected pruneChunk(cutoff: string): Promise<PruneResult> {
    return this.write(() => async (c) => ({
      messages: (await c.query(this.pruneSql.messages, [cutoff])).rowCount ?? 0,
      outbox: (await c.query(this.pruneSql.outbox, [cutoff])).rowCount ?? 0,
    }));
  }
}
