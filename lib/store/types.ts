/**
 * The one store interface (DESIGN.md §4): an append-only message log, a persistent outbox, a
 * hash-chained audit log and a quarantine table. Two backends implement it identically —
 * SQLite (better-sqlite3, embedded default) and PostgreSQL (`pg`) — and one contract test suite
 * proves it. Everything here is plain data: no class instances cross this boundary except Buffer.
 *
 * Durability contract: a promise returned by a write resolves only after the write is committed
 * at the configured durability level. Writes arriving in the same event-loop turn are group
 * committed (one transaction); with `groupCommit: false` every write is its own transaction, run
 * one at a time in call order. Either way seq order is the order of the append calls.
 */

import type { NhsError } from '../errors';
import type { EsrState } from './esr-state';

export type Backend = 'sqlite' | 'postgres';

/**
 * Where a store keeps its data, for tools that read it beside the store (the parallel SQLite
 * audit verify, lib/audit/verify-parallel.ts). Never carries a connection string or password.
 * `file` is the resolved absolute path, or `:memory:`.
 */
export type StoreLocation = { backend: 'sqlite'; file: string } | { backend: 'postgres'; schema: string };

/**
 * `full`: SQLite `synchronous=FULL` / PostgreSQL `synchronous_commit=on` (default; an ACKed
 * message survives power loss). `normal`: SQLite `synchronous=NORMAL` in WAL (survives a process
 * crash, not power loss) / PostgreSQL `synchronous_commit=off`.
 */
export type Durability = 'full' | 'normal';

export interface StoreOptions {
  backend: Backend;
  /** SQLite: database file path (created if missing, parent folder too). */
  file?: string;
  /** PostgreSQL: connection string, e.g. postgres://postgres@127.0.0.1:5432/test */
  url?: string;
  /** PostgreSQL: schema holding the tables (default `nhs_interop`); tests use one per test. */
  schema?: string;
  durability?: Durability;
  /** Share one transaction among writes queued in the same event-loop turn (default true). */
  groupCommit?: boolean;
  /** Largest raw message / payload accepted, in bytes (default 16 MiB) → `STORE_RECORD_TOO_LARGE`. */
  maxRecordBytes?: number;
  /** PostgreSQL connect/query timeout (default 5000 ms) → `STORE_UNAVAILABLE`. */
  timeoutMs?: number;
  /** Retention in days for processed messages and done outbox items (0 = keep forever). */
  retentionDays?: number;
  /**
   * Injected clock and id generator (deterministic tests, DESIGN.md §1). The default ids are
   * time-ordered 26-character strings (lib/store/ids.ts), unique across processes.
   */
  clock?: () => Date;
  idGen?: () => string;
  /**
   * Called with failures that no caller awaits — today the retention run on open and hourly.
   * lib/ has no logger, so the host (the Node-RED node) passes one; messages carry no patient data.
   */
  onError?: (e: NhsError) => void;
}

// ---------------------------------------------------------------------------------------------
// Message log
// ---------------------------------------------------------------------------------------------

export type MessageStatus = 'received' | 'processed' | 'errored';

export interface NewMessage {
  /** Which input received it: an mllp-in node id, a listener name, a file source. */
  channel: string;
  /** The bytes exactly as received (before charset decoding). */
  raw: Buffer;
  /** MSH-10 message control id, when known. */
  controlId?: string;
  /** Message type + event, e.g. `ADT^A01`. */
  messageType?: string;
  /** Non-identifying metadata: remote address, charset, node id… Never patient data. */
  meta?: Record<string, unknown>;
}

export interface MessageRecord {
  id: string;
  /** Monotonic insertion order within this store. */
  seq: number;
  channel: string;
  raw: Buffer;
  controlId: string | null;
  messageType: string | null;
  meta: Record<string, unknown>;
  status: MessageStatus;
  statusDetail: string | null;
  receivedAt: string;
  updatedAt: string;
}

export interface MessageQuery {
  channel?: string;
  controlId?: string;
  status?: MessageStatus;
  /** ISO timestamps, inclusive. */
  from?: string;
  to?: string;
  limit?: number;
}

// ---------------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------------

/** pending → inflight → done | pending (retry) | parked. */
export type OutboxState = 'pending' | 'inflight' | 'done' | 'parked';

export interface NewOutboxItem {
  /** Destination key, e.g. an mllp-endpoint config node id or `host:port`. */
  destination: string;
  payload: Buffer;
  /** MSH-10 of the message, used to check the ACK's MSA-2. */
  controlId?: string;
  meta?: Record<string, unknown>;
}

export interface OutboxItem {
  id: string;
  seq: number;
  destination: string;
  payload: Buffer;
  controlId: string | null;
  meta: Record<string, unknown>;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface OutboxQuery {
  destination?: string;
  state?: OutboxState;
  limit?: number;
}

// ---------------------------------------------------------------------------------------------
// Audit log (hash chained; see lib/audit/chain.ts for the hash)
// ---------------------------------------------------------------------------------------------

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
  /** sha256 over prevHash and this record's canonical JSON (lib/audit/chain.ts). */
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

// ---------------------------------------------------------------------------------------------
// Quarantine
// ---------------------------------------------------------------------------------------------

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
  notifiedAt?: string | null;
  resolvedAt?: string | null;
  resolvedBy?: string | null;
  resolution?: string | null;
  releaseCount?: number;
  owner?: string;
  dueAt?: string | null;
}

// ---------------------------------------------------------------------------------------------
// The interface
// ---------------------------------------------------------------------------------------------

/**
 * Errors (all `NhsError` with an own `code`): `STORE_CLOSED` (use after close),
 * `STORE_RECORD_TOO_LARGE`, `STORE_UNAVAILABLE` (cannot connect / timed out), `STORE_NOT_FOUND`,
 * `STORE_CONFLICT` (compare-and-set lost), `STORE_INVALID` (bad argument).
 */
export interface Store {
  readonly backend: Backend;
  /** Where the data lives (file path / schema); no credentials. */
  readonly location: StoreLocation;
  /** Connect and run schema migrations (idempotent; safe for two instances at once). */
  open(): Promise<void>;
  /** Flush queued writes, then close. Later calls reject with STORE_CLOSED. */
  close(): Promise<void>;

  appendMessage(m: NewMessage): Promise<MessageRecord>;
  setMessageStatus(id: string, status: MessageStatus, detail?: string): Promise<void>;
  getMessage(id: string): Promise<MessageRecord | undefined>;
  findMessages(q: MessageQuery): Promise<MessageRecord[]>;
  countMessages(q: MessageQuery): Promise<number>;

  enqueue(item: NewOutboxItem): Promise<OutboxItem>;
  /**
   * Claim the head of `destination`'s queue: the oldest item that is `pending` (or `inflight`
   * whose lease expired), only if it is due (nextAttemptAt ≤ now). Strict order: while the head
   * is not due or is leased, nothing behind it is returned. Marks it inflight, attempts + 1.
   * `owner` names the sender holding the lease (stable across its restarts), for `recoverOutbox`.
   */
  claimNext(destination: string, leaseMs?: number, owner?: string): Promise<OutboxItem | undefined>;
  /**
   * Extend the lease of an item this sender still holds: it is inflight and its `attempts` is the
   * value this sender's claim returned (a later claim by anyone increments it, so a lost lease
   * cannot be renewed). Resolves false when the lease is no longer ours.
   */
  renewOutboxLease(id: string, attempts: number, leaseMs: number): Promise<boolean>;
  ackOutbox(id: string): Promise<void>;
  /**
   * Back to pending, due at `nextAttemptAt`. With `attempts` (the value the caller's claim
   * returned) only while that claim is still the current one: a sender whose lease was taken over
   * gets STORE_CONFLICT instead of resetting an item another sender holds. Same for `parkOutbox`.
   */
  retryOutbox(id: string, nextAttemptAt: Date, error: string, attempts?: number): Promise<void>;
  parkOutbox(id: string, reason: string, attempts?: number): Promise<void>;
  /**
   * On start-up: return inflight items to pending, due now (a crash or stop mid-send): those
   * claimed by `owner` (this sender's previous run), those claimed without an owner, and those
   * whose lease has expired. An item another owner holds under a live lease is left alone, so a
   * second instance starting does not resend what the first is sending.
   */
  recoverOutbox(destination?: string, owner?: string): Promise<number>;
  listOutbox(q: OutboxQuery): Promise<OutboxItem[]>;

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
   * concurrent forced releases exactly one succeeds.
   */
  transitionQuarantine(id: string, from: QuarantineState, to: QuarantineState, patch: QuarantinePatch, audit?: NewAuditRecord, expectedReleaseCount?: number): Promise<QuarantineItem | undefined>;
  /**
   * Update fields without a state change (notifiedAt, owner, editDiff). With `audit`, appended in
   * the same transaction when the item exists (as transitionQuarantine).
   */
  patchQuarantine(id: string, patch: QuarantinePatch, audit?: NewAuditRecord): Promise<QuarantineItem | undefined>;

  /** The ESR intake's workforce state (lib/store/esr-state.ts, schema v4); only while open. */
  esrState?(): EsrState;

  /** Counters of the write path (group commit evidence for tests and the bench). */
  stats?(): StoreStats;
  /**
   * Apply `retentionDays` now: delete processed messages and done outbox items last updated
   * before the cut-off. Never touches open quarantine items, messages they reference, or audit.
   * Also runs on open and hourly while `retentionDays > 0`.
   */
  prune?(now?: Date): Promise<PruneResult>;
}

/** Write-path counters since open. */
export interface StoreStats {
  /** Committed write transactions. */
  commits: number;
  /** Write operations settled successfully (appends, transitions, acks…). */
  writes: number;
  /** Write operations that rejected. */
  failedWrites: number;
  /** Largest number of writes sharing one transaction. */
  maxBatch: number;
  /** Batches re-run one write per transaction because one write failed the shared transaction. */
  batchFallbacks: number;
}

export interface PruneResult {
  messages: number;
  outbox: number;
}
