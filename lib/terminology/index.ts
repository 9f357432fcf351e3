/**
 * Terminology for the suite (DESIGN.md §1 `lib/terminology`): SNOMED CT identifier checks, map
 * tables (CSV, FHIR R4 ConceptMap, RF2 extended/complex maps, Read v2 / CTV3), the FHIR R4
 * terminology-server client, the local ValueSet engine and the `nhs-snomed-map` behaviour.
 */
export { checkSctId, isValidSctId, plausibleSctId, verhoeffDigit, verhoeffValid, type SctIdCheck, type SctIdResult } from './sctid';
export { MapSet, isNegative, toEquivalence, type Equivalence, type MapResult, type MapTable, type MapTarget, type Provenance, type SourceCode } from './maps';
export { loadMapFile, conceptMapTable, detectFormat, SNOMED_CT, ICD_10, OPCS_4, READ_V2, CTV3, type LoadOptions } from './map-loaders';
export { evaluateRule, type PatientContext } from './map-rules';
export { MapSource, type MapFileSpec } from './map-source';
export { TerminologyClient, type TerminologyClientOptions, type ClientStats } from './client';
export { RemoteBindingCache, type BindingQuery } from './remote-bindings';
export { ValueSetExpander, type CodeCheck } from './valueset';
export { snomedMap, checkOptions, type SnomedMapOptions, type SnomedMapOutput, type SnomedCode, type SnomedResult } from './snomed-map';
