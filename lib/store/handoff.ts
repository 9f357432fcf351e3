/**
 * The hand-off part of the store (DESIGN.md §4, at-least-once hand-off in `commit` mode): each
 * listener in each instance (channel + receiving owner) keeps a durable watermark, the highest
 * message seq it has handed to the flow; on start it replays what it kept above it. Also the
 * store's size on disk, for status and the size warning.
 */
import type { MessageRecord } from './message-log';

/** What {@link HandoffLog.openHandoff} found. */
export interface HandoffStart {
  /** The watermark: every message of this (channel, owner) at or below it was handed over. */
  mark: number;
  /** The newest seq this (channel, owner) has kept now: the replay covers (mark, upTo]. */
  upTo: number;
}

/** Space the store takes (SQLite: the database file and its WAL; PostgreSQL: the schema's tables and indexes). */
export interface StoreSize {
  bytes: number;
  messages: number;
  /** Over the `sizeWarnBytes` option. */
  warning: boolean;
}

/** One listener's watermark in one instance, for the operator. */
export interface HandoffInfo {
  owner: string;
  mark: number;
  updatedAt: string;
  /** Messages this owner kept above its watermark (replayed on its next start). */
  pending: number;
}

/** HandoffLog part of the {@link Store} (errors: see Store). */
export interface HandoffLog {
  /**
   * Read the watermark of (`channel`, `owner`), creating it when missing. A new watermark starts
   * at the newest message of `channel` (any owner), so the first start after an upgrade — or of
   * a new listener — replays no history.
   */
  openHandoff(channel: string, owner: string): Promise<HandoffStart>;
  /** Raise the watermark to `seq` (never lowers it). */
  advanceHandoff(channel: string, owner: string, seq: number): Promise<void>;
  /** Messages of (`channel`, `owner`) with `afterSeq` < seq ≤ `upTo`, in seq order, at most `limit`. */
  replayMessages(channel: string, owner: string, afterSeq: number, upTo: number, limit: number): Promise<MessageRecord[]>;
  /**
   * An instance that will never come back: hand what `fromOwner` kept on `channel` above its
   * watermark to `toOwner`. Those messages get new seqs (above every watermark, in their old
   * order) and `toOwner` as owner, and `fromOwner`'s watermark is removed, in one transaction;
   * `toOwner`'s listener emits them (flagged replayed) on its next start. Resolves how many.
   */
  adoptHandoff(channel: string, fromOwner: string, toOwner: string): Promise<number>;
  /** Every owner's watermark on `channel`, with what each has not yet handed over. */
  listHandoffs(channel: string): Promise<HandoffInfo[]>;
  /** Size on disk and number of messages kept. */
  size(): Promise<StoreSize>;
}
