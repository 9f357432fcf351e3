/**
 * Resource-specific rules of the reference validator that hold in FHIR R4 core without a
 * terminology server: canonical URLs must be absolute (R4 §2.2 "Canonical URLs" — a relative
 * canonical cannot be resolved) and ValueSet.compose include/exclude systems must be absolute
 * (R4 ValueSet: "system: an absolute URI"); CodeSystem supplements declare content 'supplement'
 * and property codes/URIs are unique (R4 CodeSystem §4.8, csd-* rules as the reference applies them).
 */
import type { Run } from './context';
import { ABSOLUTE_URI, isObj, type Obj } from './json-value';
import { checkValueSet } from './valueset-rules';
import { checkCapabilityStatement, checkOperationDefinition, checkSearchParameter, checkStructureDefinition } from './conformance-rules';
import { checkQuestionnaire, checkQuestionnaireResponse } from './questionnaire';

/** Resource types whose root `url` is a canonical URL (R4 canonical resources). */
const CANONICAL = new Set([
  'ActivityDefinition', 'CapabilityStatement', 'ChargeItemDefinition', 'CodeSystem', 'CompartmentDefinition', 'ConceptMap',
  'EffectEvidenceSynthesis', 'EventDefinition', 'Evidence', 'EvidenceVariable', 'ExampleScenario', 'GraphDefinition',
  'ImplementationGuide', 'Library', 'Measure', 'MessageDefinition', 'NamingSystem', 'OperationDefinition', 'PlanDefinition',
  'Questionnaire', 'ResearchDefinition', 'ResearchElementDefinition', 'RiskEvidenceSynthesis', 'SearchParameter',
  'StructureDefinition', 'StructureMap', 'TerminologyCapabilities', 'TestScript', 'ValueSet',
]);

export function checkSpecial(run: Run, res: Obj, path: string, contained: boolean): void {
  const rt = res.resourceType as string;
  if (CANONICAL.has(rt) && typeof res.url === 'string' && !res.url.startsWith('#') && !ABSOLUTE_URI.test(res.url)) {
    run.add('error', 'invalid', contained ? 'Canonical URLs in contained resources must be absolute URLs if present'
      : 'Canonical URLs must be absolute URLs if they are not fragment references', `${path}.url`, contained ? 'TYPE_SPECIFIC_CHECKS_DT_CANONICAL_CONTAINED' : 'TYPE_SPECIFIC_CHECKS_DT_CANONICAL_ABSOLUTE');
  }
  if (rt === 'CodeSystem') checkCodeSystem(run, res, path);
  if (rt === 'ValueSet') checkValueSet(run, res, path);
  if (rt === 'SearchParameter') checkSearchParameter(run, res, path);
  if (rt === 'CapabilityStatement') checkCapabilityStatement(run, res, path);
  if (rt === 'StructureDefinition') checkStructureDefinition(run, res, path);
  if (rt === 'OperationDefinition') checkOperationDefinition(run, res, path);
  if (rt === 'Questionnaire') checkQuestionnaire(run, res, path);
  if (rt === 'QuestionnaireResponse') checkQuestionnaireResponse(run, res, path);
}

function countConcepts(list: unknown): number {
  if (!Array.isArray(list)) return 0;
  let n = 0;
  for (const c of list) if (isObj(c)) n += 1 + countConcepts(c.concept);
  return n;
}

function codesOf(list: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(list)) for (const c of list) if (isObj(c)) { if (typeof c.code === 'string') out.add(c.code); codesOf(c.concept, out); }
  return out;
}

/**
 * CodeSystem rules (R4 CodeSystem.supplements, content, count, valueSet, property; reference
 * CodeSystemValidator): a supplement has content 'supplement', no caseSensitive or
 * hierarchyMeaning, and only codes of the system it supplements; content 'supplement' needs
 * `supplements`; `count` of a complete system is its number of concepts; a not-present system
 * lists no concepts; an "all codes" value set has one include of exactly this system.
 */
export function checkCodeSystem(run: Run, res: Obj, path: string): void {
  const supplement = typeof res.supplements === 'string';
  if (supplement && res.content !== 'supplement') {
    run.add('error', 'business-rule', "CodeSystem Supplements SHALL have a content value of 'supplement'", `${path}.content`, 'CODESYSTEM_CS_SUPP_INVALID_CONTENT');
  }
  if (supplement) {
    for (const k of ['caseSensitive', 'hierarchyMeaning']) {
      if (res[k] !== undefined) run.add('error', 'business-rule', `CodeSystem Supplements SHALL NOT have a value for ${k}: it comes from the code system supplemented`, `${path}.${k}`, 'CODESYSTEM_CS_HL7_PRESENT_ELEMENT_SUPPL');
    }
    const base = run.engine.src.codeSystem(String(res.supplements).split('|')[0]!);
    if (base && base.content === 'complete' && Array.isArray(res.concept)) {
      const known = codesOf(base.concept);
      res.concept.forEach((c, i) => {
        if (isObj(c) && typeof c.code === 'string' && !known.has(c.code)) run.add('error', 'business-rule', `The code '${c.code.slice(0, 64)}' is not valid in the supplemented code system ${String(res.supplements).slice(0, 200)}`, `${path}.concept[${i}]`, 'CODESYSTEM_CS_SUPP_INVALID_CODE');
      });
    }
  } else if (res.content === 'supplement') {
    run.add('error', 'business-rule', "A CodeSystem with content 'supplement' must say which code system it supplements (CodeSystem.supplements)", `${path}.content`, 'CODESYSTEM_CS_HL7_PRESENT_ELEMENT_SUPPL_MISSING');
  }
  const count = countConcepts(res.concept);
  if (typeof res.count === 'number' && res.content === 'complete' && res.count !== count) {
    run.add('error', 'invalid', `The code system is complete, but the number of concepts (${count}) does not match the stated total (${res.count})`, `${path}.count`, 'CODESYSTEM_CS_COUNT_COMPLETE_WRONG');
  }
  if (res.content === 'not-present' && count > 0) {
    run.add('error', 'invalid', "The code system content is 'not-present', so no concepts are allowed", `${path}.concept[0]`, 'CODESYSTEM_CS_COUNT_NO_CONTENT_ALLOWED');
  }
  if (typeof res.valueSet === 'string' && typeof res.url === 'string') {
    const vs = run.engine.src.valueSet(res.valueSet.split('|')[0]!);
    const inc = isObj(vs) && isObj(vs.compose) && Array.isArray(vs.compose.include) ? vs.compose.include : undefined;
    if (vs && (!inc || inc.length !== 1)) run.add('error', 'business-rule', `CodeSystem ${res.url.slice(0, 200)} has an 'all system' value set of ${res.valueSet.slice(0, 200)}, but it does not have a single include`, path, 'CODESYSTEM_CS_VS_INVALID');
    else if (inc && isObj(inc[0])) {
      const i0 = inc[0];
      if (i0.system !== res.url) run.add('error', 'business-rule', `CodeSystem ${res.url.slice(0, 200)} has an 'all system' value set of ${res.valueSet.slice(0, 200)}, but it doesn't have a matching system (${String(i0.system).slice(0, 200)})`, path, 'CODESYSTEM_CS_VS_WRONGSYSTEM');
      else if (i0.valueSet !== undefined || i0.concept !== undefined || i0.filter !== undefined) run.add('error', 'business-rule', `CodeSystem ${res.url.slice(0, 200)} has an 'all system' value set of ${res.valueSet.slice(0, 200)}, but the include has extra details`, path, 'CODESYSTEM_CS_VS_INCLUDEDETAILS');
    }
  }
  if (!Array.isArray(res.property)) return;
  const codes = new Set<string>(); const uris = new Set<string>();
  res.property.forEach((p, i) => {
    if (!isObj(p)) return;
    if (typeof p.code === 'string') {
      if (codes.has(p.code)) run.add('error', 'business-rule', `A property is already defined with the code '${p.code.slice(0, 64)}'`, `${path}.property[${i}]`, 'CODESYSTEM_PROPERTY_DUPLICATE_CODE');
      codes.add(p.code);
    }
    if (typeof p.uri === 'string') {
      if (uris.has(p.uri)) run.add('error', 'business-rule', `A property is already defined with the URI '${p.uri.slice(0, 200)}'`, `${path}.property[${i}]`, 'CODESYSTEM_PROPERTY_DUPLICATE_URI');
      uris.add(p.uri);
    }
  });
}
