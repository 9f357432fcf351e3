/**
 * Operations plumbing shared by the nodes and the plugin: the one process-wide metrics registry
 * ({@link metrics}), the audit-step counter every node feeds through `appendAudit`, and the
 * scrape-time snapshot of the deployed stores (and, with the channels, listeners and endpoints).
 */
import type { Activity } from '../../lib/ops/alerts';
import { NhsMetrics } from '../../lib/ops/metrics';
import { snapshotStore, within, type EndpointSnapshot, type ListenerSnapshot, type OpsSnapshot, type StoreSnapshot } from '../../lib/ops/snapshot';
import { defaultStoreFile, defaultStoreIfOpen, type StoreConfigNode } from './store-access';
import { endpointNode, listenerNode } from './mllp';
import type { Store } from '../../lib/store';
import type { RED } from './types';

/** The package's metrics (one per process, like Node-RED itself). */
export const metrics = new NhsMetrics();

let typeOf: (id: string) => string | undefined = () => undefined;
const types = new Map<string, string>();

/** Installed once by the plugin: node ids → node types, for the `node_type` label. */
export function useRuntime(RED: RED): void {
  typeOf = (id) => RED.nodes.getNode(id)?.type;
}

/**
 * Count one audit step of node `nodeId` (called by appendAudit; per message, so cheap), and the
 * ACK an MLLP node sent or received (`msg.ack.code`; other nodes merely carry msg.ack along).
 */
export function countStep(nodeId: string, action: string, outcome: string, ackCode?: string): void {
  let t = types.get(nodeId);
  if (t === undefined) {
    t = typeOf(nodeId) ?? 'unknown';
    if (t !== 'unknown' && types.size < 10_000) types.set(nodeId, t);
  }
  metrics.step(nodeId, t, action, outcome);
  if (ackCode !== undefined && t.startsWith('nhs-mllp')) metrics.ack(nodeId, t, ackCode);
  lastSeen.set(nodeId, Date.now());
  // A delivery that got an ACK back (any code; a park is not a message through): the endpoint's "last message".
  if (action === 'deliver' && outcome !== 'parked') lastDelivered.set(nodeId, Date.now());
  if (t === 'nhs-pds-lookup') pdsFailing.set(nodeId, outcome === 'unavailable');
}

const lastSeen = new Map<string, number>();
const lastDelivered = new Map<string, number>();
const pdsFailing = new Map<string, boolean>();

/** What the nodes did lately (for nhs-monitor's feed-silent / PDS rules), and store sizes. */
export function activity(snap: OpsSnapshot): Activity {
  const storeBytes: Record<string, number> = {};
  for (const s of snap.stores) if (s.sizeBytes !== undefined) storeBytes[s.name] = s.sizeBytes;
  return { lastSeen: Object.fromEntries(lastSeen), pdsFailing: Object.fromEntries(pdsFailing), storeBytes };
}

/** Deployed nodes of `type` (Node-RED's eachNode walks the active flow configuration). */
export function deployedOfType(RED: RED, type: string): string[] {
  const ids: string[] = [];
  RED.nodes.eachNode?.((n) => { if (n.type === type) ids.push(n.id); });
  return ids;
}

let backlogThreshold = 1000;
/** Outbox depth above which an endpoint makes health answer 503 (settings.js). */
export function setBacklogThreshold(n: number): void {
  if (Number.isFinite(n) && n > 0) backlogThreshold = n;
}

/** Every deployed store (by its config node id) and the default store if a node opened it (`default`). */
export function deployedStores(RED: RED): { name: string; open: () => Promise<Store> }[] {
  const out: { name: string; open: () => Promise<Store> }[] = [];
  for (const id of deployedOfType(RED, 'nhs-store')) {
    const n = RED.nodes.getNode(id) as StoreConfigNode | null;
    if (n && typeof n.getStore === 'function') out.push({ name: id, open: () => n.getStore() });
  }
  const def = defaultStoreIfOpen(defaultStoreFile(RED));
  if (def) out.push({ name: 'default', open: () => def });
  return out;
}

/** Every deployed store and the default store (if a node opened it): reachable, backlog, age. */
export async function snapshot(RED: RED, now = new Date()): Promise<OpsSnapshot> {
  const stores: Promise<StoreSnapshot>[] = deployedStores(RED).map((s) => snapshotStore(s.name, s.open, now));
  const listeners = Promise.all(deployedOfType(RED, 'nhs-mllp-in').map(async (id): Promise<ListenerSnapshot> => {
    const n = listenerNode(RED, id);
    const port = n ? await within(n.mllpPort(), 1000, 'listener').catch(() => undefined) : undefined;
    return { node: id, listening: port !== undefined, ...(port !== undefined ? { port } : {}) };
  }));
  const all = await Promise.all(stores);
  // An endpoint's backlog is its outbox queue (destination = the endpoint's node id), in any store.
  const depth = new Map<string, number>();
  for (const st of all) for (const o of st.outbox) depth.set(o.destination, (depth.get(o.destination) ?? 0) + o.depth);
  const endpoints = deployedOfType(RED, 'nhs-mllp-endpoint').map((id): EndpointSnapshot => ({
    node: id, running: endpointNode(RED, id)?.senderState() !== 'stopped', backlog: depth.get(id) ?? 0, threshold: backlogThreshold,
  }));
  return { at: now.toISOString(), stores: all, listeners: await listeners, endpoints };
}

/** An open alert as the sidebar shows it (no patient data: rules, nodes, counts). */
export interface OpenAlert { monitor: string; id: string; kind: unknown; severity: unknown; target: unknown; detail: unknown; openedAt: string | null }
/**
 * One feed for the sidebar's summary. A listener: its last message and its backlog (in `commit`
 * mode, what it kept but has not yet handed to the flow; null otherwise). An endpoint: its last
 * delivery (an ACK came back, through any `nhs-mllp-out` of it), its outbox backlog, the age of
 * the oldest waiting item and how many were parked.
 */
export interface FeedSummary {
  node: string; name: string; type: 'listener' | 'endpoint'; up: boolean; lastMessageAt: string | null; backlog: number | null;
  oldestSeconds?: number; parked?: number;
}

const isoOf = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** What a `commit`-mode listener kept above its hand-off watermark in this instance. */
async function listenerBacklog(RED: RED, id: string): Promise<number | null> {
  const n = listenerNode(RED, id);
  const store = n?.mllpHandoffStore();
  if (!n || !store) return null;
  const rows = await within(store, 1000, 'store').then((s) => within(s.listHandoffs(id), 1000, 'store')).catch(() => undefined);
  return rows ? (rows.find((r) => r.owner === n.mllpOwner)?.pending ?? 0) : null;
}

/** Open alerts of every monitor in every deployed store, and a per-feed summary. */
export async function overview(RED: RED): Promise<{ alerts: OpenAlert[]; feeds: FeedSummary[] }> {
  const snap = await snapshot(RED);
  const alerts: OpenAlert[] = [];
  const seen = new Set<string>();
  const sources = deployedOfType(RED, 'nhs-store').map((id) => () => (RED.nodes.getNode(id) as StoreConfigNode).getStore());
  const def = defaultStoreIfOpen(defaultStoreFile(RED));
  if (def) sources.push(() => def);
  for (const open of sources) {
    const rows = await within(open(), 2000, 'store').then((st) => st.alertState?.().listOpen() ?? []).catch(() => []);
    for (const r of rows) {
      if (seen.has(`${r.monitor}\0${r.alertId}`)) continue;
      seen.add(`${r.monitor}\0${r.alertId}`);
      alerts.push({ monitor: r.monitor, id: r.alertId, kind: r.data.kind, severity: r.data.severity, target: r.data.target, detail: r.data.detail, openedAt: r.openedAt });
    }
  }
  const nameOf = (id: string): string => RED.nodes.getNode(id)?.name || id;
  // An endpoint delivers for the nhs-mllp-out nodes that name it: its last delivery is theirs.
  const delivered = new Map<string, number>();
  RED.nodes.eachNode?.((n) => {
    const at = n.type === 'nhs-mllp-out' && typeof n.endpoint === 'string' ? lastDelivered.get(n.id) : undefined;
    if (at !== undefined) delivered.set(n.endpoint as string, Math.max(at, delivered.get(n.endpoint as string) ?? 0));
  });
  const outbox = new Map<string, { oldestSeconds: number; parked: number }>();
  for (const st of snap.stores) {
    for (const o of st.outbox) {
      const g = outbox.get(o.destination) ?? { oldestSeconds: 0, parked: 0 };
      outbox.set(o.destination, { oldestSeconds: Math.max(g.oldestSeconds, Math.floor(o.oldestSeconds)), parked: g.parked + o.parked });
    }
  }
  const listeners = await Promise.all(snap.listeners.map(async (l): Promise<FeedSummary> => ({
    node: l.node, name: nameOf(l.node), type: 'listener', up: l.listening, lastMessageAt: isoOf(lastSeen.get(l.node)), backlog: await listenerBacklog(RED, l.node),
  })));
  const endpoints = snap.endpoints.map((e): FeedSummary => ({
    node: e.node, name: nameOf(e.node), type: 'endpoint', up: e.running, lastMessageAt: isoOf(delivered.get(e.node)), backlog: e.backlog,
    oldestSeconds: outbox.get(e.node)?.oldestSeconds ?? 0, parked: outbox.get(e.node)?.parked ?? 0,
  }));
  return { alerts, feeds: [...listeners, ...endpoints] };
}
