/**
 * Units rule family: UCUM unit syntax (UCUM §2.1 grammar) on Quantities with
 * system = http://unitsofmeasure.org, and bindings on Quantity units kept apart from bindings on
 * coded values (R4 vital-signs profiles: valid vital-signs Observations are never rejected).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createValidator } from '../../../lib/fhir/validator';
import { checkUcum } from '../../../lib/fhir/validate/ucum';
import type { Issue, OperationOutcome } from '../../../lib/outcome';

const v = createValidator();
const errors = (o: OperationOutcome): Issue[] => o.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';
const q = (value: number, code: string): Record<string, unknown> => ({ value, unit: code, system: UCUM, code });
const vital = (code: string, extra: Record<string, unknown>): Record<string, unknown> => ({
  resourceType: 'Observation', id: 'o1', status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: LOINC, code }] }, subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-01-01T10:00:00Z', ...extra,
});

describe('UCUM unit syntax (UCUM §2.1)', () => {
  const valid = ['kg', '[lb_av]', 'mm[Hg]', '/min', '%', 'kg/m2', 'Cel', '[degF]', '10*3/uL', '10*-3', 'mg/dL', '{beats}/min', 'm2', 's-1',
    'kg.m/s2', 'g/(12.h)', '{score}', '1', 'mL/min/{1.73_m2}', '[IU]/L', 'B[10.nV]', '10^6/mm3', 'L/min', 'ug/mL'];
  for (const code of valid) it(`'${code}' is valid`, () => { const r = checkUcum(code); assert.equal(r.ok, true, r.error); assert.deepEqual(r.unknownAtoms, []); });
  const invalid: [string, number][] = [['kg/(m', 6], ['kg//m', 4], ['kg m', 3], ['m)', 2], ['[in_i', 1], ['mg{x', 3], ['', 1], ['(kg', 4], ['mg{a b}', 5]];
  for (const [code, pos] of invalid) it(`'${code}' is a syntax error at position ${pos}`, () => { const r = checkUcum(code); assert.equal(r.ok, false); assert.equal(r.position, pos); });
  it('unknown atoms are reported apart from syntax errors', () => {
    assert.deepEqual(checkUcum('Kg').unknownAtoms, ['Kg']);
    assert.deepEqual(checkUcum('xyz/min').unknownAtoms, ['xyz']);
  });
});

describe('Quantity units in the validator', () => {
  it('a UCUM syntax error on a Quantity is an error at .code; an unknown atom only a warning', () => {
    const bad = v.validate({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: q(1, 'kg/(m') });
    assert.ok(errors(bad).some((i) => i.expression?.[0] === 'Observation.value.ofType(Quantity).code'), JSON.stringify(bad.issue));
    const odd = v.validate({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: q(1, 'xyz') });
    assert.equal(errors(odd).length, 0, JSON.stringify(odd.issue));
    assert.ok(odd.issue.some((i) => i.severity === 'warning' && /xyz/.test(i.diagnostics ?? '')));
    const other = v.validate({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1, system: 'http://example.org/units', code: 'kg/(m' } });
    assert.equal(errors(other).length, 0, 'other unit systems are not UCUM');
  });
});

describe('vital-signs Observations (R4 vital-signs profiles applied by LOINC code)', () => {
  const bp = (comps: [string, string][]): Record<string, unknown> => vital('85354-9', { component: comps.map(([c, u]) => ({ code: { coding: [{ system: LOINC, code: c }] }, valueQuantity: q(100, u) })) });
  const valid: [string, Record<string, unknown>][] = [
    ['body weight kg', vital('29463-7', { valueQuantity: q(70, 'kg') })],
    ['body weight [lb_av]', vital('29463-7', { valueQuantity: q(150, '[lb_av]') })],
    ['body height cm', vital('8302-2', { valueQuantity: q(170, 'cm') })],
    ['body temperature Cel', vital('8310-5', { valueQuantity: q(37, 'Cel') })],
    ['heart rate /min', vital('8867-4', { valueQuantity: q(70, '/min') })],
    ['BMI kg/m2', vital('39156-5', { valueQuantity: q(22, 'kg/m2') })],
    ['blood pressure panel with systolic and diastolic components', bp([['8480-6', 'mm[Hg]'], ['8462-4', 'mm[Hg]']])],
    ['weight with data absent reason', vital('29463-7', { dataAbsentReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown' }] } })],
    ['oxygen saturation with an inhaled-oxygen flow component in L/min (unit outside the bound set: warning)', vital('2708-6', {
      valueQuantity: q(98, '%'), component: [{ code: { coding: [{ system: LOINC, code: '3151-8' }] }, valueQuantity: q(6, 'L/min') }] })],
  ];
  for (const [name, res] of valid) it(`valid: ${name}`, () => { const o = v.validate(res); assert.deepEqual(errors(o), []); });
  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ['blood pressure without its diastolic component', bp([['8480-6', 'mm[Hg]']]), /DiastolicBP/],
    ['blood pressure in the wrong unit', bp([['8480-6', 'kPa'], ['8462-4', 'mm[Hg]']]), /mm\[Hg\]/],
    ['heart rate in the wrong unit', vital('8867-4', { valueQuantity: q(70, 'kg') }), /\/min/],
    ['body weight with no coded unit', vital('29463-7', { valueQuantity: { value: 70, unit: 'kg' } }), /minimum required/],
  ];
  for (const [name, res, re] of invalid) it(`invalid: ${name}`, () => { const o = v.validate(res); assert.ok(errors(o).some((i) => re.test(i.diagnostics ?? '')), JSON.stringify(errors(o))); });
});
