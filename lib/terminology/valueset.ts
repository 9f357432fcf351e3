/**
 * Local ValueSet expansion (FHIR R4 ValueSet.compose, https://hl7.org/fhir/R4/valueset.html)
 * over the CodeSystems and ValueSets of the loaded packages. No terminology server: a system we
 * do not hold (SNOMED CT, LOINC) or whose CodeSystem is a fragment cannot be enumerated, so a
 * code from it is "unknown" (not "wrong") and the caller decides by terminology strictness.
 */
import type { Json, PackageSource } from '../fhir/validate/source';

/** Result of asking whether a code is in a ValueSet. */
export type CodeCheck = 'ok' | 'not-in-vs' | 'unknown';

interface Expansion {
  /** system -> codes; a system mapped to `undefined` could not be enumerated (external). */
  codes: Map<string, Set<string> | undefined>;
  /** False when some part (an unknown VS import, an unknown system) could not be expanded. */
  complete: boolean;
  found: boolean;
}

interface Concept { code?: string; concept?: Concept[]; property?: { code: string; valueCode?: string; valueString?: string; valueBoolean?: boolean }[] }

const MAX_IMPORT_DEPTH = 10;

/** Expands and caches ValueSets for one package source. */
export class ValueSetExpander {
  private readonly cache = new Map<string, Expansion>();
  /**
   * Answers by value set, then system, then code: nested maps, because one joined key string
   * per check (long canonical URLs) cost more to build and hash than the check itself.
   */
  private readonly answers = new Map<string, Map<string, Map<string, CodeCheck>>>();
  private answerCount = 0;
  constructor(private readonly src: PackageSource) {}

  /** Is (system, code) in the ValueSet? `system` undefined for a bare `code` element. Answers are cached. */
  check(vsUrl: string, system: string | undefined, code: string): CodeCheck {
    // '\u0000' cannot be a system URI: it stands for "no system" (a bare code).
    const sys = system ?? '\u0000';
    const hit = this.answers.get(vsUrl)?.get(sys)?.get(code);
    if (hit !== undefined) return hit;
    const r = this.checkUncached(vsUrl, system, code);
    // bounded: hostile input cannot grow it forever
    if (this.answerCount < 100_000) {
      let bySystem = this.answers.get(vsUrl);
      if (!bySystem) { bySystem = new Map(); this.answers.set(vsUrl, bySystem); }
      let byCode = bySystem.get(sys);
      if (!byCode) { byCode = new Map(); bySystem.set(sys, byCode); }
      byCode.set(code, r);
      this.answerCount++;
    }
    return r;
  }

  private checkUncached(vsUrl: string, system: string | undefined, code: string): CodeCheck {
    const exp = this.expand(vsUrl);
    if (!exp.found) return 'unknown';
    if (system === undefined) {
      for (const set of exp.codes.values()) if (set?.has(code)) return 'ok';
      // A bare code can only be judged when every system of the value set could be listed.
      return exp.complete && [...exp.codes.values()].every((s) => s !== undefined) ? 'not-in-vs' : 'unknown';
    }
    if (!exp.codes.has(system)) return exp.complete ? 'not-in-vs' : 'unknown';
    const set = exp.codes.get(system);
    if (set === undefined) return 'unknown';
    return set.has(code) ? 'ok' : 'not-in-vs';
  }

  /** Whether the code exists in a CodeSystem we hold completely; 'unknown' when we cannot tell. */
  inCodeSystem(system: string, code: string): CodeCheck {
    const cs = this.src.codeSystem(system);
    if (!cs || cs.content !== 'complete') return 'unknown';
    return allCodes(cs).has(code) ? 'ok' : 'not-in-vs';
  }

  expand(vsUrl: string, depth = 0): Expansion {
    const key = vsUrl.split('|')[0]!;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const vs = this.src.valueSet(key);
    const exp: Expansion = { codes: new Map(), complete: true, found: !!vs };
    this.cache.set(key, exp); // set before recursion so a cyclic import terminates
    if (!vs || depth > MAX_IMPORT_DEPTH) { exp.complete = false; return exp; }
    const compose = vs.compose as { include?: Json[]; exclude?: Json[] } | undefined;
    if (!compose) {
      // No compose: an expansion we can read is the only content there is.
      const contains = (vs.expansion as { contains?: { system?: string; code?: string }[] } | undefined)?.contains;
      if (!contains) { exp.complete = false; return exp; }
      for (const c of contains) if (c.system && c.code) addCode(exp, c.system, c.code);
      return exp;
    }
    for (const inc of compose.include ?? []) this.apply(exp, inc, depth, true);
    for (const exc of compose.exclude ?? []) this.apply(exp, exc, depth, false);
    return exp;
  }

  private apply(exp: Expansion, part: Json, depth: number, include: boolean): void {
    const system = part.system as string | undefined;
    const concepts = part.concept as { code: string }[] | undefined;
    const filters = part.filter as { property: string; op: string; value: string }[] | undefined;
    const imports = part.valueSet as string[] | undefined;
    let selected: Map<string, Set<string> | undefined> | undefined;
    if (system) {
      let codes: Set<string> | undefined;
      if (concepts) codes = new Set(concepts.map((c) => c.code));
      else {
        const cs = this.src.codeSystem(system);
        if (cs && (cs.content === 'complete' || cs.content === undefined)) {
          codes = filters?.length ? filterCodes(cs, filters) : allCodes(cs);
          if (codes === undefined) exp.complete = false;
        } else {
          codes = undefined; // external or fragment: cannot enumerate
          if (include) exp.complete = false;
        }
      }
      selected = new Map([[system, codes]]);
    }
    if (imports?.length) {
      for (const u of imports) {
        const sub = this.expand(u, depth + 1);
        if (!sub.found || !sub.complete) exp.complete = false;
        // Intersection semantics of system+valueSet are rare; union is the safe (lenient) reading.
        if (!selected) selected = new Map(sub.codes);
      }
    }
    if (!selected) return;
    for (const [sys, codes] of selected) {
      if (include) {
        if (codes === undefined) { if (!exp.codes.has(sys)) exp.codes.set(sys, undefined); continue; }
        for (const c of codes) addCode(exp, sys, c);
      } else if (codes) {
        const cur = exp.codes.get(sys);
        if (cur) for (const c of codes) cur.delete(c);
      }
    }
  }
}

function addCode(exp: Expansion, system: string, code: string): void {
  let set = exp.codes.get(system);
  if (set === undefined) {
    if (exp.codes.has(system)) return; // already "everything, unenumerable"
    set = new Set();
    exp.codes.set(system, set);
  }
  set.add(code);
}

const allCache = new WeakMap<Json, Set<string>>();
function allCodes(cs: Json): Set<string> {
  const hit = allCache.get(cs);
  if (hit) return hit;
  const out = new Set<string>();
  const walk = (list: Concept[] | undefined): void => { for (const c of list ?? []) { if (c.code) out.add(c.code); walk(c.concept); } };
  walk(cs.concept as Concept[] | undefined);
  allCache.set(cs, out);
  return out;
}

/** ValueSet.compose.include.filter over a local CodeSystem: is-a, descendent-of, =, in, not-in, exists. */
function filterCodes(cs: Json, filters: { property: string; op: string; value: string }[]): Set<string> | undefined {
  let result: Set<string> | undefined;
  for (const f of filters) {
    const set = new Set<string>();
    const walk = (list: Concept[] | undefined, under: boolean, strict: boolean): boolean => {
      let ok = true;
      for (const c of list ?? []) {
        const isRoot = c.code === f.value;
        const inside = under || isRoot;
        if (c.code && ((inside && !(strict && isRoot)))) set.add(c.code);
        ok = walk(c.concept, inside, strict) && ok;
      }
      return ok;
    };
    switch (f.op) {
      case 'is-a': walk(cs.concept as Concept[], false, false); break;
      case 'descendent-of': walk(cs.concept as Concept[], false, true); break;
      case '=': case 'in': case 'not-in': {
        const values = new Set(f.op === '=' ? [f.value] : f.value.split(','));
        const all: Concept[] = [];
        const collect = (l: Concept[] | undefined): void => { for (const c of l ?? []) { all.push(c); collect(c.concept); } };
        collect(cs.concept as Concept[]);
        for (const c of all) {
          if (!c.code) continue;
          const v = f.property === 'code' || f.property === 'concept' ? c.code
            : c.property?.find((pp) => pp.code === f.property);
          const val = typeof v === 'string' ? v : v ? String(v.valueCode ?? v.valueString ?? v.valueBoolean) : undefined;
          const hit = val !== undefined && values.has(val);
          if (f.op === 'not-in' ? !hit : hit) set.add(c.code);
        }
        break;
      }
      default:
        return undefined; // an operator we do not implement: cannot enumerate
    }
    result = result ? new Set([...result].filter((c) => set.has(c))) : set;
  }
  return result;
}
