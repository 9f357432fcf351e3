import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkNhsNumber, formatNhsNumber, isValidNhsNumber, nhsCheckDigit, normaliseNhsNumber } from '../../../lib/nhs/nhs-number';

describe('NHS number (Modulus 11)', () => {
  const cases: [string, ReturnType<typeof checkNhsNumber>][] = [
    ['9000000009', undefined], // PDS sandbox number
    ['9990000018', undefined], // test range
    ['9990000026', undefined],
    ['9000000008', 'checksum'],
    ['9990000019', 'checksum'],
    ['999000001', 'format'], // nine digits
    ['99900000181', 'format'], // eleven digits
    ['999000001A', 'format'],
    ['', 'format'],
    ['999 000 0018', 'format'], // spaces must be normalised first
    ['１２３４５６７８９０', 'format'], // full-width digits are not digits here
  ];
  for (const [value, expected] of cases) {
    it(`${JSON.stringify(value)} → ${expected ?? 'valid'}`, () => {
      assert.equal(checkNhsNumber(value), expected);
      assert.equal(isValidNhsNumber(value), expected === undefined);
    });
  }

  it('a remainder giving check digit 10 makes the number invalid whatever the last digit', () => {
    // find a 9-digit stem whose check digit would be 10
    let stem = '';
    for (let i = 999000000; i < 999001000; i++) {
      if (nhsCheckDigit(String(i)) === undefined) { stem = String(i); break; }
    }
    assert.ok(stem, 'found a stem with no valid check digit');
    for (let d = 0; d <= 9; d++) assert.equal(checkNhsNumber(stem + d), 'checksum');
  });

  it('check digit 11 maps to 0', () => {
    // 9000000009 → sum 9*10=90, 90 % 11 = 2, 11-2 = 9 ; find one with sum % 11 == 0
    let found = '';
    for (let i = 999000000; i < 999010000 && !found; i++) {
      const s = String(i);
      let sum = 0;
      for (let k = 0; k < 9; k++) sum += Number(s[k]) * (10 - k);
      if (sum % 11 === 0) found = s;
    }
    assert.equal(nhsCheckDigit(found), 0);
    assert.equal(checkNhsNumber(found + '0'), undefined);
  });

  it('normalises typed separators and formats/masks for display', () => {
    assert.equal(normaliseNhsNumber('999 000 0018'), '9990000018');
    assert.equal(normaliseNhsNumber('999-000-0018'), '9990000018');
    assert.equal(formatNhsNumber('9000000009'), '900 000 0009');
    assert.equal(formatNhsNumber('9000000009', true), '900 *** **09');
    assert.equal(formatNhsNumber('not-a-number', true), '***');
  });
});
