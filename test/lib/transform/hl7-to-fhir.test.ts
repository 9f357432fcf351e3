/**
 * HL7 v2 → FHIR UK Core transform: one synthetic message per supported type; every Bundle and
 * every entry (against its UK Core STU2 profile) validates with no errors through our validator;
 * the same input gives a byte-identical Bundle; field-level mapping checks; A28 → Patient → A28.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHl7 } from '../../../lib/hl7';
import { FhirPackages } from '../../../lib/fhir/packages';
import { createValidator, type Validator } from '../../../lib/fhir/validator';
import { hl7ToFhir, loadTables, mergeTables, patientToAdt, SUPPORTED_TYPES, type Bundle } from '../../../lib/transform';
import type { Issue } from '../../../lib/outcome';
import { sharedDir, skipWithoutShared } from '../../helpers/shared';
import { GOOD, msh, PID_FIELDS, seg } from './fixtures';

const skip = skipWithoutShared('fhir-packages');
const errorsOf = (issues: Issue[]): Issue[] => issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
const show = (issues: Issue[]): string => issues.map((i) => `${i.expression?.[0] ?? ''}: ${i.diagnostics ?? ''}`).join('\n');
const types = (b: Bundle): string[] => b.entry.map((e) => e.resource.resourceType);
const one = (b: Bundle, type: string): Record<string, any> => {
  const hit = b.entry.filter((e) => e.resource.resourceType === type);
  assert.equal(hit.length, 1, `one ${type}`);
  return hit[0]!.resource;
};
const all = (b: Bundle, type: string): Record<string, any>[] => b.entry.filter((e) => e.resource.resourceType === type).map((e) => e.resource);
const ok = (text: string): Bundle => {
  const r = hl7ToFhir(text);
  assert.deepEqual(errorsOf(r.outcome.issue), [], show(r.outcome.issue));
  assert.ok(r.bundle);
  return r.bundle;
};

/** Resource types each message must produce (at least these, in any order). */
const EXPECTED: Record<string, string[]> = {
  'ADT^A01': ['Patient', 'Encounter', 'Location', 'Practitioner', 'Organization', 'RelatedPerson'],
  'ADT^A02': ['Patient', 'Encounter', 'Location'],
  'ADT^A03': ['Patient', 'Encounter'],
  'ADT^A04': ['Patient', 'Encounter'],
  'ADT^A05': ['Patient', 'Encounter'],
  'ADT^A08': ['Patient', 'Encounter', 'RelatedPerson'],
  'ADT^A11': ['Patient', 'Encounter'],
  'ADT^A13': ['Patient', 'Encounter'],
  'ADT^A28': ['Patient', 'RelatedPerson', 'Organization'],
  'ADT^A31': ['Patient', 'Organization'],
  'ADT^A40': ['Patient'],
  'ORU^R01': ['Patient', 'DiagnosticReport', 'Observation'],
  'ORM^O01': ['Patient', 'ServiceRequest', 'Practitioner', 'Encounter'],
  'OML^O21': ['Patient', 'ServiceRequest', 'Practitioner'],
  'REF^I12': ['Patient', 'ServiceRequest', 'Practitioner'],
};

describe('hl7ToFhir: every supported message type', () => {
  it('the fixture table covers every supported type', () => {
    assert.deepEqual(Object.keys(GOOD).sort(), [...SUPPORTED_TYPES].sort());
  });

  for (const [type, text] of Object.entries(GOOD)) {
    it(`${type}: transaction Bundle with the expected resources, PUT entries, urn:uuid fullUrls, byte-identical on repeat`, () => {
      const b = ok(text);
      assert.equal(b.resourceType, 'Bundle');
      assert.equal(b.type, 'transaction');
      for (const t of EXPECTED[type]!) assert.ok(types(b).includes(t), `${type} has a ${t}: ${types(b).join(',')}`);
      for (const e of b.entry) {
        assert.equal(e.fullUrl, `urn:uuid:${e.resource.id}`);
        assert.deepEqual(e.request, { method: 'PUT', url: `${e.resource.resourceType}/${e.resource.id}` });
        assert.match(e.resource.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        assert.match(String((e.resource.meta as any)?.profile?.[0]), /^https:\/\/fhir\.hl7\.org\.uk\/StructureDefinition\/UKCore-/);
      }
      assert.equal(new Set(b.entry.map((e) => e.resource.id)).size, b.entry.length, 'ids unique');
      // Determinism: a second run, and a run from the parsed message, give the same bytes.
      assert.equal(JSON.stringify(hl7ToFhir(text).bundle), JSON.stringify(b));
      assert.equal(JSON.stringify(hl7ToFhir(parseHl7(text).message!).bundle), JSON.stringify(b));
    });
  }
});

describe('hl7ToFhir: every Bundle validates against UK Core STU2', { skip }, () => {
  let v: Validator;
  before(async () => {
    const pkgs = await FhirPackages.load({ folders: [join(sharedDir, 'fhir-packages', 'fhir.r4.ukcore.stu2#2.0.2')], useCache: false });
    assert.ok(pkgs.structureDefinition('https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient'), 'UK Core STU2 loaded');
    v = createValidator(pkgs);
  });

  for (const [type, text] of Object.entries(GOOD)) {
    it(`${type}: the Bundle and each entry against its UK Core profile have no errors`, () => {
      const b = ok(text);
      const whole = v.validate(b);
      assert.deepEqual(errorsOf(whole.issue), [], show(whole.issue));
      for (const e of b.entry) {
        const profile = (e.resource.meta as { profile: string[] }).profile[0]!;
        const o = v.validate(e.resource, { profiles: [profile] });
        assert.deepEqual(errorsOf(o.issue), [], `${e.resource.resourceType} vs ${profile}:\n${show(o.issue)}`);
      }
    });
  }

  it('a non-laboratory ORU^R01 (radiology section) validates against the base UK Core profiles', () => {
    const b = ok(GOOD['ORU^R01']!.replace('|HM|F', '|RAD|F'));
    assert.deepEqual(errorsOf(v.validate(b).issue), []);
    for (const e of b.entry) assert.deepEqual(errorsOf(v.validate(e.resource, { profiles: (e.resource.meta as { profile: string[] }).profile }).issue), []);
  });

  it('every default patient class (HL7 table 0004) gives a valid Encounter', () => {
    for (const cls of ['E', 'I', 'O', 'P', 'R', 'B', 'C', 'N', 'U']) {
      const b = ok(GOOD['ADT^A04']!.replace('PV1|1|O|', `PV1|1|${cls}|`));
      const o = v.validate(one(b, 'Encounter'), { profiles: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter'] });
      assert.deepEqual(errorsOf(o.issue), [], `${cls}: ${show(o.issue)}`);
    }
  });

  it('the validator does see a broken entry (the check above can fail)', () => {
    const b = ok(GOOD['ADT^A01']!);
    const p = one(b, 'Patient');
    p.identifier[0].value = '9990001007';
    assert.ok(errorsOf(v.validate(b).issue).length > 0);
  });
});

describe('hl7ToFhir: mappings', () => {
  it('Patient: NHS number + verification status, local id, name, telecom, gender, birth date, address, marital status, ethnic category, GP practice', () => {
    const p = one(ok(GOOD['ADT^A01']!), 'Patient');
    assert.equal(p.identifier[0].system, 'https://fhir.nhs.uk/Id/nhs-number');
    assert.equal(p.identifier[0].value, '9990001006');
    assert.deepEqual(p.identifier[0].extension[0].valueCodeableConcept.coding[0], { system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland', code: '01', display: 'Number present and verified' });
    assert.equal(p.identifier[1].value, 'RX1000001');
    assert.deepEqual(p.name[0], { use: 'official', family: 'SMITH', given: ['ALEX', 'JAMES'], prefix: ['MR'] });
    assert.deepEqual(p.telecom.map((t: any) => `${t.system}/${t.use}/${t.value}`), ['phone/home/01130000001', 'phone/mobile/07700900001', 'email/home/alex.smith@example.com', 'phone/work/01130000002']);
    assert.equal(p.gender, 'male');
    assert.equal(p.birthDate, '1980-01-01');
    assert.deepEqual(p.address[0], { use: 'home', line: ['1 TEST STREET', 'FLAT 2'], city: 'LEEDS', district: 'WEST YORKSHIRE', postalCode: 'LS1 4AP', country: 'GBR' });
    assert.equal(p.maritalStatus.coding[0].code, 'M');
    assert.equal(p.extension[0].url, 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory');
    assert.equal(p.extension[0].valueCodeableConcept.coding[0].code, 'A');
    assert.deepEqual(p.generalPractitioner[0].identifier, { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' });
  });

  it('Encounter: class, status by event, period, participants, location, visit number, ODS organisations', () => {
    const b = ok(GOOD['ADT^A01']!);
    const e = one(b, 'Encounter');
    assert.equal(e.class.code, 'IMP');
    assert.equal(e.status, 'in-progress');
    assert.equal(e.period.start, '2024-03-15T14:25:00+00:00');
    assert.deepEqual(e.participant.map((x: any) => x.type[0].coding[0].code), ['ATND', 'REF', 'ADM']);
    assert.equal(e.identifier[0].value, 'VN00012345');
    assert.equal(e.type[0].coding[0].code, 'C');
    const gmc = all(b, 'Practitioner').find((x) => x.identifier[0].value === 'C1234567')!;
    assert.equal(gmc.identifier[0].system, 'https://fhir.hl7.org.uk/Id/gmc-number');
    const orgs = all(b, 'Organization').map((o) => o.identifier[0]);
    assert.ok(orgs.some((i) => i.system === 'https://fhir.nhs.uk/Id/ods-organization-code' && i.value === 'RX1'), 'sending facility');
    assert.equal(one(ok(GOOD['ADT^A03']!), 'Encounter').status, 'finished');
    assert.equal(one(ok(GOOD['ADT^A05']!), 'Encounter').status, 'planned');
    assert.equal(one(ok(GOOD['ADT^A11']!), 'Encounter').status, 'cancelled');
    assert.equal(one(ok(GOOD['ADT^A05']!), 'Encounter').period.start, '2024-04-01T09:00:00+01:00');
    const a02 = one(ok(GOOD['ADT^A02']!), 'Encounter');
    assert.deepEqual(a02.location.map((l: any) => l.status), ['active', 'completed']);
  });

  it('RelatedPerson from NK1 with relationship and contact role', () => {
    const r = one(ok(GOOD['ADT^A01']!), 'RelatedPerson');
    assert.deepEqual(r.relationship.map((c: any) => c.coding[0].code), ['SPS', 'N']);
    assert.equal(r.name[0].family, 'SMITH');
    assert.match(r.patient.reference, /^urn:uuid:/);
  });

  it('A40: the surviving and the replaced Patient are linked both ways', () => {
    const b = ok(GOOD['ADT^A40']!);
    const [survivor, old] = all(b, 'Patient');
    assert.equal(survivor!.link[0].type, 'replaces');
    assert.equal(survivor!.link[0].other.reference, `urn:uuid:${old!.id}`);
    assert.equal(old!.link[0].type, 'replaced-by');
    assert.equal(old!.link[0].other.reference, `urn:uuid:${survivor!.id}`);
    assert.equal(old!.active, false);
    assert.equal(old!.identifier[0].value, 'RX1000099');
  });

  it('A40 with two PATIENT groups: two merges, each pair linked', () => {
    const second = seg('PID', { 1: '2', 3: '9990001014^^^NHS^NH', 5: 'JONES^SAM^^^MX^^L', 7: '19900202', 8: 'U' });
    const b = ok(`${GOOD['ADT^A40']!}${second}\rMRG|9990001022^^^NHS^NH\r`);
    const ps = all(b, 'Patient');
    assert.equal(ps.length, 4);
    const byNhs = (n: string): Record<string, any> => ps.find((p) => p.identifier[0].value === n)!;
    assert.equal(byNhs('9990001014').link[0].other.reference, `urn:uuid:${byNhs('9990001022').id}`);
    assert.equal(byNhs('9990001022').link[0].type, 'replaced-by');
    assert.equal(byNhs('9990001006').link[0].type, 'replaces');
  });

  it('the same patient gets the same id across messages (idempotent PUT)', () => {
    assert.equal(one(ok(GOOD['ADT^A01']!), 'Patient').id, one(ok(GOOD['ADT^A08']!), 'Patient').id);
    assert.equal(one(ok(GOOD['ADT^A01']!), 'Encounter').id, one(ok(GOOD['ADT^A03']!), 'Encounter').id, 'same visit number');
  });

  it('ORU^R01: each OBX value type, UCUM units, reference ranges, abnormal flags, ED as an attachment', () => {
    const b = ok(GOOD['ORU^R01']!);
    const obs = all(b, 'Observation');
    assert.equal(obs.length, 9);
    const [hb, wbc, st, tx, cwe, sn, ratio, dt, ts] = obs as any[];
    assert.deepEqual(hb.valueQuantity, { value: 135, unit: 'gram per litre', system: 'http://unitsofmeasure.org', code: 'g/L' });
    assert.deepEqual(hb.referenceRange[0].low, { value: 130, unit: 'gram per litre', system: 'http://unitsofmeasure.org', code: 'g/L' });
    assert.equal(hb.interpretation[0].coding[0].code, 'N');
    assert.equal(wbc.interpretation[0].coding[0].code, 'H');
    assert.equal(wbc.valueQuantity.code, '10*9/L');
    assert.equal(st.valueString, 'Sample slightly haemolysed');
    assert.equal(tx.valueString, 'Line one\nLine two');
    assert.equal(tx.status, 'preliminary');
    assert.deepEqual(cwe.valueCodeableConcept.coding[0], { system: 'http://snomed.info/sct', code: '371244009', display: 'Yellow' });
    assert.equal(sn.valueQuantity.comparator, '<');
    assert.equal(sn.valueQuantity.value, 0.5);
    assert.equal(sn.referenceRange[0].high.value, 5);
    assert.deepEqual(ratio.valueRatio, { numerator: { value: 1 }, denominator: { value: 128 } });
    assert.equal(ratio.status, 'corrected');
    assert.equal(dt.valueDateTime, '2024-03-01');
    assert.equal(ts.valueDateTime, '2024-03-16T08:15:00+00:00');
    assert.equal(hb.code.coding[0].system, 'http://loinc.org');
    const dr = one(b, 'DiagnosticReport');
    assert.equal(dr.status, 'final');
    assert.equal(dr.result.length, 9);
    assert.equal(dr.issued, '2024-03-16T08:59:00+00:00');
    assert.deepEqual(dr.presentedForm, [{ contentType: 'application/pdf', data: 'JVBERi0xLjQKJcfsj6IK', title: 'Laboratory report' }]);
    assert.deepEqual(dr.category.map((c: any) => c.coding[0].code), ['LAB', 'HM']);
    assert.equal(dr.meta.profile[0], 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-DiagnosticReport-Lab');
    assert.equal(hb.meta.profile[0], 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-Lab');
    assert.equal(hb.category[0].coding[0].code, 'laboratory');
    // A non-laboratory section (radiology) claims the base profiles, without the LAB category.
    const rad = ok(GOOD['ORU^R01']!.replace('|HM|F', '|RAD|F'));
    assert.equal(one(rad, 'DiagnosticReport').meta.profile[0], 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-DiagnosticReport');
    assert.deepEqual(one(rad, 'DiagnosticReport').category.map((c: any) => c.coding[0].code), ['RAD']);
    assert.equal(all(rad, 'Observation')[0]!.category, undefined);
  });

  it('ORM^O01 / OML^O21 / REF^I12: ServiceRequest with identifiers, status, priority, requester, performer', () => {
    const orm = ok(GOOD['ORM^O01']!);
    const sr = one(orm, 'ServiceRequest');
    assert.equal(sr.status, 'active');
    assert.equal(sr.intent, 'order');
    assert.equal(sr.priority, 'routine');
    assert.equal(sr.identifier[0].value, 'ORD1001');
    assert.equal(sr.authoredOn, '2024-03-17T10:00:00+00:00');
    assert.equal(sr.requester.reference, `urn:uuid:${one(orm, 'Practitioner').id}`);
    assert.equal(sr.performer[0].identifier.value, 'RX2', 'receiving facility performs');
    const oml = ok(GOOD['OML^O21']!);
    assert.equal(one(oml, 'ServiceRequest').priority, 'stat');
    assert.equal(one(oml, 'ServiceRequest').meta.profile[0], 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest-Lab');
    const r = hl7ToFhir(GOOD['OML^O21']!);
    assert.ok(r.outcome.issue.some((i) => /Segments not transformed: SPM/.test(i.diagnostics ?? '')), 'SPM reported, not silently dropped');
    const ref = ok(GOOD['REF^I12']!);
    const rs = one(ref, 'ServiceRequest');
    assert.equal(rs.status, 'draft');
    assert.equal(rs.priority, 'routine');
    assert.equal(rs.identifier[0].value, 'REF0001');
    assert.equal(rs.code.coding[0].code, '306206005');
    assert.equal(rs.reasonCode[0].coding[0].code, 'R07.4');
    const pr = all(ref, 'Practitioner');
    assert.equal(rs.requester.reference, `urn:uuid:${pr.find((p) => p.identifier[0].value === 'G7654321')!.id}`);
    assert.ok(rs.performer.some((p: any) => p.reference === `urn:uuid:${pr.find((x) => x.identifier[0].value === 'C1234567')!.id}`));
  });
});

describe('hl7ToFhir: mapping tables', () => {
  const withSex = (sex: string): string => GOOD['ADT^A28']!.replace(/^PID\|.*$/m, seg('PID', { ...PID_FIELDS, 8: sex }));

  it('a code not in a table is a warning in the outcome (value kept as text where FHIR allows), never dropped silently', () => {
    const r = hl7ToFhir(withSex('X'));
    assert.ok(r.bundle);
    const w = r.outcome.issue.find((i) => i.severity === 'warning' && i.expression?.[0] === 'PID[1]-8');
    assert.ok(w, show(r.outcome.issue));
    assert.match(w.diagnostics!, /'X' is not in mapping table 'sex'/);
    const eth = hl7ToFhir(GOOD['ADT^A28']!.replace(/^PID\|.*$/m, seg('PID', { ...PID_FIELDS, 22: 'Q9' })));
    assert.equal(one(eth.bundle!, 'Patient').extension[0].valueCodeableConcept.text, 'Q9');
    assert.ok(eth.outcome.issue.some((i) => i.severity === 'warning' && /ethnicCategory/.test(i.diagnostics ?? '')));
  });

  it('user overrides (JSON object or file) extend and replace table entries', () => {
    const tables = mergeTables({ sex: { X: 'other' }, ethnicCategory: { A: { system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryWales', code: 'A' } } });
    const r = hl7ToFhir(withSex('X'), { tables });
    const p = one(r.bundle!, 'Patient');
    assert.equal(p.gender, 'other');
    assert.equal(p.extension[0].valueCodeableConcept.coding[0].system, 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryWales');
    assert.ok(!r.outcome.issue.some((i) => i.severity === 'warning' && i.expression?.[0] === 'PID[1]-8'));
    const dir = mkdtempSync(join(tmpdir(), 'nhs-tables-'));
    try {
      writeFileSync(join(dir, 't.json'), JSON.stringify({ patientClass: { Z: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' } } }));
      const t = loadTables(join(dir, 't.json'));
      const enc = one(ok2(GOOD['ADT^A01']!.replace('PV1|1|I|', 'PV1|1|Z|'), t), 'Encounter');
      assert.equal(enc.class.code, 'HH');
      writeFileSync(join(dir, 'bad.json'), '{ not json');
      assert.throws(() => loadTables(join(dir, 'bad.json')), { code: 'TRANSFORM_TABLES' });
    } finally { rmSync(dir, { recursive: true, force: true }); }
    assert.throws(() => mergeTables({ sexx: {} }), { code: 'TRANSFORM_TABLES' });
    assert.throws(() => mergeTables({ sex: { X: 1 } }), { code: 'TRANSFORM_TABLES' });
    assert.throws(() => mergeTables({ patientClass: { X: 'IMP' } }), { code: 'TRANSFORM_TABLES' });
  });
});

function ok2(text: string, tables: ReturnType<typeof mergeTables>): Bundle {
  const r = hl7ToFhir(text, { tables });
  assert.deepEqual(errorsOf(r.outcome.issue), [], show(r.outcome.issue));
  return r.bundle!;
}

describe('FHIR → HL7: Patient → ADT^A28 / A31', () => {
  const fieldsOf = (text: string, name: string): string | undefined => text.split('\r').find((s) => s.startsWith(`${name}|`));

  it('A28 → Patient → A28 keeps every mapped field (PID and PD1 byte-identical)', () => {
    const a28 = GOOD['ADT^A28']!;
    const p = one(ok(a28), 'Patient');
    const back = patientToAdt(p, { event: 'A28', controlId: 'RT1', timestamp: '20240101000000+0000' });
    assert.deepEqual(errorsOf(back.outcome.issue), []);
    assert.equal(fieldsOf(back.message!, 'PID'), fieldsOf(a28, 'PID'));
    assert.equal(fieldsOf(back.message!, 'PD1'), fieldsOf(a28, 'PD1'));
    const parsed = parseHl7(back.message!);
    assert.equal(parsed.message!.type, 'ADT^A28');
    assert.equal(parsed.message!.controlId, 'RT1');
    // And once more through FHIR: the Patient is the same resource.
    assert.deepEqual(one(ok(back.message!), 'Patient'), p);
  });

  it('a deceased patient and escapes round-trip; A31 event; deterministic default control id', () => {
    const text = [msh('ADT^A31^ADT_A05', 'D1'), 'EVN|A31|20240315143000+0000',
      seg('PID', { ...PID_FIELDS, 5: 'O\\T\\BRIEN^PAT^^^MS^^L', 29: '20240310101500+0000' }), 'PV1|1|N'].join('\r');
    const p = one(ok(text), 'Patient');
    assert.equal(p.name[0].family, 'O&BRIEN');
    assert.equal(p.deceasedDateTime, '2024-03-10T10:15:00+00:00');
    const a = patientToAdt(p, { event: 'A31', timestamp: '20240101000000+0000' });
    const b = patientToAdt(p, { event: 'A31', timestamp: '20240101000000+0000' });
    assert.equal(a.message, b.message);
    assert.equal(fieldsOf(a.message!, 'PID'), text.split('\r')[2]);
    assert.equal(parseHl7(a.message!).message!.type, 'ADT^A31');
  });

  it('an identifier with a system but no assigner goes out as CX.4 `&<uri>&URI` and comes back with its system', () => {
    const p = { resourceType: 'Patient', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }, { system: 'https://example.org/Id/mrn', value: 'M1' }], name: [{ family: 'TEST', given: ['PAT'] }] };
    const a = patientToAdt(p, { timestamp: '20240101000000+0000', controlId: 'U1' });
    assert.match(a.message!, /\|9000000009\^\^\^NHS\^NH~M1\^\^\^&https:\/\/example\.org\/Id\/mrn&URI\|/);
    const back = one(ok(a.message!), 'Patient');
    assert.equal(back.identifier[1].system, 'https://example.org/Id/mrn');
    assert.equal(back.identifier[1].value, 'M1');
  });

  it('not a Patient, or a Patient without identifiers → errors, no message', () => {
    for (const bad of [null, 'text', { resourceType: 'Observation' }, { resourceType: 'Patient' }]) {
      const r = patientToAdt(bad);
      assert.equal(r.message, undefined);
      assert.ok(errorsOf(r.outcome.issue).length > 0);
    }
  });
});
