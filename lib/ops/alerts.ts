/**
 * Alert rules over an operations snapshot, for the `nhs-monitor` node: each rule yields zero or
 * more conditions (one per target: a listener, a destination, a store…), each with a stable
 * alert id. An alert OPENS once when its condition has held for the hold time and RESOLVES once
 * when it has been clear for the hold time (flapping damped). State is in the store
 * (lib/store/alert-state.ts): it is committed before the flow is told, and a row whose emitted
 * state lags its state is told on the next evaluation — so a restart repeats nothing and loses
 * nothing (a crash between the commit and the emit tells the flow once more, never not at all).
 * Clock injected (DESIGN.md §1).
 */
import { NhsError } from '../errors';
import type { AlertRow, AlertState } from '../store/alert-state';
import type { OpsSnapshot } from './snapshot';

export type Severity = 'critical' | 'warning' | 'info';
export type RuleKind = 'listener-down' | 'feed-silent' | 'outbox-backlog' | 'outbox-age' | 'destination-failing' | 'quarantine-sla' | 'store-down' | 'store-size' | 'pds-unavailable' | 'esr-file-missing' | 'audit-chain';
export const RULE_KINDS: readonly RuleKind[] = ['listener-down', 'feed-silent', 'outbox-backlog', 'outbox-age', 'destination-failing', 'quarantine-sla', 'store-down', 'store-size', 'pds-unavailable', 'esr-file-missing', 'audit-chain'];

export interface Rule {
  kind: RuleKind;
  severity?: Severity;
  /** A node id (listener, endpoint, feed node) or store name; empty = every one. */
  target?: string;
  /** Threshold: items (backlog, parked), seconds (age), minutes (feed silent), hours (SLA; between audit-chain checks), bytes (size). */
  threshold?: number;
  /** Only in this time-of-day window, `HH:MM` local (feed silent overnight is normal). */
  from?: string;
  to?: string;
}

/** What the monitor knows beyond the snapshot: last activity per node (feeds, PDS, ESR). */
export interface Activity {
  /** Last message handled per node id (ms since epoch). */
  lastSeen: Record<string, number>;
  /** Last outcome per PDS lookup node (true when it was a service failure). */
  pdsFailing: Record<string, boolean>;
  /** Store file/database size in bytes per store name, when known. */
  storeBytes: Record<string, number>;
  /** Per store name, the last scheduled audit-chain verification's problem (seq and reason), or null when intact. */
  chainProblems?: Record<string, string | null>;
}

export interface Condition { id: string; kind: RuleKind; severity: Severity; target: string; detail: string }

const minutesOf = (hhmm: string | undefined): number | undefined => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm ?? '');
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
};

/** True when `now` (local time) is in [from, to) — a window may wrap midnight. */
export function inWindow(now: Date, from?: string, to?: string): boolean {
  const f = minutesOf(from);
  const t = minutesOf(to);
  if (f === undefined || t === undefined) return true;
  const m = now.getHours() * 60 + now.getMinutes();
  return f <= t ? m >= f && m < t : m >= f || m < t;
}

/** The conditions that hold now under `rules`. */
export function conditions(rules: readonly Rule[], snap: OpsSnapshot, act: Activity, now: Date): Condition[] {
  const out: Condition[] = [];
  rules.forEach((r, i) => {
    if (!inWindow(now, r.from, r.to)) return;
    const severity = r.severity ?? 'warning';
    const th = r.threshold ?? 0;
    const hit = (target: string, detail: string): void => { out.push({ id: `${r.kind}:${target}:${i}`, kind: r.kind, severity, target, detail }); };
    const want = (t: string): boolean => !r.target || r.target === t;
    switch (r.kind) {
      case 'listener-down':
        for (const l of snap.listeners) if (want(l.node) && !l.listening) hit(l.node, 'not listening');
        break;
      case 'feed-silent':
        for (const [node, at] of Object.entries(act.lastSeen)) if (want(node) && now.getTime() - at > th * 60_000) hit(node, `no message for ${Math.floor((now.getTime() - at) / 60_000)} min`);
        if (r.target && act.lastSeen[r.target] === undefined) hit(r.target, 'no message since start');
        break;
      case 'outbox-backlog':
      case 'outbox-age':
      case 'destination-failing':
        for (const s of snap.stores) for (const o of s.outbox) {
          if (!want(o.destination)) continue;
          if (r.kind === 'outbox-backlog' && o.depth > th) hit(o.destination, `${o.depth} waiting`);
          if (r.kind === 'outbox-age' && o.depth > 0 && o.oldestSeconds > th) hit(o.destination, `oldest ${Math.floor(o.oldestSeconds)} s`);
          if (r.kind === 'destination-failing' && o.parked > th) hit(o.destination, `${o.parked} parked`);
        }
        break;
      case 'quarantine-sla':
        for (const s of snap.stores) for (const q of s.quarantine) if (want(q.owner) && q.oldestSeconds > th * 3600) hit(`${s.name}/${q.reason}/${q.owner}`, `${q.count} open, oldest ${Math.floor(q.oldestSeconds / 3600)} h`);
        break;
      case 'store-down':
        for (const s of snap.stores) if (want(s.name) && !s.reachable) hit(s.name, 'unreachable');
        break;
      case 'store-size':
        for (const [name, bytes] of Object.entries(act.storeBytes)) if (want(name) && bytes > th) hit(name, `${bytes} bytes`);
        break;
      case 'pds-unavailable':
        for (const [node, failing] of Object.entries(act.pdsFailing)) if (want(node) && failing) hit(node, 'PDS lookups failing');
        break;
      case 'audit-chain':
        for (const [name, problem] of Object.entries(act.chainProblems ?? {})) if (want(name) && problem) hit(name, problem);
        break;
      case 'esr-file-missing':
        // The ESR intake keeps its own missing-file alert state; here: no activity on the ESR
        // node for `threshold` hours in the window (a daily file that did not come).
        for (const [node, at] of Object.entries(act.lastSeen)) if (want(node) && r.target && now.getTime() - at > th * 3_600_000) hit(node, 'no ESR file');
        break;
    }
  });
  return out;
}

/** An alert or resolve for the flow (msg.payload), no patient data. */
export interface AlertEvent {
  event: 'alert' | 'resolve';
  id: string;
  kind: RuleKind;
  severity: Severity;
  target: string;
  detail: string;
  openedAt: string;
  resolvedAt: string | null;
}

/** One monitor's alert state machine over a store. */
export class AlertEngine {
  constructor(private readonly monitor: string, private readonly state: AlertState, private readonly holdMs: number, private readonly clock: () => Date = () => new Date()) {}

  /**
   * Evaluate `held` (the conditions now) and commit the new state. Returns the events to tell the
   * flow and `told()`, to call once they are sent (records them as emitted).
   */
  async evaluate(held: readonly Condition[]): Promise<{ events: AlertEvent[]; told: () => Promise<void> }> {
    const now = this.clock();
    const iso = now.toISOString();
    const rows = new Map((await this.state.load(this.monitor)).map((r) => [r.alertId, r]));
    const holding = new Map(held.map((c) => [c.id, c]));
    const changed: AlertRow[] = [];
    const since = (s: string | null): number => (s ? now.getTime() - Date.parse(s) : -1);
    for (const c of held) {
      const r = rows.get(c.id) ?? { monitor: this.monitor, alertId: c.id, state: 'closed', emitted: 'closed', heldSince: null, clearSince: null, openedAt: null, resolvedAt: null, data: {}, updatedAt: iso };
      const before = JSON.stringify(r);
      r.clearSince = null;
      if (r.state === 'closed') {
        r.heldSince ??= iso;
        if (since(r.heldSince) >= this.holdMs) Object.assign(r, { state: 'open', openedAt: iso, resolvedAt: null, heldSince: null, data: { kind: c.kind, severity: c.severity, target: c.target, detail: c.detail } });
      }
      if (JSON.stringify(r) !== before) { r.updatedAt = iso; changed.push(r); }
      rows.set(c.id, r);
    }
    for (const r of rows.values()) {
      if (holding.has(r.alertId)) continue;
      const before = JSON.stringify(r);
      r.heldSince = null;
      if (r.state === 'open') {
        r.clearSince ??= iso;
        if (since(r.clearSince) >= this.holdMs) Object.assign(r, { state: 'closed', resolvedAt: iso, clearSince: null });
      }
      if (JSON.stringify(r) !== before) { r.updatedAt = iso; changed.push(r); }
    }
    // Commit first; then tell the flow what it has not been told, and record that it was.
    if (changed.length) await this.state.save(changed);
    const events: AlertEvent[] = [];
    const told: AlertRow[] = [];
    for (const r of rows.values()) {
      if (r.state === r.emitted) continue;
      const d = r.data as { kind: RuleKind; severity: Severity; target: string; detail: string };
      events.push({ event: r.state === 'open' ? 'alert' : 'resolve', id: r.alertId, kind: d.kind, severity: d.severity, target: d.target, detail: d.detail, openedAt: r.openedAt ?? iso, resolvedAt: r.state === 'open' ? null : r.resolvedAt });
      told.push({ ...r, emitted: r.state });
    }
    return { events, told: () => (told.length ? this.state.save(told) : Promise.resolve()) };
  }
}

const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

/** The rules from flow JSON (an array, or its JSON text); a bad rule is a configuration error. */
export function readRules(v: unknown): Rule[] {
  const list: unknown = typeof v === 'string' ? (v.trim() ? JSON.parse(v) : []) : v ?? [];
  if (!Array.isArray(list)) throw new NhsError('MONITOR_RULES_INVALID', 'rules must be a JSON array');
  return list.map((r: unknown, i) => {
    const o = (r ?? {}) as Record<string, unknown>;
    if (!RULE_KINDS.includes(o.kind as RuleKind)) throw new NhsError('MONITOR_RULES_INVALID', `rule ${i + 1}: unknown kind`);
    const rule: Rule = { kind: o.kind as RuleKind };
    if (SEVERITIES.includes(o.severity as Severity)) rule.severity = o.severity as Severity;
    if (typeof o.target === 'string' && o.target) rule.target = o.target;
    if (o.threshold !== undefined && Number.isFinite(Number(o.threshold))) rule.threshold = Number(o.threshold);
    if (typeof o.from === 'string' && typeof o.to === 'string') { rule.from = o.from; rule.to = o.to; }
    return rule;
  });
}

