/**
 * The durable hand-off watermark of one listener in one instance (DESIGN.md §4, at-least-once
 * hand-off in `commit` mode): the highest store seq such that every message this listener kept
 * at or below it has been handed to the flow. Written in batches (one write per interval, not
 * one per message); on start, what the listener kept above it is emitted again.
 *
 * "Handed to the flow" means `node.send` returned at least `graceMs` ago: Node-RED passes the
 * message on asynchronously, so a message just sent may not yet have reached a durable node
 * downstream (mllp out's outbox, quarantine, audit) when the process dies. A message inside the
 * grace is replayed after a crash — a duplicate, flagged `replayed`, never a loss.
 */
import { toNhsError, type NhsError } from '../errors';
import type { Store } from '../store';

export interface HandoffOptions {
  store: () => Promise<Store>;
  channel: string;
  owner: string;
  /** How long after `send` a message counts as handed over (default 2000 ms). */
  graceMs?: number;
  /** How often the watermark is written (default 1000 ms). */
  intervalMs?: number;
  now?: () => number;
  onError?: (e: NhsError) => void;
}

export class HandoffTracker {
  /** Kept, not yet counted as handed: seq → time handed (0 while not handed yet). */
  private readonly open = new Map<number, number>();
  /** Appends in progress → the highest seq known when each began (its seq will be above it). */
  private readonly floors = new Map<object, number>();
  private highest = 0;
  private mark = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly o: HandoffOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The watermark read on start; `upTo` the newest seq known then. */
  begin(mark: number, upTo: number): void {
    this.mark = mark;
    this.highest = Math.max(this.highest, mark, upTo);
    if (this.timer) return;
    this.timer = setInterval(() => { void this.flush(); }, this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** An append began (its seq will be above what is known now), or the replay reached `floor`. */
  appendStarted(token: object, floor = this.highest): void {
    this.floors.set(token, floor);
  }

  appendEnded(token: object): void {
    this.floors.delete(token);
  }

  /** A message was kept as `seq` and will be handed over. */
  kept(seq: number): void {
    if (seq > this.highest) this.highest = seq;
    if (seq > this.mark) this.open.set(seq, 0);
  }

  /** `send` returned for `seq`. */
  handed(seq: number): void {
    if (this.open.has(seq)) this.open.set(seq, this.now() || 1);
  }

  /** The highest seq the watermark may move to now. */
  candidate(): number {
    const before = this.now() - (this.o.graceMs ?? 2000);
    let limit = this.highest;
    for (const [seq, at] of this.open) {
      if (at !== 0 && at <= before) this.open.delete(seq);
      else if (seq - 1 < limit) limit = seq - 1;
    }
    for (const floor of this.floors.values()) if (floor < limit) limit = floor;
    return limit;
  }

  /** Write the watermark if it moved (one write at a time; a failure is retried next interval). */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const to = this.candidate();
      if (to <= this.mark) return;
      try {
        const store = await this.o.store();
        await store.advanceHandoff(this.o.channel, this.o.owner, to);
        this.mark = to;
      } catch (e) {
        this.o.onError?.(toNhsError(e, 'STORE_UNAVAILABLE'));
      }
    });
    return this.writing;
  }

  /** Stop writing. Nothing is advanced on close: what is inside the grace is replayed next start. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
  }

  get watermark(): number {
    return this.mark;
  }
}
