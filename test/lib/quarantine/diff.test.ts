import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyDiff, diffLines, diffRows, isEmptyDiff, parseDiff } from '../../../lib/quarantine/diff';
import { maskFhir, maskHl7, maskNhsNumbers, maskPayload } from '../../../lib/quarantine/mask';
import { ADT, PATIENT } from './fixtures';

describe('line diff', () => {
  const cases: [string, string, string][] = [
    ['identical', 'a\nb\nc', 'a\nb\nc'],
    ['change middle', 'a\nb\nc', 'a\nB\nc'],
    ['insert', 'a\nc', 'a\nb\nc'],
    ['delete', 'a\nb\nc', 'a\nc'],
    ['all new', 'a', 'x\ny'],
    ['to empty', 'a\nb', ''],
    ['from empty', '', 'a'],
    ['repeats', 'x\na\nx\na\nx', 'a\nx\nx\na'],
  ];
  for (const [name, a, b] of cases) {
    it(`round-trips: ${name}`, () => {
      const d = diffLines(a, b);
      assert.equal(applyDiff(a, parseDiff(JSON.stringify(d))), b);
      assert.equal(isEmptyDiff(d), a === b);
    });
  }
  it('keeps HL7 CR separators when the editor sends LF', () => {
    const edited = ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2').split('\r').join('\n');
    const d = diffLines(ADT, edited);
    assert.equal(d.sep, '\r');
    const out = applyDiff(ADT, d);
    assert.equal(out, ADT.replace('WARD1', 'WARD2'));
    assert.deepEqual(diffRows(ADT, d).filter((r) => r.op !== ' ').map((r) => r.op), ['-', '+']);
  });
  it('refuses a diff made for another original, and hostile stored diffs', () => {
    const d = diffLines('a\nb', 'a\nc');
    assert.throws(() => applyDiff('zzz', d), { code: 'QUARANTINE_DIFF_BASE' });
    for (const bad of ['nope', '{}', '{"v":1,"base":"x","sep":"\\n","ops":[["=",-1]]}', '{"v":1,"base":"x","sep":"\\n","ops":[["+",[1]]]}', '{"v":1,"base":"x","sep":"\\n","ops":[["?",1]]}']) {
      assert.throws(() => parseDiff(bad), { code: 'QUARANTINE_DIFF_INVALID' }, bad);
    }
    const over = { ...d, ops: [['=', 5]] as typeof d.ops };
    assert.throws(() => applyDiff('a\nb', over), { code: 'QUARANTINE_DIFF_INVALID' });
    const short = { ...d, ops: [['=', 1]] as typeof d.ops };
    assert.throws(() => applyDiff('a\nb', short), { code: 'QUARANTINE_DIFF_INVALID' });
  });
  it('stays bounded on a huge edit (falls back to replace, still correct)', () => {
    const a = Array.from({ length: 5000 }, (_, i) => `L${i}`).join('\n');
    const b = Array.from({ length: 5000 }, (_, i) => `M${i}`).join('\n');
    const t = Date.now();
    const d = diffLines(a, b);
    assert.ok(Date.now() - t < 2000);
    assert.equal(applyDiff(a, d), b);
  });
});

describe('masking', () => {
  it('masks NHS numbers (spaced or not), names to initials, DOB/address/phone in HL7', () => {
    const m = maskHl7(ADT);
    assert.ok(!m.includes('9000000009'));
    assert.ok(m.includes('900 *** **09'));
    assert.ok(!/SMITH|JANE|HIGH STREET|19800101|0113/.test(m));
    assert.ok(m.includes('S. J. A.'));
    assert.equal(m.split('\r').length, 4);
    assert.ok(m.includes('123456^^^RX1^MR'), 'a local MRN that is not an NHS number stays');
    assert.equal(maskNhsNumbers('nhs 900 000 0009 and 1234567890'), 'nhs 900 *** **09 and 1234567890');
  });
  it('masks FHIR names, birthDate, address, NHS number', () => {
    const m = maskFhir(PATIENT) as any;
    assert.deepEqual(m.name, [{ text: 'A. S. J.' }]);
    assert.equal(m.birthDate, '***');
    assert.equal(m.address, '***');
    assert.equal(m.identifier[0].value, '999 *** **18');
    assert.ok(!maskPayload(JSON.stringify(PATIENT), 'fhir+json').includes('Jones'));
    assert.equal(maskPayload('{broken 9000000009', 'json'), '{broken 900 *** **09');
  });
});
