/**
 * The typed interface between the admin API (plugins/admin-api.ts) and the deployed quarantine
 * nodes: a release from the sidebar is delivered to the live node whose id the item names.
 * Declared once here so neither side reaches into the other (DESIGN.md §1).
 */
import type { QuarantineItem } from '../../lib/store/types';
import type { NodeMessage } from './types';

export interface QuarantineEndpoint {
  /** Send a released message from output 1 (and the "resolved" notification from output 2). */
  deliver(msg: NodeMessage, item: QuarantineItem): void;
  /** Notify that an item was discarded. */
  resolved(item: QuarantineItem): void;
  /** The store config node id the quarantine node uses ('' = default store). */
  storeId: string;
  /**
   * The node's two-person rule (HAZ-014 C7): an edited item is released only by a user other
   * than its last editor. Absent = off.
   */
  twoPersonRelease?: boolean;
}

const endpoints = new Map<string, QuarantineEndpoint>();

/** Called by the quarantine node on start; the newest instance with an id wins (redeploy). */
export function registerEndpoint(nodeId: string, ep: QuarantineEndpoint): () => void {
  endpoints.set(nodeId, ep);
  return () => { if (endpoints.get(nodeId) === ep) endpoints.delete(nodeId); };
}

/** The live quarantine node with id `nodeId`, if one is deployed. */
export function endpointOf(nodeId: string): QuarantineEndpoint | undefined {
  return endpoints.get(nodeId);
}
