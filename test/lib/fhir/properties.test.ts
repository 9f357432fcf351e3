/**
 * Property tests (fast-check) for FHIR JSON reading and validateText: on any bytes or text —
 * mutated conformance inputs (../shared, read in place), edited resources, JSON token soup, raw
 * bytes, deep nesting — `readJson` never throws and agrees with JSON.parse, and `validateText`
 * always returns an OperationOutcome with at least one issue (never an exception, never the
 * validator's own "Validator failure"). The oracles are the fuzz targets' (test/lib/fuzz/
 * targets.ts); run counts are bounded for `npm test` (FHIR_PROPERTY_RUNS raises them).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createValidator } from '../../../lib/fhir/validator';
import { fhirJsonTarget, validateR4Target, type FhirInput } from '../fuzz/targets';

const RUNS = Number(process.env.FHIR_PROPERTY_RUNS ?? 300);

/** These two targets' checks are synchronous. */
const sync = (check: (i: FhirInput) => void | Promise<void>) => (i: FhirInput): void => {
  assert.equal(check(i), undefined);
};

describe('properties: FHIR JSON reader', () => {
  it('any bytes (as a Buffer) or any text: never throws; reads exactly what JSON.parse reads', () => {
    const anyInput = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((u): FhirInput => ({ text: Buffer.from(u).toString('latin1'), bytes: true })),
      fc.string({ unit: 'binary', maxLength: 200 }).map((text): FhirInput => ({ text, bytes: false })),
    );
    fc.assert(fc.property(anyInput, sync((i) => fhirJsonTarget.check(i))), { numRuns: RUNS });
  });

  it('mutated conformance inputs, edited resources, tokens, raw bytes: agrees with JSON.parse', () => {
    fc.assert(fc.property(fhirJsonTarget.arbitrary, sync((i) => fhirJsonTarget.check(i))), { numRuns: RUNS });
  });
});

describe('properties: validateText (base FHIR R4)', () => {
  it('always an OperationOutcome with at least one issue, whatever the text', async () => {
    await validateR4Target.init!();
    fc.assert(fc.property(validateR4Target.arbitrary, sync((i) => validateR4Target.check(i))), { numRuns: Math.ceil(RUNS / 3) });
  });

  it('fuzz finding: a boolean where ras-2 compares a number (fhirpath throws a non-Error) is an issue, not a validator failure', () => {
    const o = createValidator().validateText(JSON.stringify({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/1' }, prediction: [{ probabilityDecimal: false }] }));
    assert.ok(!o.issue.some((i) => (i.diagnostics ?? '').includes('Validator failure')), JSON.stringify(o.issue));
    assert.ok(o.issue.some((i) => i.severity === 'error'), 'a boolean is not a decimal');
  });
});
