/**
 * Conformance-resource rules of the reference validator that need no terminology server (FHIR
 * R4 SearchParameter §"derivedFrom", CapabilityStatement.rest.resource.searchParam,
 * OperationDefinition.inputProfile/outputProfile, StructureDefinition constraints) and FHIRPath
 * expressions wherever they occur (R4 Expression datatype with language `text/fhirpath`,
 * SearchParameter.expression, ElementDefinition.constraint.expression): expressions must parse.
 */
import type { Run } from './context';
import { fhirpathSyntaxError } from './invariants';
import { isObj, type Obj } from './json-value';
import { coreSearchParameter } from './source';

/** The resource types whose names appear as the first step of a SearchParameter expression. */
function firstNames(expression: string): string[] {
  // split on top-level '|' only (unions), ignoring string literals and brackets
  const out: string[] = [];
  let depth = 0; let start = 0; let inStr = false;
  for (let i = 0; i <= expression.length; i++) {
    const c = expression[i];
    if (inStr) { if (c === '\\') i++; else if (c === "'") inStr = false; continue; }
    if (c === "'") inStr = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if ((c === '|' && depth === 0) || c === undefined) {
      const term = expression.slice(start, i).trim().replace(/^\(+\s*/, '');
      const m = /^([A-Z][A-Za-z]+)\b/.exec(term);
      if (m) out.push(m[1]!);
      start = i + 1;
    }
  }
  return out;
}

const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);

/** SearchParameter: expression parses and starts from a listed base; derivedFrom agrees on base, type and expression. */
export function checkSearchParameter(run: Run, sp: Obj, path: string): void {
  const bases = strings(sp.base);
  const generic = bases.some((b) => b === 'Resource' || b === 'DomainResource');
  if (typeof sp.expression === 'string') {
    const err = fhirpathSyntaxError(sp.expression);
    if (err) {
      run.add('error', 'invalid', `Error in search expression '${sp.expression.slice(0, 200)}': ${err}`, `${path}.expression`, 'SEARCHPARAMETER_EXPRESSION_ERROR');
    } else if (!generic && bases.length) {
      for (const n of firstNames(sp.expression)) {
        if (bases.includes(n) || run.engine.profile(n)?.kind !== 'resource') continue;
        run.add('error', 'invalid', `Error in search expression '${sp.expression.slice(0, 200)}': The name '${n}' is not valid for any of the possible types: [${bases.join(', ')}]`, `${path}.expression`, 'SEARCHPARAMETER_EXPRESSION_ERROR');
        break;
      }
    }
  }
  if (typeof sp.derivedFrom !== 'string') return;
  const master = coreSearchParameter(sp.derivedFrom);
  if (!master) {
    run.add('warning', 'business-rule', `The search parameter this is derived from (${sp.derivedFrom.slice(0, 200)}) could not be found`, path, 'SEARCHPARAMETER_NOTFOUND');
    return;
  }
  const mBases = strings(master.base);
  for (const b of bases) {
    if (!mBases.includes(b) && !mBases.includes('Resource')) {
      run.add('error', 'business-rule', `The resource type ${b} is not listed as a base in the SearchParameter this is derived from (${sp.derivedFrom.slice(0, 200)})`, path, 'SEARCHPARAMETER_BASE_WRONG');
    }
  }
  if (typeof sp.type === 'string' && typeof master.type === 'string' && sp.type !== master.type) {
    run.add('error', 'business-rule', `The type ${sp.type} is different to the type ${master.type} in the derivedFrom SearchParameter (${sp.derivedFrom.slice(0, 200)})`, path, 'SEARCHPARAMETER_TYPE_WRONG');
  }
  if (typeof sp.expression === 'string' && typeof master.expression === 'string' && sp.expression !== master.expression) {
    const canon = (e: string): string => e.split('|').map((t) => t.trim()).filter((t) => { const n = /^\(?([A-Z][A-Za-z]+)\b/.exec(t)?.[1]; return !n || bases.includes(n) || run.engine.profile(n)?.kind !== 'resource'; }).sort().join(' | ');
    if (canon(sp.expression) !== canon(master.expression)) {
      run.add('warning', 'business-rule', `The expression '${sp.expression.slice(0, 200)}' is not compatible with the expression '${master.expression.slice(0, 200)}' in the derivedFrom SearchParameter, and this likely indicates that the derivation relationship is not valid`, path, 'SEARCHPARAMETER_EXP_WRONG');
    }
  }
}

/** CapabilityStatement: a search parameter's declared type agrees with its definition. */
export function checkCapabilityStatement(run: Run, cs: Obj, path: string): void {
  (Array.isArray(cs.rest) ? cs.rest : []).forEach((rest, r) => {
    if (!isObj(rest)) return;
    (Array.isArray(rest.resource) ? rest.resource : []).forEach((res, k) => {
      if (!isObj(res)) return;
      (Array.isArray(res.searchParam) ? res.searchParam : []).forEach((p, i) => {
        if (!isObj(p) || typeof p.definition !== 'string') return;
        const def = coreSearchParameter(p.definition);
        const at = `${path}.rest[${r}].resource[${k}].searchParam[${i}]`;
        if (!def) return;
        if (typeof p.type === 'string' && typeof def.type === 'string' && p.type !== def.type) {
          run.add('error', 'business-rule', `Type mismatch - SearchParameter '${p.definition.slice(0, 200)}' type is ${def.type}, but type here is ${p.type}`, at, 'CAPABALITYSTATEMENT_CS_SP_WRONGTYPE');
        }
      });
    });
  });
}

/** OperationDefinition: input/output profiles exist and are Parameters profiles. */
export function checkOperationDefinition(run: Run, od: Obj, path: string): void {
  for (const [key, use] of [['inputProfile', 'in'], ['outputProfile', 'out']] as const) {
    const url = od[key];
    if (typeof url !== 'string') continue;
    const sd = run.engine.src.structureDefinition(url);
    if (!sd) run.add('error', 'not-found', `The ${use} profile '${url.slice(0, 200)}' could not be found`, `${path}.${key}`, 'OPDEF_PROFILE_NOT_FOUND');
    else if (sd.type !== 'Parameters') run.add('error', 'invalid', `The ${use} profile '${url.slice(0, 200)}' is not a profile on Parameters`, `${path}.${key}`, 'OPDEF_PROFILE_NOT_PARAMETERS');
  }
}

/** StructureDefinition: every constraint expression in the snapshot and differential is FHIRPath that parses. */
export function checkStructureDefinition(run: Run, sd: Obj, path: string): void {
  for (const part of ['snapshot', 'differential'] as const) {
    const holder = sd[part];
    if (!isObj(holder) || !Array.isArray(holder.element)) continue;
    holder.element.forEach((e, i) => {
      if (!isObj(e) || !Array.isArray(e.constraint)) return;
      e.constraint.forEach((c, k) => {
        if (!isObj(c) || typeof c.expression !== 'string') return;
        const err = fhirpathSyntaxError(c.expression);
        if (err) run.add('error', 'invalid', `Expression '${c.expression.slice(0, 200)}' has illegal content: ${err}`, `${path}.${part}.element[${i}].constraint[${k}].expression`, 'ED_INVARIANT_EXPRESSION_ERROR');
      });
    });
  }
}

/** The R4 Expression datatype: a `text/fhirpath` expression must parse. */
export function checkExpression(run: Run, v: Obj, path: string): void {
  if (v.language !== 'text/fhirpath' || typeof v.expression !== 'string') return;
  const err = fhirpathSyntaxError(v.expression);
  if (err) run.add('error', 'invalid', `The FHIRPath expression '${v.expression.slice(0, 200)}' is not valid: ${err}`, `${path}.expression`, 'FHIRPATH_SYNTAX');
}
