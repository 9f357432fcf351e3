import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkOdsCode, isValidOdsCode, normaliseOdsCode, ODS_ORGANIZATION_SYSTEM, ODS_SITE_SYSTEM } from '../../../lib/nhs/ods';

describe('ODS code format (NHS England ODS: 1 to 9 alphanumeric characters)', () => {
  const valid = ['RR8', 'RR801', 'FVR79', 'G3472185', 'K81003001', 'V03462', 'VLAXL', 'X26', '8HA03', 'Y0401', 'A'];
  for (const v of valid) it(`accepts ${v}`, () => { assert.equal(checkOdsCode(v), undefined); assert.equal(isValidOdsCode(v), true); });
  const invalid: [string, string][] = [
    ['', 'empty'], ['rr8', 'lower case'], ['RR8 ', 'trailing space'], ['RR-8', 'hyphen'], ['K810030012', '10 characters'],
    ['RR8\n', 'newline'], ['ＲＲ8', 'full-width letters'], ['R'.repeat(10_000), 'huge'], ['<script>', 'markup'],
  ];
  for (const [v, why] of invalid) it(`rejects ${why}`, () => assert.equal(checkOdsCode(v), 'format'));
  it('normalise trims and upper-cases what people type; the check itself stays strict', () => {
    assert.equal(normaliseOdsCode(' rr8 '), 'RR8');
    assert.equal(checkOdsCode(normaliseOdsCode(' rr8 ')), undefined);
  });
  it('exports the UK Core identifier systems', () => {
    assert.equal(ODS_ORGANIZATION_SYSTEM, 'https://fhir.nhs.uk/Id/ods-organization-code');
    assert.equal(ODS_SITE_SYSTEM, 'https://fhir.nhs.uk/Id/ods-site-code');
  });
});
