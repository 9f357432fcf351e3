/**
 * The compiled validator against FHIR R4 core (no packages needed): JSON shape, cardinality,
 * types/choice types, primitives, bindings, invariants, Bundle and NHS rules, options.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createValidator } from '../../../lib/fhir/validator';
import { hasErrors, MESSAGE_ID_EXTENSION, type Issue, type OperationOutcome } from '../../../lib/outcome';
import { r4Core, type PackageSource, type StructureDefinition } from '../../../lib/fhir/validate/source';
import { NhsError } from '../../../lib/errors';

const v = createValidator();
const errors = (o: OperationOutcome): Issue[] => o.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
const at = (o: OperationOutcome, expr: string): Issue[] => o.issue.filter((i) => i.expression?.[0] === expr);
const msgId = (i: Issue | undefined): string | undefined => i?.extension?.find((e) => e.url === MESSAGE_ID_EXTENSION)?.valueString;
const patient = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  resourceType: 'Patient', id: 'p1', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }],
  name: [{ family: 'Testperson', given: ['Alex'] }], gender: 'female', birthDate: '1980-04-01', ...extra,
});

describe('validator: clean resources', () => {
  it('a clean Patient gives one information issue', () => {
    const o = v.validate(patient());
    assert.equal(o.issue.length, 1);
    assert.equal(o.issue[0]!.severity, 'information');
  });
  it('accepts primitive extensions (_birthDate) and choice types (deceasedBoolean)', () => {
    const o = v.validate(patient({ deceasedBoolean: false, _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1980-04-01T10:00:00Z' }] } }));
    assert.equal(hasErrors(o), false, JSON.stringify(o.issue));
  });
});

describe('validator: JSON shape', () => {
  it('unknown property → error at its path with the reference message id', () => {
    const o = v.validate(patient({ unknownElement: 1 }));
    const i = at(o, 'Patient.unknownElement')[0];
    assert.equal(i?.severity, 'error');
    assert.equal(msgId(i), 'Validation_VAL_Profile_NoDefinition');
  });
  it('array where an object is expected and object where an array is expected', () => {
    const o = v.validate(patient({ name: { family: 'X' }, gender: ['female'] }));
    assert.match(at(o, 'Patient.name')[0]?.diagnostics ?? '', /must be a JSON Array/);
    assert.match(at(o, 'Patient.gender')[0]?.diagnostics ?? '', /not an Array/);
  });
  it('empty array, null in an array, empty object, null value', () => {
    const o = v.validate(patient({ telecom: [], address: [null], maritalStatus: {}, active: null }));
    assert.ok(at(o, 'Patient.telecom').some((i) => /Array cannot be empty/.test(i.diagnostics!)));
    assert.ok(at(o, 'Patient.address[0]').some((i) => i.severity === 'error'));
    assert.ok(at(o, 'Patient.maritalStatus').some((i) => /some content/.test(i.diagnostics!)));
    assert.ok(at(o, 'Patient.active').some((i) => /null/.test(i.diagnostics!)));
  });
  it('_primitive arrays must align with their values', () => {
    const o = v.validate(patient({ name: [{ given: ['A', 'B'], _given: [null] }] }));
    assert.ok(at(o, 'Patient.name[0].given').some((i) => /same length/.test(i.diagnostics!)));
  });
  it('two choices of one element, and a bare choice name', () => {
    const o = v.validate(patient({ deceasedBoolean: true, deceasedDateTime: '2020-01-01' }));
    assert.ok(errors(o).some((i) => /Only one of the deceased\[x\]/.test(i.diagnostics!)));
    const o2 = v.validate(patient({ deceased: true }));
    assert.ok(at(o2, 'Patient.deceased').some((i) => /is invalid/.test(i.diagnostics!)));
  });
  it('a type not allowed for a choice element is an unknown property', () => {
    const o = v.validate(patient({ deceasedString: 'yes' }));
    assert.equal(at(o, 'Patient.deceasedString')[0]?.severity, 'error');
  });
});

describe('validator: primitives', () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['impossible date', { birthDate: '2020-02-30' }, 'Patient.birthDate', /valid date/],
    ['dateTime with time but no zone', { deceasedDateTime: '2020-01-01T10:00:00' }, 'Patient.deceased.ofType(dateTime)', /timezone/],
    ['resource id with bad characters', { id: 'bad_id' }, 'Patient.id', /Invalid Resource id/],
    ['resource id too long', { id: 'a'.repeat(65) }, 'Patient.id', /Too long/],
    ['boolean given as a string', { active: 'true' }, 'Patient.active', /JSON boolean/],
    ['integer out of range', { multipleBirthInteger: 2 ** 31 }, 'Patient.multipleBirth.ofType(integer)', /32-bit/],
    ['empty string', { name: [{ family: '' }] }, 'Patient.name[0].family', /cannot be empty/],
    ['uri with whitespace', { implicitRules: 'http://x y' }, 'Patient.implicitRules', /whitespace/],
  ];
  for (const [name, extra, path, re] of cases) {
    it(name, () => {
      const o = v.validate(patient(extra));
      const i = at(o, path).find((x) => x.severity === 'error');
      assert.ok(i, `${path}: ${JSON.stringify(o.issue)}`);
      assert.match(i.diagnostics!, re);
    });
  }
  it('leading/trailing whitespace in a string is a warning (Type_Specific_Checks_DT_String_WS)', () => {
    const o = v.validate(patient({ name: [{ family: ' Testperson' }] }));
    const i = at(o, 'Patient.name[0].family')[0];
    assert.equal(i?.severity, 'warning');
    assert.equal(msgId(i), 'Type_Specific_Checks_DT_String_WS');
  });
  it('a string over 1 MB is an error', () => {
    const o = v.validate(patient({ name: [{ family: 'x'.repeat(1024 * 1024 + 1) }] }));
    assert.ok(at(o, 'Patient.name[0].family').some((i) => /1 MB/.test(i.diagnostics!)));
  });
});

describe('validator: cardinality, bindings, invariants', () => {
  it('missing required elements (Observation.status, code) → Validation_VAL_Profile_Minimum', () => {
    const o = v.validate({ resourceType: 'Observation' });
    const mins = errors(o).filter((i) => msgId(i) === 'Validation_VAL_Profile_Minimum');
    assert.ok(mins.some((i) => /Observation.status/.test(i.diagnostics!)) && mins.some((i) => /Observation.code/.test(i.diagnostics!)));
  });
  it('required binding: gender "F" is an error; terminology off skips it; downgrade makes it information', () => {
    const o = v.validate(patient({ gender: 'F' }));
    assert.equal(at(o, 'Patient.gender')[0]?.severity, 'error');
    assert.equal(hasErrors(createValidator(undefined, { terminology: 'off' }).validate(patient({ gender: 'F' }))), false);
    const d = createValidator(undefined, { downgrade: ['code-invalid'] }).validate(patient({ gender: 'F' }));
    assert.equal(at(d, 'Patient.gender')[0]?.severity, 'information');
  });
  it('codes from systems we cannot expand (SNOMED CT) are not errors unless strict', () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://snomed.info/sct', code: '73211009' }] } };
    assert.equal(hasErrors(v.validate(obs)), false);
    // A profile binding Observation.code (required) to a SNOMED CT is-a value set we cannot expand.
    const core = r4Core();
    const sd = structuredClone<StructureDefinition>(core.structureDefinition('Observation')!);
    sd.url = 'http://example.org/fhir/StructureDefinition/obs-sct-required';
    sd.derivation = 'constraint';
    sd.snapshot!.element.find((e) => e.path === 'Observation.code')!.binding = { strength: 'required', valueSet: 'http://hl7.org/fhir/ValueSet/condition-code' };
    const src: PackageSource = { structureDefinition: (u) => (u === sd.url ? sd : core.structureDefinition(u)), valueSet: (u) => core.valueSet(u), codeSystem: (u) => core.codeSystem(u) };
    assert.equal(hasErrors(createValidator(src).validate(obs, { profiles: [sd.url] })), false);
    assert.equal(hasErrors(createValidator(src, { terminology: 'strict' }).validate(obs, { profiles: [sd.url] })), true);
  });
  it('a SNOMED CT code that cannot be an SCTID (length, partition, Verhoeff) is an error', () => {
    for (const code of ['1', '276885007x', '73211008']) {
      const o = v.validate({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://snomed.info/sct', code }] } });
      assert.ok(at(o, 'Observation.code.coding[0].code').some((i) => i.severity === 'error'), code);
    }
  });
  it('a literal reference to a resource type the element does not allow is an error', () => {
    const o = v.validate({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Medication/m1' } });
    assert.ok(at(o, 'Observation.subject').some((i) => /not a valid target/.test(i.diagnostics!)));
    assert.equal(hasErrors(v.validate({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } })), false);
  });
  it('unknown code in a complete local CodeSystem is an error', () => {
    const o = v.validate(patient({ maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'ZZ' }] } }));
    assert.ok(errors(o).some((i) => /Unknown code/.test(i.diagnostics!)));
  });
  it('per-1 (period start after end) fails natively', () => {
    const o = v.validate({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, period: { start: '2024-02-01', end: '2024-01-01' } });
    assert.ok(at(o, 'Encounter.period').some((i) => i.code === 'invariant' && /per-1/.test(i.diagnostics!)));
  });
  it('ext-1: an extension with both a value and extensions', () => {
    const o = v.validate(patient({ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Leeds' }, extension: [{ url: 'x', valueString: 'y' }] }] }));
    assert.ok(o.issue.some((i) => /ext-1/.test(i.diagnostics ?? '')));
  });
  it('dom-3: a contained resource nobody references; ref-1: a local reference to nothing', () => {
    const o = v.validate(patient({ contained: [{ resourceType: 'Organization', id: 'o1', name: 'X' }] }));
    assert.ok(at(o, 'Patient.contained[0]').some((i) => /dom-3/.test(i.diagnostics!)));
    const ok = v.validate(patient({ contained: [{ resourceType: 'Organization', id: 'o1', name: 'X' }], managingOrganization: { reference: '#o1' } }));
    assert.equal(hasErrors(ok), false, JSON.stringify(ok.issue));
    const bad = v.validate(patient({ managingOrganization: { reference: '#nope' } }));
    assert.ok(at(bad, 'Patient.managingOrganization').some((i) => /ref-1/.test(i.diagnostics!)));
  });
  it('fhirpath invariants run where their element occurs (RiskAssessment ras-2)', () => {
    const o = v.validate({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 150 }] });
    assert.ok(at(o, 'RiskAssessment.prediction[0]').some((i) => /ras-2/.test(i.diagnostics!)));
  });
  it('an invariant that cannot be compiled is a warning, not a crash', () => {
    const core = r4Core();
    const sd = structuredClone<StructureDefinition>(core.structureDefinition('Patient')!);
    sd.url = 'http://example.org/fhir/StructureDefinition/broken-invariant';
    sd.derivation = 'constraint';
    sd.snapshot!.element[0]!.constraint = [{ key: 'bad-1', severity: 'error', human: 'broken', expression: 'name.where(' }];
    const src: PackageSource = { structureDefinition: (u) => (u === sd.url ? sd : core.structureDefinition(u)), valueSet: (u) => core.valueSet(u), codeSystem: (u) => core.codeSystem(u) };
    const o = createValidator(src).validate(patient(), { profiles: [sd.url] });
    assert.equal(hasErrors(o), false);
    assert.ok(o.issue.some((i) => i.severity === 'warning' && /bad-1/.test(i.diagnostics!)));
  });
});

describe('validator: extensions, profiles, Bundles', () => {
  it('an unknown extension is an error; an example.org one a warning', () => {
    const o = v.validate(patient({ extension: [{ url: 'https://fhir.nowhere.test/StructureDefinition/x', valueString: 'a' }] }));
    assert.equal(at(o, 'Patient.extension[0]')[0]?.severity, 'error');
    const w = v.validate(patient({ extension: [{ url: 'http://example.org/fhir/StructureDefinition/x', valueString: 'a' }] }));
    assert.equal(hasErrors(w), false);
  });
  it('a known extension used in the wrong context, or with a version in its url', () => {
    const o = v.validate(patient({ name: [{ family: 'X', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Leeds' } }] }] }));
    assert.ok(errors(o).some((i) => /not allowed to be used at this point/.test(i.diagnostics!)));
    const ver = v.validate(patient({ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace|4.0.1', valueAddress: { city: 'Leeds' } }] }));
    assert.ok(errors(ver).some((i) => /must not contain a version/.test(i.diagnostics!)));
  });
  it('unknown meta.profile is a warning; unknown configured profile an error', () => {
    const o = v.validate(patient({ meta: { profile: ['http://example.org/StructureDefinition/none'] } }));
    assert.equal(at(o, 'Patient.meta.profile[0]')[0]?.severity, 'warning');
    const c = v.validate(patient(), { profiles: ['http://example.org/StructureDefinition/none'] });
    assert.equal(hasErrors(c), true);
  });
  it('a vital-signs Observation is also checked against its R4 profile (slicing: VSCat required)', () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] }, subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-01-01T10:00:00Z', valueQuantity: { value: 37, unit: 'C', system: 'http://unitsofmeasure.org', code: 'Cel' } };
    const o = v.validate(obs);
    assert.ok(errors(o).some((i) => /VSCat/.test(i.diagnostics!)), JSON.stringify(o.issue));
    const good = v.validate({ ...obs, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }] });
    assert.equal(hasErrors(good), false, JSON.stringify(good.issue));
  });
  it('Bundle entries are validated by their own type, with Bundle paths; relative fullUrl is an error', () => {
    const b = { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'Patient/1', resource: patient({ gender: 'F' }) }] };
    const o = v.validate(b);
    assert.equal(at(o, 'Bundle.entry[0].resource.gender')[0]?.severity, 'error');
    assert.ok(at(o, 'Bundle.entry[0]').some((i) => /absolute URL/.test(i.diagnostics!)));
  });
  it('document Bundle: an unresolvable reference is an error, a resolvable one is fine', () => {
    const comp = { resourceType: 'Composition', id: 'c1', status: 'final', type: { text: 'x' }, date: '2024-01-01', author: [{ reference: 'Practitioner/pr1' }], title: 'T', subject: { reference: 'Patient/p1' } };
    const doc = (entries: unknown[]): unknown => ({ resourceType: 'Bundle', type: 'document', identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:0f5b3b9e-7b1a-4b8e-9a1e-3c3e0c1d2b3a' }, timestamp: '2024-01-01T00:00:00Z', entry: entries });
    const base = 'http://example.org/fhir/';
    const full = doc([{ fullUrl: `${base}Composition/c1`, resource: comp }, { fullUrl: `${base}Patient/p1`, resource: patient() }, { fullUrl: `${base}Practitioner/pr1`, resource: { resourceType: 'Practitioner', id: 'pr1' } }]);
    assert.equal(errors(v.validate(full)).filter((i) => /Can't find/.test(i.diagnostics!)).length, 0);
    const missing = doc([{ fullUrl: `${base}Composition/c1`, resource: comp }, { fullUrl: `${base}Patient/p1`, resource: patient() }]);
    assert.ok(errors(v.validate(missing)).some((i) => /Can't find 'Practitioner\/pr1'/.test(i.diagnostics!)));
  });
});

describe('validator: NHS rules', () => {
  it('NHS number failing Modulus 11 → error at identifier[n].value; bad format too', () => {
    const o = v.validate(patient({ identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000008' }] }));
    assert.equal(at(o, 'Patient.identifier[0].value')[0]?.severity, 'error');
    assert.doesNotMatch(JSON.stringify(o), /9000000008/, 'the NHS number is not echoed');
    const f = v.validate(patient({ identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '900000000' }] }));
    assert.match(at(f, 'Patient.identifier[0].value')[0]?.diagnostics ?? '', /10 digits/);
  });
  it('valid test-range NHS numbers pass', () => {
    for (const n of ['9000000009', '9990000018', '9990000026', '9990000034']) {
      assert.equal(hasErrors(v.validate(patient({ identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: n }] }))), false, n);
    }
  });
  it('ODS organisation code format', () => {
    const gp = (value: string): unknown => patient({ generalPractitioner: [{ identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value } }] });
    assert.equal(hasErrors(v.validate(gp('Y12345'))), false);
    assert.equal(at(v.validate(gp('y1 2')), 'Patient.generalPractitioner[0].identifier.value')[0]?.severity, 'error');
  });
});

describe('validator: bad input never crashes', () => {
  it('invalid JSON text → fatal issue', () => {
    const o = v.validateText('{"resourceType": "Patient", ');
    assert.equal(o.issue[0]?.severity, 'fatal');
  });
  it('comments, trailing and missing commas → errors; allowComments accepts comments', () => {
    assert.ok(hasErrors(v.validateText('{"resourceType":"Patient", // c\n "active": true}')));
    assert.ok(hasErrors(v.validateText('{"resourceType":"Patient","active":true,}')));
    assert.ok(hasErrors(v.validateText('{"resourceType":"Patient" "active":true}')));
    assert.equal(hasErrors(createValidator(undefined, { allowComments: true }).validateText('{"resourceType":"Patient", /* c */ "active": true}')), false);
  });
  it('duplicate JSON keys are an error', () => {
    const o = v.validateText('{"resourceType":"Patient","active":true,"active":false}');
    assert.ok(errors(o).some((i) => /Duplicated property/.test(i.diagnostics!)));
  });
  it('a 50 MB document is refused by size before parsing', () => {
    const big = Buffer.alloc(50 * 1024 * 1024, 0x20);
    const t = Date.now();
    const o = v.validateText(big);
    assert.equal(o.issue[0]?.severity, 'fatal');
    assert.equal(o.issue[0]?.code, 'too-long');
    assert.ok(Date.now() - t < 2000);
  });
  it('JSON nested 10,000 levels deep → fatal depth issue, no stack overflow', () => {
    const text = `{"resourceType":"Patient","extension":${'[{"url":"http://x","extension":'.repeat(10000)}[]${'}]'.repeat(10000)}}`;
    const o = v.validateText(text);
    assert.equal(o.issue[0]?.severity, 'fatal');
    assert.match(o.issue[0]?.diagnostics ?? '', /nested more than/);
  });
  it('an already-parsed object nested 10,000 levels deep is cut off at maxDepth', () => {
    const root: Record<string, unknown> = { resourceType: 'Patient' };
    let cur = root;
    for (let i = 0; i < 10000; i++) { const next = { url: 'http://example.org/x' }; cur.extension = [next]; cur = next; }
    const o = v.validate(root);
    assert.ok(o.issue.some((i) => /nested too deeply/.test(i.diagnostics ?? '')));
  });
  it('unknown resourceType, missing resourceType, non-objects', () => {
    assert.match(errors(v.validate({ resourceType: 'Patientt' }))[0]!.diagnostics!, /Unknown resource type/);
    assert.match(errors(v.validate({ id: 'x' }))[0]!.diagnostics!, /no resourceType/);
    for (const bad of [null, 42, 'text', [], [{ resourceType: 'Patient' }]]) assert.ok(hasErrors(v.validate(bad)));
  });
  it('hostile base64 (many whitespace runs, bad tail) is rejected in linear time', () => {
    const data = `${'QUJD  '.repeat(100_000)}!`;
    const t = Date.now();
    const o = v.validate({ resourceType: 'Binary', contentType: 'text/plain', data });
    assert.ok(at(o, 'Binary.data').some((i) => /Base64/.test(i.diagnostics!)));
    assert.ok(Date.now() - t < 2000, 'no catastrophic backtracking');
    assert.equal(hasErrors(v.validate({ resourceType: 'Binary', contentType: 'text/plain', data: 'QUJD RA==' })), false);
  });
  it('hostile property names and prototype keys are just unknown properties', () => {
    const o = v.validateText('{"resourceType":"Patient","__proto__":{"x":1},"constructor":1}');
    assert.ok(errors(o).length >= 2);
  });
  it('impossible options are an NhsError with a code (operational misuse)', () => {
    assert.throws(() => createValidator(undefined, { terminology: 'sometimes' as never }), (e: unknown) => e instanceof NhsError && e.code === 'FHIR_VALIDATOR_OPTIONS');
  });
});
