/**
 * Rule families of the reference validator implemented without a terminology server, each with
 * valid and invalid instances of our own written from the FHIR R4 specification: resource-level
 * JSON rules, Bundle rules (§2.36, documents §3.3, messages §3.4, search §3.1.0.3), ValueSet
 * compose rules and SNOMED CT ECL filters, conformance resources (SearchParameter,
 * CapabilityStatement, OperationDefinition, StructureDefinition), FHIRPath expressions, and
 * Questionnaire / QuestionnaireResponse.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createValidator } from '../../../lib/fhir/validator';
import { MESSAGE_ID_EXTENSION, type Issue, type OperationOutcome } from '../../../lib/outcome';

const v = createValidator();
type R = Record<string, unknown>;
const errors = (o: OperationOutcome): Issue[] => o.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
const ids = (o: OperationOutcome, sev: 'error' | 'warning' = 'error'): string[] => o.issue.filter((i) => (sev === 'error' ? i.severity === 'error' || i.severity === 'fatal' : i.severity === sev))
  .map((i) => i.extension?.find((e) => e.url === MESSAGE_ID_EXTENSION)?.valueString ?? i.diagnostics ?? '');

/** Table row: name, instance, message id expected as an error (undefined: valid, no errors at all). */
type Row = [string, R, string | undefined];
function table(rows: Row[]): void {
  for (const [name, res, id] of rows) {
    it(`${id ? 'invalid' : 'valid'}: ${name}`, () => {
      const o = v.validate(res);
      if (id === undefined) assert.deepEqual(errors(o).map((i) => `${i.expression?.[0] ?? ''} ${i.diagnostics ?? ''}`), []);
      else assert.ok(ids(o).includes(id), `expected ${id}, got ${JSON.stringify(errors(o).map((i) => i.diagnostics))}`);
    });
  }
}

const patient: R = { resourceType: 'Patient', id: 'p1', name: [{ family: 'Testperson' }] };
const SP_BASE = 'http://hl7.org/fhir/SearchParameter/Organization-name';

describe('resource-level JSON rules (R4 JSON representation)', () => {
  table([
    ['a plain Patient', patient, undefined],
    ['extensions on a primitive (_birthDate)', { ...patient, birthDate: '1980-01-01', _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1980-01-01T10:00:00Z' }] } }, undefined],
    ['a display that is the code system display, in another case', { ...patient, maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M', display: 'married' }] } }, undefined],
    ['a wrong display for a terminology.hl7.org code (only a warning: displays change between versions)', { ...patient, maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M', display: 'Wedded' }] } }, undefined],
    ['a wrong display for a code of an R4 code system', { resourceType: 'Basic', code: { coding: [{ system: 'http://hl7.org/fhir/administrative-gender', code: 'male', display: 'Man' }] } }, 'Display_Name_for__should_be_one_of__instead_of'],
    ['fhir_comments (DSTU2 only) at the root', { ...patient, fhir_comments: ['note'] }, 'UNRECOGNISED_PROPERTY_'],
    ['fhir_comments inside a datatype', { ...patient, name: [{ family: 'A', fhir_comments: ['x'] }] }, 'UNRECOGNISED_PROPERTY_'],
    ['extensions on Resource.id (_id)', { ...patient, _id: { extension: [{ url: 'http://example.org/x', valueString: 'a' }] } }, 'UNRECOGNISED_PROPERTY_'],
    ['a modifier extension in modifierExtension', { resourceType: 'NutritionOrder', status: 'active', intent: 'order', patient: { reference: 'Patient/p1' }, dateTime: '2024-01-01', modifierExtension: [{ url: 'http://hl7.org/fhir/StructureDefinition/request-doNotPerform', valueBoolean: true }] }, undefined],
    ['a modifier extension in extension', { resourceType: 'NutritionOrder', status: 'active', intent: 'order', patient: { reference: 'Patient/p1' }, dateTime: '2024-01-01', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/request-doNotPerform', valueBoolean: true }] }, 'Extension_EXT_Modifier_Y'],
    ['an ordinary extension in modifierExtension', { ...patient, modifierExtension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Leeds' } }] }, 'Extension_EXT_Modifier_N'],
    ['a complex extension with its defined sub-extensions', { ...patient, extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-nationality', extension: [{ url: 'code', valueCodeableConcept: { text: 'British' } }] }] }, undefined],
    ['a complex extension with a sub-extension it does not define', { ...patient, extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-nationality', extension: [{ url: 'colour', valueString: 'x' }] }] }, 'Extension_EXT_SubExtension_Invalid'],
    ['extensions on Element.id (_id)', { ...patient, name: [{ family: 'A', id: 'n', _id: { extension: [{ url: 'http://example.org/x', valueString: 'a' }] } }] }, 'UNRECOGNISED_PROPERTY_'],
  ]);
});

const entry = (fullUrl: string | undefined, resource: R, extra: R = {}): R => ({ ...(fullUrl ? { fullUrl } : {}), resource, ...extra });
const comp = (refs: R = {}): R => ({ resourceType: 'Composition', id: 'c1', status: 'final', type: { text: 'Letter' }, date: '2024-01-01', author: [{ reference: 'urn:uuid:2b7c0d4e-0000-4000-8000-000000000002' }], title: 'Letter', subject: { reference: 'urn:uuid:2b7c0d4e-0000-4000-8000-000000000001' }, ...refs });
const docPatient = entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000001', { resourceType: 'Patient', id: 'p1' });
const docAuthor = entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000002', { resourceType: 'Practitioner', id: 'pr1' });
const doc = (entries: R[], extra: R = {}): R => ({ resourceType: 'Bundle', id: 'b1', identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:2b7c0d4e-0000-4000-8000-0000000000ff' }, type: 'document', timestamp: '2024-01-01T10:00:00Z', entry: entries, ...extra });

describe('Bundle rules', () => {
  table([
    ['a document whose entries are all reachable from the Composition', doc([entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000000', comp()), docPatient, docAuthor]), undefined],
    ['a document with a Provenance pointing back at the Composition (reverse link)', doc([entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000000', comp()), docPatient, docAuthor,
      entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000003', { resourceType: 'Provenance', id: 'pv', target: [{ reference: 'urn:uuid:2b7c0d4e-0000-4000-8000-000000000000' }], recorded: '2024-01-01T10:00:00Z', agent: [{ who: { reference: 'urn:uuid:2b7c0d4e-0000-4000-8000-000000000002' } }] })]), undefined],
    ['a document whose Binary is linked only through an Attachment url', doc([entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000000', comp({ section: [{ title: 'Letter', entry: [{ reference: 'urn:uuid:2b7c0d4e-0000-4000-8000-000000000004' }] }] })), docPatient, docAuthor,
      entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000004', { resourceType: 'DocumentReference', id: 'dr', status: 'current', content: [{ attachment: { contentType: 'application/pdf', url: 'urn:uuid:2b7c0d4e-0000-4000-8000-000000000005' } }] }),
      entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000005', { resourceType: 'Binary', id: 'bin', contentType: 'application/pdf' })]), undefined],
    ['a transaction whose entries use relative references to server resources and no fullUrl', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/123' } }, request: { method: 'POST', url: 'Observation' } }] }, undefined],
    ['a document with an entry nothing links to', doc([entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000000', comp()), docPatient, docAuthor, entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000009', { resourceType: 'Organization', id: 'o9', name: 'Orphan' })]), 'BUNDLE_BUNDLE_ENTRY_ORPHAN_DOCUMENT'],
    ['a document whose first entry is not a Composition', doc([docPatient, entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000000', comp()), docAuthor]), 'BUNDLE_BUNDLE_ENTRY_DOCUMENT'],
    ['a document with no entries', doc([]), 'BUNDLE_BUNDLE_ENTRY_NOFIRST'],
    ['a document reference that is not in the bundle', doc([entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000000', comp({ encounter: { reference: 'urn:uuid:2b7c0d4e-0000-4000-8000-0000000000ee' } })), docPatient, docAuthor]), 'BUNDLE_BUNDLE_ENTRY_NOTFOUND'],
    ['a relative reference resolved against the entry base, versioned', doc([entry('http://example.org/fhir/Composition/c1', comp({ subject: { reference: 'Patient/p1/_history/2' }, author: [{ reference: 'Practitioner/pr1' }] })),
      entry('http://example.org/fhir/Patient/p1', { resourceType: 'Patient', id: 'p1', meta: { versionId: '2' } }), entry('http://example.org/fhir/Practitioner/pr1', { resourceType: 'Practitioner', id: 'pr1' })]), undefined],
    ['a versioned reference to another version', doc([entry('http://example.org/fhir/Composition/c1', comp({ subject: { reference: 'Patient/p1/_history/1' }, author: [{ reference: 'Practitioner/pr1' }] })),
      entry('http://example.org/fhir/Patient/p1', { resourceType: 'Patient', id: 'p1', meta: { versionId: '2' } }), entry('http://example.org/fhir/Practitioner/pr1', { resourceType: 'Practitioner', id: 'pr1' })]), 'BUNDLE_BUNDLE_ENTRY_NOTFOUND'],
    ['a message whose first entry is not a MessageHeader', { resourceType: 'Bundle', type: 'message', timestamp: '2024-01-01T10:00:00Z', identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:2b7c0d4e-0000-4000-8000-0000000000aa' }, entry: [docPatient] }, 'VALIDATION_BUNDLE_MESSAGE'],
    ['a collection entry without fullUrl', { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'p1' } }] }, 'BUNDLE_BUNDLE_ENTRY_FULLURL_REQUIRED'],
    ['a transaction entry without fullUrl', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }] }, undefined],
    ['a RESTful fullUrl whose resource has no id', { resourceType: 'Bundle', type: 'collection', entry: [entry('http://example.org/fhir/Patient/p1', { resourceType: 'Patient' })] }, 'BUNDLE_ENTRY_URL_MATCHES_NO_ID'],
    ['a "next" link in a collection', { resourceType: 'Bundle', type: 'collection', link: [{ relation: 'next', url: 'http://example.org/fhir/x' }], entry: [entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000001', { resourceType: 'Patient', id: 'p1' })] }, 'BUNDLE_LINK_SEARCH_PROHIBITED'],
    ['a searchset with a match result of the searched type', { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'self', url: 'http://example.org/fhir/Patient?name=x' }], entry: [entry('http://example.org/fhir/Patient/p1', { resourceType: 'Patient', id: 'p1' }, { search: { mode: 'match' } })] }, undefined],
    ['a searchset match of another type', { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'self', url: 'http://example.org/fhir/Patient?name=x' }], entry: [entry('http://example.org/fhir/Organization/o1', { resourceType: 'Organization', id: 'o1', name: 'x' }, { search: { mode: 'match' } })] }, 'BUNDLE_SEARCH_ENTRY_WRONG_RESOURCE_TYPE_MODE'],
    ['a searchset outcome entry that is not an OperationOutcome', { resourceType: 'Bundle', type: 'searchset', entry: [entry('http://example.org/fhir/Patient/p1', { resourceType: 'Patient', id: 'p1' }, { search: { mode: 'outcome' } })] }, 'BUNDLE_SEARCH_ENTRY_WRONG_RESOURCE_TYPE_OUTCOME'],
    ['a relative reference with too many path segments', { resourceType: 'Bundle', type: 'collection', entry: [entry('http://example.org/fhir/Observation/o1', { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1/x' } })] }, 'REFERENCE_REF_FORMAT2'],
    ['a relative reference from an entry without fullUrl (collection)', { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } } }] }, 'BUNDLE_BUNDLE_FULLURL_MISSING'],
    ['a reference whose fullUrl match is another resource type', { resourceType: 'Bundle', type: 'collection', entry: [entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000011', { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/2b7c0d4e-0000-4000-8000-000000000012' } }),
      entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000012', { resourceType: 'Group', id: 'g1', type: 'person', actual: true })] }, 'REFERENCE_REF_RESOURCETYPE'],
    ['a batch-response entry without fullUrl may use relative references', { resourceType: 'Bundle', type: 'batch-response', entry: [{ resource: { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } }, response: { status: '200' } }] }, undefined],
    ['two entries with one fullUrl matched by a reference', doc([entry('urn:uuid:2b7c0d4e-0000-4000-8000-000000000000', comp()), docPatient, docPatient, docAuthor]), 'BUNDLE_BUNDLE_MULTIPLEMATCHES'],
  ]);
});

const vs = (include: R, extra: R = {}): R => ({ resourceType: 'ValueSet', url: 'http://example.org/fhir/ValueSet/x', status: 'draft', compose: { include: [include] }, ...extra });
const SCT = 'http://snomed.info/sct';
const f = (property: string, op: string, value: string): R => ({ filter: [{ property, op, value }] });

describe('ValueSet compose rules (filters, ECL, parameters)', () => {
  table([
    ['SNOMED CT is-a filter', vs({ system: SCT, ...f('concept', 'is-a', '404684003') }), undefined],
    ['SNOMED CT ECL constraint', vs({ system: SCT, ...f('constraint', '=', '<< 73211009 |Diabetes mellitus| MINUS << 426875007') }), undefined],
    ['SNOMED CT ECL with a syntax error', vs({ system: SCT, ...f('constraint', '=', '<< 73211009 AND') }), 'SNOMED_ECL_SYNTAX'],
    ['SNOMED CT concept filter with a malformed id', vs({ system: SCT, ...f('concept', 'is-a', '404684004') }), 'VALUESET_BAD_FILTER_VALUE_VALID_CODE'],
    ['regex on concept', vs({ system: SCT, ...f('concept', 'regex', '4.*') }), 'VALUESET_BAD_FILTER_OP'],
    ['an operator the code system does not allow for the property', vs({ system: 'http://hl7.org/fhir/administrative-gender', ...f('concept', 'exists', 'true') }), 'VALUESET_BAD_FILTER_OP'],
    ['a code filter with a valid regex', vs({ system: 'http://hl7.org/fhir/administrative-gender', ...f('code', 'regex', '^(male|female)$') }), undefined],
    ['a code filter with a broken regex', vs({ system: 'http://hl7.org/fhir/administrative-gender', ...f('code', 'regex', '([a-z') }), 'VALUESET_BAD_FILTER_VALUE_VALID_REGEX'],
    ['a concept filter naming a code the local code system lacks', vs({ system: 'http://hl7.org/fhir/administrative-gender', ...f('concept', 'is-a', 'robot') }), 'VALUESET_BAD_FILTER_VALUE_VALID_CODE'],
    ['a boolean property with a non-boolean value', vs({ system: SCT, ...f('inactive', '=', 'yes') }), 'VALUESET_BAD_FILTER_VALUE_BOOLEAN'],
    ['an include system that is a value set', vs({ system: 'http://hl7.org/fhir/ValueSet/administrative-gender', concept: [{ code: 'male' }] }), 'VALUESET_INCLUDE_WRONG_VS'],
    ['an include system carrying |version', vs({ system: 'http://hl7.org/fhir/administrative-gender|4.0.1', concept: [{ code: 'male' }] }), 'VALUESET_REFERENCE_INVALID_TYPE_NO_VERSION_1'],
    ['a listed concept missing from a complete local code system', vs({ system: 'http://hl7.org/fhir/administrative-gender', concept: [{ code: 'robot' }] }), 'VALUESET_INCLUDE_INVALID_CONCEPT_CODE'],
    ['a filter value expression using a declared parameter', vs({ system: SCT, filter: [{ property: 'inactive', op: '=', _value: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/cqf-expression', valueExpression: { language: 'text/fhirpath', expression: '%p-inactive' } }] } }] },
      { extension: [{ url: 'http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter', extension: [{ url: 'name', valueCode: 'p-inactive' }, { url: 'documentation', valueMarkdown: 'inactive codes?' }] }] }), undefined],
    ['a filter value expression using an undeclared parameter', vs({ system: SCT, filter: [{ property: 'inactive', op: '=', _value: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/cqf-expression', valueExpression: { language: 'text/fhirpath', expression: '%p-other' } }] } }] }), 'VALUESET_BAD_FILTER_EXPR_PARAM_NAME'],
  ]);
});

describe('conformance resources and FHIRPath expressions', () => {
  const sp = (extra: R): R => ({ resourceType: 'SearchParameter', url: 'http://example.org/fhir/SearchParameter/x', name: 'x', status: 'draft', description: 'x', code: 'name', ...extra });
  table([
    ['a SearchParameter derived from a core one, same base and type', sp({ derivedFrom: SP_BASE, base: ['Organization'], type: 'string', expression: 'Organization.name | Organization.alias' }), undefined],
    ['a derived SearchParameter on a base its parent lacks', sp({ derivedFrom: SP_BASE, base: ['Patient'], type: 'string', expression: 'Patient.name' }), 'SEARCHPARAMETER_BASE_WRONG'],
    ['a derived SearchParameter of another type', sp({ derivedFrom: SP_BASE, base: ['Organization'], type: 'token', expression: 'Organization.name' }), 'SEARCHPARAMETER_TYPE_WRONG'],
    ['a SearchParameter expression that does not parse', sp({ base: ['Patient'], type: 'string', expression: 'Patient.name.where(' }), 'SEARCHPARAMETER_EXPRESSION_ERROR'],
    ['a SearchParameter expression starting from a type not in base', sp({ base: ['Patient'], type: 'string', expression: 'Organization.name' }), 'SEARCHPARAMETER_EXPRESSION_ERROR'],
    ['a CapabilityStatement search parameter typed like its definition', { resourceType: 'CapabilityStatement', status: 'draft', date: '2024-01-01', kind: 'instance', fhirVersion: '4.0.1', format: ['json'], implementation: { description: 'x' },
      rest: [{ mode: 'server', resource: [{ type: 'Patient', searchParam: [{ name: 'name', definition: 'http://hl7.org/fhir/SearchParameter/Patient-name', type: 'string' }] }] }] }, undefined],
    ['a CapabilityStatement search parameter typed unlike its definition', { resourceType: 'CapabilityStatement', status: 'draft', date: '2024-01-01', kind: 'instance', fhirVersion: '4.0.1', format: ['json'], implementation: { description: 'x' },
      rest: [{ mode: 'server', resource: [{ type: 'Patient', searchParam: [{ name: 'name', definition: 'http://hl7.org/fhir/SearchParameter/Patient-name', type: 'token' }] }] }] }, 'CAPABALITYSTATEMENT_CS_SP_WRONGTYPE'],
    ['an OperationDefinition whose inputProfile is not a Parameters profile', { resourceType: 'OperationDefinition', name: 'x', status: 'draft', kind: 'operation', code: 'x', system: true, type: false, instance: false, inputProfile: 'http://hl7.org/fhir/StructureDefinition/Patient' }, 'OPDEF_PROFILE_NOT_PARAMETERS'],
    ['a StructureDefinition constraint that does not parse', { resourceType: 'StructureDefinition', url: 'http://example.org/fhir/StructureDefinition/p', name: 'P', status: 'draft', kind: 'resource', abstract: false, type: 'Patient', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient', derivation: 'constraint',
      differential: { element: [{ id: 'Patient', path: 'Patient', constraint: [{ key: 'x-1', severity: 'error', human: 'x', expression: 'name.exists(' }] }] } }, 'ED_INVARIANT_EXPRESSION_ERROR'],
    ['a profile whose differential names real elements (renamed choice, datatype child)', { resourceType: 'StructureDefinition', url: 'http://example.org/fhir/StructureDefinition/o', name: 'O', status: 'draft', kind: 'resource', abstract: false, type: 'Observation', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation', derivation: 'constraint',
      differential: { element: [{ id: 'Observation.value[x]:valueQuantity', path: 'Observation.valueQuantity', sliceName: 'valueQuantity' }, { id: 'Observation.value[x]:valueQuantity.unit', path: 'Observation.valueQuantity.unit', min: 1 }, { id: 'Observation.code.coding.system', path: 'Observation.code.coding.system', min: 1 }] } }, undefined],
    ['a profile whose differential id and path disagree', { resourceType: 'StructureDefinition', url: 'http://example.org/fhir/StructureDefinition/o', name: 'O', status: 'draft', kind: 'resource', abstract: false, type: 'Observation', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation', derivation: 'constraint',
      differential: { element: [{ id: 'Observation.valueQuantity', path: 'Observation.valueBla' }] } }, 'SNAPSHOT_PATH_MISMATCH'],
    ['a profile constraining an element the type does not have', { resourceType: 'StructureDefinition', url: 'http://example.org/fhir/StructureDefinition/o', name: 'O', status: 'draft', kind: 'resource', abstract: false, type: 'Observation', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation', derivation: 'constraint',
      differential: { element: [{ id: 'Observation.colour', path: 'Observation.colour', min: 1 }] } }, 'SNAPSHOT_PATH_UNKNOWN'],
    ['a complete CodeSystem whose count matches its concepts', { resourceType: 'CodeSystem', url: 'http://example.org/fhir/cs', status: 'draft', content: 'complete', count: 3, concept: [{ code: 'a', concept: [{ code: 'a1' }] }, { code: 'b' }] }, undefined],
    ['a complete CodeSystem whose count is wrong', { resourceType: 'CodeSystem', url: 'http://example.org/fhir/cs', status: 'draft', content: 'complete', count: 2, concept: [{ code: 'a', concept: [{ code: 'a1' }] }, { code: 'b' }] }, 'CODESYSTEM_CS_COUNT_COMPLETE_WRONG'],
    ['a not-present CodeSystem listing concepts', { resourceType: 'CodeSystem', url: 'http://example.org/fhir/cs', status: 'draft', content: 'not-present', concept: [{ code: 'a' }] }, 'CODESYSTEM_CS_COUNT_NO_CONTENT_ALLOWED'],
    ['a supplement with caseSensitive', { resourceType: 'CodeSystem', url: 'http://example.org/fhir/cs-supp', status: 'draft', content: 'supplement', supplements: 'http://hl7.org/fhir/administrative-gender', caseSensitive: true, concept: [{ code: 'male', designation: [{ language: 'cy', value: 'Gwryw' }] }] }, 'CODESYSTEM_CS_HL7_PRESENT_ELEMENT_SUPPL'],
    ['a supplement adding a code its code system lacks', { resourceType: 'CodeSystem', url: 'http://example.org/fhir/cs-supp', status: 'draft', content: 'supplement', supplements: 'http://hl7.org/fhir/administrative-gender', concept: [{ code: 'robot', designation: [{ language: 'cy', value: 'Robot' }] }] }, 'CODESYSTEM_CS_SUPP_INVALID_CODE'],
    ['a supplement of real codes', { resourceType: 'CodeSystem', url: 'http://example.org/fhir/cs-supp', status: 'draft', content: 'supplement', supplements: 'http://hl7.org/fhir/administrative-gender', concept: [{ code: 'male', designation: [{ language: 'cy', value: 'Gwryw' }] }] }, undefined],
    ['a text/fhirpath Expression that parses', { resourceType: 'PlanDefinition', status: 'draft', action: [{ condition: [{ kind: 'applicability', expression: { language: 'text/fhirpath', expression: "%patient.gender = 'female'" } }] }] }, undefined],
    ['a text/fhirpath Expression that does not parse', { resourceType: 'PlanDefinition', status: 'draft', action: [{ condition: [{ kind: 'applicability', expression: { language: 'text/fhirpath', expression: '%patient.gender = ' } }] }] }, 'FHIRPATH_SYNTAX'],
    ['a text/cql Expression is not judged as FHIRPath', { resourceType: 'PlanDefinition', status: 'draft', action: [{ condition: [{ kind: 'applicability', expression: { language: 'text/cql', expression: 'define X: [Patient] P where' } }] }] }, undefined],
  ]);
});

const vs0 = (include: R): R => ({ resourceType: 'ValueSet', status: 'draft', compose: { include: [include] } });

describe('Questionnaire and QuestionnaireResponse', () => {
  const q = (items: R[]): R => ({ resourceType: 'Questionnaire', id: 'q', status: 'draft', item: items });
  const item = (linkId: string, type: string, extra: R = {}): R => ({ linkId, text: linkId, type, ...extra });
  const qr = (items: R[], qItems: R[], extra: R = {}): R => ({ resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: '#q', contained: [q(qItems)], item: items, ...extra });
  const qItems = [item('smoker', 'boolean', { required: true }), item('packs', 'integer', { enableWhen: [{ question: 'smoker', operator: '=', answerBoolean: true }] }),
    item('colour', 'choice', { answerOption: [{ valueCoding: { system: 'http://example.org/c', code: 'red' } }, { valueCoding: { system: 'http://example.org/c', code: 'blue' } }] })];
  table([
    ['a Questionnaire whose enableWhen targets an earlier question with the right answer type', q(qItems), undefined],
    ['an enableWhen target that does not exist', q([item('a', 'boolean'), item('b', 'string', { enableWhen: [{ question: 'zz', operator: '=', answerBoolean: true }] })]), 'QUESTIONNAIRE_Q_ENABLEWHEN_NOTARGET'],
    ['an enableWhen that refers to itself', q([item('a', 'boolean', { enableWhen: [{ question: 'a', operator: '=', answerBoolean: true }] })]), 'QUESTIONNAIRE_Q_ENABLEWHEN_SELF'],
    ['an enableWhen that refers to an inner question', q([item('g', 'group', { enableWhen: [{ question: 'in', operator: '=', answerBoolean: true }], item: [item('in', 'boolean')] })]), 'QUESTIONNAIRE_Q_ENABLEWHEN_ISINNER'],
    ['an enableWhen answer type that does not fit the question', q([item('a', 'boolean'), item('b', 'string', { enableWhen: [{ question: 'a', operator: '=', answerString: 'yes' }] })]), 'QUESTIONNAIRE_Q_ENABLEWHEN_TYPE'],
    ['a QuestionnaireResponse matching its contained Questionnaire', qr([{ linkId: 'smoker', text: 'smoker', answer: [{ valueBoolean: true }] }, { linkId: 'packs', answer: [{ valueInteger: 2 }] }, { linkId: 'colour', answer: [{ valueCoding: { system: 'http://example.org/c', code: 'red' } }] }], qItems), undefined],
    ['an answer of the wrong type', qr([{ linkId: 'smoker', answer: [{ valueString: 'yes' }] }], qItems), 'QUESTIONNAIRE_QR_ITEM_WRONGTYPE'],
    ['an unknown linkId', qr([{ linkId: 'smoker', answer: [{ valueBoolean: false }] }, { linkId: 'nope', answer: [{ valueBoolean: true }] }], qItems), 'QUESTIONNAIRE_QR_ITEM_NOTFOUND'],
    ['a required question left unanswered', qr([{ linkId: 'colour', answer: [{ valueCoding: { system: 'http://example.org/c', code: 'red' } }] }], qItems), 'QUESTIONNAIRE_QR_ITEM_MISSING'],
    ['two answers to a question that does not repeat', qr([{ linkId: 'smoker', answer: [{ valueBoolean: true }, { valueBoolean: false }] }], qItems), 'QUESTIONNAIRE_QR_ITEM_ONLYONEA'],
    ['an answer outside the answer options', qr([{ linkId: 'smoker', answer: [{ valueBoolean: false }] }, { linkId: 'colour', answer: [{ valueCoding: { system: 'http://example.org/c', code: 'green' } }] }], qItems), 'QUESTIONNAIRE_QR_ITEM_NOOPTIONS'],
    ['items out of order', qr([{ linkId: 'colour', answer: [{ valueCoding: { system: 'http://example.org/c', code: 'red' } }] }, { linkId: 'smoker', answer: [{ valueBoolean: false }] }], qItems), 'QUESTIONNAIRE_QR_ITEM_ORDER'],
    ['text that differs from the Questionnaire', qr([{ linkId: 'smoker', text: 'Do you vape?', answer: [{ valueBoolean: false }] }], qItems), 'QUESTIONNAIRE_QR_ITEM_TEXT'],
    ['an answerValueSet pointing at a contained ValueSet', { resourceType: 'Questionnaire', status: 'draft', contained: [{ resourceType: 'ValueSet', id: 'vs', status: 'draft' }], item: [{ linkId: 'a', type: 'choice', answerValueSet: '#vs' }] }, undefined],
    ['an answerValueSet pointing at a contained CodeSystem', { resourceType: 'Questionnaire', status: 'draft', contained: [{ resourceType: 'CodeSystem', id: 'cs', url: 'http://example.org/fhir/cs', status: 'draft', content: 'complete' }], item: [{ linkId: 'a', type: 'choice', answerValueSet: '#cs' }] }, 'TYPE_SPECIFIC_CHECKS_DT_CANONICAL_TYPE'],
    ['a value set import naming a code system', vs0({ valueSet: ['http://hl7.org/fhir/administrative-gender'] }), 'TYPE_SPECIFIC_CHECKS_DT_CANONICAL_TYPE'],
    ['a questionnaire reference that resolves to another resource type', { resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: '#q', contained: [{ resourceType: 'ValueSet', id: 'q', status: 'draft' }] }, 'QUESTIONNAIRE_QR_Q_WRONG_TYPE'],
  ]);
});
