/**
 * ElementDefinition.fixed[x] (exact) and pattern[x] (FHIR R4 §2.27: "the instance must have at
 * least the values in the pattern; arrays: every pattern item matched by some instance item").
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a); const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Does `value` contain everything in `pattern`? */
export function deepMatches(value: unknown, pattern: unknown): boolean {
  if (typeof pattern !== 'object' || pattern === null) return value === pattern;
  if (Array.isArray(pattern)) {
    const vs = Array.isArray(value) ? value : value === undefined ? [] : [value];
    return pattern.every((p) => vs.some((v) => deepMatches(v, p)));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const k of Object.keys(pattern)) {
    if (!deepMatches((value as Record<string, unknown>)[k], (pattern as Record<string, unknown>)[k])) return false;
  }
  return true;
}
