/**
 * Field rules of the `nhs-hl7` node: `get` copies a field (HL7 path, e.g. `PID-3[2].1`) to a
 * message property, `set` writes a value into a field. The host supplies how a property is read
 * and written, so this stays free of Node-RED.
 */
import type { Hl7Message } from './message';
import { parsePath } from './path';

/** One editor rule: `get` copies field `path` to property `p`; `set` writes `p` (of type `pt`) into it. */
export interface FieldRule { t: 'get' | 'set'; path: string; p: string; pt: string }

/** Rules from flow JSON: anything malformed is dropped; paths are trimmed. */
export function readRules(v: unknown): FieldRule[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
    .map((r) => ({
      t: r.t === 'set' ? 'set' as const : 'get' as const,
      path: typeof r.path === 'string' ? r.path.trim() : '',
      p: typeof r.p === 'string' ? r.p : '',
      pt: typeof r.pt === 'string' ? r.pt : 'msg',
    }))
    .filter((r) => r.path !== '');
}

/** The first rule whose path does not parse (a configuration error), if any. */
export function badRule(rules: readonly FieldRule[]): FieldRule | undefined {
  return rules.find((r) => !parsePath(r.path));
}

export interface RuleHost {
  /** Store a field value read by a `get` rule at property `p`. */
  put(p: string, value: string | undefined): void;
  /** The value a `set` rule writes; undefined or null skips the rule. */
  value(rule: FieldRule): unknown;
}

/** Apply the rules in order; true when a `set` changed the message. */
export function applyRules(m: Hl7Message, rules: readonly FieldRule[], host: RuleHost): boolean {
  let changed = false;
  for (const r of rules) {
    if (r.t === 'get') {
      host.put(r.p || 'payload', m.get(r.path));
      continue;
    }
    const v = host.value(r);
    if (v === undefined || v === null) continue;
    // Objects are written as JSON text; numbers and booleans as their text.
    m.set(r.path, typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? v.toString() : JSON.stringify(v));
    changed = true;
  }
  return changed;
}
