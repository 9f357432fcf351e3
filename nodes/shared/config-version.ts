/**
 * Versioned node configuration. Every node's editor defaults carry `version: { value: N }`; flows
 * saved before a node had a version (or by an older release) load with a smaller one, and the
 * runtime upgrades that config in memory, one step per version, before the node reads it. The
 * editor saves the current version the next time the node is edited and deployed, so a change of
 * defaults never silently changes what an old flow does.
 *
 * A node adopts it in its constructor:
 *
 *   const HL7_CONFIG: ConfigSteps = [(def) => def];            // v0 → v1: version added
 *   RED.nodes.registerType('nhs-hl7', function (this: Node, raw: NodeDef) {
 *     RED.nodes.createNode(this, raw);
 *     const def = upgradeNode(this, raw, HL7_CONFIG);
 *     ...
 *   });
 */
import { declareGovernance } from './governance';
import { onClose } from './input';
import type { Node, NodeDef } from './types';

/** One upgrade step: the config at version i → the config at version i + 1 (pure, no I/O). */
export type ConfigStep = (def: NodeDef) => NodeDef;
/** Steps in order: `steps[i]` upgrades version i to i + 1; the current version is `steps.length`. */
export type ConfigSteps = readonly ConfigStep[];

/** The version a config was saved with: a missing, non-integer or negative one counts as 0. */
export function configVersion(def: NodeDef): number {
  const v = def.version;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * Upgrade `def` to `steps.length` (a copy; the flow's own object is not changed). A config from
 * a newer release (version above the current one) is returned as it is, with `newer: true`.
 */
export function upgradeConfig(def: NodeDef, steps: ConfigSteps): { def: NodeDef; from: number; newer: boolean } {
  const from = configVersion(def);
  const current = steps.length;
  if (from >= current) return { def: { ...def, version: from }, from, newer: from > current };
  let d: NodeDef = { ...def };
  for (let v = from; v < current; v++) d = { ...steps[v]!(d), version: v + 1 };
  return { def: d, from, newer: false };
}

/** What a node shows of its configuration version (read by tests and the sidebar). */
export interface VersionedNode extends Node {
  /** The version the running config has after the upgrade (the current version). */
  configVersion: number;
  /** The version the flow was saved with (0 for a flow from before versions). */
  savedConfigVersion: number;
}

/**
 * Upgrade a node's config in its constructor and record both versions on the node. A config
 * saved by a newer release is used as is, with a warning (it may hold settings this one ignores).
 */
export function upgradeNode(node: Node, def: NodeDef, steps: ConfigSteps): NodeDef {
  const r = upgradeConfig(def, steps);
  const v = node as VersionedNode;
  v.configVersion = configVersion(r.def);
  v.savedConfigVersion = r.from;
  if (r.newer) node.warn(`configuration version ${r.from} is newer than this release understands (${steps.length}); settings it added are ignored`);
  deployed.set(node.id, v);
  onClose(node, () => { if (deployed.get(node.id) === v) deployed.delete(node.id); });
  // Every node passes here with its config: the one place it declares its governance reference.
  declareGovernance(node, r.def);
  return r.def;
}

const deployed = new Map<string, VersionedNode>();

/**
 * The deployed nodes and their config versions (the admin API lists them, so a user sees which
 * nodes still run a flow saved by an older release: open and deploy them to save the new one).
 */
export function deployedConfigVersions(): { id: string; type: string; version: number; saved: number }[] {
  return [...deployed.values()].map((n) => ({ id: n.id, type: n.type, version: n.configVersion, saved: n.savedConfigVersion }));
}

/** Step for a version that only added `version` itself: the config is otherwise unchanged. */
export const VERSION_ADDED: ConfigStep = (def) => def;
