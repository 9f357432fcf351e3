/**
 * Slicing (FHIR R4 §5.1.0.x Profiling: slicing and discriminators). Each item of a sliced element
 * is matched to the first slice whose discriminators (value, pattern, exists, type, profile) it
 * satisfies; then slice cardinality and the rules (closed / open / openAtEnd, ordered) are
 * checked. A slice with a discriminator path we cannot follow never matches by guesswork.
 */
import type { ENode } from './compile';
import type { Run } from './context';
import { isObj, type Item } from './json-value';
import { deepMatches } from './match';

type Expect = { kind: 'value'; value: unknown } | { kind: 'exists'; exists: boolean } | { kind: 'type'; type: string };

/**
 * One discriminator a slice constrains, with its path split once: the per-item match then only
 * follows `segs` (undefined for `$this`, the item itself).
 */
type Check = Expect & { segs: string[] | undefined };

/**
 * A slice's checks, built on first use and kept: a discriminator the slice does not constrain is
 * left out (it does not decide), so a slice with no checks matches nothing.
 */
const checkCache = new WeakMap<ENode, Check[]>();

/** The definition node at `path` below a slice (following type profiles for extension urls). */
function nodeAt(run: Run, slice: ENode, path: string): ENode | { url: string } | undefined {
  if (path === '$this') return slice;
  let node: ENode | undefined = slice;
  const segs = path.split('.');
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    if (!node) return undefined;
    const prof = node.types[0]?.profiles[0];
    if (!node.byName.get(seg) && prof) {
      if (seg === 'url' && k === segs.length - 1 && node.types[0]?.code === 'Extension') return { url: prof };
      const tp = run.engine.profile(prof);
      node = tp?.root;
      if (!node) return undefined;
    }
    const nextNode: ENode | undefined = node.byName.get(seg) ?? node.children.find((c) => c.choice && seg.startsWith(c.name));
    if (!nextNode) return undefined;
    node = nextNode;
  }
  return node;
}

/**
 * For value/pattern discriminators whose path runs through an element that is itself sliced (R4
 * vital signs: `component` by `code.coding.code`, the fixed code sitting on the required slice
 * `code.coding:SBPCode`), the value comes from a required slice of that inner element: a
 * required slice guarantees a matching item exists, which is what the discriminator asks.
 */
function valueNodeAt(run: Run, slice: ENode, path: string): ENode | { url: string } | undefined {
  const direct = nodeAt(run, slice, path);
  if ((direct && 'url' in direct) || direct?.fixed !== undefined || direct?.pattern !== undefined || path === '$this') return direct;
  const segs = path.split('.');
  let node: ENode | undefined = slice;
  for (let k = 0; k < segs.length - 1 && node; k++) {
    const next = nodeAt(run, node, segs[k]!);
    if (!next || 'url' in next) return direct;
    node = next;
    const rest = segs.slice(k + 1).join('.');
    for (const inner of node.slices) {
      if (inner.min < 1) continue;
      const hit = nodeAt(run, inner, rest);
      if (hit && !('url' in hit) && (hit.fixed !== undefined || hit.pattern !== undefined)) return hit;
    }
  }
  return direct;
}

function expectation(run: Run, d: { type: string }, n: ENode | { url: string } | undefined): Expect | undefined {
  if (!n) return undefined;
  if ('url' in n) return { kind: 'value', value: n.url };
  switch (d.type) {
    case 'value': case 'pattern': {
      const value = n.fixed ?? n.pattern;
      // a required binding also discriminates in the reference validator; we only use fixed/pattern
      return value === undefined ? undefined : { kind: 'value', value };
    }
    case 'exists': return { kind: 'exists', exists: n.min > 0 };
    case 'type': case 'profile': {
      const t = n.types.length === 1 ? n.types[0]! : undefined;
      const prof = t?.profiles[0] ? run.engine.profile(t.profiles[0]) : undefined;
      return t ? { kind: 'type', type: prof?.type ?? t.code } : undefined;
    }
    default: return undefined;
  }
}

function checks(run: Run, sliced: ENode, slice: ENode): Check[] {
  let hit = checkCache.get(slice);
  if (hit) return hit;
  hit = [];
  for (const d of sliced.slicing?.discriminator ?? []) {
    const path = d.path.replace(/^\$this\./, '');
    const e = expectation(run, d, d.type === 'value' || d.type === 'pattern' ? valueNodeAt(run, slice, path) : nodeAt(run, slice, path));
    if (e) hit.push({ ...e, segs: d.path === '$this' ? undefined : path.split('.') });
  }
  checkCache.set(slice, hit);
  return hit;
}

function valuesAt(v: unknown, segs: string[] | undefined): unknown[] {
  if (!segs) return [v];
  let cur: unknown[] = [v];
  for (const seg of segs) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (!isObj(c)) continue;
      let x = c[seg];
      if (x === undefined) { const k = Object.keys(c).find((kk) => kk.startsWith(seg) && kk.length > seg.length && /[A-Z]/.test(kk.charAt(seg.length))); if (k) x = c[k]; }
      if (Array.isArray(x)) next.push(...(x as unknown[])); else if (x !== undefined) next.push(x);
    }
    cur = next;
  }
  return cur;
}

function matches(run: Run, sliced: ENode, slice: ENode, item: Item, type: string): boolean {
  const cs = checks(run, sliced, slice);
  // A discriminator the slice does not constrain does not decide; one that none constrain cannot match.
  if (cs.length === 0) return false;
  for (const c of cs) {
    const vals = valuesAt(item.v, c.segs);
    if (c.kind === 'value') { if (!vals.some((x) => deepMatches(x, c.value))) return false; }
    else if (c.kind === 'exists') { if ((vals.length > 0) !== c.exists) return false; }
    else {
      const actual = !c.segs ? (isObj(item.v) && typeof item.v.resourceType === 'string' ? item.v.resourceType : type)
        : vals.map((x) => (isObj(x) && typeof x.resourceType === 'string' ? x.resourceType : undefined)).find(Boolean);
      if (actual !== c.type) return false;
    }
  }
  return true;
}

/** Match items to slices; report slice cardinality and closed-slicing violations. */
export function assignSlices(run: Run, sliced: ENode, items: Item[], type: string, path: string): (ENode | undefined)[] {
  const out: (ENode | undefined)[] = [];
  const counts = new Map<ENode, number>();
  const rules = sliced.slicing?.rules ?? 'open';
  let lastSliceIndex = -1;
  for (const it of items) {
    let hit: ENode | undefined;
    let idx = -1;
    for (let s = 0; s < sliced.slices.length; s++) {
      if (matches(run, sliced, sliced.slices[s]!, it, type)) { hit = sliced.slices[s]; idx = s; break; }
    }
    out.push(hit);
    const where = sliced.isArray ? `${path}[${it.i}]` : path;
    if (hit) {
      counts.set(hit, (counts.get(hit) ?? 0) + 1);
      if (sliced.slicing?.ordered && idx < lastSliceIndex) run.add('error', 'structure', `As specified by profile ${sliced.sdUrl}, Element '${sliced.path}' is out of order in ordered slice`, where, 'Validation_VAL_Profile_OutOfOrder');
      if (rules === 'openAtEnd' && lastSliceIndex === Number.MAX_SAFE_INTEGER) run.add('error', 'structure', 'A sliced element is not allowed after the open part of an openAtEnd slicing', where, 'Validation_VAL_Profile_OpenAtEnd');
      lastSliceIndex = Math.max(lastSliceIndex, idx);
    } else {
      if (rules === 'closed') run.add('error', 'invalid', `This element does not match any known slice defined in the profile ${sliced.sdUrl} and slicing is CLOSED`, where, 'Validation_VAL_Profile_NotSlice');
      if (rules === 'openAtEnd') lastSliceIndex = Number.MAX_SAFE_INTEGER;
    }
  }
  for (const s of sliced.slices) {
    const n = counts.get(s) ?? 0;
    if (n < s.min) run.add('error', 'structure', `Slice '${sliced.path}:${s.sliceName ?? ''}': a matching slice is required, but not found (from ${s.sdUrl})`, path, 'Validation_VAL_Profile_Minimum_SLICE');
    if (n > s.max) run.add('error', 'structure', `Slice '${sliced.path}:${s.sliceName ?? ''}': max allowed = ${s.max}, but found ${n} (from ${s.sdUrl})`, path, 'Validation_VAL_Profile_Maximum_SLICE');
  }
  return out;
}
