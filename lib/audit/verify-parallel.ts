import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { GENESIS_HASH } from '../store/chain';
import type { StoreLocation } from '../store/types';
import { verifyStore, type AuditReader, type VerifyResult, type ChainAnchor } from './verify';
import type { RangeJob, RangeResult } from './verify-worker';

/**
 * Whole-chain verification of a SQLite audit log on several cores. The chain's self-hashes are
 * independent per record, so the seq range is cut into one slice per worker; each worker checks
 * its slice (lib/audit/verify-worker.ts) and the main thread stitches the slices' ends together
 * and to the anchor and head. Only an intact chain is decided here: on any mismatch the
 * sequential {@link verifyStore} runs to name the first bad record with the same reasons, so both
 * paths always agree on what is wrong.
 */
export async function verifySqliteParallel(
  store: AuditReader,
  file: string,
  opts: { workers?: number; hmacKey?: string; checkpoints?: ChainAnchor[]; minRecords?: number } = {},
): Promise<VerifyResult & { head: { seq: number; hash: string } | null }> {
  const sequential = () => verifyStore(store, { ...(opts.hmacKey !== undefined ? { hmacKey: opts.hmacKey } : {}), ...(opts.checkpoints ? { checkpoints: opts.checkpoints } : {}) });
  const head = (await store.auditHead()) ?? null;
  const first = (await store.queryAudit({ afterSeq: 0, limit: 1, order: 'asc' }))[0];
  // Pruned logs, trusted checkpoints and tiny logs take the sequential path (its anchor logic).
  if (!head || !first || first.seq !== 1 || opts.checkpoints?.length || head.seq < (opts.minRecords ?? 20_000)) return sequential();
  // Below minRecords starting workers costs more than it saves.
  const n = Math.max(1, Math.min(opts.workers ?? availableParallelism(), 8));
  const step = Math.ceil(head.seq / n);
  const jobs: RangeJob[] = Array.from({ length: n }, (_, i) => ({ file, after: i * step, through: i === n - 1 ? null : (i + 1) * step }));
  const workerFile = join(__dirname, `verify-worker${extname(__filename)}`);
  const results = await Promise.all(jobs.map((job) => new Promise<RangeResult>((resolve, reject) => {
    // Run from TypeScript sources (tests, bench), the worker registers tsx's require hook first.
    const w = extname(__filename) === '.ts'
      ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(workerFile)});`, { eval: true, workerData: job })
      : new Worker(workerFile, { workerData: job });
    w.once('message', (m: RangeResult) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => { if (code !== 0) reject(new Error(`audit verify worker exited ${code}`)); });
  })));
  let expectSeq = 1;
  let expectPrev = GENESIS_HASH;
  let count = 0;
  for (const r of results) {
    if (!r.ok || !r.first || !r.last || r.first.seq !== expectSeq || r.first.prevHash !== expectPrev) return sequential();
    expectSeq = r.last.seq + 1;
    expectPrev = r.last.hash;
    count += r.count;
  }
  if (expectSeq - 1 !== head.seq || expectPrev !== head.hash) return sequential();
  return { ok: true, count, firstSeq: 1, lastSeq: head.seq, head };
}

/**
 * Verify a store's whole audit chain the fastest way it allows: a SQLite file on several cores,
 * PostgreSQL (and an in-memory SQLite nobody else can open) by the sequential walk. One home for
 * the choice, used by the sidebar's *verify chain* and by `nhs-monitor`'s scheduled check.
 */
export function verifyAuditLog(store: AuditReader & { readonly location: StoreLocation }): Promise<VerifyResult & { head: { seq: number; hash: string } | null }> {
  const loc = store.location;
  return loc.backend === 'sqlite' && loc.file !== ':memory:' ? verifySqliteParallel(store, loc.file) : verifyStore(store);
}
