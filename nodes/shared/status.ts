import type { Node, NodeStatus } from './types';

/**
 * Throttled node status. Busy nodes (thousands of msgs/s) must not flood the editor's comms
 * socket, so updates are coalesced: the latest status is shown at most every `intervalMs`.
 * Status text carries counts and states only, never patient data (DESIGN.md §3).
 */
export class StatusReporter {
  private pending: NodeStatus | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastText: string | undefined;
  private lastAt = 0;

  constructor(private readonly node: Node, private readonly intervalMs = 500) {}

  /** Set status now if the last update is old enough, else coalesce into the next tick. */
  set(s: NodeStatus): void {
    const key = `${s.fill}|${s.shape}|${s.text}`;
    if (key === this.lastText && this.pending === null) return;
    const now = Date.now();
    if (now - this.lastAt >= this.intervalMs && this.timer === null) {
      this.apply(s, key, now);
      return;
    }
    this.pending = s;
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        const p = this.pending;
        this.pending = null;
        if (p) this.apply(p, `${p.fill}|${p.shape}|${p.text}`, Date.now());
      }, Math.max(0, this.intervalMs - (now - this.lastAt)));
      this.timer.unref?.();
    }
  }

  ok(text: string): void { this.set({ fill: 'green', shape: 'dot', text }); }
  warn(text: string): void { this.set({ fill: 'yellow', shape: 'ring', text }); }
  error(text: string): void { this.set({ fill: 'red', shape: 'ring', text }); }
  idle(text: string): void { this.set({ fill: 'grey', shape: 'ring', text }); }

  /** Clear the status and cancel any pending update (call on close). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    this.lastText = undefined;
    this.node.status({});
  }

  private apply(s: NodeStatus, key: string, now: number): void {
    this.lastAt = now;
    this.lastText = key;
    this.node.status(s);
  }
}
