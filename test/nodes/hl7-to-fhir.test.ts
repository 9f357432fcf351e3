import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { GOOD } from '../lib/transform/fixtures';
import { encodeHl7Text, parseHl7 } from '../../lib/hl7';
import { hl7ToFhir } from '../../lib/transform';

const node = require('../../nodes/hl7-to-fhir');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const flow = (cfg: Record<string, unknown> = {}): Record<string, unknown>[] => [
  { id: 'n', type: 'nhs-hl7-to-fhir', direction: 'hl7-to-fhir', property: 'payload', ...cfg, wires: [['ok'], ['bad']] },
  { id: 'ok', type: 'helper' },
  { id: 'bad', type: 'helper' },
];
const errors = (msg: any): any[] => msg.outcome.issue.filter((i: any) => i.severity === 'error' || i.severity === 'fatal');

describe('nhs-hl7-to-fhir node', () => {
  const h = nodeRedHarness();

  it('ADT^A01 text → valid output: Bundle in payload, msg.fhir, outcome, audit appended', async () => {
    await h.load([node], flow());
    const got = h.next('ok');
    h.node('n').receive({ payload: GOOD['ADT^A01'], audit: [{ at: 'x', node: 'earlier', action: 'a', outcome: 'ok' }] });
    const msg = await got;
    assert.equal(msg.payload.resourceType, 'Bundle');
    assert.equal(msg.payload.type, 'transaction');
    assert.deepEqual(msg.fhir, { profile: 'http://hl7.org/fhir/StructureDefinition/Bundle', resourceType: 'Bundle' });
    assert.deepEqual(errors(msg), []);
    assert.equal(msg.audit.length, 2);
    assert.deepEqual({ ...msg.audit[1], at: undefined }, { at: undefined, node: 'n', action: 'hl7-to-fhir', outcome: 'valid', ref: 'ADT0001' });
  });

  it('msg.hl7 from the hl7 node is used when the payload is not HL7 text; a Buffer is decoded', async () => {
    await h.load([node], flow());
    const got = h.collect('ok', 2);
    h.node('n').receive({ payload: { some: 'object' }, hl7: parseHl7(GOOD['ORU^R01']!).message!.toJSON() });
    h.node('n').receive({ payload: encodeHl7Text(GOOD['REF^I12']!, 'UNICODE UTF-8') });
    const [a, b] = await got;
    assert.ok(a.payload.entry.some((e: any) => e.resource.resourceType === 'DiagnosticReport'));
    assert.ok(b.payload.entry.some((e: any) => e.resource.resourceType === 'ServiceRequest'));
  });

  it('bad input → invalid output with the errors, original message intact, no Bundle anywhere', async () => {
    await h.load([node], flow());
    const got = h.collect('bad', 3);
    const broken = GOOD['ADT^A01']!.replace('|19800101|', '|01/01/1980|');
    h.node('n').receive({ payload: broken });
    h.node('n').receive({ payload: 42 });
    h.node('n').receive({ payload: '' });
    const [a, b, c] = await got;
    assert.equal(a.payload, broken, 'payload untouched');
    assert.equal(a.fhir, undefined);
    assert.match(errors(a)[0].diagnostics, /PID\[1\]-7/);
    assert.deepEqual({ ...a.audit[0], at: undefined }, { at: undefined, node: 'n', action: 'hl7-to-fhir', outcome: 'invalid', ref: 'ADT0001' });
    assert.equal(b.payload, 42);
    assert.ok(errors(b).length);
    assert.ok(errors(c).length);
  });

  it('mapping tables from a file and from the editor JSON (the editor wins)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhs-x-'));
    try {
      writeFileSync(join(dir, 't.json'), JSON.stringify({ sex: { X: 'female', Y: 'male' } }));
      await h.load([node], flow({ tablesFile: join(dir, 't.json'), tables: '{ "sex": { "X": "other" } }' }));
      const got = h.collect('ok', 2);
      h.node('n').receive({ payload: GOOD['ADT^A28']!.replace('|19800101|M|', '|19800101|X|') });
      h.node('n').receive({ payload: GOOD['ADT^A28']!.replace('|19800101|M|', '|19800101|Y|') });
      const [x, y] = await got;
      const gender = (m: any): string => m.payload.entry.find((e: any) => e.resource.resourceType === 'Patient').resource.gender;
      assert.equal(gender(x), 'other');
      assert.equal(gender(y), 'male');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('unusable mapping tables → done(err) with a code for a Catch node, red status', async () => {
    await h.load([node, catchNode], [...flow({ tables: '{ "nope": {} }' }), { id: 'c', type: 'catch', scope: null, wires: [['caught']] }, { id: 'caught', type: 'helper' }]);
    const got = h.next('caught');
    h.node('n').receive({ payload: GOOD['ADT^A01'] });
    const msg = await got;
    assert.equal(msg.error.code, 'TRANSFORM_TABLES');
  });

  it('FHIR → HL7: a Patient (or a Bundle holding one) → ADT^A28 text with msg.hl7 and msg.topic', async () => {
    await h.load([node], flow({ direction: 'fhir-to-hl7', event: 'A31', sendingApplication: 'NODERED', sendingFacility: 'RX1' }));
    const bundleNode = hl7ToFhir(GOOD['ADT^A28']!).bundle!;
    const got = h.collect('ok', 2);
    const bad = h.next('bad');
    h.node('n').receive({ payload: bundleNode });
    h.node('n').receive({ payload: JSON.stringify(bundleNode.entry.find((e) => e.resource.resourceType === 'Patient')!.resource) });
    h.node('n').receive({ payload: { resourceType: 'Observation' } });
    const [a, b] = await got;
    assert.equal(a.topic, 'ADT^A31');
    assert.equal(a.hl7.type, 'ADT^A31');
    assert.match(a.payload, /^MSH\|\^~\\&\|NODERED\|RX1\|/);
    assert.equal(a.payload.split('\r')[2], GOOD['ADT^A28']!.split('\r')[2], 'PID as sent');
    assert.equal(b.topic, 'ADT^A31');
    assert.ok(errors(await bad).length);
  });
});
