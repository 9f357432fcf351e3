import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { asNhsNumber, findNhsNumber, nhsNumberFromFhir, nhsNumberFromHl7 } from '../../../lib/nhs/find-nhs-number';
import { parseHl7 } from '../../../lib/hl7';
import { ADT, PATIENT } from '../quarantine/fixtures';

describe('audit subject (NHS number) extraction', () => {
  it('reads PID-3 with NHS authority or NH type, skipping local MRNs and bad check digits', () => {
    assert.equal(nhsNumberFromHl7(ADT), '9000000009');
    assert.equal(nhsNumberFromHl7(ADT.replace('9000000009^^^NHS^NH~123456^^^RX1^MR', '123456^^^RX1^MR~9990000018^^^^NH')), '9990000018');
    assert.equal(nhsNumberFromHl7(ADT.replace('9000000009', '9000000008')), undefined, 'Modulus 11 failure');
    assert.equal(nhsNumberFromHl7(ADT.replace('9000000009^^^NHS^NH~', '')), undefined, 'only a local MRN');
    assert.equal(nhsNumberFromHl7('not hl7'), undefined);
    assert.equal(nhsNumberFromHl7('MSH|'), undefined);
  });
  it('reads FHIR Patient, Bundle entries and subject.identifier', () => {
    assert.equal(nhsNumberFromFhir(PATIENT), '9990000018');
    assert.equal(nhsNumberFromFhir({ resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Organization' } }, { resource: PATIENT }] }), '9990000018');
    assert.equal(nhsNumberFromFhir({ resourceType: 'Observation', subject: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000026' } } }), '9990000026');
    assert.equal(nhsNumberFromFhir({ resourceType: 'Patient', identifier: [{ system: 'other', value: '9990000026' }] }), undefined);
    assert.equal(nhsNumberFromFhir(null), undefined);
  });
  it('finds it on msg.hl7 (plain JSON), a string or Buffer payload, a JSON string, and validates explicit values', () => {
    const hl7 = parseHl7(ADT).message!.toJSON();
    assert.equal(findNhsNumber({ hl7, payload: 'other' }), '9000000009');
    assert.equal(findNhsNumber({ payload: Buffer.from(ADT, 'latin1') }), '9000000009');
    assert.equal(findNhsNumber({ payload: JSON.stringify(PATIENT) }), '9990000018');
    assert.equal(findNhsNumber({ payload: '{broken' }), undefined);
    assert.equal(asNhsNumber('999 000 0018'), '9990000018');
    assert.equal(asNhsNumber(9990000018), '9990000018');
    assert.equal(asNhsNumber('1234567890'), undefined);
    assert.equal(asNhsNumber({}), undefined);
  });
});
