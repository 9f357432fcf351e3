/**
 * Worker half of {@link verifySqliteParallel}: checks one seq range of a SQLite audit table —
 * contiguous seqs, each record's own hash, each link inside the range — and reports the range's
 * two ends for the main thread to stitch. It reads its own read-only connection (WAL allows
 * readers beside the writer) in raw row mode, which is much cheaper than row objects.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { auditHash } from './chain';
import type { AuditRecord } from '../store/types';

export interface RangeJob { file: string; after: number; through: number | null }
export type RangeResult =
  | { ok: true; count: number; first: { seq: number; prevHash: string } | null; last: { seq: number; hash: string } | null }
  | { ok: false; seq: number };

function run(job: RangeJob): RangeResult {
  const db = new Database(job.file, { readonly: true, fileMustExist: true });
  try {
    const sql = `SELECT seq, at, node, flow, action, outcome, correlation_id, subject, actor, message_id, detail, prev_hash, hash FROM audit WHERE seq > ?${job.through === null ? '' : ' AND seq <= ?'} ORDER BY seq`;
    const stmt = db.prepare(sql).raw(true);
    const rows = (job.through === null ? stmt.iterate(job.after) : stmt.iterate(job.after, job.through)) as IterableIterator<unknown[]>;
    let count = 0;
    let first: { seq: number; prevHash: string } | null = null;
    let prevSeq = -1;
    let prevHash = '';
    for (const row of rows) {
      const seq = Number(row[0]);
      let detail: Record<string, unknown> | null = null;
      const d = row[10];
      try { detail = d === null ? null : (JSON.parse(typeof d === 'string' ? d : Buffer.isBuffer(d) ? d.toString('utf8') : '') as Record<string, unknown>); } catch { return { ok: false, seq }; }
      const r: AuditRecord = {
        seq, at: String(row[1]), node: String(row[2]), flow: row[3] as string | null, action: String(row[4]), outcome: String(row[5]),
        correlationId: row[6] as string | null, subject: row[7] as string | null, actor: row[8] as string | null, messageId: row[9] as string | null,
        detail, prevHash: String(row[11]), hash: String(row[12]),
      };
      if (first === null) first = { seq, prevHash: r.prevHash };
      else if (seq !== prevSeq + 1 || r.prevHash !== prevHash) return { ok: false, seq };
      if (auditHash(r) !== r.hash) return { ok: false, seq };
      prevSeq = seq;
      prevHash = r.hash;
      count++;
    }
    return { ok: true, count, first, last: first ? { seq: prevSeq, hash: prevHash } : null };
  } finally {
    db.close();
  }
}

if (parentPort) parentPort.postMessage(run(workerData as RangeJob));
