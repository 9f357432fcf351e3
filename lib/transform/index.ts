/**
 * HL7 v2 ↔ FHIR R4 UK Core transforms (DESIGN.md §1 `lib/transform`).
 */
export { hl7ToFhir, SUPPORTED_TYPES, ADT_EVENTS, type Bundle, type TransformResult, type Hl7ToFhirOptions } from './hl7-to-fhir';
export { patientToAdt, isoToHl7, type PatientToAdtOptions, type PatientToAdtResult } from './fhir-to-hl7';
export { DEFAULT_TABLES, mergeTables, loadTables, type MappingTables, type MappedCoding } from './tables';
export { stableId } from './ids';
