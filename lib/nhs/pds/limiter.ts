/**
 * Client-side rate limiter shared by every node on one PDS config. PDS enforces a per-application
 * rate (NHS England's rate limits: 429 "Your app has exceeded its rate limit") over the whole
 * application, so starts are spaced evenly, one every (1000 + margin)/rate ms: `rate + 1`
 * starts span more than a second plus the margin (default 100 ms), so network jitter up to the
 * margin cannot put more than `rate` requests into any one second at PDS, however that second is
 * measured. A burst queues instead of tripping the limit; the queue is bounded.
 */
import { NhsError } from '../../errors';

interface Waiter { timer: NodeJS.Timeout; resolve: () => void; reject: (e: Error) => void }

export class RateLimiter {
  private next = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly interval: number;

  constructor(
    ratePerSecond: number,
    private readonly maxQueue: number,
    private readonly onQueue: (queued: number) => void = () => {},
    private readonly now: () => number = Date.now,
    marginMs = 100,
  ) {
    this.interval = (1000 + marginMs) / Math.max(0.01, ratePerSecond);
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiters.size;
  }

  /** Resolve when this caller may start a request; PDS_QUEUE_FULL when the queue is full. */
  acquire(): Promise<void> {
    const now = this.now();
    const at = Math.max(now, this.next);
    if (at <= now) {
      this.next = now + this.interval;
      return Promise.resolve();
    }
    if (this.waiters.size >= this.maxQueue) {
      return Promise.reject(new NhsError('PDS_QUEUE_FULL', `PDS request queue is full (${this.maxQueue} waiting)`, { detail: { maxQueue: this.maxQueue } }));
    }
    this.next = at + this.interval;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        timer: setTimeout(() => { this.waiters.delete(w); this.onQueue(this.waiters.size); resolve(); }, at - now),
        resolve,
        reject,
      };
      this.waiters.add(w);
      this.onQueue(this.waiters.size);
    });
  }

  /** Reject every waiter (config closed); later callers are not affected. */
  close(): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new NhsError('PDS_CLOSED', 'PDS config closed while the request was queued'));
    }
    this.waiters.clear();
    this.onQueue(0);
  }
}
