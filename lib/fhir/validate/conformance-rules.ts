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
        if (bases.includes(n) || n === 'Resource' || n === 'DomainResource' || run.engine.profile(n)?.kind !== 'resource') continue;
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

/** Does `elPath` name an element of `type` (following datatypes and renamed choices)? */
function pathExists(run: Run, type: string, elPath: string): boolean {
  const segs = elPath.split('.');
  let sd = run.engine.src.structureDefinition(type);
  if (!sd || segs[0] !== (sd.type ?? type)) return !sd; // an unknown type is not ours to judge
  let prefix: string = sd.type ?? type;
  for (let k = 1; k < segs.length; k++) {
    const seg = segs[k]!;
    const els = (sd?.snapshot?.element ?? []) as { path: string; type?: { code: string }[] }[];
    const exact = els.find((e) => e.path === `${prefix}.${seg}`);
    const choice = exact ? undefined : els.find((e) => e.path.endsWith('[x]') && e.path.startsWith(`${prefix}.`) && e.path.split('.').length === prefix.split('.').length + 1
      && seg.startsWith(e.path.slice(prefix.length + 1, -3)) && (seg.endsWith('[x]') || (e.type ?? []).some((t) => seg === e.path.slice(prefix.length + 1, -3) + t.code.charAt(0).toUpperCase() + t.code.slice(1))));
    const el = exact ?? choice;
    if (!el) {
      // a base whose snapshot lists a choice by its renamed forms (valueString, …) still has value[x]
      if (seg.endsWith('[x]') && els.some((e) => e.path.startsWith(`${prefix}.${seg.slice(0, -3)}`))) return true;
      return false;
    }
    prefix = el.path;
    if (k < segs.length - 1 && !els.some((e) => e.path.startsWith(`${prefix}.`))) {
      // descend into the element's datatype
      const t = choice && !seg.endsWith('[x]') ? seg.slice(el.path.slice(el.path.lastIndexOf('.') + 1, -3).length) : el.type?.length === 1 ? el.type[0]!.code : undefined;
      if (!t) return true; // several types and no rename: cannot tell which, so do not reject
      const tsd = run.engine.src.structureDefinition(t);
      if (!tsd) return true;
      sd = tsd;
      prefix = tsd.type ?? t;
    }
  }
  return true;
}

/**
 * StructureDefinition: differential element ids agree with their paths and name elements of the
 * base type (what snapshot generation needs), and every constraint expression parses.
 */
export function checkStructureDefinition(run: Run, sd: Obj, path: string): void {
  const diff = isObj(sd.differential) && Array.isArray(sd.differential.element) ? sd.differential.element : [];
  const type = typeof sd.type === 'string' ? sd.type : undefined;
  if (sd.derivation === 'constraint' && type && run.engine.src.structureDefinition(type)) {
    diff.forEach((e, i) => {
      if (!isObj(e) || typeof e.path !== 'string') return;
      const at = `${path}.differential.element[${i}]`;
      if (typeof e.id === 'string') {
        const idSegs = e.id.split('.').map((x) => x.replace(/:.*$/, ''));
        const idPath = idSegs.join('.');
        const pSegs = e.path.split('.');
        const agree = idSegs.length === pSegs.length && idSegs.every((x, k) => x === pSegs[k] || (x.endsWith('[x]') && pSegs[k]!.startsWith(x.slice(0, -3))));
        if (!agree) {
          run.add('error', 'invalid', `Error generating Snapshot: The path must be '${idPath.slice(0, 200)}' not '${e.path.slice(0, 200)}' (the element id and path disagree)`, at, 'SNAPSHOT_PATH_MISMATCH');
          return;
        }
      }
      if (!pathExists(run, type, e.path)) {
        run.add('error', 'invalid', `Error generating Snapshot: The path '${e.path.slice(0, 200)}' is not an element of ${type}`, at, 'SNAPSHOT_PATH_UNKNOWN');
      }
    });
  }
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
