/**
 * Worker half of {@link verifySqliteParallel}: checks one seq range of a SQLite audit table —
 * contiguous seqs, each record's own hash, each link inside the range — and reports the range's
 * two ends for the main thread to stitch. The rows come from the store's own read-only range scan
 * (lib/store/sqlite-audit-scan.ts) on a connection of this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { scanSqliteAudit } from '../store/sqlite-audit-scan';
import { auditHash } from '../store/chain';

export interface RangeJob { file: string; after: number; through: number | null }
export type RangeResult =
  | { ok: true; count: number; first: { seq: number; prevHash: string } | null; last: { seq: number; hash: string } | null }
  | { ok: false; seq: number };

function run(job: RangeJob): RangeResult {
  let count = 0;
  let first: { seq: number; prevHash: string } | null = null;
  let prevSeq = -1;
  let prevHash = '';
  let badSeq: number | null = null;
  scanSqliteAudit(job.file, job.after, job.through, (r) => {
    if ('unreadable' in r) { badSeq = r.seq; return false; }
    if (first === null) first = { seq: r.seq, prevHash: r.prevHash };
    else if (r.seq !== prevSeq + 1 || r.prevHash !== prevHash) { badSeq = r.seq; return false; }
    if (auditHash(r) !== r.hash) { badSeq = r.seq; return false; }
    prevSeq = r.seq;
    prevHash = r.hash;
    count++;
    return true;
  });
  if (badSeq !== null) return { ok: false, seq: badSeq };
  return { ok: true, count, first, last: first ? { seq: prevSeq, hash: prevHash } : null };
}

if (parentPort) parentPort.postMessage(run(workerData as RangeJob));
