/**
 * The audit log part of the store: hash chained (lib/store/chain.ts computes the hash inside the
 * committing transaction).
 */

export interface NewAuditRecord {
  /** ISO time; defaults to the store clock. */
  at?: string;
  node: string;
  flow?: string | null;
  action: string;
  /** e.g. `success`, `failure`, `quarantined`, `released` (free text, short). */
  outcome: string;
  /** MSH-10, X-Request-ID, file + row… */
  correlationId?: string | null;
  /** NHS number of the subject, own indexed column, never logged. */
  subject?: string | null;
  /** `system` or the editor user name. */
  actor?: string | null;
  /** Store id of the message this record is about. */
  messageId?: string | null;
  /** Small non-identifying detail. */
  detail?: Record<string, unknown> | null;
}

export interface AuditRecord {
  seq: number;
  at: string;
  node: string;
  flow: string | null;
  action: string;
  outcome: string;
  correlationId: string | null;
  subject: string | null;
  actor: string | null;
  messageId: string | null;
  detail: Record<string, unknown> | null;
  /** Hash of the previous record (GENESIS_HASH for the first). */
  prevHash: string;
  /** sha256 over prevHash and this record's canonical JSON (lib/store/chain.ts). */
  hash: string;
}

export interface AuditQuery {
  subject?: string;
  correlationId?: string;
  messageId?: string;
  node?: string;
  action?: string;
  from?: string;
  to?: string;
  /** Records with seq > afterSeq, in seq order (paging / verify). */
  afterSeq?: number;
  limit?: number;
  /** Default ascending by seq. */
  order?: 'asc' | 'desc';
}

/** What {@link Store.pruneAuditThrough} did. */
export interface AuditPruneResult {
  /** Audit records deleted (seq ≤ the requested seq). */
  pruned: number;
  /** The chained record appended in the same transaction, vouching for the pruned range. */
  checkpoint: AuditRecord;
}

/** AuditLog part of the {@link Store} (errors: see Store). */
export interface AuditLog {
  /** Append with hash chaining inside the commit (serialised across store instances). */
  appendAudit(r: NewAuditRecord): Promise<AuditRecord>;
  queryAudit(q: AuditQuery): Promise<AuditRecord[]>;
  /** Last record's seq and hash, kept in the same transaction as the append (detects truncation). */
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;
  /**
   * Audit retention (lib/audit/retention.ts decides what and signs the checkpoint): in ONE
   * transaction, serialised with appendAudit, append `checkpoint` to the chain and delete every
   * audit record with seq ≤ `seq`. The checkpoint is required, so audit records never disappear
   * without a chained record that says so. `STORE_NOT_FOUND` when record `seq` does not exist
   * (already pruned — e.g. by a concurrent run); nothing is written then. `STORE_INVALID` for a
   * seq that is not a positive integer. Deleting in one transaction holds the write lock for the
   * whole range: prune large backlogs in steps.
   */
  pruneAuditThrough(seq: number, checkpoint: NewAuditRecord): Promise<AuditPruneResult>;
}
