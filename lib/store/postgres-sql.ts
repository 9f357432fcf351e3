/**
 * PostgreSQL backend of the store: driver error mapping, the job shapes of the write path, and the
 * SQL that several operations share — the prepared multi-row INSERTs of appends and the audit
 * chain step under the `audit_head` row lock.
 */
import type { ClientBase, PoolClient } from 'pg';
import { NhsError } from '../errors';
import { chainAudit, type AuditDraft } from './chain';
import { PRUNE_CHUNK } from './options';
import { AUDIT_INSERT_COLUMNS, auditRowValues, MESSAGE_INSERT_COLUMNS, OUTBOX_INSERT_COLUMNS, type MessageRow, type OutboxRow } from './rows';
import type { Settleable } from './group-commit';
import type { AuditRecord } from './types';

export type Row = Record<string, unknown>;

export type PgJob = Settleable & (
  | { kind: 'message'; row: MessageRow }
  | { kind: 'outbox'; row: OutboxRow }
  | { kind: 'audit'; draft: AuditDraft }
  | { kind: 'op'; run: (c: PoolClient) => Promise<unknown> }
);

/** Rows per multi-row audit INSERT: stays far below PostgreSQL's 65,535 bind parameters. */
const INSERT_CHUNK = 500;
/** Sizes of the prepared multi-row message/outbox INSERTs, largest first, ending in 1. */
export const INSERT_SIZES = [256, 128, 64, 32, 16, 4, 1] as const;
export const ph = (i: number): string => `$${i}`;
/**
 * With the pipeline idle, a burst of at least twice this many appends is split in two (halves of
 * at least this size) so both halves are in the pipeline; smaller batches are not split further,
 * so the split does not cascade into ever smaller batches.
 */
export const SPLIT_FLOOR = 128;

interface InsertShape<R> {
  columns: readonly string[];
  /** Row fields bound as parameters, in order. */
  params: readonly (keyof R & string)[];
  /** One VALUES tuple, given the placeholder of the i-th bound field. */
  tuple: (p: (i: number) => string) => string;
}
export type ShapeRow<T extends 'messages' | 'outbox'> = T extends 'messages' ? MessageRow : OutboxRow;

/**
 * Appended rows: what every new row has in common (newMessageRow/newOutboxRow: status
 * 'received' / state 'pending', attempts 0, no detail or error, updated_at = received_at /
 * created_at = next_attempt_at) is SQL text, not a parameter — 8 instead of 11 bound values per
 * message, 6 instead of 11 per outbox item, less for pg to serialise and for the server to bind.
 */
const INSERT_SHAPES: { messages: InsertShape<MessageRow>; outbox: InsertShape<OutboxRow> } = {
  messages: {
    columns: MESSAGE_INSERT_COLUMNS,
    params: ['id', 'channel', 'raw', 'control_id', 'message_type', 'meta', 'received_at', 'owner'],
    tuple: (p) => `(${p(0)}, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, 'received', NULL, ${p(6)}, ${p(6)}, ${p(7)})`,
  },
  outbox: {
    columns: OUTBOX_INSERT_COLUMNS,
    params: ['id', 'destination', 'payload', 'control_id', 'meta', 'created_at'],
    tuple: (p) => `(${p(0)}, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, 'pending', 0, ${p(5)}, NULL, ${p(5)}, ${p(5)})`,
  },
};

/**
 * SQLSTATE class 23 (integrity) is a data conflict; 53100 `disk_full` is `STORE_FULL` (hazard
 * HAZ-021 C8); everything else means the store is not usable now.
 */
export function mapError(e: unknown): NhsError {
  if (e instanceof NhsError) return e;
  const code = (e as { code?: unknown })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof code === 'string' && code.startsWith('23')) return new NhsError('STORE_CONFLICT', `constraint violated: ${msg}`, { cause: e });
  if (typeof code === 'string' && code.startsWith('40')) return new NhsError('STORE_CONFLICT', `transaction conflict: ${msg}`, { cause: e });
  if (code === '53100') return new NhsError('STORE_FULL', `PostgreSQL store failed: ${msg}`, { cause: e });
  return new NhsError('STORE_UNAVAILABLE', `PostgreSQL store failed: ${msg}`, { cause: e });
}

export function duplicateId(): NhsError {
  return new NhsError('STORE_CONFLICT', 'constraint violated: duplicate id');
}

/** Errors where re-running the batch one write at a time cannot help (connection gone, timeout). */
export function isConnectionLevel(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string' || code.length !== 5) return true;
  return code.startsWith('08') || code.startsWith('57') || code.startsWith('53');
}

/** The schema-qualified table names and the SQL built from them once per store. */
export class PgSql {
  readonly t: { messages: string; outbox: string; audit: string; head: string; quarantine: string; version: string; handoff: string };
  /** The two retention DELETEs ($1: cut-off), fixed once the schema is known. */
  readonly pruneSql: { messages: string; outbox: string };
  private readonly insertText = new Map<string, string>();

  constructor(schema: string) {
    const q = (n: string): string => `"${schema}".${n}`;
    this.t = { messages: q('messages'), outbox: q('outbox'), audit: q('audit'), head: q('audit_head'), quarantine: q('quarantine'), version: q('schema_version'), handoff: q('handoff') };
    this.pruneSql = {
      // Handed over (at or below the hand-off watermark) or processed; see Store.prune.
      messages: `DELETE FROM ${this.t.messages} m WHERE seq IN (SELECT seq FROM ${this.t.messages} x WHERE x.updated_at < $1 AND (x.status = 'processed' OR EXISTS ` +
        `(SELECT 1 FROM ${this.t.handoff} h WHERE h.channel = x.channel AND (h.owner = x.owner OR x.owner IS NULL) AND x.seq <= h.seq)) AND x.id NOT IN ` +
        `(SELECT message_id FROM ${this.t.quarantine} WHERE state = 'open' AND message_id IS NOT NULL) LIMIT ${PRUNE_CHUNK})`,
      outbox: `DELETE FROM ${this.t.outbox} WHERE seq IN (SELECT seq FROM ${this.t.outbox} WHERE state = 'done' AND updated_at < $1 LIMIT ${PRUNE_CHUNK})`,
    };
  }

  /**
   * Multi-row INSERT … RETURNING seq as named prepared statements of fixed sizes (greedy: 256, 128, 64, 32,
   * 16, 4, 1 rows). PostgreSQL parses and plans each size once per connection instead of parsing a
   * fresh 2,560-parameter statement for every batch; a batch of n rows takes at most a handful of
   * round trips. Only the columns that differ between new rows are bound (see INSERT_SHAPES).
   */
  async insertMany<T extends 'messages' | 'outbox'>(c: ClientBase, table: T, rows: readonly ShapeRow<T>[]): Promise<(number | undefined)[]> {
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
  async appendAuditRun(c: PoolClient, drafts: AuditDraft[]): Promise<AuditRecord[]> {
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
  async lockHead(c: PoolClient): Promise<void> {
    await c.query(`SELECT seq FROM ${this.t.head} WHERE id = 1 FOR UPDATE`);
  }
}
