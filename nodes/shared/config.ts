/**
 * Parsing of node config (flow JSON) and typed-input values, shared by the nodes: a value from
 * the editor may be missing, a number or anything else, so each node reads it the same way.
 */

/** A config value as trimmed text, at most `max` characters; '' when it is not a string. */
export function configText(v: unknown, max = Infinity): string {
  return typeof v === 'string' ? v.trim().slice(0, max) : '';
}

/** A config value as a number ≥ 0 (numbers or numeric text from the editor), else `dflt`. */
export function configNumber(v: unknown, dflt: number): number {
  const n = Number(v);
  return v !== '' && v !== undefined && v !== null && Number.isFinite(n) && n >= 0 ? n : dflt;
}
