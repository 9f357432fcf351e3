/**
 * Which information-governance references (an `nhs-governance` config node) a node runs under,
 * and the one place they are put on audit records (issue 16 item 4).
 *
 * Resolution, in order: the node's own `governance` property (a config-node reference, as a
 * Node-RED config node is normally used) → an `nhs-governance` node whose "applies to tabs"
 * setting names the node's flow tab → none. Nodes declare themselves through `upgradeNode`
 * (nodes/shared/config-version.ts), which every node calls with its config, so no node file has
 * to know about governance. A node type in {@link PATIENT_DATA_TYPES} with no governance warns
 * at deploy.
 *
 * Records get the references in `detail.governance` when they are appended: the stores the nodes
 * open are passed through {@link withGovernance}, so every audit record a node writes — directly
 * (pds lookup, quarantine, ESR) or through `nhs-audit` from its `msg.audit` trail — carries the
 * governance of the node it names, on both backends and the SQLite writer thread alike.
 */
import type { GovernanceRefs } from '../../lib/audit/governance';
import type { NewAuditRecord, Store } from '../../lib/store/types';
import type { Node, NodeDef } from './types';

/** Node types that handle patient data: each should run under a governance reference. */
export const PATIENT_DATA_TYPES: ReadonlySet<string> = new Set([
  'nhs-mllp-in', 'nhs-mllp-out', 'nhs-mllp-response', 'nhs-hl7', 'nhs-hl7-to-fhir', 'nhs-fhir-validate',
  'nhs-pds-lookup', 'nhs-quarantine', 'nhs-audit',
]);

interface Declared { own: string; tab: string }
interface Registered { refs: GovernanceRefs; tabs: readonly string[] }

const declared = new Map<string, Declared>();
const registry = new Map<string, Registered>();

/** The "applies to tabs" setting: tab ids, as an array or comma/space separated text. */
export function tabsOf(v: unknown): string[] {
  const list: unknown[] = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\s,]+/) : [];
  return list.filter((t): t is string => typeof t === 'string' && /^[\w.-]{1,64}$/.test(t));
}

/** Called by the `nhs-governance` config node while it is deployed. */
export function registerGovernance(id: string, refs: GovernanceRefs, tabs: readonly string[]): () => void {
  const entry = { refs: { ...refs, ref: id }, tabs };
  registry.set(id, entry);
  return () => { if (registry.get(id) === entry) registry.delete(id); };
}

/** The governance node `nodeId` runs under (undefined when none). */
export function governanceFor(nodeId: string): GovernanceRefs | undefined {
  const d = declared.get(nodeId);
  if (!d) return undefined;
  if (d.own) return registry.get(d.own)?.refs;
  if (!d.tab) return undefined;
  for (const g of registry.values()) if (g.tabs.includes(d.tab)) return g.refs;
  return undefined;
}

/**
 * Record a node's own governance reference and flow tab (from upgradeNode); warn at deploy when a
 * patient-data node resolves to none. Config nodes start before the flow nodes that use them, so
 * the check sees the governance nodes of this deploy.
 */
export function declareGovernance(node: Node, def: NodeDef): void {
  if (node.type === 'nhs-governance') return;
  const own = typeof def.governance === 'string' ? def.governance : '';
  const entry = { own, tab: typeof def.z === 'string' ? def.z : '' };
  declared.set(node.id, entry);
  node.on('close', (_removed: boolean, done: () => void) => {
    if (declared.get(node.id) === entry) declared.delete(node.id);
    done();
  });
  if (!PATIENT_DATA_TYPES.has(node.type)) return;
  if (own && !registry.has(own)) node.warn(`governance: the nhs-governance node ${own} it references is not deployed; audit records of this node carry no data-sharing agreement or purpose`);
  else if (!governanceFor(node.id)) node.warn('governance: this node handles patient data but has no nhs-governance reference (set one on the node or apply one to its tab); its audit records carry no data-sharing agreement, lawful basis or purpose');
}

/** `r` with the governance of the node it names in `detail.governance` (unchanged when none or already set). */
export function annotate(r: NewAuditRecord): NewAuditRecord {
  if (!r || typeof r !== 'object' || typeof r.node !== 'string') return r;
  const g = governanceFor(r.node);
  if (!g) return r;
  const d = r.detail;
  if (d !== undefined && d !== null && (typeof d !== 'object' || Array.isArray(d) || 'governance' in d)) return r;
  return { ...r, detail: { ...(d ?? {}), governance: g } };
}

const wrapped = new WeakSet<Store>();

/**
 * The same store object, its audit-writing operations annotating each record ({@link annotate}).
 * Idempotent; the store's identity is kept (nodes compare and cache stores).
 */
export function withGovernance(store: Store): Store {
  if (wrapped.has(store)) return store;
  wrapped.add(store);
  const s = store as unknown as Record<string, (...a: unknown[]) => unknown>;
  const wrap = (name: string, auditArg: number): void => {
    const orig = s[name];
    if (typeof orig !== 'function') return;
    s[name] = function (this: unknown, ...a: unknown[]) {
      if (a[auditArg] !== undefined && a[auditArg] !== null) a[auditArg] = annotate(a[auditArg] as NewAuditRecord);
      return orig.apply(store, a);
    };
  };
  wrap('appendAudit', 0);
  wrap('putQuarantine', 1);
  wrap('transitionQuarantine', 4);
  wrap('patchQuarantine', 2);
  return store;
}
