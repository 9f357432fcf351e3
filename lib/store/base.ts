/**
 * What both store backends do around their SQL, written once: the open/close state machine, the
 * background retention run, the write-path counters and how a committed write settles, and the
 * chunked retention loop. A backend supplies how to start and stop its connections and how to
 * delete one chunk of expired rows.
 */
import { NhsError } from '../errors';
import { invalid } from './checks';
import { DAY_MS, OpFailure, PRUNE_CHUNK, closedError, newStats, type ResolvedOptions } from './options';
import type { GroupCommitter, Settleable } from './group-commit';
import type { PruneResult, StoreSize, StoreStats } from './types';

export type StoreState = 'new' | 'opening' | 'open' | 'closing' | 'closed';

export abstract class StoreBase {
  protected state: StoreState = 'new';
  protected readonly counters = newStats();
  private opening: Promise<void> | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(protected readonly o: ResolvedOptions) {}

  /** Connect, migrate and create the group committer; a rejection fails `open()`. */
  protected abstract start(): Promise<void>;
  /** Release what a failed `start()` left open; must not throw. */
  protected abstract abort(): Promise<void> | void;
  /** Resolves once every queued write has settled (closing: no new writes are accepted). */
  protected abstract settleWrites(): Promise<void>;
  /** Close the connections after the last write settled. */
  protected abstract release(): Promise<void> | void;
  /** One retention transaction: delete up to PRUNE_CHUNK rows of each kind last updated before `cutoff`. */
  protected abstract pruneChunk(cutoff: string): Promise<PruneResult>;
  /** The backend's driver error → NhsError mapping. */
  protected abstract mapError(e: unknown): NhsError;

  open(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.state === 'opening' && this.opening) return this.opening;
    if (this.state !== 'new') return Promise.reject(closedError());
    this.state = 'opening';
    this.opening = this.start().then(
      () => {
        this.state = 'open';
        if (this.o.retentionDays > 0) {
          const report = (e: unknown): void => this.o.onError(this.mapError(e));
          void this.prune().catch(report);
        }
        if (this.o.sizeWarnBytes > 0) {
          // Once at open too: a store already over its level says so now, not in an hour.
          void this.warnIfLarge().catch((e: unknown) => this.o.onError(this.mapError(e)));
        }
        if (this.o.retentionDays > 0 || this.o.sizeWarnBytes > 0) {
          const report = (e: unknown): void => this.o.onError(this.mapError(e));
          this.pruneTimer = setInterval(() => { void this.housekeeping().catch(report); }, 3_600_000);
          this.pruneTimer.unref();
        }
      },
      async (e: unknown) => {
        this.state = 'closed';
        await this.abort();
        throw this.mapError(e);
      },
    );
    return this.opening;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'opening') await this.opening?.catch(() => undefined);
    if (this.state !== 'open') {
      this.state = 'closed';
      return;
    }
    this.state = 'closing';
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.settleWrites();
    this.state = 'closed';
    await this.release();
  }

  stats(): StoreStats {
    return { ...this.counters };
  }

  /**
   * Queue one write: `build` validates its arguments and makes the job before it is queued, so a
   * bad record never enters a batch; the promise settles when the job's transaction has.
   */
  protected queue<J extends Settleable, T>(committer: GroupCommitter<J> | undefined, build: () => Omit<J, 'resolve' | 'reject'>): Promise<T> {
    if (this.state !== 'open' || !committer) return Promise.reject(closedError());
    let job: Omit<J, 'resolve' | 'reject'>;
    try {
      job = build();
    } catch (e) {
      return Promise.reject(this.mapError(e));
    }
    // `job` is fresh from build(): completed in place rather than copied.
    return new Promise<T>((resolve, reject) => {
      committer.submit(Object.assign(job, { resolve, reject }) as unknown as J);
    });
  }

  /** Reads are allowed while open and while closing (queued writes still settle then). */
  protected readable(): boolean {
    return this.state === 'open' || this.state === 'closing';
  }

  protected now(): string {
    return this.o.clock().toISOString();
  }

  /** Count one committed transaction of `jobs` and settle each job with its result. */
  protected settleCommitted(jobs: readonly Settleable[], results: readonly unknown[]): void {
    this.counters.commits++;
    this.counters.maxBatch = Math.max(this.counters.maxBatch, jobs.length);
    for (let i = 0; i < jobs.length; i++) this.settle(jobs[i]!, results[i]);
  }

  /** A committed write: an OpFailure result (a data reason, nothing changed) rejects, anything else resolves. */
  protected settle(j: Settleable, r: unknown): void {
    if (r instanceof OpFailure) {
      this.counters.failedWrites++;
      j.reject(r.error);
    } else {
      this.counters.writes++;
      j.resolve(r);
    }
  }

  /** Hourly: retention, then the size check (reported through onError, as nobody awaits it). */
  private async housekeeping(): Promise<void> {
    if (this.o.retentionDays > 0) await this.prune();
    if (this.o.sizeWarnBytes > 0) await this.warnIfLarge();
  }

  /** STORE_SIZE_WARNING through onError when the store is above `sizeWarnBytes` (hazard HAZ-021). */
  private async warnIfLarge(): Promise<void> {
    const s = await this.size();
    const mb = (b: number): string => (b >= 1048576 ? `${Math.round(b / 1048576)} MB` : `${Math.ceil(b / 1024)} KB`);
    if (s.warning) this.o.onError(new NhsError('STORE_SIZE_WARNING', `store uses ${mb(s.bytes)}, over the ${mb(this.o.sizeWarnBytes)} warning level (${s.messages} messages kept)`));
  }

  /** Size on disk and messages kept (HandoffLog.size); `warning` above `sizeWarnBytes`. */
  async size(): Promise<StoreSize> {
    const m = await this.measure();
    return { ...m, warning: this.o.sizeWarnBytes > 0 && m.bytes > this.o.sizeWarnBytes };
  }

  /** The backend's bytes on disk and message count. */
  protected abstract measure(): Promise<Omit<StoreSize, 'warning'>>;

  async prune(now?: Date): Promise<PruneResult> {
    const at = now ?? this.o.clock();
    if (this.state !== 'open') throw closedError();
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw invalid('now must be a valid Date');
    const total = { messages: 0, outbox: 0 };
    if (this.o.retentionDays <= 0) return total;
    const cutoff = new Date(at.getTime() - this.o.retentionDays * DAY_MS).toISOString();
    for (;;) {
      const r = await this.pruneChunk(cutoff);
      total.messages += r.messages;
      total.outbox += r.outbox;
      if (r.messages < PRUNE_CHUNK && r.outbox < PRUNE_CHUNK) return total;
    }
  }
}
