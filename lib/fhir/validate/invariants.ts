/**
 * ElementDefinition.constraint (FHIR R4 §2.27.0.x invariants). The generic ones that sit on
 * every element or every resource (ele-1, ext-1, dom-2..dom-5, ref-1, per-1) are implemented
 * natively: with fhirpath.js a whole-resource scan costs ~800 µs per Patient. They are used only
 * when the key AND the expression are the R4 ones, so a profile redefining a key still gets its own
 * expression. Everything else is compiled once with fhirpath.js (R4 model) on first use and
 * evaluated only where its element occurs; an expression that fails to compile or throws is a
 * warning, never a crash. Resource invariants every transaction Bundle meets (bdl-*, org-*) are
 * native too (native-invariants.ts), with fhirpath.js for input not of the plain JSON shape.
 */
import type { ElementDefinition } from './source';
import { NATIVE_RESOURCE_INVARIANTS } from './native-invariants';

export interface InvariantContext {
  /** The resource the element belongs to (%resource). */
  resource: unknown;
  /** The outermost resource (%rootResource: the container for a contained resource). */
  rootResource: unknown;
}

/** Outcome of one evaluation: pass, fail, or could not be evaluated (with the reason). */
export type InvariantResult = true | false | { error: string };

export interface Invariant {
  key: string;
  severity: 'error' | 'warning';
  human: string;
  /** Present for invariants this engine evaluates; absent for ones handled elsewhere (ele-1, txt-*). */
  evaluate?: (value: unknown, ctx: InvariantContext) => InvariantResult;
}

/** A native check; undefined means "not the shape it reads": the expression is evaluated instead. */
type Native = (value: unknown, ctx: InvariantContext) => boolean | undefined;

const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Native implementations keyed by `key|expression` (whitespace-normalised R4 text). */
const NATIVE = new Map<string, Native | null>([
  // Walker-level: ele-1 is checked on every item directly; txt-* by the XHTML checks; dom-6 is best practice.
  ['ele-1|hasValue() or (children().count() > id.count())', null],
  ['txt-1|htmlChecks()', null],
  ['txt-2|htmlChecks()', null],
  ['dom-6|text.`div`.exists()', null],
  ['ext-1|extension.exists() != value.exists()', (v) => {
    const o = v as Record<string, unknown>;
    const hasExt = Array.isArray(o.extension) && o.extension.length > 0;
    const hasValue = Object.keys(o).some((k) => k.startsWith('value'));
    return hasExt !== hasValue;
  }],
  ['dom-2|contained.contained.empty()', (v) => contained(v).every((c) => !Array.isArray(c.contained) || c.contained.length === 0)],
  ['dom-4|contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()', (v) => contained(v).every((c) => {
    const m = c.meta as Record<string, unknown> | undefined;
    return !m || (m.versionId === undefined && m.lastUpdated === undefined);
  })],
  ['dom-5|contained.meta.security.empty()', (v) => contained(v).every((c) => {
    const m = c.meta as Record<string, unknown> | undefined;
    return !m || !Array.isArray(m.security) || m.security.length === 0;
  })],
  ['per-1|start.hasValue().not() or end.hasValue().not() or (start <= end)', (v) => {
    const o = v as Record<string, unknown>;
    if (typeof o.start !== 'string' || typeof o.end !== 'string') return true;
    const c = compareDateTimes(o.start, o.end);
    return c <= 0;
  }],
  ["ref-1|reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))", (v, ctx) => {
    const ref = (v as Record<string, unknown>).reference;
    if (typeof ref !== 'string' || !ref.startsWith('#') || ref === '#') return true;
    return contained(ctx.rootResource).some((c) => c.id === ref.slice(1));
  }],
  ...NATIVE_RESOURCE_INVARIANTS,
]);

/**
 * R4 invariants whose published expression contradicts their own text; the reference validator
 * evaluates the corrected form (que-12's text says "more than one enableWhen").
 */
const CORRECTED = new Map<string, string>([
  ['que-12|enableWhen.count() > 2 implies enableBehavior.exists()', 'enableWhen.count() > 1 implies enableBehavior.exists()'],
]);

/** FHIRPath `name.exists()` on a JSON object: the property, its `_` sibling, or a choice variant. */
function has(v: unknown, name: string): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const x = o[name];
  if (x !== undefined && x !== null && !(Array.isArray(x) && x.length === 0)) return true;
  if (o[`_${name}`] !== undefined) return true;
  for (const k in o) if (k.length > name.length && k.startsWith(name) && k.charCodeAt(name.length) >= 65 && k.charCodeAt(name.length) <= 90) return true;
  return false;
}

/**
 * The commonest datatype invariant shapes (cpt-2, qty-3, att-1, sqty-1, pat-1 …) compiled
 * natively: `a.empty() or b.exists()`, `a.empty()`, `a.exists() or b.exists() [or …]`.
 * Anything else → fhirpath.
 */
function simpleNative(expr: string): Native | undefined {
  let m = /^(\w+)\.empty\(\) or (\w+)\.exists\(\)$/.exec(expr);
  if (m) { const a = m[1]!; const b = m[2]!; return (v) => !has(v, a) || has(v, b); }
  m = /^(\w+)\.empty\(\)$/.exec(expr);
  if (m) { const a = m[1]!; return (v) => !has(v, a); }
  if (/^\w+\.exists\(\)( or \w+\.exists\(\))+$/.test(expr)) {
    const names = expr.split(' or ').map((t) => t.slice(0, -'.exists()'.length));
    return (v) => names.some((n) => has(v, n));
  }
  return undefined;
}

/** dom-3 is checked natively by the resource walker (it needs the whole resource once). */
const DOM3_PREFIX = "dom-3|contained.where((('#'+id in";

function contained(v: unknown): Record<string, unknown>[] {
  const c = (v as Record<string, unknown> | undefined)?.contained;
  return Array.isArray(c) ? c.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];
}

/**
 * Order two FHIR date/dateTime strings. Equal-precision strings compare lexically (same
 * offset assumed); with time zones, compare instants. Partial dates compare on the shared
 * precision, which is how FHIRPath treats "2020" vs "2020-05" (not strictly ordered → pass).
 */
export function compareDateTimes(a: string, b: string): number {
  const hasTime = (s: string): boolean => s.includes('T');
  if (hasTime(a) && hasTime(b)) {
    const ta = Date.parse(a); const tb = Date.parse(b);
    if (!Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
  }
  const n = Math.min(a.length, b.length, 10);
  const pa = a.slice(0, n); const pb = b.slice(0, n);
  if (pa !== pb) return pa < pb ? -1 : 1;
  // Equal at the shared precision but different precisions: FHIRPath gives empty (unknown),
  // which an invariant does not accept as true; report as "not ordered".
  return a.length === b.length ? 0 : NaN;
}

// fhirpath.js is loaded lazily: a validator that only ever meets native invariants never pays for it.
interface FhirpathModule { compile: (expr: unknown, model?: unknown, opts?: unknown) => (res: unknown, env?: Record<string, unknown>) => unknown[]; parse: (expr: string) => unknown }
let fp: { mod: FhirpathModule; model: unknown } | undefined;
function fhirpath(): { mod: FhirpathModule; model: unknown } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  fp ??= { mod: require('fhirpath') as FhirpathModule, model: require('fhirpath/fhir-context/r4') as unknown };
  return fp;
}

const syntaxCache = new Map<string, string | null>();

/**
 * The FHIRPath (N1, §"Grammar") syntax error in `expression`, or undefined when it parses. Used
 * for Expression values, SearchParameter expressions and invariants in definitions.
 */
export function fhirpathSyntaxError(expression: string): string | undefined {
  let hit = syntaxCache.get(expression);
  if (hit === undefined) {
    try {
      fhirpath().mod.parse(expression);
      hit = null;
    } catch (e) {
      hit = (e as Error).message.split('\n')[0]!.slice(0, 200);
    }
    if (syntaxCache.size < 10_000) syntaxCache.set(expression, hit);
  }
  return hit ?? undefined;
}

const compiled = new Map<string, ((res: unknown, env?: Record<string, unknown>) => unknown[]) | { error: string }>();

function compileFhirpath(base: string, expression: string): ((res: unknown, env?: Record<string, unknown>) => unknown[]) | { error: string } {
  const k = `${base}|${expression}`;
  let f = compiled.get(k);
  if (!f) {
    try {
      const { mod, model } = fhirpath();
      f = mod.compile({ base, expression }, model, { async: false, traceFn: () => undefined });
    } catch (e) {
      f = { error: (e as Error).message.slice(0, 200) };
    }
    compiled.set(k, f);
  }
  return f;
}

/** Evaluate an invariant expression with fhirpath.js (compiled on first use). */
function viaFhirpath(base: string, expression: string, v: unknown, ctx: InvariantContext): InvariantResult {
  const f = compileFhirpath(base, expression);
  if (typeof f !== 'function') return { error: f.error };
  try {
    const r = f(v, { resource: ctx.resource, rootResource: ctx.rootResource, context: v });
    if (r.length === 0) return true; // empty is not false in FHIRPath invariant semantics
    return r.every((x) => x === true || (typeof x === 'object' && x !== null && (x as { valueOf(): unknown }).valueOf() === true));
  } catch (err) {
    // fhirpath.js also throws non-Error values (a wrongly typed operand, e.g. a boolean
    // probabilityDecimal in ras-2): their text, never an exception of our own.
    return { error: (err instanceof Error ? err.message : String(err)).slice(0, 200) };
  }
}

/** Compile an element's constraints (once, at profile compile time; fhirpath on first use). */
export function compileInvariants(e: ElementDefinition): Invariant[] {
  const out: Invariant[] = [];
  for (const c of e.constraint ?? []) {
    if (!c.expression) continue;
    const bestPractice = c.extension?.some((x) => x.url === 'http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice' && x.valueBoolean === true);
    if (bestPractice) continue;
    const severity = c.severity === 'error' ? 'error' : 'warning';
    const key = `${c.key}|${norm(c.expression)}`;
    if (key.startsWith(DOM3_PREFIX)) continue;
    const native = NATIVE.has(key) ? NATIVE.get(key) : simpleNative(norm(c.expression));
    if (native === null) continue;
    const base = e.path;
    const expression = CORRECTED.get(key) ?? c.expression;
    if (native) {
      out.push({ key: c.key, severity, human: c.human, evaluate: (v, ctx) => native(v, ctx) ?? viaFhirpath(base, expression, v, ctx) });
      continue;
    }
    out.push({ key: c.key, severity, human: c.human, evaluate: (v, ctx) => viaFhirpath(base, expression, v, ctx) });
  }
  return out;
}
