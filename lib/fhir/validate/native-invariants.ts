/**
 * Native forms of R4 resource invariants that every transaction Bundle, Organization and Patient
 * meets (Bundle bdl-1..bdl-5, bdl-7..bdl-12, Organization org-1..org-3, Patient pat-1): through
 * fhirpath.js these cost ~20 µs each, most of a UK Core Bundle's validation. Each follows the
 * FHIRPath semantics of its R4 expression, including empty results (an empty result passes, as
 * in invariants.ts; `all()` treats an empty criterion as not true). Where the JSON is not the
 * plain shape the native code reads (a `_x` primitive extension, a wrongly typed value, a
 * non-object entry), it answers `undefined` and the caller evaluates the R4 expression with
 * fhirpath.js instead, so odd input gets exactly the published rule.
 */
import type { InvariantContext } from './invariants';
import { isObj, type Obj } from './json-value';

/** true / false, or undefined: "not the plain shape, evaluate the expression". */
export type NativeCheck = (value: unknown, ctx: InvariantContext) => boolean | undefined;

/** Unusable: the caller falls back to fhirpath.js. */
const ODD = Symbol('odd');

/** A primitive string property: its value, undefined when absent, ODD for `_x` or another JSON type. */
function str(o: Obj, name: string): string | undefined | typeof ODD {
  if (o[`_${name}`] !== undefined) return ODD;
  const v = o[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : ODD;
}

/** A 0..1 complex property: present, absent, or ODD (null, an array, a primitive, a `_x`). */
function one(o: Obj, name: string): Obj | undefined | typeof ODD {
  if (o[`_${name}`] !== undefined) return ODD;
  const v = o[name];
  if (v === undefined) return undefined;
  return isObj(v) ? v : ODD;
}

/** Bundle.entry as objects: [] when absent, ODD when not an array of objects. */
function entries(b: Obj): Obj[] | typeof ODD {
  if (b._entry !== undefined) return ODD;
  const e = b.entry;
  if (e === undefined) return [];
  if (!Array.isArray(e)) return ODD;
  for (const x of e) if (!isObj(x)) return ODD;
  return e as Obj[];
}

/** `type = '<t>' implies X` with Bundle.type: X matters only for that type (empty type: passes). */
function ifType(b: Obj, t: string, x: (b: Obj) => boolean | undefined): boolean | undefined {
  const type = str(b, 'type');
  if (type === ODD) return undefined;
  return type === t ? x(b) : true;
}

/** `entry.first().resource.is(<T>)`; true when there is none (an empty `implies` operand passes). */
function firstResourceIs(b: Obj, t: string): boolean | undefined {
  const es = entries(b);
  if (es === ODD) return undefined;
  if (es.length === 0) return true;
  const r = one(es[0]!, 'resource');
  if (r === ODD) return undefined;
  if (r === undefined) return true;
  return typeof r.resourceType === 'string' ? r.resourceType === t : undefined;
}

/** bdl-3 / bdl-4: `entry.all(<prop>.exists() = (%resource.type in <types>))`. */
function entriesCarry(prop: 'request' | 'response', types: string[]): NativeCheck {
  return (v, ctx) => {
    const b = v as Obj;
    const res = isObj(ctx.resource) ? ctx.resource : undefined;
    const type = res ? str(res, 'type') : ODD;
    const es = entries(b);
    if (type === ODD || es === ODD) return undefined;
    if (es.length === 0) return true;
    if (type === undefined) return false; // `bool = {}` is empty, and all() needs true
    const want = types.includes(type);
    for (const e of es) {
      const x = one(e, prop);
      if (x === ODD) return undefined;
      if ((x !== undefined) !== want) return false;
    }
    return true;
  };
}

/** `where(use = 'home').empty()` on one ContactPoint / Address. */
const notHome: NativeCheck = (v) => {
  if (!isObj(v)) return undefined;
  const use = str(v, 'use');
  return use === ODD ? undefined : use !== 'home';
};

/** Keyed `key|expression` (whitespace-normalised R4 text), like invariants.ts NATIVE. */
export const NATIVE_RESOURCE_INVARIANTS = new Map<string, NativeCheck>([
  ["bdl-1|total.empty() or (type = 'searchset') or (type = 'history')", (v) => {
    const b = v as Obj;
    if (b._total !== undefined) return undefined;
    if (b.total === undefined) return true;
    const type = str(b, 'type');
    if (type === ODD) return undefined;
    return type === undefined ? true : type === 'searchset' || type === 'history';
  }],
  ["bdl-2|entry.search.empty() or (type = 'searchset')", (v) => {
    const b = v as Obj;
    const es = entries(b);
    const type = str(b, 'type');
    if (es === ODD || type === ODD) return undefined;
    let search = false;
    for (const e of es) {
      const s = one(e, 'search');
      if (s === ODD) return undefined;
      if (s !== undefined) search = true;
    }
    return !search || type === undefined || type === 'searchset';
  }],
  ["bdl-3|entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or %resource.type = 'history'))", entriesCarry('request', ['batch', 'transaction', 'history'])],
  ["bdl-4|entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = 'transaction-response' or %resource.type = 'history'))", entriesCarry('response', ['batch-response', 'transaction-response', 'history'])],
  ['bdl-5|resource.exists() or request.exists() or response.exists()', (v) => {
    if (!isObj(v)) return undefined;
    const r = one(v, 'resource'); const q = one(v, 'request'); const s = one(v, 'response');
    if (r === ODD || q === ODD || s === ODD) return undefined;
    return r !== undefined || q !== undefined || s !== undefined;
  }],
  ["bdl-7|(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()", (v) => {
    const b = v as Obj;
    const type = str(b, 'type');
    const es = entries(b);
    if (type === ODD || es === ODD) return undefined;
    if (type === 'history') return true;
    const seen = new Set<string>();
    let distinct = true;
    for (const e of es) {
      const url = str(e, 'fullUrl');
      if (url === ODD) return undefined;
      if (url === undefined) continue;
      const r = one(e, 'resource');
      if (r === ODD) return undefined;
      const meta = r === undefined ? undefined : one(r, 'meta');
      if (meta === ODD) return undefined;
      const version = meta === undefined ? undefined : str(meta, 'versionId');
      if (version === ODD) return undefined;
      const k = url + (version ?? '');
      if (seen.has(k)) distinct = false;
      seen.add(k);
    }
    // `{} or false` is empty, which passes: only a present, non-history type can fail it.
    return distinct || type === undefined;
  }],
  ['bdl-8|fullUrl.exists() implies fullUrl.contains(\'/_history/\').not()', (v) => {
    if (!isObj(v)) return undefined;
    const url = str(v, 'fullUrl');
    return url === ODD ? undefined : url === undefined || !url.includes('/_history/');
  }],
  ["bdl-9|type = 'document' implies (identifier.system.exists() and identifier.value.exists())", (v) => ifType(v as Obj, 'document', (b) => {
    const id = one(b, 'identifier');
    if (id === ODD) return undefined;
    if (id === undefined) return false;
    const system = str(id, 'system'); const value = str(id, 'value');
    if (system === ODD || value === ODD) return undefined;
    return system !== undefined && value !== undefined;
  })],
  ["bdl-10|type = 'document' implies (timestamp.hasValue())", (v) => ifType(v as Obj, 'document', (b) => {
    const ts = str(b, 'timestamp');
    return ts === ODD ? undefined : ts !== undefined;
  })],
  ["bdl-11|type = 'document' implies entry.first().resource.is(Composition)", (v) => ifType(v as Obj, 'document', (b) => firstResourceIs(b, 'Composition'))],
  ["bdl-12|type = 'message' implies entry.first().resource.is(MessageHeader)", (v) => ifType(v as Obj, 'message', (b) => firstResourceIs(b, 'MessageHeader'))],
  ['org-1|(identifier.count() + name.count()) > 0', (v) => {
    const o = v as Obj;
    const name = str(o, 'name');
    const ids = o.identifier;
    if (name === ODD || o._identifier !== undefined || (ids !== undefined && !Array.isArray(ids))) return undefined;
    if (Array.isArray(ids) && ids.some((x) => x === null)) return undefined;
    return (Array.isArray(ids) ? ids.length : 0) + (name === undefined ? 0 : 1) > 0;
  }],
  ["org-2|where(use = 'home').empty()", notHome],
  ["org-3|where(use = 'home').empty()", notHome],
]);
