/**
 * Operations plumbing shared by the nodes and the plugin: the one process-wide metrics registry
 * ({@link metrics}), the audit-step counter every node feeds through `appendAudit`, and the
 * scrape-time snapshot of the deployed stores (and, with the channels, listeners and endpoints).
 */
import { NhsMetrics } from '../../lib/ops/metrics';
import { snapshotStore, type OpsSnapshot, type StoreSnapshot } from '../../lib/ops/snapshot';
import { defaultStoreFile, defaultStoreIfOpen, type StoreConfigNode } from './store-access';
import type { RED } from './types';

/** The package's metrics (one per process, like Node-RED itself). */
export const metrics = new NhsMetrics();

let typeOf: (id: string) => string | undefined = () => undefined;
const types = new Map<string, string>();

/** Installed once by the plugin: node ids → node types, for the `node_type` label. */
export function useRuntime(RED: RED): void {
  typeOf = (id) => RED.nodes.getNode(id)?.type;
}

/** Count one audit step of node `nodeId` (called by appendAudit; per message, so cheap). */
export function countStep(nodeId: string, action: string, outcome: string): void {
  let t = types.get(nodeId);
  if (t === undefined) {
    t = typeOf(nodeId) ?? 'unknown';
    if (t !== 'unknown' && types.size < 10_000) types.set(nodeId, t);
  }
  metrics.step(nodeId, t, action, outcome);
}

/** Deployed nodes of `type` (Node-RED's eachNode walks the active flow configuration). */
export function deployedOfType(RED: RED, type: string): string[] {
  const ids: string[] = [];
  RED.nodes.eachNode?.((n) => { if (n.type === type) ids.push(n.id); });
  return ids;
}

/** Every deployed store and the default store (if a node opened it): reachable, backlog, age. */
export async function snapshot(RED: RED, now = new Date()): Promise<OpsSnapshot> {
  const stores: Promise<StoreSnapshot>[] = [];
  for (const id of deployedOfType(RED, 'nhs-store')) {
    const n = RED.nodes.getNode(id) as StoreConfigNode | null;
    if (n && typeof n.getStore === 'function') stores.push(snapshotStore(id, () => n.getStore(), now));
  }
  const def = defaultStoreIfOpen(defaultStoreFile(RED));
  if (def) stores.push(snapshotStore('default', () => def, now));
  return { at: now.toISOString(), stores: await Promise.all(stores), listeners: [], endpoints: [] };
}
