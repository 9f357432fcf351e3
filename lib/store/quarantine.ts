/**
 * The quarantine part of the store: parked messages and their state changes, each optionally with
 * its audit record in the same transaction.
 */
import type { NewAuditRecord } from './audit-log';


export type QuarantineState = 'open' | 'released' | 'discarded';

export interface NewQuarantineItem {
  /** Machine reason code, e.g. `HL7_STRUCTURE`, `FHIR_INVALID`, `PDS_NO_MATCH`. */
  reasonCode: string;
  /** Human-readable reason (no patient data). */
  reason: string;
  /** Team or person who must act. */
  owner: string;
  /** SLA due time, ISO. */
  dueAt?: string | null;
  node: string;
  flow?: string | null;
  correlationId?: string | null;
  subject?: string | null;
  messageId?: string | null;
  /** The parked message: the whole msg as JSON text (original, never changed). */
  original: string;
  /** `hl7v2`, `fhir+json`, `json`, `text`: how the sidebar decodes the payload. */
  contentType: string;
  /** OperationOutcome or other structured detail of why it was parked. */
  detail?: Record<string, unknown> | null;
}

export interface QuarantineItem {
  id: string;
  seq: number;
  state: QuarantineState;
  reasonCode: string;
  reason: string;
  owner: string;
  dueAt: string | null;
  node: string;
  flow: string | null;
  correlationId: string | null;
  subject: string | null;
  messageId: string | null;
  original: string;
  contentType: string;
  detail: Record<string, unknown> | null;
  /** Edit stored as a diff against `original` (format owned by lib/quarantine). */
  editDiff: string | null;
  /**
   * Who made the current edit (the editor user, `anonymous` without adminAuth) and when; null
   * when there is no edit, or for an edit stored before schema v7 (editor not recorded).
   */
  editedBy: string | null;
  editedAt: string | null;
  createdAt: string;
  updatedAt: string;
  notifiedAt: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: string | null;
  releaseCount: number;
}

export interface QuarantineQuery {
  state?: QuarantineState;
  reasonCode?: string;
  owner?: string;
  flow?: string;
  node?: string;
  /** Only items created before this ISO time (age filter). */
  createdBefore?: string;
  limit?: number;
}

/** Fields a state transition may set. */
export interface QuarantinePatch {
  editDiff?: string | null;
  editedBy?: string | null;
  editedAt?: string | null;
  notifiedAt?: string | null;
  resolvedAt?: string | null;
  resolvedBy?: string | null;
  resolution?: string | null;
  releaseCount?: number;
  owner?: string;
  dueAt?: string | null;
}

/**
 * transitionQuarantine's optional edit guard: the item's edit and its editor must still be these
 * (null = none) for the transition to win — so a release commits exactly the edit whose editor
 * was checked (HAZ-014 C7), never one saved in between.
 */
export interface ExpectedEdit {
  editDiff: string | null;
  editedBy: string | null;
}

/** Quarantine part of the {@link Store} (errors: see Store). */
export interface Quarantine {
  /**
   * Insert an open item. With `audit`, that audit record is appended (hash-chained) in the same
   * transaction, its `detail.quarantineId` set to the new item's id: both are stored or neither.
   */
  putQuarantine(item: NewQuarantineItem, audit?: NewAuditRecord): Promise<QuarantineItem>;
  getQuarantine(id: string): Promise<QuarantineItem | undefined>;
  listQuarantine(q: QuarantineQuery): Promise<QuarantineItem[]>;
  /**
   * Compare-and-set: move item `id` from state `from` to state `to` applying `patch`, atomically.
   * Resolves the updated item, or undefined when the item was not in state `from` (someone else
   * won) — exactly one of two concurrent releases succeeds. With `audit`, that record is
   * appended (hash-chained, `detail.quarantineId` = id) in the same transaction only when the
   * compare-and-set wins: the winner's state change and its audit record commit together, the
   * loser writes neither. With `expectedReleaseCount`, the item must also have that release
   * count: a forced release (released → released) is then a compare-and-set as well, so of two
   * concurrent forced releases exactly one succeeds. With `expectedEdit`, the item's edit diff
   * and editor must also be those (compared null-safely): an edit saved in between makes the
   * transition lose.
   */
  transitionQuarantine(id: string, from: QuarantineState, to: QuarantineState, patch: QuarantinePatch, audit?: NewAuditRecord, expectedReleaseCount?: number, expectedEdit?: ExpectedEdit): Promise<QuarantineItem | undefined>;
  /**
   * Update fields without a state change (notifiedAt, owner, editDiff). With `audit`, appended in
   * the same transaction when the item exists (as transitionQuarantine).
   */
  patchQuarantine(id: string, patch: QuarantinePatch, audit?: NewAuditRecord): Promise<QuarantineItem | undefined>;
}
