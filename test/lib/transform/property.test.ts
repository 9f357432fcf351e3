/**
 * Property: whatever is written into any field of any supported message, the transform never
 * throws, and either gives a Bundle with no error in its outcome or no Bundle and an error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hl7ToFhir } from '../../../lib/transform';
import { GOOD } from './fixtures';

const messages = Object.values(GOOD);

describe('hl7ToFhir: arbitrary field content (fast-check)', () => {
  it('never throws; a Bundle only without errors, errors only without a Bundle; deterministic', () => {
    fc.assert(fc.property(
      fc.nat({ max: messages.length - 1 }), fc.nat(), fc.nat({ max: 40 }),
      fc.oneof(fc.string({ maxLength: 30 }), fc.stringMatching(/^[\^~&\\|A-Z0-9.+-]{0,20}$/), fc.constantFrom('""', '', '\\X0D\\', '^^^^', '99999999999999')),
      (m, segIndex, field, value) => {
        const segs = messages[m]!.split('\r');
        const si = 1 + (segIndex % (segs.length - 2)); // any segment but MSH and the trailing ''
        const f = segs[si]!.split('|');
        while (f.length <= field + 1) f.push('');
        f[field + 1] = value;
        segs[si] = f.join('|');
        const text = segs.join('\r');
        const r = hl7ToFhir(text);
        const errors = r.outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
        assert.ok(!errors.some((i) => i.code === 'exception'), `no mapping crash: ${errors.map((i) => i.diagnostics).join(' | ')}`);
        if (r.bundle) assert.equal(errors.length, 0);
        else assert.ok(errors.length > 0);
        assert.equal(JSON.stringify(hl7ToFhir(text)), JSON.stringify(r));
      },
    ), { numRuns: 400, seed: 14 });
  });
});
