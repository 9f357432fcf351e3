/**
 * PostgreSQL backend of the store (`pg` Pool), for several Node-RED instances sharing one store:
 * connections and write path. Group commit: one batch commits at a time while the next
 * accumulates; consecutive message, outbox and audit appends in a batch become multi-row INSERTs.
 * The audit chain step locks the `audit_head` row (SELECT … FOR UPDATE) inside the committing
 * transaction, which serialises it across instances. Connect and query timeouts turn an
 * unreachable server into `STORE_UNAVAILABLE` within bounded time.
 */
import { Client, Pool, type PoolClient, type QueryResultRow } from 'pg';
import type { NhsError } from '../errors';
import { StoreBase } from './base';
import type { AuditDraft } from './chain';
import { invalid } from './checks';
import { closedError, OpFailure, resolveOptions } from './options';
import { messageRecordOf, outboxRecordOf, type MessageRow, type OutboxRow } from './rows';
import { GroupCommitter } from './group-commit';
import { duplicateId, INSERT_SIZES, isConnectionLevel, mapError, PgSql, SPLIT_FLOOR, type PgJob } from './postgres-sql';
import { PostgresEsrState, type EsrState } from './esr-state';
import { PostgresAlertState, type AlertState } from './alert-state';
import { postgresMigrations } from './schema';
import type { StoreLocation, StoreOptions } from './types';

const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The PostgreSQL connections and write path beneath {@link PostgresStore}: pool, migrations,
 * group commit with pipelined append batches, reads. The operations are in postgres.ts.
 */
export abstract class PostgresEngine extends StoreBase {
  readonly backend = 'postgres' as const;
  /** The schema only: the url may carry a password and never leaves this object. */
  readonly location: StoreLocation;
  private readonly url: string;
  private readonly schema: string;
  protected readonly sql: PgSql;
  protected readonly t: PgSql['t'];
  private pool: Pool | undefined;
  private committer: GroupCommitter<PgJob> | undefined;
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
    this.sql = new PgSql(schema);
    this.t = this.sql.t;
  }

  protected async abort(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
  }

  protected async settleWrites(): Promise<void> {
    await this.committer?.drain();
    await this.lastSettled;
  }

  /** The monitor's alert state (lib/store/alert-state.ts, schema v5); only while open. */
  alertState(): AlertState {
    if (!this.readable() || !this.pool) throw closedError();
    return new PostgresAlertState(this.pool, this.schema);
  }

  /** The ESR intake's workforce state (lib/store/esr-state.ts, schema v4); only while open. */
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
    // A client dropped by the server must not crash Node-RED: an idle one reports through the
    // pool, a checked-out one (the pool takes its listener away while lent) through its own
    // listener here — its query rejects anyway, which is how the caller learns.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => { client.on('error', () => undefined); });
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
    const sent = this.sql.insertMany(client, table, rows);
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
        const recs = this.recordsOf(table, rows, await this.sql.insertMany(c, table, rows));
        for (let k = 0; k < rows.length; k++) out[i + k] = recs[k];
      } else {
        const recs = await this.sql.appendAuditRun(c, run.map((x) => (x as { draft: AuditDraft }).draft));
        recs.forEach((r, k) => { out[i + k] = r; });
      }
      i = end;
    }
    return out;
  }

  protected submit<T>(build: () => Omit<PgJob, 'resolve' | 'reject'>): Promise<T> {
    return this.queue<PgJob, T>(this.committer, build);
  }

  /** A write op: validated by `prepare` before queueing, then run inside the batch transaction. */
  protected write<T>(prepare: () => (c: PoolClient) => Promise<T | OpFailure>): Promise<T> {
    return this.submit<T>(() => ({ kind: 'op', run: prepare() }));
  }

  protected async read<T extends QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> {
    if (!this.readable() || !this.pool) throw closedError();
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (e) {
      throw mapError(e);
    }
  }

  protected guardRead(): void {
    if (!this.readable()) throw closedError();
  }
}
