/**
 * Delivery from the persistent outbox to one MLLP destination (DESIGN.md §4): strictly in order,
 * one message at a time (the done of one and the claim of the next share a commit), each confirmed by the ACK whose MSA-2 equals the MSH-10 sent
 * (HL7 v2.5.1 2.14.1 / 2.15.8 MSA-2). AA/CA marks the item done — it is never sent again; a
 * transport failure is retried with back-off; AE/AR follow the configured policy; what exhausts
 * its attempts is parked and reported, never dropped.
 */
import { readAck, type AckInfo } from '../hl7';
import { NhsError, toNhsError } from '../errors';
import { backoffDelay, type BackoffOptions } from '../mllp';
import type { OutboxItem, Store } from '../store';

/** What to do with AE/AR (and CE/CR): `retry` like a transport failure, or `park` at once; `fail` parks and raises an error. */
export type NegativeAckPolicy = 'retry' | 'park' | 'fail';

/** The send half of an MLLP client: resolve the frame `accept` takes as the answer. */
export type SendFn = (payload: Buffer, accept: (frame: Buffer) => boolean) => Promise<Buffer>;

export interface OutboxSenderOptions {
  store: Store;
  destination: string;
  send: SendFn;
  policy?: NegativeAckPolicy;
  /** Attempts before parking (default 10). */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /**
   * Lease on a claimed item (default 60 s). It is renewed every third of its length while the
   * send is in progress, so a send that waits on reconnect back-off keeps it.
   */
  leaseMs?: number;
  /**
   * Who holds the leases (stable across restarts of this sender, different for another
   * instance): on start only this owner's, unowned and expired leases are taken back, so an
   * item another live instance is sending is not sent twice.
   */
  owner?: string;
  /** Idle poll for new or due items (default 1000 ms); {@link OutboxSender.wake} skips the wait. */
  pollMs?: number;
  now?: () => Date;
  onDelivered?(item: OutboxItem, ack: AckInfo): void;
  onParked?(item: OutboxItem, reason: string, ack: AckInfo | undefined, error: NhsError | undefined): void;
  onRetry?(item: OutboxItem, reason: string, at: Date): void;
  onError?(e: NhsError): void;
}

/** How a node hears about the outbox items it enqueued (plain callbacks, no node-red types). */
export interface DeliveryListener {
  delivered(item: OutboxItem, ack: AckInfo): void;
  parked(item: OutboxItem, reason: string, ack: AckInfo | undefined, error: NhsError | undefined): void;
  retrying(item: OutboxItem, reason: string, at: Date): void;
}

export interface OutboxSenderStats {
  delivered: number;
  retried: number;
  parked: number;
}

export class OutboxSender {
  readonly stats: OutboxSenderStats = { delivered: 0, retried: 0, parked: 0 };
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** A wake() that arrived while not idle (e.g. during claimNext): do not sleep next time. */
  private woken = false;
  /** Earliest retry time we scheduled, so a short back-off is not rounded up to the poll. */
  private nextDue: number | undefined;
  private readonly now: () => Date;

  constructor(private readonly o: OutboxSenderOptions) {
    this.now = o.now ?? (() => new Date());
  }

  /** Return items a crash left inflight to pending, then deliver until stopped. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.o.store.recoverOutbox(this.o.destination, this.o.owner);
    // stop() during recovery: do not begin delivering.
    if (this.stopped) return;
    this.loop = this.run();
  }

  /** New work was enqueued: skip the idle wait. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stop after the current item; an unanswered send is left for recovery on the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    const poll = this.o.pollMs ?? 1000;
    // The next item, when the previous one's done was recorded in the same commit as its claim.
    let claimed: OutboxItem | undefined;
    while (!this.stopped) {
      let item = claimed;
      claimed = undefined;
      try {
        item ??= await this.o.store.claimNext(this.o.destination, this.leaseMs, this.o.owner);
      } catch (e) {
        if (this.stopped) break;
        this.o.onError?.(toNhsError(e, 'STORE_UNAVAILABLE'));
        await this.idle(poll);
        continue;
      }
      if (!item) {
        await this.idle(poll);
        continue;
      }
      try {
        claimed = await this.deliver(item);
      } catch (e) {
        if (!this.stopped) this.o.onError?.(toNhsError(e, 'STORE_UNAVAILABLE'));
      }
    }
    // Stopped holding an item claimed with the last done but never sent: give it back now rather
    // than leave it leased (another instance could not deliver this destination until it expired).
    if (claimed) {
      try {
        await this.o.store.recoverOutbox(this.o.destination, this.o.owner);
      } catch (e) {
        this.o.onError?.(toNhsError(e, 'STORE_UNAVAILABLE'));
      }
    }
  }

  private idle(poll: number): Promise<void> {
    if (this.woken || this.stopped) {
      this.woken = false;
      return Promise.resolve();
    }
    let ms = poll;
    if (this.nextDue !== undefined) {
      ms = Math.max(0, Math.min(poll, this.nextDue - this.now().getTime() + 5));
      this.nextDue = undefined;
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void { clearTimeout(t); resolve(); }
      this.wakeUp = done;
    }).then(() => {
      this.wakeUp = undefined;
      this.woken = false;
    });
  }

  private get leaseMs(): number {
    return this.o.leaseMs ?? 60_000;
  }

  /**
   * Keep renewing the lease of `item` until `release()`. A renewal that finds the lease gone
   * (expired and claimed elsewhere) is reported: the send in progress cannot be taken back, so
   * the destination may see this message twice.
   */
  private holdLease(item: OutboxItem): { release: () => void; recording: () => void } {
    let stopped = false;
    let quiet = false;
    // Each kind of problem once per send, not once per renewal.
    const reported = new Set<string>();
    let running: Promise<void> = Promise.resolve();
    const report = (e: NhsError): void => {
      if (stopped || quiet || reported.has(e.code)) return;
      reported.add(e.code);
      this.o.onError?.(e);
    };
    const renew = (): void => {
      running = running.then(async () => {
        if (stopped) return;
        const held = await this.o.store.renewOutboxLease(item.id, item.attempts, this.leaseMs);
        if (!held) report(new NhsError('MLLP_LEASE_LOST', `outbox item ${item.id} was claimed elsewhere while being sent; the destination may receive it twice`));
      }).catch((e: unknown) => report(toNhsError(e, 'STORE_UNAVAILABLE')));
    };
    // Clamped to what a Node timer can hold (a longer interval would fire every millisecond).
    const timer = setInterval(renew, Math.min(2_147_483_647, Math.max(5, Math.floor(this.leaseMs / 3))));
    // The send itself keeps the process busy; the renewals alone must not keep it alive.
    timer.unref();
    return {
      release: () => {
        stopped = true;
        clearInterval(timer);
      },
      // The outcome is being written (done / retry / park): a renewal that runs after that write
      // finds the item no longer inflight, which is not a lost lease. Renewing goes on, so the
      // item stays ours while an ack write is retried.
      recording: () => { quiet = true; },
    };
  }

  /**
   * Send one claimed item and record the outcome, holding its lease until that is recorded.
   * Resolves the next item when it was claimed together with this one's done.
   */
  private async deliver(item: OutboxItem): Promise<OutboxItem | undefined> {
    const lease = this.holdLease(item);
    try {
      return await this.deliverHeld(item, lease.recording);
    } finally {
      lease.release();
    }
  }

  private async deliverHeld(item: OutboxItem, recording: () => void): Promise<OutboxItem | undefined> {
    const want = item.controlId;
    let frame: Buffer;
    // The frame `accept` read last, and what it read: the answer is read once, not again below.
    let seen: Buffer | undefined;
    let seenAck: AckInfo | undefined;
    try {
      frame = await this.o.send(item.payload, (f) => {
        if (want === null) return true;
        seen = f;
        seenAck = readAck(f);
        return seenAck.controlId === want;
      });
    } catch (e) {
      recording();
      const err = toNhsError(e, 'MLLP_SEND_FAILED');
      // Shutting down: leave it inflight; recoverOutbox puts it back on the next start.
      if (this.stopped && err.code === 'MLLP_CLIENT_CLOSED') return undefined;
      await this.retryOrPark(item, err.code, undefined, err);
      return undefined;
    }
    recording();
    const ack = frame === seen && seenAck ? seenAck : readAck(frame);
    if (ack.code === 'AA' || ack.code === 'CA') {
      const recorded = await this.recordAck(item);
      // Stopped before the ack was recorded: it stays inflight and is re-sent after recovery.
      if (!recorded) return undefined;
      this.stats.delivered++;
      this.o.onDelivered?.(item, ack);
      return recorded.next;
    }
    const reason = `negative acknowledgment ${ack.code || '(no MSA-1)'}`;
    const policy = this.o.policy ?? 'retry';
    if (policy === 'retry') {
      await this.retryOrPark(item, reason, ack);
      return undefined;
    }
    const err = policy === 'fail' ? new NhsError('MLLP_NEGATIVE_ACK', `destination answered ${ack.code || '?'} for message ${want ?? item.id}`, { detail: { code: ack.code, outboxId: item.id } }) : undefined;
    await this.park(item, reason, ack, err);
    return undefined;
  }

  /**
   * The destination has accepted the message: an unrecorded ack means a certain duplicate once
   * the lease expires, so keep trying (with back-off) before claiming anything else. The done is
   * committed together with the claim of the next item (one commit per message, not two), unless
   * stopping. Resolves undefined when stopped before it was recorded.
   */
  private async recordAck(item: OutboxItem): Promise<{ next: OutboxItem | undefined } | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const next = this.stopped
          ? await this.o.store.ackOutbox(item.id)
          : await this.o.store.ackOutbox(item.id, { destination: this.o.destination, leaseMs: this.leaseMs, ...(this.o.owner !== undefined ? { owner: this.o.owner } : {}) });
        return { next: next ?? undefined };
      } catch (e) {
        this.o.onError?.(toNhsError(e, 'STORE_UNAVAILABLE'));
        if (this.stopped) return undefined;
        await this.sleep(backoffDelay(attempt, this.o.backoff));
      }
    }
  }

  /** A wait that stop() (via wake) cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private async retryOrPark(item: OutboxItem, reason: string, ack?: AckInfo, err?: NhsError): Promise<void> {
    if (item.attempts >= (this.o.maxAttempts ?? 10)) {
      await this.park(item, `${reason} after ${item.attempts} attempts`, ack, err);
      return;
    }
    const at = new Date(this.now().getTime() + backoffDelay(item.attempts, this.o.backoff));
    // Fenced on this claim: if the lease was taken over meanwhile, the new holder's item is left alone.
    await this.o.store.retryOutbox(item.id, at, reason, item.attempts);
    this.nextDue = Math.min(this.nextDue ?? Infinity, at.getTime());
    this.stats.retried++;
    this.o.onRetry?.(item, reason, at);
  }

  private async park(item: OutboxItem, reason: string, ack?: AckInfo, err?: NhsError): Promise<void> {
    await this.o.store.parkOutbox(item.id, reason, item.attempts);
    this.stats.parked++;
    this.o.onParked?.(item, reason, ack, err);
  }
}
