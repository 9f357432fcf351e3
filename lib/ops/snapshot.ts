/**
 * What operations sees of a running system at one instant: each store (reachable, probe round
 * trip, write counters, open quarantine by reason/owner, outbox backlog per destination), each
 * listener and each endpoint. Taken at scrape / health-check time from live objects the host
 * (nodes/shared/ops.ts) hands in; read-only, never touches message content.
 */
import type { Store, StoreStats } from '../store/types';

export interface QuarantineGroup { reason: string; owner: string; count: number; oldestSeconds: number }
export interface OutboxGroup { destination: string; depth: number; oldestSeconds: number; parked: number }

export interface StoreSnapshot {
  /** The nhs-store config node id, or `default`. */
  name: string;
  backend: string;
  reachable: boolean;
  probeMs?: number;
  /** Space the store takes (store.size(): SQLite file + WAL, PostgreSQL tables + indexes). */
  sizeBytes?: number;
  error?: string;
  stats?: StoreStats;
  quarantine: QuarantineGroup[];
  outbox: OutboxGroup[];
}
export interface ListenerSnapshot { node: string; listening: boolean; port?: number }
export interface EndpointSnapshot { node: string; running: boolean; backlog: number; threshold: number }
export interface OpsSnapshot { at: string; stores: StoreSnapshot[]; listeners: ListenerSnapshot[]; endpoints: EndpointSnapshot[] }

/** Rejects with `STORE_UNAVAILABLE`-like text after `ms` (a PostgreSQL that stopped answering). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** Bounded scans: a store with more open items than this still reports (a lower bound). */
const SCAN_LIMIT = 10_000;

/** Probe one store (a one-row read) and summarise its quarantine and outbox. */
export async function snapshotStore(name: string, open: () => Promise<Store>, now: Date, timeoutMs = 2000): Promise<StoreSnapshot> {
  const snap: StoreSnapshot = { name, backend: 'unknown', reachable: false, quarantine: [], outbox: [] };
  try {
    const store = await within(open(), timeoutMs, `store ${name}`);
    snap.backend = store.backend;
    const t0 = performance.now();
    await within(store.queryAudit({ limit: 1, order: 'desc' }), timeoutMs, `store ${name}`);
    snap.probeMs = performance.now() - t0;
    snap.reachable = true;
    const size = await within(store.size(), timeoutMs, `store ${name}`).catch(() => undefined);
    if (size) snap.sizeBytes = size.bytes;
    const st = store.stats?.();
    if (st) snap.stats = st;
    const ms = now.getTime();
    const q = new Map<string, QuarantineGroup>();
    for (const i of await within(store.listQuarantine({ state: 'open', limit: SCAN_LIMIT }), timeoutMs, `store ${name}`)) {
      const k = `${i.reasonCode}\0${i.owner}`;
      const age = Math.max(0, (ms - Date.parse(i.createdAt)) / 1000);
      const g = q.get(k) ?? { reason: i.reasonCode, owner: i.owner, count: 0, oldestSeconds: 0 };
      g.count++;
      g.oldestSeconds = Math.max(g.oldestSeconds, age);
      q.set(k, g);
    }
    snap.quarantine = [...q.values()];
    const o = new Map<string, OutboxGroup>();
    const group = (d: string): OutboxGroup => { const g = o.get(d) ?? { destination: d, depth: 0, oldestSeconds: 0, parked: 0 }; o.set(d, g); return g; };
    for (const state of ['pending', 'inflight'] as const) {
      for (const i of await within(store.listOutbox({ state, limit: SCAN_LIMIT }), timeoutMs, `store ${name}`)) {
        const g = group(i.destination);
        g.depth++;
        g.oldestSeconds = Math.max(g.oldestSeconds, (ms - Date.parse(i.createdAt)) / 1000);
      }
    }
    for (const i of await within(store.listOutbox({ state: 'parked', limit: SCAN_LIMIT }), timeoutMs, `store ${name}`)) group(i.destination).parked++;
    snap.outbox = [...o.values()];
  } catch (e) {
    snap.reachable = false;
    snap.error = e instanceof Error ? e.message : String(e);
  }
  return snap;
}

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  at: string;
  problems: string[];
  stores: { name: string; backend: string; reachable: boolean; probeMs?: number; error?: string }[];
  listeners: ListenerSnapshot[];
  endpoints: (EndpointSnapshot & { ok: boolean })[];
}

/**
 * The health verdict for load balancers and watchdogs: unhealthy when a store does not answer, a
 * listener is not listening, or an endpoint's sender is stopped or its backlog is over threshold.
 */
export function health(snap: OpsSnapshot): HealthReport {
  const problems: string[] = [];
  for (const s of snap.stores) if (!s.reachable) problems.push(`store ${s.name} unreachable`);
  for (const l of snap.listeners) if (!l.listening) problems.push(`listener ${l.node} not listening`);
  const endpoints = snap.endpoints.map((e) => ({ ...e, ok: e.running && e.backlog <= e.threshold }));
  for (const e of endpoints) if (!e.ok) problems.push(e.running ? `endpoint ${e.node} backlog ${e.backlog} over ${e.threshold}` : `endpoint ${e.node} sender not running`);
  return {
    status: problems.length ? 'unhealthy' : 'ok',
    at: snap.at,
    problems,
    stores: snap.stores.map((s) => ({ name: s.name, backend: s.backend, reachable: s.reachable, ...(s.probeMs !== undefined ? { probeMs: Math.round(s.probeMs * 100) / 100 } : {}), ...(s.error ? { error: s.error } : {}) })),
    listeners: snap.listeners,
    endpoints,
  };
}
