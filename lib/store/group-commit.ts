/**
 * Group commit (the write path of both backends): writes submitted in the same event-loop turn
 * are handed to the backend as one batch, committed in one transaction, and each caller's
 * promise settles only after that commit. While a batch is committing (PostgreSQL is async) the
 * next one accumulates. With `group: false` every write is its own batch of one — the baseline
 * the bench compares against.
 */

/** A queued write; the backend's `commit` settles every job it is given. */
export interface Settleable {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class GroupCommitter<J extends Settleable> {
  private queue: J[] = [];
  private scheduled = false;
  private flushing = false;
  /** Batches of one in flight when not grouping (they may run concurrently on a pool). */
  private singles = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly commit: (jobs: J[]) => Promise<void>,
    private readonly group: boolean,
  ) {}

  submit(job: J): void {
    if (!this.group) {
      this.singles++;
      void this.run([job]).finally(() => {
        this.singles--;
        this.notifyIfIdle();
      });
      return;
    }
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
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const jobs = this.queue;
    if (jobs.length === 0) {
      this.notifyIfIdle();
      return;
    }
    this.queue = [];
    this.flushing = true;
    void this.run(jobs).finally(() => {
      this.flushing = false;
      if (this.queue.length) this.schedule();
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
    return this.queue.length === 0 && !this.flushing && !this.scheduled && this.singles === 0;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
