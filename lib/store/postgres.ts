/**
 * PostgreSQL backend of the store: the operations of the four parts (message log, outbox, audit
 * log, quarantine) over the connections and write path of postgres-engine.ts.
 */
import type { PoolClient } from 'pg';
import { NhsError } from '../errors';
import {
  checkDestination, checkExpectedReleaseCount, checkFence, checkId, checkLease, checkLeaseMs, checkLimit, checkOwner, checkPruneSeq,
  checkQuarantineState, checkStatus, checkStatusDetail, isoTime, leaseEnd, outboxErrorText,
} from './checks';
import { closedError, DEFAULT_LEASE_MS, notFound, OpFailure } from './options';
import { PostgresEngine } from './postgres-engine';
import { PostgresAlertState, type AlertState } from './alert-state';
import { ph, type Row } from './postgres-sql';
import { auditWhere, messageWhere, outboxWhere, quarantineWhere, whereSql } from './query';
import {
  newAuditDraft, newMessageRow, newOutboxRow, newQuarantineRow, QUARANTINE_INSERT_COLUMNS, quarantineAuditDraft,
  quarantinePatchColumns, toAudit, toMessage, toOutbox, toQuarantine,
} from './rows';
import type {
  AuditPruneResult, AuditQuery, AuditRecord, MessageQuery, MessageRecord, MessageStatus, NewAuditRecord, NewMessage,
  NewOutboxItem, NewQuarantineItem, OutboxItem, OutboxQuery, PruneResult, QuarantineItem, QuarantinePatch,
  QuarantineQuery, QuarantineState, Store,
} from './types';

/** PostgreSQL implementation of {@link Store}. */
export class PostgresStore extends PostgresEngine implements Store {
  alertState(): AlertState {
    if (!this.readable() || !this.pool) throw closedError();
    return new PostgresAlertState(this.pool, this.schema);
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
        await this.sql.lockHead(c);
        const anchor = await c.query(`SELECT 1 FROM ${this.t.audit} WHERE seq = $1`, [through]);
        if (anchor.rowCount === 0) return new OpFailure(notFound(`audit record ${through}`));
        const [cp] = await this.sql.appendAuditRun(c, [draft]);
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
        if (draft) await this.sql.lockHead(c);
        const r = toQuarantine((await c.query<Row>(sql, cols.map((k) => row[k]))).rows[0]!);
        if (draft) await this.sql.appendAuditRun(c, [draft]);
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
        if (draft) await this.sql.lockHead(c);
        const r = await c.query<Row>(sql, [to, this.now(), ...cols.map(([, v]) => v), id, from, ...(expectedReleaseCount === undefined ? [] : [expectedReleaseCount])]);
        if (!r.rows[0]) return undefined;
        // Only the compare-and-set winner reaches the chain step: the loser writes no audit.
        if (draft) await this.sql.appendAuditRun(c, [draft]);
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
        if (draft) await this.sql.lockHead(c);
        const r = await c.query<Row>(sql, [this.now(), ...cols.map(([, v]) => v), id]);
        if (!r.rows[0]) return undefined;
        if (draft) await this.sql.appendAuditRun(c, [draft]);
        return toQuarantine(r.rows[0]);
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // retention
  // -------------------------------------------------------------------------------------------

  protected pruneChunk(cutoff: string): Promise<PruneResult> {
    return this.write(() => async (c) => ({
      messages: (await c.query(this.sql.pruneSql.messages, [cutoff])).rowCount ?? 0,
      outbox: (await c.query(this.sql.pruneSql.outbox, [cutoff])).rowCount ?? 0,
    }));
  }
}
