/**
 * Terminology checks (FHIR R4 ElementDefinition.binding, §4.1 "Using Codes"): required bindings
 * are errors, extensible ones warnings, preferred/example are not checked. Codes from systems we
 * cannot enumerate locally (SNOMED CT, LOINC, …) are reported by strictness, never as an error
 * unless `terminology: 'strict'`. Codings are also checked against CodeSystems we hold completely.
 */
import type { IssueSeverity } from '../../outcome';
import type { ENode } from './compile';
import type { Run } from './context';
import { ABSOLUTE_URI, isObj, type Obj } from './json-value';
import { plausibleSctId } from '../../terminology/sctid';
import type { CodeCheck } from '../../terminology/valueset';
import { checkUcum } from './ucum';

export const UCUM = 'http://unitsofmeasure.org';

export const SNOMED_CT = 'http://snomed.info/sct';

/** Severity for "cannot tell" under the configured strictness. */
function unknownSeverity(run: Run, strength: string): IssueSeverity | undefined {
  const t = run.engine.opts.terminology;
  if (t === 'strict') return strength === 'required' ? 'error' : 'warning';
  return 'information'; // lenient: say the code was not checked, never fail on it
}

const QUANTITY_TYPES = new Set(['Quantity', 'Age', 'Duration', 'Distance', 'Count', 'SimpleQuantity', 'MoneyQuantity']);

/**
 * UCUM units on a Quantity (R4 Quantity: "system = http://unitsofmeasure.org" means `code` is a
 * UCUM case-sensitive code): syntax errors are errors; an atom we do not know is a warning.
 */
export function checkQuantityUnit(run: Run, v: Obj, path: string): void {
  if (v.system !== UCUM || typeof v.code !== 'string' || run.engine.opts.terminology === 'off') return;
  const r = checkUcum(v.code);
  if (!r.ok) run.add('error', 'code-invalid', `The UCUM code '${v.code.slice(0, 64)}' is not valid: ${r.error ?? ''}`, `${path}.code`, 'Terminology_TX_Code_NotValid');
  else if (r.unknownAtoms.length) run.add('warning', 'code-invalid', `The UCUM code '${v.code.slice(0, 64)}' uses unit(s) not known here: ${r.unknownAtoms.join(', ').slice(0, 100)}`, `${path}.code`, 'Terminology_TX_Code_NotValid');
}

/** The local expander's answer; what it cannot enumerate, a terminology server may answer (remoteCodes). */
function codeCheck(run: Run, vs: string, system: string | undefined, code: string): CodeCheck {
  const r = run.engine.expander.check(vs, system, code);
  const remote = run.engine.opts.remoteCodes;
  return r === 'unknown' && remote && system ? remote(vs, system, code) : r;
}

export function checkBinding(run: Run, node: ENode, type: string, v: unknown, path: string): void {
  const b = node.binding;
  if (!b || run.engine.opts.terminology === 'off') return;
  if (b.strength !== 'required' && b.strength !== 'extensible') return;
  const exp = run.engine.expander;
  const lenientNhs = run.engine.opts.nhsNumberVerificationLenient && /NHSNumberVerificationStatus/i.test(b.valueSet);
  const failSeverity: IssueSeverity = lenientNhs ? 'information' : b.strength === 'required' ? 'error' : 'warning';
  const vs = b.valueSet;
  if (type === 'code') {
    if (typeof v !== 'string') return;
    const r = exp.check(vs, undefined, v);
    if (r === 'not-in-vs') run.add(failSeverity, 'code-invalid', `The value provided ('${v.slice(0, 64)}') was not found in the value set '${vs}', and a code is ${b.strength === 'required' ? 'required' : 'recommended'} from this value set`, path, 'Terminology_TX_NoValid_1_CC');
    else if (r === 'unknown') { const s = unknownSeverity(run, b.strength); if (s) run.add(s, 'code-invalid', `The code could not be checked against the value set '${vs}' locally`, path, 'Terminology_TX_NoValid_Unknown'); }
    return;
  }
  if (!isObj(v)) return;
  let codings: Obj[];
  if (type === 'Coding') codings = [v];
  else if (type === 'CodeableConcept') codings = Array.isArray(v.coding) ? v.coding.filter(isObj) : [];
  else if (QUANTITY_TYPES.has(type)) {
    // A binding on a Quantity constrains its unit (system + code), never a coded value: a Quantity
    // with no coded unit is not judged by it (FHIR R4 §4.1 "Binding" on Quantity, Observation vital signs).
    if (typeof v.code !== 'string') return;
    codings = [{ system: v.system, code: v.code }];
  } else return; // string bindings are free text
  const withCode = codings.filter((c) => typeof c.code === 'string');
  if (withCode.length === 0) return;
  let unknown = false;
  for (const c of withCode) {
    const r = codeCheck(run, vs, typeof c.system === 'string' ? c.system : undefined, c.code as string);
    if (r === 'ok') return;
    if (r === 'unknown') unknown = true;
  }
  if (unknown) {
    const s = unknownSeverity(run, b.strength);
    if (s) run.add(s, 'code-invalid', `The code(s) could not be checked against the value set '${vs}' locally`, path, 'Terminology_TX_NoValid_Unknown');
    return;
  }
  if (QUANTITY_TYPES.has(type)) {
    // The reference validator grades a unit outside a Quantity's bound value set as a warning
    // whatever the strength (a unit choice is not a coded value); the UCUM syntax itself is checked
    // by checkQuantityUnit.
    run.add(lenientNhs ? 'information' : 'warning', 'code-invalid', `The code provided (${String(v.system)}#${String(v.code).slice(0, 64)}) is not in the value set '${vs}', and a code should come from this value set unless it has no suitable code`, path, 'Terminology_TX_NoValid_Unit');
    return;
  }
  run.add(failSeverity, 'code-invalid', type === 'Coding'
    ? `The Coding provided is not in the value set '${vs}', and a code ${b.strength === 'required' ? 'is required' : 'should come'} from this value set`
    : `None of the codings provided are in the value set '${vs}', and a coding ${b.strength === 'required' ? 'is required' : 'should come'} from this value set`,
  path, type === 'Coding' ? 'Terminology_TX_NoValid_12' : 'Terminology_TX_NoValid_2_CC');
}

/** Coding rules that hold without a binding: absolute system, not a ValueSet URL, code known to a complete local CodeSystem. */
export function checkCoding(run: Run, c: Obj, path: string): void {
  const system = c.system;
  if (typeof system !== 'string') {
    if (typeof c.code === 'string') run.add('warning', 'invalid', 'A code with no system has no defined meaning, and it cannot be validated. A system should be provided', path, 'Terminology_TX_NoSystem');
    return;
  }
  if (!ABSOLUTE_URI.test(system)) {
    run.add('error', 'invalid', 'Coding.system must be an absolute reference, not a local reference', `${path}.system`, 'Terminology_TX_System_Relative');
    return;
  }
  if (run.engine.opts.terminology === 'off') return;
  const src = run.engine.src;
  if (!src.codeSystem(system) && src.valueSet(system)) {
    run.add('error', 'invalid', `The Coding references a value set, not a code system ('${system.slice(0, 200)}')`, `${path}.system`, 'Terminology_TX_System_ValueSet2');
    return;
  }
  if (system === SNOMED_CT && typeof c.code === 'string' && !plausibleSctId(c.code)) {
    run.add('error', 'code-invalid', `The code '${c.code.slice(0, 64)}' is not a valid SNOMED CT identifier`, `${path}.code`, 'Terminology_TX_Code_Unknown');
    return;
  }
  if (typeof c.code !== 'string') return;
  const known = run.engine.expander.inCodeSystem(system, c.code);
  if (known === 'not-in-vs') {
    // PDS still sends the older NHS number verification-status system and codes.
    const lenient = run.engine.opts.nhsNumberVerificationLenient && /NHSNumberVerificationStatus/i.test(system);
    run.add(lenient ? 'information' : 'error', 'code-invalid', `Unknown code '${c.code.slice(0, 64)}' in the CodeSystem '${system.slice(0, 200)}'`, `${path}.code`, 'Terminology_TX_Code_Unknown');
  } else if (known === 'ok' && typeof c.display === 'string') {
    checkDisplay(run, system, c.code, c.display, path);
  }
}

const norm = (s: string): string => s.trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * Coding.display against a code system we hold completely (FHIR R4 Coding.display: "a
 * representation of the meaning of the code in the system"): it must be the concept's display
 * or one of its designations; case and whitespace are not judged. Only for R4's own code systems
 * is a mismatch an error.
 */
function checkDisplay(run: Run, system: string, code: string, display: string, path: string): void {
  const valid = displaysOf(run, system, code);
  if (!valid) return;
  const want = norm(display);
  if (valid.some((x) => norm(x) === want)) return;
  // Code systems of the R4 specification itself are fixed at 4.0.1: a wrong display is an error, as
  // the reference reports it. Others (terminology.hl7.org, package-defined) change displays between
  // versions the reference may resolve differently: a warning, so valid data is never rejected.
  const fixed = system.startsWith('http://hl7.org/fhir/');
  run.add(fixed ? 'error' : 'warning', 'code-invalid', `Wrong Display Name '${display.slice(0, 100)}' for ${system.slice(0, 200)}#${code.slice(0, 64)}. Valid display is ${valid.length > 1 ? 'one of ' : ''}${valid.map((x) => `'${x.slice(0, 100)}'`).join(', ')}`, `${path}.display`, 'Display_Name_for__should_be_one_of__instead_of');
}

/** Valid displays per engine, system and code (looked up once: codings repeat on every message). */
const displayCache = new WeakMap<object, Map<string, string[] | null>>();

function displaysOf(run: Run, system: string, code: string): string[] | undefined {
  let m = displayCache.get(run.engine);
  if (!m) { m = new Map(); displayCache.set(run.engine, m); }
  const k = `${system}\u0000${code}`;
  let hit = m.get(k);
  if (hit === undefined) {
    hit = null;
    const cs = run.engine.src.codeSystem(system);
    const concept = cs && cs.content === 'complete' ? findConcept(cs.concept, code) : undefined;
    if (concept && typeof concept.display === 'string') {
      hit = [concept.display, ...(Array.isArray(concept.designation) ? concept.designation : []).map((d) => (isObj(d) && typeof d.value === 'string' ? d.value : undefined))].filter((x): x is string => typeof x === 'string');
    }
    if (m.size < 100_000) m.set(k, hit);
  }
  return hit ?? undefined;
}

function findConcept(list: unknown, code: string): Obj | undefined {
  if (!Array.isArray(list)) return undefined;
  for (const c of list) {
    if (!isObj(c)) continue;
    if (c.code === code) return c;
    const hit = findConcept(c.concept, code);
    if (hit) return hit;
  }
  return undefined;
}
