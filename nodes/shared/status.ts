import type { Node, NodeStatus } from './types';

/** A status, or a function that builds it: built only when it is actually shown. */
export type StatusSource = NodeStatus | (() => NodeStatus);
/** Status text, or a function that builds it when it is shown (no string per message). */
export type TextSource = string | (() => string);

const text = (t: TextSource): string => (typeof t === 'function' ? t() : t);

/**
 * The one status throttle of the package. Busy nodes (thousands of msgs/s) must not flood the
 * editor's comms socket, so updates are coalesced: the latest status is shown at most every
 * `intervalMs`. Callers pass a function (`status.ok(() => RED._('hl7.status.counts', c))`) so a
 * coalesced update costs no string building; only the status finally shown is built.
 * Status text carries counts and states only, never patient data (DESIGN.md §3).
 */
export class StatusReporter {
  private pending: StatusSource | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastText: string | undefined;
  private lastAt = 0;

  constructor(private readonly node: Node, private readonly intervalMs = 500) {}

  /** Set status now if the last update is old enough, else coalesce into the next tick. */
  set(s: StatusSource): void {
    if (this.timer !== null) {
      this.pending = s;
      return;
    }
    const now = Date.now();
    if (now - this.lastAt >= this.intervalMs) {
      this.apply(s, now);
      return;
    }
    this.pending = s;
    this.timer = setTimeout(() => {
      this.timer = null;
      const p = this.pending;
      this.pending = null;
      if (p) this.apply(p, Date.now());
    }, Math.max(0, this.intervalMs - (now - this.lastAt)));
    this.timer.unref?.();
  }

  ok(t: TextSource): void { this.set(() => ({ fill: 'green', shape: 'dot', text: text(t) })); }
  warn(t: TextSource): void { this.set(() => ({ fill: 'yellow', shape: 'ring', text: text(t) })); }
  error(t: TextSource): void { this.set(() => ({ fill: 'red', shape: 'ring', text: text(t) })); }
  idle(t: TextSource): void { this.set(() => ({ fill: 'grey', shape: 'ring', text: text(t) })); }

  /** Clear the status and cancel any pending update (call on close). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    this.lastText = undefined;
    this.node.status({});
  }

  private apply(src: StatusSource, now: number): void {
    const s = typeof src === 'function' ? src() : src;
    const key = `${s.fill}|${s.shape}|${s.text}`;
    if (key === this.lastText) return;
    this.lastAt = now;
    this.lastText = key;
    this.node.status(s);
  }
}
