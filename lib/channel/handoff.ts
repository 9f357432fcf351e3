/**
 * The durable hand-off watermark of one listener in one instance (DESIGN.md §4, at-least-once
 * hand-off in `commit` mode): the highest store seq such that every message this listener kept
 * at or below it has been handed to the flow. Written in batches (one write per interval, not
 * one per message); on start, what the listener kept above it is emitted again.
 *
 * When a message counts as "handed to the flow" is the {@link HandoffMode}:
 * - `confirm`: a durable node downstream (mllp out's outbox, quarantine, audit, mllp response)
 *   confirmed it had committed the message ({@link HandoffTracker.confirmed}), however long the
 *   flow took to get there. A message sent but never confirmed (a switch dropped it, the flow
 *   ends in a node that keeps nothing) counts as handed over `confirmTimeoutMs` after `send`, so
 *   it cannot hold the watermark (and retention) back for ever; each such message is reported
 *   through `onUnconfirmed`. A crash before the confirmation replays the message.
 * - `grace`: `node.send` returned at least `graceMs` ago (Node-RED passes the message on
 *   asynchronously, so a message just sent may not yet have reached a durable node when the
 *   process dies). A flow slower than the grace to reach a durable node can lose a message at a
 *   crash (hazard HAZ-005); confirmations are ignored, so a saved flow keeps its meaning.
 * A message not yet counted is replayed after a crash — a duplicate, flagged `replayed`.
 */
import { toNhsError, type NhsError } from '../errors';
import type { Store } from '../store';

/** What makes a sent message count as handed over (see {@link HandoffTracker}). */
export type HandoffMode = 'confirm' | 'grace';

export interface HandoffOptions {
  store: () => Promise<Store>;
  channel: string;
  owner: string;
  /** Default `grace` (the meaning of a listener configured before `confirm` existed). */
  mode?: HandoffMode;
  /** `grace`: how long after `send` a message counts as handed over (default 2000 ms). */
  graceMs?: number;
  /** `confirm`: how long after `send` an unconfirmed message counts anyway (default 60000 ms). */
  confirmTimeoutMs?: number;
  /** `confirm`: messages that reached the confirm timeout unconfirmed (their store seqs). */
  onUnconfirmed?: (seqs: number[]) => void;
  /** How often the watermark is written (default 1000 ms). */
  intervalMs?: number;
  now?: () => number;
  onError?: (e: NhsError) => void;
}

/** One kept message not yet counted: when `send` returned (0: not yet) and whether confirmed. */
interface Open { at: number; ref: string | undefined; confirmed: boolean }

export class HandoffTracker {
  /** Kept, not yet counted as handed: seq → its state. */
  private readonly open = new Map<number, Open>();
  /** Appends in progress → the highest seq known when each began (its seq will be above it). */
  private readonly floors = new Map<object, number>();
  private highest = 0;
  private mark = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  readonly mode: HandoffMode;
  /** `confirm`: messages counted by the confirm timeout, not by a confirmation, since start. */
  unconfirmedCount = 0;

  constructor(private readonly o: HandoffOptions) {
    this.now = o.now ?? Date.now;
    this.mode = o.mode ?? 'grace';
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

  /** A message was kept as `seq` (stored record `ref`) and will be handed over. */
  kept(seq: number, ref?: string): void {
    if (seq > this.highest) this.highest = seq;
    if (seq > this.mark) this.open.set(seq, { at: 0, ref, confirmed: false });
  }

  /** `send` returned for `seq`. */
  handed(seq: number): void {
    const e = this.open.get(seq);
    if (e) e.at = this.now() || 1;
  }

  /**
   * `confirm` mode: a durable node downstream committed the message kept as `seq` (stored record
   * `ref`, checked when both are known, so a confirmation from a message of another store or an
   * earlier run cannot count another message). Idempotent: true only for the confirmation that
   * counted; a second one (a fan-out to two durable nodes, a clone), one for a message already
   * counted, or any in `grace` mode, changes nothing.
   */
  confirmed(seq: number, ref?: string): boolean {
    if (this.mode !== 'confirm') return false;
    const e = this.open.get(seq);
    if (!e || e.confirmed || (ref !== undefined && e.ref !== undefined && ref !== e.ref)) return false;
    e.confirmed = true;
    return true;
  }

  /**
   * The highest seq the watermark may move to now. Messages that count as handed over leave the
   * open set here; in `confirm` mode those that reached the timeout unconfirmed are reported.
   */
  candidate(): number {
    const confirm = this.mode === 'confirm';
    const before = this.now() - (confirm ? (this.o.confirmTimeoutMs ?? 60_000) : (this.o.graceMs ?? 2000));
    let limit = this.highest;
    let expired: number[] | undefined;
    for (const [seq, e] of this.open) {
      if (confirm && e.confirmed) this.open.delete(seq);
      else if (e.at !== 0 && e.at <= before) {
        this.open.delete(seq);
        if (confirm) (expired ??= []).push(seq);
      } else if (seq - 1 < limit) limit = seq - 1;
    }
    for (const floor of this.floors.values()) if (floor < limit) limit = floor;
    if (expired) {
      this.unconfirmedCount += expired.length;
      // A throwing observer must not stop the watermark writes (flush chains on this).
      try { this.o.onUnconfirmed?.(expired); } catch { /* the count stands; an observer failing is not the watermark failing */ }
    }
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

  /** Stop writing. Nothing is advanced on close: what is not yet counted is replayed next start. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
  }

  get watermark(): number {
    return this.mark;
  }
}
