/**
 * Slicing (FHIR R4 §5.1.0.x Profiling: slicing and discriminators). Each item of a sliced element
 * is matched to the first slice whose discriminators (value, pattern, exists, type, profile) it
 * satisfies; then slice cardinality and the rules (closed / open / openAtEnd, ordered) are
 * checked. A slice with a discriminator path we cannot follow never matches by guesswork.
 */
import type { CompiledProfile, ENode } from './compile';
import type { Run } from './context';
import { deepMatches } from './match';

interface Item { v: unknown; e: unknown; i: number }
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

type Expect = { kind: 'value'; value: unknown } | { kind: 'exists'; exists: boolean } | { kind: 'type'; type: string } | { kind: 'none' };

const expectCache = new WeakMap<ENode, Expect[]>();

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

function expectations(run: Run, sliced: ENode, slice: ENode): Expect[] {
  let hit = expectCache.get(slice);
  if (hit) return hit;
  hit = [];
  for (const d of sliced.slicing?.discriminator ?? []) {
    const path = d.path.replace(/^\$this\./, '');
    const n = nodeAt(run, slice, path);
    if (!n) { hit.push({ kind: 'none' }); continue; }
    if ('url' in n) { hit.push({ kind: 'value', value: n.url }); continue; }
    switch (d.type) {
      case 'value': case 'pattern': {
        const value = n.fixed ?? n.pattern;
        // a required binding also discriminates in the reference validator; we only use fixed/pattern
        hit.push(value === undefined ? { kind: 'none' } : { kind: 'value', value });
        break;
      }
      case 'exists': hit.push({ kind: 'exists', exists: n.min > 0 }); break;
      case 'type': case 'profile': {
        const t = n.types.length === 1 ? n.types[0]! : undefined;
        const prof = t?.profiles[0] ? run.engine.profile(t.profiles[0]) : undefined;
        hit.push(t ? { kind: 'type', type: prof?.type ?? t.code } : { kind: 'none' });
        break;
      }
      default: hit.push({ kind: 'none' });
    }
  }
  expectCache.set(slice, hit);
  return hit;
}

function valuesAt(v: unknown, path: string): unknown[] {
  if (path === '$this') return [v];
  let cur: unknown[] = [v];
  for (const seg of path.replace(/^\$this\./, '').split('.')) {
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
  const ex = expectations(run, sliced, slice);
  const ds = sliced.slicing?.discriminator ?? [];
  // A discriminator the slice does not constrain does not decide; one that none constrain cannot match.
  if (ex.every((e) => e.kind === 'none')) return false;
  for (let k = 0; k < ex.length; k++) {
    const e = ex[k]!; const path = ds[k]!.path;
    if (e.kind === 'none') continue;
    const vals = valuesAt(item.v, path);
    if (e.kind === 'value') { if (!vals.some((x) => deepMatches(x, e.value))) return false; }
    else if (e.kind === 'exists') { if ((vals.length > 0) !== e.exists) return false; }
    else {
      const actual = path === '$this' ? (isObj(item.v) && typeof item.v.resourceType === 'string' ? item.v.resourceType : type)
        : vals.map((x) => (isObj(x) && typeof x.resourceType === 'string' ? x.resourceType : undefined)).find(Boolean);
      if (actual !== e.type) return false;
    }
  }
  return true;
}

/** Match items to slices; report slice cardinality and closed-slicing violations. */
export function assignSlices(run: Run, sliced: ENode, _prof: CompiledProfile, items: Item[], type: string, path: string, _ctx: unknown): (ENode | undefined)[] {
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
