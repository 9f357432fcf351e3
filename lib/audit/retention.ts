import { NhsError } from '../errors';
import type { Store } from '../store/types';
import { CHECKPOINT_ACTION, checkpointHmac, verifyStore, type CheckpointDetail } from './verify';

/**
 * Audit retention that keeps the rest verifiable. Pruning records 1..N would break the chain at
 * N+1 (its prevHash points at a record that is gone), so a checkpoint record is appended to the
 * chain carrying N and the hash of record N — optionally HMAC-signed with a key held in Node-RED
 * credentials. `verifyStore` then starts the chain at that anchor. The checkpoint itself is
 * chained, so it cannot be edited without breaking the chain after it, and with the HMAC it
 * cannot be forged by someone who can only write the database.
 *
 * The checkpoint append and the delete are one store transaction (`Store.pruneAuditThrough`,
 * serialised with every audit append), so a crash can never leave a deleted range without its
 * checkpoint, nor a checkpoint for records still present.
 */

export interface PruneOptions {
  /** Prune every record with seq ≤ throughSeq … */
  throughSeq?: number;
  /** … or every record recorded before this ISO time. */
  before?: string;
  /** Sign the checkpoint (HMAC-SHA256). */
  hmacKey?: string;
  /** Who asked (editor user or `system`). */
  actor?: string;
}

export interface PruneOutcome {
  pruned: number;
  checkpointSeq: number | null;
  prunedThrough: number;
}

/**
 * Prune old audit records behind a (signed) checkpoint. Refuses to prune a chain that does not
 * verify (`AUDIT_CHAIN_INVALID`): pruning must never launder tampering.
 */
export async function pruneAudit(store: Store, o: PruneOptions): Promise<PruneOutcome> {
  let through = o.throughSeq;
  if (through === undefined && o.before !== undefined) {
    const last = (await store.queryAudit({ to: o.before, order: 'desc', limit: 1 }))[0];
    through = last ? last.seq : 0;
  }
  if (through === undefined || !Number.isInteger(through) || through < 0) throw new NhsError('STORE_INVALID', 'prune needs throughSeq or before');
  if (through === 0) return { pruned: 0, checkpointSeq: null, prunedThrough: 0 };
  const check = await verifyStore(store, o.hmacKey !== undefined ? { hmacKey: o.hmacKey } : {});
  if (!check.ok) throw new NhsError('AUDIT_CHAIN_INVALID', `audit chain does not verify (${check.problem?.reason} at ${check.problem?.seq}); not pruning`, { detail: { ...check.problem } });
  const head = check.head;
  if (!head || through >= head.seq) throw new NhsError('STORE_INVALID', 'cannot prune the newest record (the checkpoint must follow the pruned range)');
  const anchor = (await store.queryAudit({ afterSeq: through - 1, limit: 1 }))[0];
  if (!anchor || anchor.seq !== through) throw new NhsError('STORE_NOT_FOUND', `audit record ${through} does not exist (already pruned?)`);
  const detail: CheckpointDetail = { prunedThrough: through, anchorHash: anchor.hash, ...(o.hmacKey !== undefined ? { hmac: checkpointHmac(o.hmacKey, through, anchor.hash) } : {}) };
  const r = await store.pruneAuditThrough(through, { node: 'audit-retention', action: CHECKPOINT_ACTION, outcome: 'success', actor: o.actor ?? 'system', detail: { ...detail } });
  return { pruned: r.pruned, checkpointSeq: r.checkpoint.seq, prunedThrough: through };
}
