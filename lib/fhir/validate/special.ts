/**
 * Resource-specific rules of the reference validator that hold in FHIR R4 core without a
 * terminology server: canonical URLs must be absolute (R4 §2.2 "Canonical URLs" — a relative
 * canonical cannot be resolved) and ValueSet.compose include/exclude systems must be absolute
 * (R4 ValueSet: "system: an absolute URI"); CodeSystem supplements declare content 'supplement'
 * and property codes/URIs are unique (R4 CodeSystem §4.8, csd-* rules as the reference applies them).
 */
import type { Run } from './context';
import { SNOMED_CT } from './binding';
import { ABSOLUTE_URI, isObj, type Obj } from './json-value';
import { plausibleSctId } from '../../terminology/sctid';

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
  if (rt === 'ValueSet' && isObj(res.compose)) {
    for (const part of ['include', 'exclude'] as const) {
      const list = res.compose[part];
      if (!Array.isArray(list)) continue;
      list.forEach((inc, i) => {
        if (isObj(inc) && typeof inc.system === 'string' && !ABSOLUTE_URI.test(inc.system)) {
          run.add('error', 'invalid', `URI values in ValueSet.compose.${part}.system must be absolute`, `${path}.compose.${part}[${i}]`, 'VALUESET_INCLUDE_SYSTEM_ABSOLUTE');
        }
        if (isObj(inc) && inc.system === SNOMED_CT && Array.isArray(inc.concept) && run.engine.opts.terminology !== 'off') {
          inc.concept.forEach((c, k) => {
            if (isObj(c) && typeof c.code === 'string' && !plausibleSctId(c.code)) {
              run.add('error', 'business-rule', `The code '${c.code.slice(0, 64)}' is not a valid SNOMED CT identifier`, `${path}.compose.${part}[${i}].concept[${k}]`, 'VALUESET_INCLUDE_INVALID_CONCEPT_CODE');
            }
          });
        }
      });
    }
  }
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
