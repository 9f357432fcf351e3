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

/** CodeSystem rules (R4 CodeSystem.supplements, CodeSystem.property). */
export function checkCodeSystem(run: Run, res: Obj, path: string): void {
  if (typeof res.supplements === 'string' && res.content !== 'supplement') {
    run.add('error', 'business-rule', "CodeSystem Supplements SHALL have a content value of 'supplement'", `${path}.content`, 'CODESYSTEM_CS_SUPP_INVALID_CONTENT');
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
