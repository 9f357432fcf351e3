/**
 * SQLite backend of the store: the operations of the four parts (message log, outbox, audit log,
 * quarantine) over the connection and write path of sqlite-engine.ts.
 */
import { NhsError } from '../errors';
import { statSync } from 'node:fs';
import {
  checkHandoffKey, checkSeq, checkDestination, checkExpectedEdit, checkExpectedReleaseCount, checkFence, checkId, checkLease, checkLeaseMs, checkLimit, checkOwner, checkPruneSeq,
  checkQuarantineState, checkStatus, checkStatusDetail, isoTime, leaseEnd, outboxErrorText,
} from './checks';
import { DEFAULT_LEASE_MS, notFound, OpFailure } from './options';
import { auditWhere, messageWhere, outboxWhere, quarantineWhere, whereSql } from './query';
import {
  newAuditDraft, newOutboxRow, newQuarantineRow, OUTBOX_INSERT_COLUMNS, outboxRecordOf, QUARANTINE_INSERT_COLUMNS,
  quarantineAuditDraft, quarantinePatchColumns, toAudit, toMessage, toOutbox, toQuarantine,
} from './rows';
import { q, SqliteEngine, type Row } from './sqlite-engine';
import type {
  AuditPruneResult, AuditQuery, AuditRecord, MessageQuery, MessageRecord, MessageStatus, NewAuditRecord, NewMessage,
  ClaimNext, ExpectedEdit, NewOutboxItem, NewQuarantineItem, OutboxItem, OutboxQuery, PruneResult, QuarantineItem, QuarantinePatch,
  QuarantineQuery, QuarantineState, Store, HandoffInfo, HandoffStart, StoreSize,
} from './types';

/** SQLite implementation of {@link Store} (DESIGN.md §4 durability model). */
export class SqliteStore extends SqliteEngine implements Store {
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
      const claim = this.claimer({ destination, leaseMs, owner });
      return () => claim();
    });
  }

  /** Check claimNext's arguments now; the returned function claims the head inside the write. */
  private claimer(next: ClaimNext): () => OutboxItem | undefined {
    const { destination, leaseMs = DEFAULT_LEASE_MS } = next;
    checkDestination(destination);
    checkLeaseMs(leaseMs);
    const who = checkOwner(next.owner);
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
  }

  /** When a guarded outbox update matched nothing: missing, already in the target state, or conflict. */
  private outboxMiss(id: string, idempotentState: string): OpFailure | undefined {
    const r = this.s('outboxState').get(id) as { state: string } | undefined;
    if (!r) return new OpFailure(notFound('outbox item'));
    if (r.state === idempotentState) return undefined;
    return new OpFailure(new NhsError('STORE_CONFLICT', `outbox item is ${r.state}`));
  }

  ackOutbox(id: string, next?: ClaimNext): Promise<OutboxItem | undefined> {
    return this.write(() => {
      checkId(id);
      const claim = next ? this.claimer(next) : undefined;
      return () => {
        if (this.s('ack').run(this.now(), id).changes === 0) {
          const miss = this.outboxMiss(id, 'done');
          if (miss) return miss;
        }
        return claim?.();
      };
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

  transitionQuarantine(id: string, from: QuarantineState, to: QuarantineState, patch: QuarantinePatch, audit?: NewAuditRecord, expectedReleaseCount?: number, expectedEdit?: ExpectedEdit): Promise<QuarantineItem | undefined> {
    return this.write(() => {
      checkId(id);
      checkQuarantineState(from);
      checkQuarantineState(to);
      checkExpectedReleaseCount(expectedReleaseCount);
      checkExpectedEdit(expectedEdit);
      const cols = quarantinePatchColumns(patch ?? {}, this.o);
      const draft = quarantineAuditDraft(audit, id, this.o);
      // `IS` compares null-safely (NULL IS NULL is true).
      const guard = (expectedReleaseCount === undefined ? '' : ' AND release_count = ?') + (expectedEdit === undefined ? '' : ' AND edit_diff IS ? AND edited_by IS ?');
      const guardArgs = [...(expectedReleaseCount === undefined ? [] : [expectedReleaseCount]), ...(expectedEdit === undefined ? [] : [expectedEdit.editDiff, expectedEdit.editedBy])];
      const sql = `UPDATE quarantine SET state = ?, updated_at = ?${cols.map(([c]) => `, ${c} = ?`).join('')} WHERE id = ? AND state = ?${guard}`;
      return () => {
        // The state guard in the WHERE clause is the compare-and-set: the loser matches no row.
        const info = this.dyn(sql).run(to, this.now(), ...cols.map(([, v]) => v), id, from, ...guardArgs);
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
  // hand-off (schema v3)
  // -------------------------------------------------------------------------------------------

  openHandoff(channel: string, owner: string): Promise<HandoffStart> {
    return this.write(() => {
      const [ch, ow] = checkHandoffKey(channel, owner);
      return () => {
        const row = this.dyn('SELECT seq FROM handoff WHERE channel = ? AND owner = ?').get(ch, ow) as { seq: number } | undefined;
        let mark = row ? Number(row.seq) : undefined;
        if (mark === undefined) {
          const newest = this.dyn('SELECT seq FROM messages WHERE channel = ? ORDER BY seq DESC LIMIT 1').get(ch) as { seq: number } | undefined;
          mark = newest ? Number(newest.seq) : 0;
          this.dyn('INSERT INTO handoff (channel, owner, seq, updated_at) VALUES (?, ?, ?, ?)').run(ch, ow, mark, this.now());
        }
        const last = this.dyn('SELECT seq FROM messages WHERE channel = ? AND owner = ? ORDER BY seq DESC LIMIT 1').get(ch, ow) as { seq: number } | undefined;
        return { mark, upTo: last ? Number(last.seq) : 0 };
      };
    });
  }

  advanceHandoff(channel: string, owner: string, seq: number): Promise<void> {
    return this.write(() => {
      const [ch, ow] = checkHandoffKey(channel, owner);
      const to = checkSeq(seq);
      return () => {
        this.dyn('INSERT INTO handoff (channel, owner, seq, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (channel, owner) DO UPDATE SET seq = max(seq, excluded.seq), updated_at = excluded.updated_at')
          .run(ch, ow, to, this.now());
      };
    });
  }

  replayMessages(channel: string, owner: string, afterSeq: number, upTo: number, limit: number): Promise<MessageRecord[]> {
    return this.read(() => {
      const [ch, ow] = checkHandoffKey(channel, owner);
      const rows = this.dyn('SELECT * FROM messages WHERE channel = ? AND seq > ? AND seq <= ? AND owner = ? ORDER BY seq LIMIT ?')
        .all(ch, checkSeq(afterSeq, 'afterSeq'), checkSeq(upTo, 'upTo'), ow, checkLimit(limit)) as Row[];
      return rows.map(toMessage);
    });
  }

  listHandoffs(channel: string): Promise<HandoffInfo[]> {
    return this.read(() => {
      const [ch] = checkHandoffKey(channel, 'any');
      const rows = this.dyn('SELECT h.owner, h.seq, h.updated_at, (SELECT COUNT(*) FROM messages m WHERE m.channel = h.channel AND m.owner = h.owner AND m.seq > h.seq) AS pending FROM handoff h WHERE h.channel = ? ORDER BY h.owner').all(ch) as Row[];
      return rows.map((r) => ({ owner: String(r.owner), mark: Number(r.seq), updatedAt: String(r.updated_at), pending: Number(r.pending) }));
    });
  }

  adoptHandoff(channel: string, fromOwner: string, toOwner: string): Promise<number> {
    return this.write(() => {
      const [ch, from] = checkHandoffKey(channel, fromOwner);
      const [, to] = checkHandoffKey(channel, toOwner);
      return () => {
        const row = this.dyn('SELECT seq FROM handoff WHERE channel = ? AND owner = ?').get(ch, from) as { seq: number } | undefined;
        const seqs = (this.dyn('SELECT seq FROM messages WHERE channel = ? AND owner = ? AND seq > ? ORDER BY seq').all(ch, from, row ? Number(row.seq) : 0) as { seq: number }[]).map((r) => Number(r.seq));
        for (const seq of seqs) this.dyn('UPDATE messages SET seq = (SELECT MAX(seq) FROM messages) + 1, owner = ? WHERE seq = ?').run(to, seq);
        // AUTOINCREMENT must never hand out a seq now taken by a moved row.
        this.dyn("UPDATE sqlite_sequence SET seq = (SELECT MAX(seq) FROM messages) WHERE name = 'messages' AND seq < (SELECT MAX(seq) FROM messages)").run();
        this.dyn('DELETE FROM handoff WHERE channel = ? AND owner = ?').run(ch, from);
        return seqs.length;
      };
    });
  }

  protected measure(): Promise<Omit<StoreSize, 'warning'>> {
    return this.read(() => {
      const file = (this.location as { file: string }).file;
      const onDisk = (f: string): number => { try { return statSync(f).size; } catch { return 0; } };
      const pages = Number(this.db!.pragma('page_count', { simple: true })) * Number(this.db!.pragma('page_size', { simple: true }));
      const bytes = file === ':memory:' ? pages : onDisk(file) + onDisk(`${file}-wal`);
      const n = this.dyn('SELECT COUNT(*) AS n FROM messages').get() as { n: number };
      return { bytes, messages: Number(n.n) };
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
