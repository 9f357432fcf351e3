/**
 * Delivery from the persistent outbox to one MLLP destination (DESIGN.md §4): strictly in order,
 * one message at a time, each confirmed by the ACK whose MSA-2 equals the MSH-10 sent
 * (HL7 v2.5.1 2.14.1 / 2.15.8 MSA-2). AA/CA marks the item done — it is never sent again; a
 * transport failure is retried with back-off; AE/AR follow the configured policy; what exhausts
 * its attempts is parked and reported, never dropped.
 */
import { decodeHl7Bytes, parseHl7 } from '../hl7';
import { NhsError, toNhsError } from '../errors';
import type { OutboxItem, Store } from '../store/types';
import { backoffDelay, type BackoffOptions } from './backoff';

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
  /** Lease on a claimed item; must exceed connect + ACK timeout (default 60 s). */
  leaseMs?: number;
  /** Idle poll for new or due items (default 1000 ms); {@link OutboxSender.wake} skips the wait. */
  pollMs?: number;
  now?: () => Date;
  onDelivered?(item: OutboxItem, ack: string): void;
  onParked?(item: OutboxItem, reason: string, ack: string | undefined, error: NhsError | undefined): void;
  onRetry?(item: OutboxItem, reason: string, at: Date): void;
  onError?(e: NhsError): void;
}

/** How a node hears about the outbox items it enqueued (plain callbacks, no node-red types). */
export interface DeliveryListener {
  delivered(item: OutboxItem, ack: string): void;
  parked(item: OutboxItem, reason: string, ack: string | undefined, error: NhsError | undefined): void;
  retrying(item: OutboxItem, reason: string, at: Date): void;
}

export interface OutboxSenderStats {
  delivered: number;
  retried: number;
  parked: number;
}

/** MSA-1 and MSA-2 of an ACK frame, read with the one HL7 parser. */
export function readAck(frame: Buffer): { code?: string; controlId?: string; text: string } {
  const { text } = decodeHl7Bytes(frame);
  const m = parseHl7(text).message;
  return { code: m?.get('MSA-1'), controlId: m?.get('MSA-2'), text };
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
    await this.o.store.recoverOutbox(this.o.destination);
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
    while (!this.stopped) {
      let item: OutboxItem | undefined;
      try {
        item = await this.o.store.claimNext(this.o.destination, this.o.leaseMs ?? 60_000);
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
        await this.deliver(item);
      } catch (e) {
        if (!this.stopped) this.o.onError?.(toNhsError(e, 'STORE_UNAVAILABLE'));
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

  private async deliver(item: OutboxItem): Promise<void> {
    const want = item.controlId;
    let frame: Buffer;
    try {
      frame = await this.o.send(item.payload, (f) => want === null || readAck(f).controlId === want);
    } catch (e) {
      const err = toNhsError(e, 'MLLP_SEND_FAILED');
      // Shutting down: leave it inflight; recoverOutbox puts it back on the next start.
      if (this.stopped && err.code === 'MLLP_CLIENT_CLOSED') return;
      await this.retryOrPark(item, err.code, undefined, err);
      return;
    }
    const ack = readAck(frame);
    if (ack.code === 'AA' || ack.code === 'CA') {
      // Stopped before the ack was recorded: it stays inflight and is re-sent after recovery.
      if (!(await this.recordAck(item))) return;
      this.stats.delivered++;
      this.o.onDelivered?.(item, ack.text);
      return;
    }
    const reason = `negative acknowledgment ${ack.code ?? '(no MSA-1)'}`;
    const policy = this.o.policy ?? 'retry';
    if (policy === 'retry') {
      await this.retryOrPark(item, reason, ack.text);
      return;
    }
    const err = policy === 'fail' ? new NhsError('MLLP_NEGATIVE_ACK', `destination answered ${ack.code ?? '?'} for message ${want ?? item.id}`, { detail: { code: ack.code, outboxId: item.id } }) : undefined;
    await this.park(item, reason, ack.text, err);
  }

  /**
   * The destination has accepted the message: an unrecorded ack means a certain duplicate once
   * the lease expires, so keep trying (with back-off) before claiming anything else.
   */
  private async recordAck(item: OutboxItem): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.store.ackOutbox(item.id);
        return true;
      } catch (e) {
        this.o.onError?.(toNhsError(e, 'STORE_UNAVAILABLE'));
        if (this.stopped) return false;
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

  private async retryOrPark(item: OutboxItem, reason: string, ack?: string, err?: NhsError): Promise<void> {
    if (item.attempts >= (this.o.maxAttempts ?? 10)) {
      await this.park(item, `${reason} after ${item.attempts} attempts`, ack, err);
      return;
    }
    const at = new Date(this.now().getTime() + backoffDelay(item.attempts, this.o.backoff));
    await this.o.store.retryOutbox(item.id, at, reason);
    this.nextDue = Math.min(this.nextDue ?? Infinity, at.getTime());
    this.stats.retried++;
    this.o.onRetry?.(item, reason, at);
  }

  private async park(item: OutboxItem, reason: string, ack?: string, err?: NhsError): Promise<void> {
    await this.o.store.parkOutbox(item.id, reason);
    this.stats.parked++;
    this.o.onParked?.(item, reason, ack, err);
  }
}
