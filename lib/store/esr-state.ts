/**
 * Workforce state for the ESR intake (schema version 4): a file ledger (which extract was seen,
 * its SHA-256, how far its rows are committed, how it ended), the current person and assignment
 * state the joiner/mover/leaver diff compares against, and the alert state (a missing-file alert
 * raised once a day, resolved once). Both backends implement {@link EsrState}; each store exposes
 * it through `store.esrState()`.
 *
 * Personal data kept: the ESR person and assignment ids and the tracked assignment attributes
 * (position, organisation, location, supervisor's person id, WTE, end dates) — no names, NI or
 * staff numbers.
 */
import type Database from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import type { Migration } from './schema';

/** v4 DDL for both backends (no dependency on any other migration but v1's `schema_version`). */
export function esrStateDdl(prefix: string): string {
  const p = prefix;
  return `
CREATE TABLE ${p}esr_files (
  source TEXT NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  seq BIGINT,
  kind TEXT,
  size BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('processing', 'done', 'rejected', 'duplicate')),
  committed_line BIGINT NOT NULL DEFAULT 0,
  counts TEXT NOT NULL DEFAULT '{}',
  reason TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  PRIMARY KEY (source, name, hash)
);
CREATE INDEX esr_files_hash_idx ON ${p}esr_files (source, hash);
CREATE INDEX esr_files_started_idx ON ${p}esr_files (source, started_at);
CREATE TABLE ${p}esr_people (
  source TEXT NOT NULL,
  person_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'left')),
  data TEXT NOT NULL,
  last_file TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source, person_id)
);
CREATE INDEX esr_people_seen_idx ON ${p}esr_people (source, last_file);
CREATE TABLE ${p}esr_assignments (
  source TEXT NOT NULL,
  assignment_id TEXT NOT NULL,
  person_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'left')),
  data TEXT NOT NULL,
  last_file TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source, assignment_id)
);
CREATE INDEX esr_assignments_seen_idx ON ${p}esr_assignments (source, last_file);
CREATE TABLE ${p}esr_alerts (
  source TEXT NOT NULL,
  alert TEXT NOT NULL,
  state TEXT NOT NULL,
  day TEXT,
  at TEXT NOT NULL,
  PRIMARY KEY (source, alert)
);
`;
}

/** Schema v4 for SQLite / PostgreSQL (`prefix` = `"schema".` there). */
export function esrMigration(prefix: string): Migration {
  return { version: 4, sql: esrStateDdl(prefix) };
}

/**
 * Schema v6: drop the `(source, last_file)` indexes of v4. No query uses them (full-extract
 * reconciliation reads a source's active entities by primary key, `last_file <>` cannot use them),
 * and a full extract rewrites `last_file` on every entity it contains, so each kept one index
 * entry deleted and inserted per row: about a third of a steady-state extract's write time
 * (bench/README.md, ESR intake).
 */
export function esrSeenIndexDrop(prefix: string): Migration {
  return { version: 6, sql: `DROP INDEX IF EXISTS ${prefix}esr_people_seen_idx;\nDROP INDEX IF EXISTS ${prefix}esr_assignments_seen_idx;\n` };
}

export type EsrFileStatus = 'processing' | 'done' | 'rejected' | 'duplicate';

export interface EsrFileRecord {
  source: string;
  name: string;
  hash: string;
  seq: number | null;
  kind: string | null;
  size: number;
  status: EsrFileStatus;
  /** Last physical line whose effects (state, audit) are committed; rows up to it are never re-emitted. */
  committedLine: number;
  counts: Record<string, number>;
  reason: string | null;
  startedAt: string;
  finishedAt: string | null;
}

/** A tracked entity: a person (`kind` person) or an assignment. `data` holds non-identifying attributes. */
export interface EsrEntity {
  id: string;
  personId: string;
  status: 'active' | 'left';
  data: Record<string, string>;
  lastFile: string;
}

export interface EsrAlertState {
  state: string;
  day: string | null;
  at: string;
}

export interface EsrBatchCommit {
  source: string;
  name: string;
  hash: string;
  line: number;
  counts: Record<string, number>;
  people: readonly EsrEntity[];
  assignments: readonly EsrEntity[];
  /** Ids of entities this file contains unchanged: only `last_file` (= `name`) and `updated_at` are set. */
  seenPeople?: readonly string[];
  seenAssignments?: readonly string[];
  at: string;
}

/** The ESR intake's durable state (one interface, SQLite and PostgreSQL). */
export interface EsrState {
  /** The ledger row for this exact file (name + content hash). */
  getFile(source: string, name: string, hash: string): Promise<EsrFileRecord | undefined>;
  /** A finished file with this content under any name (a re-sent file). */
  findDone(source: string, hash: string): Promise<EsrFileRecord | undefined>;
  /** Highest sequence number of a file processed to the end. */
  lastSeq(source: string): Promise<number | undefined>;
  /** Insert a `processing` row, or return the existing one (a restart resumes it). */
  beginFile(f: { source: string; name: string; hash: string; seq: number | null; kind: string | null; size: number; at: string }): Promise<EsrFileRecord>;
  /** State changes of a batch and the file's watermark, in one transaction. */
  commitBatch(b: EsrBatchCommit): Promise<void>;
  finishFile(source: string, name: string, hash: string, status: EsrFileStatus, counts: Record<string, number>, reason: string | null, at: string): Promise<void>;
  /** Files started at or after `since` (ISO). */
  filesSince(source: string, since: string): Promise<EsrFileRecord[]>;
  loadPeople(source: string, ids: readonly string[]): Promise<Map<string, EsrEntity>>;
  loadAssignments(source: string, ids: readonly string[]): Promise<Map<string, EsrEntity>>;
  /** Active entities not seen in `file` (a full extract's reconciliation). */
  unseen(source: string, file: string): Promise<{ people: EsrEntity[]; assignments: EsrEntity[] }>;
  getAlert(source: string, alert: string): Promise<EsrAlertState | undefined>;
  setAlert(source: string, alert: string, s: EsrAlertState): Promise<void>;
}

type Row = Record<string, unknown>;

function fileOf(r: Row): EsrFileRecord {
  return {
    source: String(r.source), name: String(r.name), hash: String(r.hash),
    seq: r.seq === null || r.seq === undefined ? null : Number(r.seq), kind: (r.kind as string | null) ?? null,
    size: Number(r.size), status: r.status as EsrFileStatus, committedLine: Number(r.committed_line),
    counts: JSON.parse(String(r.counts)) as Record<string, number>, reason: (r.reason as string | null) ?? null,
    startedAt: String(r.started_at), finishedAt: (r.finished_at as string | null) ?? null,
  };
}

function entityOf(r: Row, idCol: string): EsrEntity {
  return { id: String(r[idCol]), personId: String(r.person_id), status: r.status as 'active' | 'left', data: JSON.parse(String(r.data)) as Record<string, string>, lastFile: String(r.last_file) };
}

type FileStart = { source: string; name: string; hash: string; seq: number | null; kind: string | null; size: number; at: string };

/**
 * What both backends share: the same SQL (written with `?` placeholders) over a different engine.
 * A backend supplies the table name, how to read rows and run a statement, and the calls whose
 * SQL or transaction differs (`beginFile`, `commitBatch`, `load`).
 */
abstract class SqlEsrState implements EsrState {
  protected abstract t(table: string): string;
  protected abstract rows(sql: string, args: unknown[]): Promise<Row[]>;
  protected abstract exec(sql: string, args: unknown[]): Promise<void>;
  protected abstract load(table: string, idCol: string, source: string, ids: readonly string[]): Promise<Map<string, EsrEntity>>;
  abstract beginFile(f: FileStart): Promise<EsrFileRecord>;
  abstract commitBatch(b: EsrBatchCommit): Promise<void>;

  async getFile(source: string, name: string, hash: string): Promise<EsrFileRecord | undefined> {
    return (await this.rows(`SELECT * FROM ${this.t('esr_files')} WHERE source = ? AND name = ? AND hash = ?`, [source, name, hash])).map(fileOf)[0];
  }

  async findDone(source: string, hash: string): Promise<EsrFileRecord | undefined> {
    return (await this.rows(`SELECT * FROM ${this.t('esr_files')} WHERE source = ? AND hash = ? AND status = 'done' ORDER BY started_at LIMIT 1`, [source, hash])).map(fileOf)[0];
  }

  async lastSeq(source: string): Promise<number | undefined> {
    const v = (await this.rows(`SELECT MAX(seq) AS v FROM ${this.t('esr_files')} WHERE source = ? AND status = 'done'`, [source]))[0]?.v;
    return v === null || v === undefined ? undefined : Number(v);
  }

  async finishFile(source: string, name: string, hash: string, status: EsrFileStatus, counts: Record<string, number>, reason: string | null, at: string): Promise<void> {
    await this.exec(`INSERT INTO ${this.t('esr_files')} (source, name, hash, size, status, counts, reason, started_at, finished_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?) ` +
      'ON CONFLICT (source, name, hash) DO UPDATE SET status = excluded.status, counts = excluded.counts, reason = excluded.reason, finished_at = excluded.finished_at',
    [source, name, hash, status, JSON.stringify(counts), reason, at, at]);
  }

  async filesSince(source: string, since: string): Promise<EsrFileRecord[]> {
    return (await this.rows(`SELECT * FROM ${this.t('esr_files')} WHERE source = ? AND started_at >= ? ORDER BY started_at`, [source, since])).map(fileOf);
  }

  loadPeople(source: string, ids: readonly string[]): Promise<Map<string, EsrEntity>> {
    return this.load('esr_people', 'person_id', source, ids);
  }

  loadAssignments(source: string, ids: readonly string[]): Promise<Map<string, EsrEntity>> {
    return this.load('esr_assignments', 'assignment_id', source, ids);
  }

  async unseen(source: string, file: string): Promise<{ people: EsrEntity[]; assignments: EsrEntity[] }> {
    return {
      people: (await this.rows(`SELECT * FROM ${this.t('esr_people')} WHERE source = ? AND status = 'active' AND last_file <> ? ORDER BY person_id`, [source, file])).map((r) => entityOf(r, 'person_id')),
      assignments: (await this.rows(`SELECT * FROM ${this.t('esr_assignments')} WHERE source = ? AND status = 'active' AND last_file <> ? ORDER BY assignment_id`, [source, file])).map((r) => entityOf(r, 'assignment_id')),
    };
  }

  async getAlert(source: string, alert: string): Promise<EsrAlertState | undefined> {
    const r = (await this.rows(`SELECT state, day, at FROM ${this.t('esr_alerts')} WHERE source = ? AND alert = ?`, [source, alert]))[0];
    return r ? { state: String(r.state), day: (r.day as string | null) ?? null, at: String(r.at) } : undefined;
  }

  async setAlert(source: string, alert: string, s: EsrAlertState): Promise<void> {
    await this.exec(`INSERT INTO ${this.t('esr_alerts')} (source, alert, state, day, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, alert) DO UPDATE SET state = excluded.state, day = excluded.day, at = excluded.at`,
      [source, alert, s.state, s.day, s.at]);
  }
}

/**
 * SQLite: synchronous statements on the store's connection; each call is one transaction.
 * Statements are prepared once per connection (the intake runs the same few thousands of times a
 * file); a batch's ids are passed as one JSON array (`json_each`), so one statement serves every
 * batch size.
 */
export class SqliteEsrState extends SqlEsrState {
  private readonly prepared = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) { super(); }

  protected t(table: string): string { return table; }

  private st(sql: string): Database.Statement {
    let s = this.prepared.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.prepared.set(sql, s);
    }
    return s;
  }

  private all(sql: string, ...args: unknown[]): Row[] {
    return this.st(sql).all(...args) as Row[];
  }

  protected rows(sql: string, args: unknown[]): Promise<Row[]> {
    return Promise.resolve().then(() => this.all(sql, ...args));
  }

  protected exec(sql: string, args: unknown[]): Promise<void> {
    return Promise.resolve().then(() => { this.st(sql).run(...args); });
  }

  beginFile(f: FileStart): Promise<EsrFileRecord> {
    // insert and read back in one synchronous step, so nothing interleaves
    return Promise.resolve().then(() => {
      this.st('INSERT INTO esr_files (source, name, hash, seq, kind, size, status, started_at) VALUES (?, ?, ?, ?, ?, ?, \'processing\', ?) ON CONFLICT DO NOTHING')
        .run(f.source, f.name, f.hash, f.seq, f.kind, f.size, f.at);
      return this.all('SELECT * FROM esr_files WHERE source = ? AND name = ? AND hash = ?', f.source, f.name, f.hash).map(fileOf)[0]!;
    });
  }

  private commitTx: Database.Transaction<(b: EsrBatchCommit) => void> | undefined;

  commitBatch(b: EsrBatchCommit): Promise<void> {
    return Promise.resolve().then(() => {
      this.commitTx ??= this.db.transaction((c: EsrBatchCommit) => {
        const person = this.st('INSERT INTO esr_people (source, person_id, status, data, last_file, updated_at) VALUES (?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (source, person_id) DO UPDATE SET status = excluded.status, data = excluded.data, last_file = excluded.last_file, updated_at = excluded.updated_at');
        const asg = this.st('INSERT INTO esr_assignments (source, assignment_id, person_id, status, data, last_file, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (source, assignment_id) DO UPDATE SET person_id = excluded.person_id, status = excluded.status, data = excluded.data, last_file = excluded.last_file, updated_at = excluded.updated_at');
        for (const p of c.people) person.run(c.source, p.id, p.status, JSON.stringify(p.data), p.lastFile, c.at);
        for (const a of c.assignments) asg.run(c.source, a.id, a.personId, a.status, JSON.stringify(a.data), a.lastFile, c.at);
        // One statement per batch for the stamps (ids as a JSON array): a third less than one run per id.
        if (c.seenPeople?.length) {
          this.st('UPDATE esr_people SET last_file = ?, updated_at = ? WHERE source = ? AND person_id IN (SELECT value FROM json_each(?))').run(c.name, c.at, c.source, JSON.stringify(c.seenPeople));
        }
        if (c.seenAssignments?.length) {
          this.st('UPDATE esr_assignments SET last_file = ?, updated_at = ? WHERE source = ? AND assignment_id IN (SELECT value FROM json_each(?))').run(c.name, c.at, c.source, JSON.stringify(c.seenAssignments));
        }
        this.st('UPDATE esr_files SET committed_line = ?, counts = ? WHERE source = ? AND name = ? AND hash = ?').run(c.line, JSON.stringify(c.counts), c.source, c.name, c.hash);
      });
      this.commitTx.immediate(b);
    });
  }

  protected load(table: string, idCol: string, source: string, ids: readonly string[]): Promise<Map<string, EsrEntity>> {
    return Promise.resolve().then(() => {
      const out = new Map<string, EsrEntity>();
      if (ids.length === 0) return out;
      // Only the columns an entity needs (not source, updated_at): this reads every row of a full extract.
      for (const r of this.all(`SELECT ${idCol}, person_id, status, data, last_file FROM ${table} WHERE source = ? AND ${idCol} IN (SELECT value FROM json_each(?))`, source, JSON.stringify(ids))) {
        const e = entityOf(r, idCol);
        out.set(e.id, e);
      }
      return out;
    });
  }
}

/** PostgreSQL: pooled connections; `commitBatch` is one transaction. */
export class PostgresEsrState extends SqlEsrState {
  constructor(private readonly pool: Pool, private readonly schema: string) { super(); }

  protected t(table: string): string { return `"${this.schema}".${table}`; }

  private async pg(sql: string, args: unknown[]): Promise<Row[]> {
    return (await this.pool.query(sql, args)).rows as Row[];
  }

  /** The shared SQL's `?` placeholders as PostgreSQL's `$1, $2, …`. */
  protected rows(sql: string, args: unknown[]): Promise<Row[]> {
    let n = 0;
    return this.pg(sql.replace(/\?/g, () => `$${++n}`), args);
  }

  protected async exec(sql: string, args: unknown[]): Promise<void> {
    await this.rows(sql, args);
  }

  async beginFile(f: FileStart): Promise<EsrFileRecord> {
    await this.pool.query(`INSERT INTO ${this.t('esr_files')} (source, name, hash, seq, kind, size, status, started_at) VALUES ($1, $2, $3, $4, $5, $6, 'processing', $7) ON CONFLICT DO NOTHING`,
      [f.source, f.name, f.hash, f.seq, f.kind, f.size, f.at]);
    return (await this.getFile(f.source, f.name, f.hash))!;
  }

  async commitBatch(b: EsrBatchCommit): Promise<void> {
    const c: PoolClient = await this.pool.connect();
    try {
      await c.query('BEGIN');
      if (b.people.length > 0) {
        await c.query(`INSERT INTO ${this.t('esr_people')} (source, person_id, status, data, last_file, updated_at) ` +
          'SELECT $1::text, *, $6::text FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) ' +
          'ON CONFLICT (source, person_id) DO UPDATE SET status = excluded.status, data = excluded.data, last_file = excluded.last_file, updated_at = excluded.updated_at',
        [b.source, b.people.map((p) => p.id), b.people.map((p) => p.status), b.people.map((p) => JSON.stringify(p.data)), b.people.map((p) => p.lastFile), b.at]);
      }
      if (b.assignments.length > 0) {
        await c.query(`INSERT INTO ${this.t('esr_assignments')} (source, assignment_id, person_id, status, data, last_file, updated_at) ` +
          'SELECT $1::text, *, $7::text FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) ' +
          'ON CONFLICT (source, assignment_id) DO UPDATE SET person_id = excluded.person_id, status = excluded.status, data = excluded.data, last_file = excluded.last_file, updated_at = excluded.updated_at',
        [b.source, b.assignments.map((a) => a.id), b.assignments.map((a) => a.personId), b.assignments.map((a) => a.status), b.assignments.map((a) => JSON.stringify(a.data)), b.assignments.map((a) => a.lastFile), b.at]);
      }
      if (b.seenPeople?.length) {
        await c.query(`UPDATE ${this.t('esr_people')} SET last_file = $1, updated_at = $2 WHERE source = $3 AND person_id = ANY($4::text[])`, [b.name, b.at, b.source, [...b.seenPeople]]);
      }
      if (b.seenAssignments?.length) {
        await c.query(`UPDATE ${this.t('esr_assignments')} SET last_file = $1, updated_at = $2 WHERE source = $3 AND assignment_id = ANY($4::text[])`, [b.name, b.at, b.source, [...b.seenAssignments]]);
      }
      await c.query(`UPDATE ${this.t('esr_files')} SET committed_line = $1, counts = $2 WHERE source = $3 AND name = $4 AND hash = $5`, [b.line, JSON.stringify(b.counts), b.source, b.name, b.hash]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  protected async load(table: string, idCol: string, source: string, ids: readonly string[]): Promise<Map<string, EsrEntity>> {
    const out = new Map<string, EsrEntity>();
    if (ids.length === 0) return out;
    for (const r of await this.pg(`SELECT * FROM ${this.t(table)} WHERE source = $1 AND ${idCol} = ANY($2::text[])`, [source, [...ids]])) {
      const e = entityOf(r, idCol);
      out.set(e.id, e);
    }
    return out;
  }
}
