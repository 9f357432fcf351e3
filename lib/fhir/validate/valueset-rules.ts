/**
 * ValueSet.compose rules the reference validator applies without a terminology server (FHIR R4
 * ValueSet §4.9.5 "Value Set Content", CodeSystem.filter / CodeSystem.property, "Using SNOMED
 * CT with FHIR" filters; reference ValueSetValidator and its code-system checkers):
 * include systems are absolute, unversioned, code systems (not value sets, not supplements);
 * listed concepts exist in code systems held completely (SNOMED CT ids well formed); filters
 * use a property the code system knows with an operator it allows, values of the property's
 * type (boolean, code, dateTime, decimal, integer; a valid regex for `regex`), codes that exist
 * for `concept`/`code`, SNOMED CT ECL for `constraint`/`expression`; filter value expressions
 * (`cqf-expression`) are FHIRPath that compiles and uses only declared value set parameters,
 * and each declared parameter is used.
 */
import { parseEcl } from '../../terminology/ecl';
import { plausibleSctId } from '../../terminology/sctid';
import { SNOMED_CT } from './binding';
import type { Run } from './context';
import { fhirpathSyntaxError } from './invariants';
import { ABSOLUTE_URI, isObj, type Obj } from './json-value';

const PARAMETER_EXT = 'http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter';
const CQF_EXPRESSION = 'http://hl7.org/fhir/StructureDefinition/cqf-expression';

type FilterType = 'boolean' | 'code' | 'dateTime' | 'decimal' | 'integer' | 'coding' | 'string';
interface FilterRules { type: FilterType | undefined; ops: Set<string>; validateCode: 'error' | 'warning' | 'none' }

/** Operators R4 allows on `concept` (ValueSet.compose.include.filter.op, filter-operator). */
const CONCEPT_OPS = ['=', 'in', 'is-a', 'descendent-of', 'is-not-a', 'generalizes', 'not-in'];
/** Properties every code system has (CodeSystem "Properties" defined by FHIR for all systems). */
const BASE_PROPERTIES = ['concept', 'code', 'status', 'inactive', 'effectiveDate', 'deprecationDate', 'retirementDate', 'notSelectable', 'synonym', 'comment', 'itemWeight'];
/** SNOMED CT filters ("Using SNOMED CT with FHIR": concept, constraint/expression (ECL), expressions). */
const SNOMED_PROPERTIES = ['constraint', 'expression', 'expressions', 'parent', 'child', 'moduleId', 'semanticTag', 'effectiveTime', 'definitionStatusId'];

const DATETIME = /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?)?)?)?$/;
const SEARCH_PREFIX = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)/;

function baseRules(property: string): FilterRules | undefined {
  switch (property) {
    case 'concept': return { type: 'code', ops: new Set(CONCEPT_OPS), validateCode: 'error' };
    case 'code': return { type: 'code', ops: new Set(['regex', ...CONCEPT_OPS]), validateCode: 'error' };
    case 'status': case 'synonym': return { type: 'code', ops: new Set(), validateCode: 'none' };
    case 'inactive': case 'notSelectable': return { type: 'boolean', ops: new Set(), validateCode: 'none' };
    case 'effectiveDate': case 'deprecationDate': case 'retirementDate': return { type: 'dateTime', ops: new Set(), validateCode: 'none' };
    case 'parent': case 'child': case 'partOf': return { type: 'code', ops: new Set(), validateCode: 'error' };
    case 'itemWeight': return { type: 'decimal', ops: new Set(), validateCode: 'none' };
    default: return undefined;
  }
}

/** Property names a filter may use for this system, and the rules for one of them (reference CodeSystemChecker family). */
function knownProperties(system: string, cs: Obj | undefined): string[] {
  const names = [...BASE_PROPERTIES];
  if (system === SNOMED_CT) names.push(...SNOMED_PROPERTIES);
  if (cs) {
    if (typeof cs.hierarchyMeaning === 'string') names.push('parent', 'child', 'partOf');
    for (const f of Array.isArray(cs.filter) ? cs.filter : []) if (isObj(f) && typeof f.code === 'string') names.push(f.code);
    for (const p of Array.isArray(cs.property) ? cs.property : []) if (isObj(p) && typeof p.code === 'string') names.push(p.code);
  }
  return names;
}

function rulesFor(system: string, cs: Obj | undefined, property: string): FilterRules | undefined {
  const ops = new Set<string>();
  if (cs) {
    for (const f of Array.isArray(cs.filter) ? cs.filter : []) {
      if (isObj(f) && f.code === property && Array.isArray(f.operator)) for (const o of f.operator) if (typeof o === 'string') ops.add(o);
    }
    for (const p of Array.isArray(cs.property) ? cs.property : []) {
      if (!isObj(p) || p.code !== property || typeof p.type !== 'string') continue;
      switch (p.type) {
        case 'boolean': return { type: 'boolean', ops, validateCode: 'none' };
        case 'code': return { type: 'code', ops, validateCode: 'warning' };
        case 'Coding': return { type: 'coding', ops, validateCode: 'none' };
        case 'dateTime': return { type: 'dateTime', ops, validateCode: 'none' };
        case 'decimal': return { type: 'decimal', ops, validateCode: 'none' };
        case 'integer': return { type: 'integer', ops, validateCode: 'none' };
        case 'string': return undefined;
        default: break;
      }
    }
  }
  if (system === SNOMED_CT) {
    if (property === 'constraint' || property === 'expression') return { type: 'string', ops: new Set(['=']), validateCode: 'none' };
    if (property === 'expressions') return { type: 'boolean', ops: new Set(['=']), validateCode: 'none' };
  }
  const base = baseRules(property);
  if (!base) return ops.size ? { type: undefined, ops, validateCode: 'none' } : undefined;
  for (const o of ops) base.ops.add(o);
  return base;
}

function allCodes(cs: Obj): Set<string> {
  const out = new Set<string>();
  const walk = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const c of list) if (isObj(c)) { if (typeof c.code === 'string') out.add(c.code); walk(c.concept); }
  };
  walk(cs.concept);
  return out;
}

/** 'ok', 'bad' or 'unknown' for a code of `system` without a server. */
function codeKnown(system: string, cs: Obj | undefined, code: string): 'ok' | 'bad' | 'unknown' {
  if (system === SNOMED_CT) return plausibleSctId(code) ? 'unknown' : 'bad';
  if (cs && cs.content === 'complete') return allCodes(cs).has(code) ? 'ok' : 'bad';
  return 'unknown';
}

/** Declared value set parameters (tooling extension valueset-parameter), by name. */
function declaredParameters(vs: Obj): Map<string, { i: number; used: boolean }> {
  const out = new Map<string, { i: number; used: boolean }>();
  (Array.isArray(vs.extension) ? vs.extension : []).forEach((x, i) => {
    if (!isObj(x) || x.url !== PARAMETER_EXT || !Array.isArray(x.extension)) return;
    const n: unknown = (x.extension as unknown[]).find((y) => isObj(y) && y.url === 'name');
    const name = isObj(n) ? (n.valueCode ?? n.valueString) : undefined;
    if (typeof name === 'string') out.set(name, { i, used: false });
  });
  return out;
}

/** `%name` constants used in a FHIRPath expression (outside string literals). */
function constantsIn(expr: string): string[] {
  const noStrings = expr.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  const out: string[] = [];
  for (const m of noStrings.matchAll(/%(`[^`]+`|[A-Za-z_][A-Za-z0-9_-]*)/g)) out.push(m[1]!.replace(/`/g, ''));
  return out;
}

const FHIRPATH_ENV = new Set(['resource', 'rootResource', 'context', 'ucum', 'sct', 'loinc', 'us-zip', 'terminologies', 'server', 'factory']);

export function checkValueSet(run: Run, vs: Obj, path: string): void {
  const params = declaredParameters(vs);
  const compose = vs.compose;
  if (isObj(compose)) {
    for (const part of ['include', 'exclude'] as const) {
      const list = compose[part];
      if (!Array.isArray(list)) continue;
      list.forEach((inc, i) => { if (isObj(inc)) checkInclude(run, inc, `${path}.compose.${part}[${i}]`, part, params); });
    }
  }
  for (const [name, p] of params) {
    if (!p.used) run.add('warning', 'business-rule', `The value set parameter '${name.slice(0, 64)}' is not used`, `${path}.extension[${p.i}]`, 'VALUESET_PARAMETER_NOT_USED');
  }
}

function checkInclude(run: Run, inc: Obj, at: string, part: string, params: Map<string, { i: number; used: boolean }>): void {
  const src = run.engine.src;
  const tx = run.engine.opts.terminology !== 'off';
  let system = typeof inc.system === 'string' ? inc.system : undefined;
  if (system !== undefined) {
    if (!ABSOLUTE_URI.test(system)) run.add('error', 'invalid', `URI values in ValueSet.compose.${part}.system must be absolute`, at, system.startsWith('#') ? 'VALUESET_INCLUDE_SYSTEM_ABSOLUTE_FRAG' : 'VALUESET_INCLUDE_SYSTEM_ABSOLUTE');
    const bar = system.indexOf('|');
    if (bar >= 0) {
      const ver = system.slice(bar + 1);
      system = system.slice(0, bar);
      if (ver) run.add('error', 'business-rule', `The system URL carries a version ('${ver.slice(0, 64)}'); use ValueSet.compose.${part}.version instead`, at, 'VALUESET_REFERENCE_INVALID_TYPE_NO_VERSION_1');
    }
  }
  const cs = system !== undefined ? src.codeSystem(system) : undefined;
  if (system !== undefined && tx) {
    if (cs?.content === 'supplement') {
      run.add('error', 'invalid', `The code system '${system.slice(0, 200)}' is a supplement, and cannot be included in a value set`, at, 'VALUESET_INCLUDE_CS_SUPPLEMENT');
    } else if (!cs && src.valueSet(system)) {
      run.add('error', 'invalid', `The system '${system.slice(0, 200)}' is a value set, not a code system`, at, 'VALUESET_INCLUDE_WRONG_VS');
    }
  }
  if (system !== undefined && tx && Array.isArray(inc.concept)) {
    inc.concept.forEach((c, k) => {
      if (!isObj(c) || typeof c.code !== 'string') return;
      const known = codeKnown(system, cs?.content === 'supplement' ? undefined : cs, c.code);
      if (known === 'bad') {
        run.add('error', 'business-rule', system === SNOMED_CT ? `The code '${c.code.slice(0, 64)}' is not a valid SNOMED CT identifier` : `The code '${c.code.slice(0, 64)}' is not valid in the system ${system.slice(0, 200)}`, `${at}.concept[${k}]`, 'VALUESET_INCLUDE_INVALID_CONCEPT_CODE');
      }
    });
  }
  if (system === undefined || !Array.isArray(inc.filter)) return;
  const filters = inc.filter;
  filters.forEach((f, k) => {
    if (!isObj(f)) return;
    const fAt = `${at}.filter[${k}]`;
    const property = typeof f.property === 'string' ? f.property : undefined;
    const op = typeof f.op === 'string' ? f.op : undefined;
    const value = typeof f.value === 'string' ? f.value : undefined;
    const ext = isObj(f._value) ? f._value : undefined;
    const expr: unknown = isObj(ext) && Array.isArray(ext.extension) ? (ext.extension as unknown[]).find((x) => isObj(x) && x.url === CQF_EXPRESSION) : undefined;
    if (property === undefined) return;
    const known = knownProperties(system, cs).includes(property) || (system === SNOMED_CT && /^[1-9][0-9]{5,17}$/.test(property));
    if (!known) {
      if (cs) run.add('warning', 'invalid', `The property '${property.slice(0, 64)}' is not known for the code system ${system.slice(0, 200)}`, fAt, 'VALUESET_UNKNOWN_FILTER_PROPERTY');
      return;
    }
    const rules = rulesFor(system, cs, property);
    if (!rules) return;
    if (op !== undefined && rules.ops.size && !rules.ops.has(op)) {
      run.add('error', 'invalid', `The operation '${op}' is not allowed for property '${property.slice(0, 64)}' (allowed: ${[...rules.ops].join(', ')}) in system ${system.slice(0, 200)}`, fAt, 'VALUESET_BAD_FILTER_OP');
    }
    if (value === undefined) {
      if (isObj(expr)) checkFilterExpression(run, expr, `${fAt}.value`, params);
      return; // an absent value is the cardinality rule's (ValueSet.compose.include.filter.value 1..1)
    }
    if (isObj(expr)) run.add('error', 'invalid', 'A filter cannot have both a value and an expression', fAt, 'VALUESET_BAD_FILTER_EXPR_AND_VALUE');
    const vAt = `${fAt}.value`;
    if (op === 'regex') {
      let err: string | undefined;
      try { new RegExp(value, 'u'); } catch (e) { err = (e as Error).message.slice(0, 120); }
      if (err) run.add('error', 'invalid', `The value for a regex filter on '${property.slice(0, 64)}' is not a valid regular expression: ${err}`, vAt, 'VALUESET_BAD_FILTER_VALUE_VALID_REGEX');
      if (property === 'concept') run.add('error', 'invalid', "The 'regex' operator cannot be used with the 'concept' property (use 'code')", fAt, 'VALUESET_BAD_PROPERTY_NO_REGEX');
      return;
    }
    if (op === 'exists') { checkValue(run, system, cs, property, 'exists', value, { type: 'boolean', ops: rules.ops, validateCode: 'none' }, vAt, tx); return; }
    if (system === SNOMED_CT && (property === 'constraint' || property === 'expression') && tx) {
      for (const x of parseEcl(value, vAt).issues) run.issues.push(x);
      return;
    }
    const values = op === 'in' || op === 'not-in' ? value.split(',') : [value];
    for (const v of values) checkValue(run, system, cs, property, op, v, rules, vAt, tx);
  });
}

function checkValue(run: Run, system: string, cs: Obj | undefined, property: string, op: string | undefined, value: string, rules: FilterRules, at: string, tx: boolean): void {
  const v0 = op === 'in' || op === 'not-in' ? value.trim() : value;
  switch (rules.type) {
    case 'boolean':
      if (v0 !== 'true' && v0 !== 'false') run.add('error', 'invalid', `The value for a filter based on property '${property.slice(0, 64)}' must be a boolean (true or false), not '${v0.slice(0, 64)}'`, at, 'VALUESET_BAD_FILTER_VALUE_BOOLEAN');
      return;
    case 'code': {
      if (v0.trim() !== v0 || v0 === '') { run.add('error', 'invalid', `The value for a filter based on property '${property.slice(0, 64)}' must be a valid code, not '${v0.slice(0, 64)}'`, at, 'VALUESET_BAD_FILTER_VALUE_CODE'); return; }
      if (!tx || rules.validateCode === 'none') return;
      if (system === SNOMED_CT && !/^[0-9]+$/.test(v0) && parseEcl(v0).ok) {
        // an ECL expression where a concept id belongs: meaningful to a server, but not this property's form
        run.add('warning', 'invalid', `The value '${v0.slice(0, 64)}' for property '${property.slice(0, 64)}' is an ECL expression, not a concept id (use the 'constraint' property for ECL)`, at, 'VALUESET_BAD_FILTER_VALUE_VALID_CODE');
        return;
      }
      if (codeKnown(system, cs, v0) === 'bad') {
        run.add(rules.validateCode === 'error' ? 'error' : 'warning', 'invalid', `The value for a filter based on property '${property.slice(0, 64)}' must be a valid code from the system '${system.slice(0, 200)}', and '${v0.slice(0, 64)}' is not`, at, 'VALUESET_BAD_FILTER_VALUE_VALID_CODE');
      }
      return;
    }
    case 'dateTime': {
      const d = SEARCH_PREFIX.test(v0) ? v0.slice(2) : v0;
      if (!DATETIME.test(d)) run.add('error', 'invalid', `The value for a filter based on property '${property.slice(0, 64)}' must be a valid date(/time), not '${v0.slice(0, 64)}'`, at, 'VALUESET_BAD_FILTER_VALUE_DATETIME');
      return;
    }
    case 'decimal': {
      const d = SEARCH_PREFIX.test(v0) ? v0.slice(2) : v0;
      if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(d)) run.add('error', 'invalid', `The value for a filter based on property '${property.slice(0, 64)}' must be a valid decimal, not '${v0.slice(0, 64)}'`, at, 'VALUESET_BAD_FILTER_VALUE_DECIMAL');
      return;
    }
    case 'integer': {
      const d = SEARCH_PREFIX.test(v0) ? v0.slice(2) : v0;
      if (!/^-?[0-9]+$/.test(d)) run.add('error', 'invalid', `The value for a filter based on property '${property.slice(0, 64)}' must be a valid integer, not '${v0.slice(0, 64)}'`, at, 'VALUESET_BAD_FILTER_VALUE_INTEGER');
      return;
    }
    case 'coding':
      if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s|]+(\|[^\s#]+)?#\S+$/.test(v0) && !/^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s|]+\|\S+$/.test(v0)) {
        run.add('error', 'invalid', `The value for a filter based on property '${property.slice(0, 64)}' must be a Coding (system#code), not '${v0.slice(0, 64)}'`, at, 'VALUESET_BAD_FILTER_VALUE_CODED');
      }
      return;
    default:
      return;
  }
}

function checkFilterExpression(run: Run, ext: Obj, at: string, params: Map<string, { i: number; used: boolean }>): void {
  const e = ext.valueExpression;
  if (!isObj(e)) return;
  const where = `${at}.extension.value.ofType(Expression)`;
  if (e.language !== 'text/fhirpath') {
    run.add('error', 'invalid', `The filter expression language must be 'text/fhirpath', not '${String(e.language).slice(0, 64)}'`, where, 'VALUESET_BAD_FILTER_EXPR_LANG');
    return;
  }
  if (typeof e.expression !== 'string') return;
  const err = fhirpathSyntaxError(e.expression);
  if (err) { run.add('error', 'exception', `The filter expression '${e.expression.slice(0, 200)}' is not valid FHIRPath: ${err}`, where, 'VALUESET_BAD_FILTER_EXPR_VALUE'); return; }
  for (const c of constantsIn(e.expression)) {
    const p = params.get(c);
    if (p) p.used = true;
    else if (!FHIRPATH_ENV.has(c) && !c.startsWith('vs-') && !c.startsWith('ext-')) {
      run.add('error', 'exception', `The filter parameter expression '${e.expression.slice(0, 200)}' refers to the unknown parameter '${c.slice(0, 64)}'`, where, 'VALUESET_BAD_FILTER_EXPR_PARAM_NAME');
    }
  }
}
