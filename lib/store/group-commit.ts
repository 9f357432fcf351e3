/**
 * Group commit (the write path of both backends): writes submitted in the same event-loop turn
 * are handed to the backend as one batch, committed in one transaction, and each caller's
 * promise settles only after that commit. While a batch is committing (PostgreSQL is async) the
 * next one accumulates.
 *
 * With `group: false` every write is its own batch of one, and batches run strictly one after
 * another in submission order (a FIFO on one connection). That is the honest "one commit per
 * append" baseline of the bench, and it keeps the append-only log's seq order equal to the order
 * of the calls — running single-write transactions concurrently on a pool would let the server
 * merge their WAL flushes (partly group-committing the baseline) and let seq order differ from
 * call order.
 */

/** A queued write; the backend's `commit` settles every job it is given. */
export interface Settleable {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class GroupCommitter<J extends Settleable> {
  private queue: J[] = [];
  private head = 0;
  private scheduled = false;
  private flushing = false;
  private idleWaiters: (() => void)[] = [];

  /**
   * @param batchSize with grouping, how many of the queued jobs the next batch takes (default
   * all); a backend that pipelines batches uses it to split a burst so two batches can overlap.
   */
  constructor(
    private readonly commit: (jobs: J[]) => Promise<void>,
    private readonly group: boolean,
    private readonly batchSize: (queued: readonly J[]) => number = (q) => q.length,
  ) {}

  submit(job: J): void {
    this.queue.push(job);
    this.schedule();
  }

  /** Resolves once every submitted write has settled. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // Grouping waits for the end of the turn so the batch collects every write of it; a FIFO of
    // single commits needs no wait.
    if (this.group) setImmediate(() => this.flush());
    else queueMicrotask(() => this.flush());
  }

  private take(): J[] {
    if (this.group) {
      const n = Math.max(1, Math.min(this.queue.length, Math.floor(this.batchSize(this.queue))));
      if (n === this.queue.length) {
        const jobs = this.queue;
        this.queue = [];
        return jobs;
      }
      // The rest waits for the next flush, which the committer schedules once commit() returns.
      const jobs = this.queue.slice(0, n);
      this.queue = this.queue.slice(n);
      return jobs;
    }
    const job = this.queue[this.head++]!;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return [job];
  }

  private pending(): number {
    return this.queue.length - this.head;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending() === 0) {
      this.notifyIfIdle();
      return;
    }
    const jobs = this.take();
    this.flushing = true;
    void this.run(jobs).finally(() => {
      this.flushing = false;
      if (this.pending()) this.schedule();
      else this.notifyIfIdle();
    });
  }

  /** Every job settles even when the backend throws unexpectedly (settling twice is a no-op). */
  private async run(jobs: J[]): Promise<void> {
    try {
      await this.commit(jobs);
    } catch (e) {
      for (const j of jobs) j.reject(e);
    }
  }

  private isIdle(): boolean {
    return this.pending() === 0 && !this.flushing && !this.scheduled;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
