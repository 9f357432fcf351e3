import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkSctId, isValidSctId, plausibleSctId, verhoeffDigit, verhoeffValid } from '../../../lib/terminology/sctid';
import { skipWithoutShared } from '../../helpers/shared';
import { ukCoreSctIds } from './ukcore-data';

describe('SCTID checks (TIG §6.7)', () => {
  const cases: [string, ReturnType<typeof checkSctId>['failed']][] = [
    ['22298006', undefined], // Myocardial infarction (core concept)
    ['128004', undefined], // 6 digits: shortest
    ['35367211000001107', undefined], // UK drug extension (namespace 1000001)
    ['999000011000000103', undefined], // UK extension description id, 18 digits
    ['22298007', 'check-digit'],
    ['2229800x', 'syntax'],
    ['', 'syntax'],
    [' 22298006', 'syntax'],
    ['12345', 'length'],
    ['1234567890123456789', 'length'],
    ['022298006', 'leading-zero'],
    ['22298036', 'partition'], // partition 03 is an RF1 subset id, not an RF2 component
    ['1000000100', 'namespace'], // extension partition but no room for a namespace
    ['10000001106', 'namespace'], // namespace 0000001 starts with 0
  ];
  for (const [code, failed] of cases) {
    it(`${JSON.stringify(code)} → ${failed ?? 'valid'}`, () => {
      const r = checkSctId(code);
      assert.equal(r.failed, failed, r.reason);
      assert.equal(r.valid, failed === undefined);
      assert.equal(isValidSctId(code), failed === undefined);
    });
  }

  it('reports partition, kind and namespace', () => {
    assert.deepEqual(checkSctId('35367211000001107'), { valid: true, partition: '10', kind: 'concept', namespace: '1000001' });
    assert.deepEqual(checkSctId('22298006'), { valid: true, partition: '00', kind: 'concept' });
  });

  it('verhoeffDigit completes any stem into a valid number', () => {
    for (const stem of ['2229800', '1', '12345678901234567', '999000011000000']) {
      assert.ok(verhoeffValid(stem + String(verhoeffDigit(stem))), stem);
      assert.ok(!verhoeffValid(stem + String((verhoeffDigit(stem) + 1) % 10)), stem);
    }
  });

  it('non-strings are syntax errors, not crashes', () => {
    assert.equal(checkSctId(22298006 as unknown as string).failed, 'syntax');
    assert.equal(checkSctId(undefined as unknown as string).failed, 'syntax');
  });

  it('plausibleSctId (the FHIR validator\'s check) is unchanged: expressions pass to the server', () => {
    assert.ok(plausibleSctId('22298006'));
    assert.ok(plausibleSctId('64572001 |Disease| : 363698007 = 39057004'));
    assert.ok(!plausibleSctId('22298007'));
  });

  it('known-valid UK Core ids pass; every single-digit change and adjacent transposition is caught', { skip: skipWithoutShared('fhir-packages') }, () => {
    const ids = ukCoreSctIds();
    assert.ok(ids.length > 1000, `expected many SNOMED CT ids in UK Core, got ${ids.length}`);
    const bad = ids.filter((id) => !isValidSctId(id));
    assert.deepEqual(bad, [], 'UK Core ids that failed');
    let corrupted = 0;
    const missed: string[] = [];
    for (const id of ids) {
      for (let i = 0; i < id.length; i++) {
        for (let d = 0; d <= 9; d++) {
          const c = String(d);
          if (c === id[i]) continue;
          const x = id.slice(0, i) + c + id.slice(i + 1);
          corrupted++;
          if (isValidSctId(x)) missed.push(`${id}→${x}`);
        }
        if (i + 1 < id.length && id[i] !== id[i + 1]) {
          const x = id.slice(0, i) + id[i + 1]! + id[i]! + id.slice(i + 2);
          corrupted++;
          if (isValidSctId(x)) missed.push(`${id}→${x}`);
        }
      }
    }
    assert.ok(corrupted > 100_000, `corruptions tried: ${corrupted}`);
    assert.deepEqual(missed.slice(0, 10), [], `${missed.length} of ${corrupted} corrupted ids passed`);
  });
});
