/**
 * PostgreSQL backend of the store: the operations of the four parts (message log, outbox, audit
 * log, quarantine) over the connections and write path of postgres-engine.ts.
 */
import type { PoolClient } from 'pg';
import { NhsError } from '../errors';
import {
  checkHandoffKey, checkSeq, checkDestination, checkExpectedEdit, checkExpectedReleaseCount, checkFence, checkId, checkLease, checkLeaseMs, checkLimit, checkOwner, checkPruneSeq,
  checkQuarantineState, checkStatus, checkStatusDetail, isoTime, leaseEnd, outboxErrorText,
} from './checks';
import { DEFAULT_LEASE_MS, notFound, OpFailure } from './options';
import { PostgresEngine } from './postgres-engine';
import { ph, type Row } from './postgres-sql';
import { auditWhere, messageWhere, outboxWhere, quarantineWhere, whereSql } from './query';
import {
  newAuditDraft, newMessageRow, newOutboxRow, newQuarantineRow, QUARANTINE_INSERT_COLUMNS, quarantineAuditDraft,
  quarantinePatchColumns, toAudit, toMessage, toOutbox, toQuarantine,
} from './rows';
import type {
  AuditPruneResult, AuditQuery, AuditRecord, MessageQuery, MessageRecord, MessageStatus, NewAuditRecord, NewMessage,
  ClaimNext, ExpectedEdit, NewOutboxItem, NewQuarantineItem, OutboxItem, OutboxQuery, PruneResult, QuarantineItem, QuarantinePatch,
  QuarantineQuery, QuarantineState, Store, HandoffInfo, HandoffStart, StoreSize,
} from './types';

/** PostgreSQL implementation of {@link Store}. */
export class PostgresStore extends PostgresEngine implements Store {
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
    return this.write(() => this.claimer({ destination, leaseMs, owner }));
  }

  /** Check claimNext's arguments now; the returned function claims the head inside the write. */
  private claimer(next: ClaimNext): (c: PoolClient) => Promise<OutboxItem | undefined> {
    const { destination, leaseMs = DEFAULT_LEASE_MS } = next;
    checkDestination(destination);
    checkLeaseMs(leaseMs);
    const who = checkOwner(next.owner);
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
  }

  private async outboxMiss(c: PoolClient, id: string, idempotentState: string): Promise<OpFailure | undefined> {
    const r = await c.query<{ state: string }>(`SELECT state FROM ${this.t.outbox} WHERE id = $1`, [id]);
    const s = r.rows[0]?.state;
    if (s === undefined) return new OpFailure(notFound('outbox item'));
    if (s === idempotentState) return undefined;
    return new OpFailure(new NhsError('STORE_CONFLICT', `outbox item is ${s}`));
  }

  ackOutbox(id: string, next?: ClaimNext): Promise<OutboxItem | undefined> {
    return this.write(() => {
      checkId(id);
      const claim = next ? this.claimer(next) : undefined;
      return async (c) => {
        const r = await c.query(`UPDATE ${this.t.outbox} SET state = 'done', updated_at = $1 WHERE id = $2 AND state IN ('pending', 'inflight')`, [this.now(), id]);
        if (r.rowCount === 0) {
          const miss = await this.outboxMiss(c, id, 'done');
          if (miss) return miss;
        }
        return claim?.(c);
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

  transitionQuarantine(id: string, from: QuarantineState, to: QuarantineState, patch: QuarantinePatch, audit?: NewAuditRecord, expectedReleaseCount?: number, expectedEdit?: ExpectedEdit): Promise<QuarantineItem | undefined> {
    return this.write(() => {
      checkId(id);
      checkQuarantineState(from);
      checkQuarantineState(to);
      checkExpectedReleaseCount(expectedReleaseCount);
      checkExpectedEdit(expectedEdit);
      const cols = quarantinePatchColumns(patch ?? {}, this.o);
      const draft = quarantineAuditDraft(audit, id, this.o);
      const set = cols.map(([c], i) => `, ${c} = $${i + 3}`).join('');
      const n = cols.length + 2;
      const guardArgs = [...(expectedReleaseCount === undefined ? [] : [expectedReleaseCount]), ...(expectedEdit === undefined ? [] : [expectedEdit.editDiff, expectedEdit.editedBy])];
      // The state guard is the compare-and-set: under READ COMMITTED the loser re-checks the
      // committed row, no longer matches, and updates nothing. The edit guard compares null-safely.
      let k = n + 2;
      const guard = (expectedReleaseCount === undefined ? '' : ` AND release_count = $${++k}`)
        + (expectedEdit === undefined ? '' : ` AND edit_diff IS NOT DISTINCT FROM $${++k}::text AND edited_by IS NOT DISTINCT FROM $${++k}::text`);
      const sql = `UPDATE ${this.t.quarantine} SET state = $1, updated_at = $2${set} WHERE id = $${n + 1} AND state = $${n + 2}${guard} RETURNING *`;
      return async (c) => {
        if (draft) await this.sql.lockHead(c);
        const r = await c.query<Row>(sql, [to, this.now(), ...cols.map(([, v]) => v), id, from, ...guardArgs]);
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
  // hand-off (schema v3)
  // -------------------------------------------------------------------------------------------

  openHandoff(channel: string, owner: string): Promise<HandoffStart> {
    return this.write(() => {
      const [ch, ow] = checkHandoffKey(channel, owner);
      const { messages, handoff } = this.t;
      return async (c) => {
        // A new watermark starts at the channel's newest message; a concurrent first start of the same key inserts nothing.
        await c.query(`INSERT INTO ${handoff} (channel, owner, seq, updated_at) SELECT $1, $2, COALESCE((SELECT seq FROM ${messages} WHERE channel = $1 ORDER BY seq DESC LIMIT 1), 0), $3 ON CONFLICT (channel, owner) DO NOTHING`, [ch, ow, this.now()]);
        const mark = await c.query<{ seq: string }>(`SELECT seq FROM ${handoff} WHERE channel = $1 AND owner = $2`, [ch, ow]);
        const last = await c.query<{ seq: string }>(`SELECT seq FROM ${messages} WHERE channel = $1 AND owner = $2 ORDER BY seq DESC LIMIT 1`, [ch, ow]);
        return { mark: Number(mark.rows[0]?.seq ?? 0), upTo: Number(last.rows[0]?.seq ?? 0) };
      };
    });
  }

  advanceHandoff(channel: string, owner: string, seq: number): Promise<void> {
    return this.write(() => {
      const [ch, ow] = checkHandoffKey(channel, owner);
      const to = checkSeq(seq);
      return async (c) => {
        await c.query(`INSERT INTO ${this.t.handoff} AS h (channel, owner, seq, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (channel, owner) DO UPDATE SET seq = GREATEST(h.seq, EXCLUDED.seq), updated_at = EXCLUDED.updated_at`, [ch, ow, to, this.now()]);
      };
    });
  }

  async replayMessages(channel: string, owner: string, afterSeq: number, upTo: number, limit: number): Promise<MessageRecord[]> {
    this.guardRead();
    const [ch, ow] = checkHandoffKey(channel, owner);
    const params = [ch, checkSeq(afterSeq, 'afterSeq'), checkSeq(upTo, 'upTo'), ow, checkLimit(limit)];
    return (await this.read<Row>(`SELECT * FROM ${this.t.messages} WHERE channel = $1 AND seq > $2 AND seq <= $3 AND owner = $4 ORDER BY seq LIMIT $5`, params)).map(toMessage);
  }

  async listHandoffs(channel: string): Promise<HandoffInfo[]> {
    this.guardRead();
    const [ch] = checkHandoffKey(channel, 'any');
    const rows = await this.read<Row>(`SELECT h.owner, h.seq, h.updated_at, (SELECT COUNT(*) FROM ${this.t.messages} m WHERE m.channel = h.channel AND m.owner = h.owner AND m.seq > h.seq) AS pending FROM ${this.t.handoff} h WHERE h.channel = $1 ORDER BY h.owner`, [ch]);
    return rows.map((r) => ({ owner: String(r.owner), mark: Number(r.seq), updatedAt: String(r.updated_at), pending: Number(r.pending) }));
  }

  adoptHandoff(channel: string, fromOwner: string, toOwner: string): Promise<number> {
    return this.write(() => {
      const [ch, from] = checkHandoffKey(channel, fromOwner);
      const [, to] = checkHandoffKey(channel, toOwner);
      const { messages, handoff } = this.t;
      return async (c) => {
        const mark = await c.query<{ seq: string }>(`SELECT seq FROM ${handoff} WHERE channel = $1 AND owner = $2 FOR UPDATE`, [ch, from]);
        const rows = await c.query<{ seq: string }>(`SELECT seq FROM ${messages} WHERE channel = $1 AND owner = $2 AND seq > $3 ORDER BY seq`, [ch, from, Number(mark.rows[0]?.seq ?? 0)]);
        // One row at a time so the new seqs keep the old order.
        for (const r of rows.rows) {
          await c.query(`UPDATE ${messages} SET seq = nextval(pg_get_serial_sequence('${messages}', 'seq')), owner = $1 WHERE seq = $2`, [to, r.seq]);
        }
        await c.query(`DELETE FROM ${handoff} WHERE channel = $1 AND owner = $2`, [ch, from]);
        return rows.rows.length;
      };
    });
  }

  protected async measure(): Promise<Omit<StoreSize, 'warning'>> {
    this.guardRead();
    const schema = (this.location as { schema: string }).schema;
    const r = await this.read<{ bytes: string | null }>('SELECT SUM(pg_total_relation_size(c.oid)) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = \'r\'', [schema]);
    const n = await this.read<{ n: string }>(`SELECT COUNT(*) AS n FROM ${this.t.messages}`, []);
    return { bytes: Number(r[0]?.bytes ?? 0), messages: Number(n[0]?.n ?? 0) };
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
