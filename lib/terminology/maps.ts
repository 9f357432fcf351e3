/**
 * Map tables held in memory for O(1) lookups: the trust's CSV maps, FHIR R4 ConceptMap
 * (`group`, `element.target.equivalence`, `group.unmapped`), SNOMED CT RF2 extended/complex map
 * reference sets (ICD-10, OPCS-4: `mapGroup`, `mapPriority`, `mapRule`, `mapAdvice`) and the
 * Read v2 / CTV3 → SNOMED CT maps. Every loader returns a {@link MapTable}; lookups never throw.
 */
import { evaluateGroups, type PatientContext, type Rf2Row } from './map-rules';

/** FHIR R4 ConceptMapEquivalence (http://hl7.org/fhir/concept-map-equivalence). */
export type Equivalence =
  | 'relatedto' | 'equivalent' | 'equal' | 'wider' | 'subsumes' | 'narrower' | 'specializes'
  | 'inexact' | 'unmatched' | 'disjoint';

const EQUIVALENCES = new Set<string>(['relatedto', 'equivalent', 'equal', 'wider', 'subsumes', 'narrower', 'specializes', 'inexact', 'unmatched', 'disjoint']);

/** Equivalences that say "there is no mapping" (FHIR R4 ConceptMap: unmatched, disjoint). */
export function isNegative(e: Equivalence): boolean {
  return e === 'unmatched' || e === 'disjoint';
}

/** Parse an equivalence text; empty means `equivalent`, unknown text is undefined. */
export function toEquivalence(v: string | undefined): Equivalence | undefined {
  if (v === 'equivalent' || v === undefined || v === '') return 'equivalent';
  const t = (v ?? '').trim().toLowerCase();
  if (t === '') return 'equivalent';
  return EQUIVALENCES.has(t) ? (t as Equivalence) : undefined;
}

/** One target of a mapping: `msg.snomed.targets[n]`. */
export interface MapTarget {
  system: string;
  code: string;
  display?: string;
  equivalence: Equivalence;
  /** RF2 mapGroup (1-based): a source may need several targets, one per group. */
  group?: number;
  /** RF2 mapPriority within the group. */
  priority?: number;
  /** RF2 mapRule as published. */
  rule?: string;
  /** RF2 mapAdvice, or a note on how the target was found (unmapped mode, assured map). */
  advice?: string;
  /** True when a rule needs patient context the message did not give: a candidate, not a choice. */
  candidate?: true;
}

/** Where a mapping came from: the map's name and its stated version / effective time. */
export interface Provenance {
  map: string;
  format: MapFormat;
  version?: string;
  effectiveTime?: string;
  url?: string;
}

export type MapFormat = 'csv' | 'conceptmap' | 'rf2' | 'read';

/** The source code as looked up. */
export interface SourceCode { system?: string; code: string; display?: string }

/**
 * Result of a lookup: `mapped` is true when at least one target has a code and is not negative.
 * Results may be shared between lookups: copy before changing (the node copies onto `msg`).
 */
export interface MapResult {
  mapped: boolean;
  source: SourceCode;
  targets: MapTarget[];
  provenance: Provenance;
  /** Map advice that is not tied to a target (e.g. RF2 rows with no target). */
  advice?: string[];
}

/**
 * Non-identifying problems found while loading (where, never row contents): `row` counts records
 * (header included), `line` is the 1-based physical line the record starts on and `column` the
 * 1-based column of the offending field, where the loader knows them.
 */
export interface LoadIssue { row?: number; line?: number; column?: number; message: string }

/** Patient context for RF2 map rules, read from the message (never logged). */
export type { PatientContext } from './map-rules';

/** A loaded map. `lookup` is O(1): one hash probe and, for RF2, the rows of one concept. */
export interface MapTable {
  readonly provenance: Provenance;
  /** Number of distinct source codes. */
  readonly size: number;
  readonly issues: LoadIssue[];
  /** Source code systems the map reads from (for matching a coding's system). */
  readonly sourceSystems: ReadonlySet<string>;
  lookup(code: string, system?: string, ctx?: PatientContext): MapResult | undefined;
}


/**
 * Source code → entries, keyed by code alone so that a code whose system the message does not
 * state (HL7 CWE with an empty coding system) still finds its row; a second system with the same
 * code turns the slot into a short array.
 */
class CodeIndex<E> {
  /** The first entry per code: a lookup without a system is one probe, no object touched. */
  private readonly m = new Map<string, E>();
  /** Codes that occur in several systems: every entry, in load order. */
  private readonly multi = new Map<string, E[]>();
  readonly systems = new Set<string>();
  size = 0;
  constructor(private readonly sys: (e: E) => string) {}

  get(code: string, system?: string): E | undefined {
    const hit = this.m.get(code);
    if (hit === undefined || system === undefined || this.sys(hit) === system) return hit;
    return this.multi.get(code)?.find((e) => this.sys(e) === system);
  }

  forEach(fn: (e: E) => void): void {
    for (const [code, e] of this.m) {
      const all = this.multi.get(code);
      if (all) all.forEach(fn); else fn(e);
    }
  }

  /** Add an entry for a (code, system) not yet present (check with `get` first). */
  put(code: string, system: string, e: E): void {
    const hit = this.m.get(code);
    if (system !== this.lastSystem) { this.systems.add(system); this.lastSystem = system; }
    this.size++;
    if (hit === undefined) { this.m.set(code, e); return; }
    let all = this.multi.get(code);
    if (!all) { all = [hit]; this.multi.set(code, all); }
    all.push(e);
  }

  private lastSystem: string | undefined;

  getOrAdd(code: string, system: string, make: () => E): E {
    const hit = this.m.get(code);
    if (hit === undefined) {
      const e = make();
      this.m.set(code, e);
      this.systems.add(system);
      this.size++;
      return e;
    }
    if (this.sys(hit) === system) return hit;
    let all = this.multi.get(code);
    if (!all) { all = [hit]; this.multi.set(code, all); }
    let e = all.find((x) => this.sys(x) === system);
    if (!e) { e = make(); all.push(e); this.systems.add(system); this.size++; }
    return e;
  }
}

/** Repeated strings (systems, rules, advice) shared instead of copied per row. */
export class Interner {
  private readonly m = new Map<string, string>();
  private last = '';
  of(s: string): string {
    // Map files repeat the same system on every row: compare with the last one first.
    if (s === this.last) return this.last;
    const hit = this.m.get(s);
    if (hit !== undefined) return (this.last = hit);
    if (this.m.size < 100_000) this.m.set(s, s);
    return (this.last = s);
  }
}


/** A simple code → targets table (CSV, Read/CTV3, one ConceptMap group set). */
export class SimpleMapTable implements MapTable {
  readonly issues: LoadIssue[] = [];
  // Rows are held column by column (strings in arrays, no object per row) and a code's answer
  // is built on its first lookup, then kept: a million-row map loads with a fraction of the
  // allocations, and a loaded table never changes (a reload builds a new one).
  private readonly sys: string[] = [];
  private readonly code: string[] = [];
  private readonly disp: (string | undefined)[] = [];
  private readonly tsys: (string | undefined)[] = [];
  private readonly tcode: string[] = [];
  private readonly tdisp: (string | undefined)[] = [];
  private readonly teq: (Equivalence | undefined)[] = [];
  private readonly tadv: (string | undefined)[] = [];
  /** Second and later targets of a row (rare). */
  private readonly more = new Map<number, MapTarget[]>();
  private readonly results: (MapResult | undefined)[] = [];
  private readonly index = new CodeIndex<number>((i) => this.sys[i]!);
  constructor(readonly provenance: Provenance) {}

  get size(): number { return this.index.size; }
  get sourceSystems(): ReadonlySet<string> { return this.index.systems; }

  add(system: string, code: string, display: string | undefined, target: MapTarget | undefined): void {
    if (target) this.addRow(system, code, display, target.system, target.code, target.display, target.equivalence, target.advice);
    else this.addRow(system, code, display, undefined, '', undefined, undefined, undefined);
  }

  /** One row; `equivalence` undefined means the row names no target (a known, unmapped code). */
  addRow(system: string, code: string, display: string | undefined, tsys: string | undefined, tcode: string, tdisp: string | undefined, eq: Equivalence | undefined, advice: string | undefined): void {
    const i = this.index.get(code, system);
    if (i === undefined) {
      const n = this.sys.length;
      this.sys.push(system); this.code.push(code); this.disp.push(display || undefined);
      this.tsys.push(tsys); this.tcode.push(tcode); this.tdisp.push(tdisp || undefined); this.teq.push(eq); this.tadv.push(advice);
      this.index.put(code, system, n);
      return;
    }
    if (eq === undefined) return;
    if (this.teq[i] === undefined) {
      this.tsys[i] = tsys; this.tcode[i] = tcode; this.tdisp[i] = tdisp || undefined; this.teq[i] = eq; this.tadv[i] = advice;
      return;
    }
    if (this.tsys[i] === tsys && this.tcode[i] === tcode) return;
    const list = this.more.get(i) ?? [];
    if (list.some((t) => t.system === tsys && t.code === tcode)) return;
    const t: MapTarget = { system: tsys ?? '', code: tcode, equivalence: eq };
    if (tdisp) t.display = tdisp;
    if (advice) t.advice = advice;
    list.push(t);
    this.more.set(i, list);
  }

  lookup(code: string, system?: string): MapResult | undefined {
    const i = this.index.get(code, system);
    if (i === undefined) return undefined;
    return this.results[i] ?? (this.results[i] = this.build(i));
  }

  private build(i: number): MapResult {
    const source: SourceCode = { code: this.code[i]! };
    if (this.sys[i]) source.system = this.sys[i];
    const d = this.disp[i];
    if (d) source.display = d;
    const targets: MapTarget[] = [];
    const eq = this.teq[i];
    if (eq !== undefined) {
      const t: MapTarget = { system: this.tsys[i] ?? '', code: this.tcode[i]!, equivalence: eq };
      const td = this.tdisp[i];
      const ta = this.tadv[i];
      if (td) t.display = td;
      if (ta) t.advice = ta;
      targets.push(t, ...(this.more.get(i) ?? []));
    }
    return { mapped: targets.some((t) => t.code !== '' && !isNegative(t.equivalence)), source, targets, provenance: this.provenance };
  }
}

/** RF2 map rows of one concept, sorted by group then priority at load. */
interface Rf2Entry { system: string; code: string; rows: Rf2Row[]; fixed?: MapResult | null; source?: SourceCode }

const NO_CONTEXT: PatientContext = {};

const CONTEXT_FREE = new Set(['', 'TRUE', 'OTHERWISE TRUE']);

/** SNOMED CT RF2 extended / complex map reference set (active rows only). */
export class Rf2MapTable implements MapTable {
  readonly issues: LoadIssue[] = [];
  private readonly index = new CodeIndex<Rf2Entry>((e) => e.system);
  constructor(readonly provenance: Provenance, readonly sourceSystem: string, public targetSystem: string) {}

  get size(): number { return this.index.size; }
  get sourceSystems(): ReadonlySet<string> { return this.index.systems; }

  /** Sort every concept's rows by group, then priority (once, after loading). */
  sortRows(): void {
    this.index.forEach((e) => { if (e.rows.length > 1) e.rows.sort((a, b) => a.group - b.group || a.priority - b.priority); });
  }

  /** Used by the loader only. */
  entry(code: string): Rf2Entry {
    return this.index.getOrAdd(code, this.sourceSystem, () => ({ system: this.sourceSystem, code, rows: [] }));
  }

  lookup(code: string, system?: string, ctx?: PatientContext): MapResult | undefined {
    const e = this.index.get(code, system);
    if (!e) return undefined;
    if (e.fixed) return e.fixed;
    const { targets, advice } = evaluateGroups(e.rows, this.targetSystem, ctx ?? NO_CONTEXT);
    let mapped = false;
    for (const t of targets) if (t.code !== '' && !isNegative(t.equivalence)) { mapped = true; break; }
    const r: MapResult = { mapped, source: e.source ??= { system: e.system, code: e.code }, targets, provenance: this.provenance };
    if (advice.length) r.advice = advice;
    // Rows whose rules need no patient context give the same answer every time: keep it.
    if (e.fixed === undefined) e.fixed = e.rows.every((x) => CONTEXT_FREE.has(x.rule)) ? r : null;
    return r;
  }
}

/** ConceptMap.group.unmapped (FHIR R4): what to do with a source code the group does not list. */
export interface Unmapped { mode: 'provided' | 'fixed' | 'other-map'; code?: string; display?: string; url?: string }

interface CmGroup { source: string; target: string; unmapped?: Unmapped; index: SimpleMapTable }

/**
 * FHIR R4 ConceptMap in memory. Groups are searched in order; a code no group lists takes the
 * first applicable group's `unmapped` rule (`provided`: the same code in the target system;
 * `fixed`: the given code; `other-map`: a lookup in the map with that canonical URL, through
 * `resolveOther`).
 */
export class ConceptMapTable implements MapTable {
  readonly issues: LoadIssue[] = [];
  readonly groups: CmGroup[] = [];
  /** Finds another loaded map by canonical URL for `unmapped.mode = other-map`. */
  resolveOther?: (url: string) => MapTable | undefined;
  constructor(readonly provenance: Provenance) {}

  get size(): number { return this.groups.reduce((n, g) => n + g.index.size, 0); }
  get sourceSystems(): ReadonlySet<string> { return new Set(this.groups.map((g) => g.source)); }

  lookup(code: string, system?: string, ctx?: PatientContext, depth = 0): MapResult | undefined {
    const groups = this.groups.filter((g) => system === undefined || g.source === '' || g.source === system);
    for (const g of groups) {
      const r = g.index.lookup(code, system === undefined ? undefined : g.source);
      if (r) return r;
    }
    for (const g of groups) {
      const u = g.unmapped;
      if (!u) continue;
      const source: SourceCode = { code, ...(system !== undefined ? { system } : g.source ? { system: g.source } : {}) };
      if (u.mode === 'provided') {
        return { mapped: true, source, provenance: this.provenance, targets: [{ system: g.target, code, equivalence: 'equal', advice: 'unmapped: provided (same code in the target system)' }] };
      }
      if (u.mode === 'fixed' && u.code) {
        return { mapped: true, source, provenance: this.provenance, targets: [{ system: g.target, code: u.code, ...(u.display ? { display: u.display } : {}), equivalence: 'inexact', advice: 'unmapped: fixed code' }] };
      }
      if (u.mode === 'other-map' && u.url && depth < 4) {
        const other = this.resolveOther?.(u.url);
        const r = other instanceof ConceptMapTable ? other.lookup(code, system, ctx, depth + 1) : other?.lookup(code, system, ctx);
        if (r) return r;
      }
    }
    return undefined;
  }
}

/** Several tables searched in order; the first that knows the code answers. */
export class MapSet {
  constructor(readonly tables: MapTable[]) {
    for (const t of tables) {
      if (t instanceof ConceptMapTable) t.resolveOther = (url) => tables.find((x) => x.provenance.url === url);
    }
  }

  lookup(code: string, system?: string, ctx?: PatientContext): MapResult | undefined {
    for (const t of this.tables) {
      const r = t.lookup(code, system, ctx);
      if (r) return r;
    }
    return undefined;
  }
}
