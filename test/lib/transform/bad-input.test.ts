/**
 * Bad input for the HL7 v2 → FHIR transform: for each message type, missing mandatory fields,
 * wrong data types, unknown codes and broken encodings give an outcome with errors at the right
 * place and no Bundle (never a partial one), and never throw.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hl7ToFhir } from '../../../lib/transform';
import { GOOD } from './fixtures';

/** Replace one field (1-based, MSH counted as HL7 does) of the first segment `name`. */
function setField(text: string, name: string, field: number, value: string): string {
  return text.split('\r').map((s, i, a) => {
    if (!s.startsWith(`${name}|`) || a.findIndex((x) => x.startsWith(`${name}|`)) !== i) return s;
    const f = s.split('|');
    const idx = name === 'MSH' ? field - 1 : field;
    while (f.length <= idx) f.push('');
    f[idx] = value;
    return f.join('|');
  }).join('\r');
}
const drop = (text: string, name: string): string => text.split('\r').filter((s) => !s.startsWith(`${name}|`)).join('\r');

type Case = [string, (t: string) => string, RegExp];
const common = (): Case[] => [
  ['missing PID-3', (t) => setField(t, 'PID', 3, ''), /PID-3 has no patient identifier/],
  ['NHS number failing Modulus 11', (t) => setField(t, 'PID', 3, '9990001007^^^NHS^NH'), /Modulus 11/],
  ['PID-7 not a date', (t) => setField(t, 'PID', 7, '1980-01-01'), /PID\[1\]-7 is not a valid HL7 date\/time/],
  ['PID-7 impossible date', (t) => setField(t, 'PID', 7, '19800231'), /PID\[1\]-7 is not a valid/],
  ['missing PID', (t) => drop(t, 'PID'), /PID segment is missing/],
  ['missing MSH-10', (t) => setField(t, 'MSH', 10, ''), /MSH-10/],
  // MSH-7 is read last (the Bundle timestamp): it must still stop the Bundle.
  ['MSH-7 impossible date/time', (t) => setField(t, 'MSH', 7, '2024131599'), /MSH\[1\]-7 is not a valid HL7 date\/time/],
  ['unknown event', (t) => setField(t, 'MSH', 9, `${t.split('|')[8]!.split('^')[0]!}^Z99`), /is not transformed/],
  ['broken encoding characters', (t) => t.replace('MSH|^~\\&|', 'MSH|^^^^|'), /./],
  ['truncated inside MSH', (t) => t.slice(0, 12), /./],
  ['not HL7 at all', () => '\u0000\u0001{"resourceType":"Patient"}', /./],
];

const PER_TYPE: Record<string, Case[]> = {
  ADT: [
    ['missing PV1', (t) => drop(t, 'PV1'), /PV1 segment is missing/],
    ['missing PV1-2', (t) => setField(t, 'PV1', 2, ''), /PV1-2 patient class is missing/],
    ['unknown patient class', (t) => setField(t, 'PV1', 2, 'Q'), /'Q' is not in mapping table 'patientClass'/],
    ['PV1-44 wrong type', (t) => setField(t, 'PV1', 44, 'yesterday'), /PV1\[1\]-44 is not a valid/],
  ],
  A40: [
    ['missing MRG', (t) => drop(t, 'MRG'), /MRG segment is missing/],
    ['empty MRG-1', (t) => setField(t, 'MRG', 1, ''), /MRG-1 prior patient identifier is missing/],
    ['merge into itself', (t) => setField(t, 'MRG', 1, '9990001006^^^NHS^NH'), /names the surviving patient itself/],
  ],
  ORU: [
    ['missing OBR', (t) => drop(t, 'OBR'), /OBX before any OBR|OBR segment is missing/],
    ['missing OBR-4', (t) => setField(t, 'OBR', 4, ''), /OBR-4/],
    ['missing OBX-3', (t) => setField(t, 'OBX', 3, ''), /OBX-3/],
    ['NM value not a number', (t) => setField(t, 'OBX', 5, 'high'), /type NM is not a number/],
    ['unknown value type', (t) => setField(t, 'OBX', 2, 'ZZ'), /value type 'ZZ' is not supported/],
    ['missing value type', (t) => setField(t, 'OBX', 2, ''), /value type '' is missing/],
    ['unknown result status', (t) => setField(t, 'OBX', 11, 'Q'), /'Q' is not in mapping table 'observationStatus'/],
    ['unknown report status', (t) => setField(t, 'OBR', 25, 'Q'), /'Q' is not in mapping table 'reportStatus'/],
    ['ED not Base64', (t) => t.replace('^application^pdf^Base64^JVBERi0xLjQKJcfsj6IK', '^application^pdf^Base64^%%%'), /not Base64/],
  ],
  ORDER: [
    ['missing OBR', (t) => drop(t, 'OBR'), /OBR segment is missing/],
    ['missing ORC-1', (t) => setField(t, 'ORC', 1, ''), /ORC-1 order control is missing/],
    ['unknown order control', (t) => setField(t, 'ORC', 1, 'ZZ'), /'ZZ' is not in mapping table 'orderControl'/],
    ['ORC-9 wrong type', (t) => setField(t, 'ORC', 9, '2024-03-17'), /ORC\[1\]-9 is not a valid/],
  ],
  REF: [
    ['missing RF1', (t) => drop(t, 'RF1'), /RF1 segment is missing/],
    ['missing RF1-1', (t) => setField(t, 'RF1', 1, ''), /RF1-1 referral status is missing/],
    ['unknown referral status', (t) => setField(t, 'RF1', 1, 'Q'), /'Q' is not in mapping table 'referralStatus'/],
    ['RF1-7 wrong type', (t) => setField(t, 'RF1', 7, 'soon'), /RF1\[1\]-7 is not a valid/],
  ],
};

const groupOf = (type: string): string => (type === 'ADT^A40' ? 'A40' : type.startsWith('ADT') ? (['ADT^A28', 'ADT^A31'].includes(type) ? '' : 'ADT') : type.startsWith('ORU') ? 'ORU' : type.startsWith('REF') ? 'REF' : 'ORDER');

describe('hl7ToFhir: bad input of each message type', () => {
  for (const [type, good] of Object.entries(GOOD)) {
    const cases = [...common(), ...(PER_TYPE[groupOf(type)] ?? [])];
    for (const [name, mutate, expected] of cases) {
      it(`${type}: ${name} → errors, no Bundle`, () => {
        const bad = mutate(good);
        assert.notEqual(bad, good, 'the mutation changed the message');
        let r: ReturnType<typeof hl7ToFhir> | undefined;
        assert.doesNotThrow(() => { r = hl7ToFhir(bad); });
        assert.equal(r!.bundle, undefined, 'no partial Bundle');
        const errs = r!.outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
        assert.ok(errs.length > 0, 'has errors');
        assert.ok(errs.some((i) => expected.test(i.diagnostics ?? '')), errs.map((i) => i.diagnostics).join(' | '));
        for (const i of errs) assert.doesNotMatch(i.diagnostics ?? '', /SMITH|9990001006|ALEX/, 'no patient data in diagnostics');
      });
    }
  }

  it('A28/A31: a person-level message without PV1 is still fine (no Encounter)', () => {
    const r = hl7ToFhir(drop(GOOD['ADT^A28']!, 'PV1'));
    assert.ok(r.bundle);
    assert.ok(!r.bundle.entry.some((e) => e.resource.resourceType === 'Encounter'));
  });

  it('an unknown time zone is one clear error, not an error per date', () => {
    const r = hl7ToFhir(GOOD['ADT^A01']!, { zone: 'Mars/Olympus' });
    assert.equal(r.bundle, undefined);
    assert.deepEqual(r.outcome.issue.map((i) => i.code), ['invalid']);
    // Known zones are remembered (the check is per call); an unknown one is still refused after a good one.
    assert.ok(hl7ToFhir(GOOD['ADT^A01']!, { zone: 'Europe/London' }).bundle);
    assert.ok(hl7ToFhir(GOOD['ADT^A01']!, { zone: 'Europe/London' }).bundle);
    assert.equal(hl7ToFhir(GOOD['ADT^A01']!, { zone: 'Mars/Olympus' }).bundle, undefined);
  });

  it('non-string, empty and oversized input never throw', () => {
    for (const bad of ['', 'MSH', 'x'.repeat(100)]) assert.equal(hl7ToFhir(bad).bundle, undefined);
    const big = hl7ToFhir(GOOD['ADT^A01']!, { maxLength: 100 });
    assert.equal(big.bundle, undefined);
    assert.equal(big.outcome.issue[0]!.code, 'too-long');
  });
});
