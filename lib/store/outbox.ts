/**
 * The outbox part of the store: a persistent, strictly ordered queue per destination with leases.
 */

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

/** What {@link Outbox.ackOutbox} claims after the done: {@link Outbox.claimNext}'s arguments. */
export interface ClaimNext {
  destination: string;
  leaseMs?: number;
  owner?: string;
}

/** Outbox part of the {@link Store} (errors: see Store). */
export interface Outbox {
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
  /**
   * Mark an item done (the destination accepted it). Idempotent: an item already done is not an
   * error. With `next`, the same transaction then claims that destination's head as
   * {@link claimNext} would and resolves it (or undefined): a sender delivering in order makes one
   * commit per message instead of two (the done of one and the claim of the next). If the done
   * cannot be recorded, nothing is claimed.
   */
  ackOutbox(id: string, next?: ClaimNext): Promise<OutboxItem | undefined>;
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
}
