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
import type { AlertState } from './alert-state';
import type { AuditLog } from './audit-log';
import type { HandoffLog } from './handoff';
import type { MessageLog } from './message-log';
import type { Outbox } from './outbox';
import type { Quarantine } from './quarantine';
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
  /**
   * SQLite: run every write (and its fsync) on one worker thread that owns the write connection;
   * reads stay on the caller's thread. Ignored when `clock` or `idGen` is injected (functions do
   * not cross threads). Default false.
   */
  writerThread?: boolean;
  /** Share one transaction among writes queued in the same event-loop turn (default true). */
  groupCommit?: boolean;
  /** Largest raw message / payload accepted, in bytes (default 16 MiB) → `STORE_RECORD_TOO_LARGE`. */
  maxRecordBytes?: number;
  /** PostgreSQL connect/query timeout (default 5000 ms) → `STORE_UNAVAILABLE`. */
  timeoutMs?: number;
  /** Retention in days for handed-over or processed messages and done outbox items (0 = keep forever). */
  retentionDays?: number;
  /** {@link StoreSize.warning} is set above this many bytes (0 = never); checked hourly too (onError `STORE_SIZE_WARNING`). */
  sizeWarnBytes?: number;
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

export * from './message-log';
export * from './outbox';
export * from './audit-log';
export * from './quarantine';
export * from './handoff';

// ---------------------------------------------------------------------------------------------
// The interface: one store, composed of its four concerns
// ---------------------------------------------------------------------------------------------

/**
 * Errors (all `NhsError` with an own `code`): `STORE_CLOSED` (use after close),
 * `STORE_RECORD_TOO_LARGE`, `STORE_UNAVAILABLE` (cannot connect / timed out), `STORE_FULL` (no space
 * left on the disk), `STORE_NOT_FOUND`,
 * `STORE_CONFLICT` (compare-and-set lost), `STORE_INVALID` (bad argument).
 */
export interface Store extends MessageLog, Outbox, AuditLog, Quarantine, HandoffLog {
  readonly backend: Backend;
  /** Where the data lives (file path / schema); no credentials. */
  readonly location: StoreLocation;
  /** Connect and run schema migrations (idempotent; safe for two instances at once). */
  open(): Promise<void>;
  /** Flush queued writes, then close. Later calls reject with STORE_CLOSED. */
  close(): Promise<void>;

  /** The ESR intake's workforce state (lib/store/esr-state.ts, schema v4); only while open. */
  esrState?(): EsrState;

  /** The monitor's alert state (lib/store/alert-state.ts, schema v5); only while open. */
  alertState?(): AlertState;

  /** Counters of the write path (group commit evidence for tests and the bench). */
  stats?(): StoreStats;
  /**
   * Apply `retentionDays` now: delete messages handed over (at or below their listener's
   * hand-off watermark; messages kept before schema v3 count as handed over once below a
   * watermark of their channel) or processed, and done outbox items, last updated before the
   * cut-off. A message above its watermark is never removed. Never touches open quarantine items, messages they reference, or audit.
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
