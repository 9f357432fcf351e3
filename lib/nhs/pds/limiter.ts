/**
 * Client-side rate limiter shared by every node on one PDS config. PDS enforces a per-application
 * rate (NHS England's rate limits: 429 "Your app has exceeded its rate limit") over the whole
 * application, so starts are spaced evenly, one every (1000 + margin)/rate ms: `rate + 1`
 * starts span more than a second plus the margin (default 100 ms), so network jitter up to the
 * margin cannot put more than `rate` requests into any one second at PDS, however that second is
 * measured. A burst queues instead of tripping the limit; the queue is bounded.
 */
import { NhsError } from '../../errors';

interface Waiter { resolve: () => void; reject: (e: Error) => void }

export class RateLimiter {
  /** Actual start time of the last released request. */
  private last = -Infinity;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;
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
    return this.queue.length;
  }

  /** Resolve when this caller may start a request; PDS_QUEUE_FULL when the queue is full. */
  acquire(): Promise<void> {
    const now = this.now();
    if (this.queue.length === 0 && now >= this.last + this.interval) {
      this.last = now;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new NhsError('PDS_QUEUE_FULL', `PDS request queue is full (${this.maxQueue} waiting)`, { detail: { maxQueue: this.maxQueue } }));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ resolve, reject });
      this.onQueue(this.queue.length);
      this.schedule();
    });
  }

  /**
   * One waiter per tick, spaced by the time it is actually released: a timer that fires late
   * (a busy event loop) never lets queued requests out in a bunch.
   */
  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => this.pump(), Math.max(0, this.last + this.interval - this.now()));
  }

  private pump(): void {
    this.timer = null;
    const now = this.now();
    if (now < this.last + this.interval) { this.schedule(); return; }
    const w = this.queue.shift();
    if (!w) return;
    this.last = now;
    this.onQueue(this.queue.length);
    w.resolve();
    this.schedule();
  }

  /** Reject every waiter (config closed); later callers are not affected. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const waiting = this.queue.splice(0);
    for (const w of waiting) w.reject(new NhsError('PDS_CLOSED', 'PDS config closed while the request was queued'));
    this.onQueue(0);
  }
}
