/**
 * Quarantine notifications: exactly one notice per parked item (the store's `notifiedAt` survives
 * redeploys), folded into one summary per window once a burst limit is reached, and one more
 * when the item is resolved. Bodies carry ids and codes only, never patient data (DESIGN.md §3).
 * The host (the quarantine node) says how a notice is sent, published and recorded.
 */
import type { QuarantineItem } from '../store/types';

/** Notification body of an item event (`parked` or `resolved`). */
export function notice(event: 'parked' | 'resolved', item: QuarantineItem): Record<string, unknown> {
  return {
    event, id: item.id, code: item.reasonCode, reason: item.reason, owner: item.owner, dueAt: item.dueAt,
    node: item.node, flow: item.flow, correlationId: item.correlationId, at: item.createdAt,
    ...(event === 'resolved' ? { resolution: item.state, by: item.resolvedBy, resolvedAt: item.resolvedAt } : {}),
  };
}

export interface NotifierHost {
  /** 0 = no limit: every item gets its own notice. */
  burstLimit: number;
  burstWindowMs: number;
  /** Send a summary notice now (the individual ones are returned to the caller). */
  sendSummary(body: Record<string, unknown>): void;
  /** Publish a notice outside the flow (MQTT); failures are the host's to report. */
  publish(body: Record<string, unknown>): void;
  /** Record that these items were notified. */
  markNotified(items: QuarantineItem[]): Promise<unknown>;
  /** Report a failure nobody awaits. */
  warn(message: string): void;
  /** The node id named in summaries. */
  node: string;
}

export class ParkNotifier {
  private windowStart = 0;
  private inWindow = 0;
  private pending: QuarantineItem[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  // The start-up scan and a fresh park can meet on one item: only the first notifies. Ids are
  // tracked only while the scan runs, so memory does not grow with the number of items.
  private claimed: Set<string> | null = new Set();

  constructor(private readonly host: NotifierHost) {}

  /** The start-up scan is over: stop tracking ids. */
  scanned(): void { this.claimed = null; }

  /**
   * The notice for a parked item to send on the notification output, or null when it is folded
   * into the window's summary (or was already notified by the scan).
   */
  async parked(item: QuarantineItem): Promise<Record<string, unknown> | null> {
    if (this.claimed) {
      if (this.claimed.has(item.id)) return null;
      this.claimed.add(item.id);
    }
    const now = Date.now();
    if (now - this.windowStart >= this.host.burstWindowMs) { this.windowStart = now; this.inWindow = 0; }
    this.inWindow++;
    if (this.host.burstLimit > 0 && this.inWindow > this.host.burstLimit) {
      this.pending.push(item);
      if (!this.timer) {
        this.timer = setTimeout(() => this.flush(), Math.max(0, this.windowStart + this.host.burstWindowMs - now));
        this.timer.unref?.();
      }
      return null;
    }
    const body = notice('parked', item);
    this.host.publish(body);
    // The notice is out: a failure to record that must not swallow it (the item may be
    // notified once more after a redeploy, which beats never).
    await this.host.markNotified([item]).catch((e: unknown) => this.host.warn(`notifiedAt not saved: ${e instanceof Error ? e.message : String(e)}`));
    return body;
  }

  /**
   * Stop. Items folded into a summary that never went out get their notice after the redeploy
   * (notifiedAt is still null), so nothing is lost and nothing is repeated.
   */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private flush(): void {
    this.timer = null;
    const items = this.pending;
    this.pending = [];
    if (items.length === 0 || this.closed) return;
    const byCode: Record<string, number> = {};
    for (const i of items) byCode[i.reasonCode] = (byCode[i.reasonCode] ?? 0) + 1;
    const body = { event: 'parked-summary', count: items.length, byCode, ids: items.map((i) => i.id), node: this.host.node };
    this.host.sendSummary(body);
    this.host.publish(body);
    this.host.markNotified(items).catch((e: unknown) => this.host.warn(`notifiedAt not saved: ${e instanceof Error ? e.message : String(e)}`));
  }
}
