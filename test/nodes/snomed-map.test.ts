import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labOru } from '../helpers/lab-oru';
import { nodeRedHarness } from '../helpers/node-red';
import { skipWithoutShared } from '../helpers/shared';
import { startTerminologyStandIn, type StandIn } from '../helpers/terminology-server';
import { resolveMapPath, packageRoot } from '../../nodes/shared/terminology-access';

const terminologyNode = require('../../nodes/terminology-config');
const snomedNode = require('../../nodes/snomed-map');
const SCT = 'http://snomed.info/sct';

const ORU = labOru();

describe('nhs-snomed-map node', () => {
  const h = nodeRedHarness();
  let dir = '';
  let csv = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nhs-snomed-node-'));
    csv = join(dir, 'lab.csv');
    writeFileSync(csv, `# version: 3\nsource code,source display,target code,target display\nHB,Haemoglobin,1022431000000105,Haemoglobin level\nNA,Sodium,1000661000000107,Serum sodium level\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const flow = (node: Record<string, unknown>, cfg: Record<string, unknown> = {}) => [
    { id: 't1', type: 'nhs-terminology', maps: csv, watch: false, ...cfg },
    { id: 'm1', type: 'nhs-snomed-map', z: 'f1', terminology: 't1', mode: 'map', path: 'OBX-3', write: true, wires: [['ok'], ['bad']], ...node },
    { id: 'ok', type: 'helper', z: 'f1' },
    { id: 'bad', type: 'helper', z: 'f1' },
  ];

  it('maps every OBX-3 and adds SNOMED CT beside the local code; status shows counts only', async () => {
    await h.load([terminologyNode, snomedNode], flow({}));
    const ok = h.next('ok');
    h.node('m1').receive({ payload: ORU });
    const msg = await ok;
    assert.deepEqual(msg.snomed.codes.map((c: any) => [c.path, c.written]), [['OBX[1]-3', true], ['OBX[2]-3', true]]);
    assert.deepEqual(msg.snomed.provenance, { map: 'lab.csv', version: '3' });
    assert.equal(msg.snomed.targets[0].code, '1022431000000105');
    assert.match(msg.payload, /OBX\|1\|NM\|HB\^Haemoglobin\^L\^1022431000000105\^Haemoglobin level\^SCT\|/);
    assert.equal(msg.hl7.segments[4][3], 'NA^Sodium^L^1000661000000107^Serum sodium level^SCT');
    assert.equal(msg.outcome.issue[0].diagnostics, 'All OK');
    assert.deepEqual(msg.audit.map((a: any) => [a.node, a.action, a.outcome, a.ref]), [['m1', 'snomed.map', 'mapped', 'LAB0001']]);
  });

  it('an unmapped code never leaves on the mapped output', async () => {
    await h.load([terminologyNode, snomedNode], flow({}));
    const ok = h.collect('ok', 1, 500).then(() => 'leaked', () => 'none');
    const bad = h.next('bad');
    h.node('m1').receive({ payload: ORU.replace('NA^Sodium^L', 'QQ^Unknown^L') });
    const msg = await bad;
    assert.equal(await ok, 'none');
    assert.equal(msg.outcome.issue.filter((i: any) => i.severity === 'error').length, 1);
    assert.deepEqual(msg.outcome.issue[0].expression, ['OBX[2]-3']);
    assert.equal(msg.audit[0].outcome, 'unmapped');
  });

  it('validate mode works without a config node; FHIR path; invalid SCTID names the check', async () => {
    await h.load([snomedNode], [
      { id: 'm1', type: 'nhs-snomed-map', z: 'f1', mode: 'validate', path: 'Condition.code', wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper', z: 'f1' }, { id: 'bad', type: 'helper', z: 'f1' },
    ]);
    const bad = h.next('bad');
    h.node('m1').receive({ payload: { resourceType: 'Condition', code: { coding: [{ system: SCT, code: '22298007' }] } } });
    const msg = await bad;
    assert.match(msg.outcome.issue[0].diagnostics, /check-digit/);
    const ok = h.next('ok');
    h.node('m1').receive({ payload: { resourceType: 'Condition', code: { coding: [{ system: SCT, code: '22298006' }] } } });
    const valid = await ok;
    assert.equal(valid.outcome.issue[0].diagnostics, 'All OK');
    assert.equal(valid.snomed.codes[0].source.code, '22298006');
  });

  it('an expression / ECL with a syntax error leaves on the invalid output with the position, no server needed', async () => {
    await h.load([snomedNode], [
      { id: 'm1', type: 'nhs-snomed-map', z: 'f1', mode: 'validate', path: 'Condition.code', wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper', z: 'f1' }, { id: 'bad', type: 'helper', z: 'f1' },
    ]);
    const bad = h.next('bad');
    h.node('m1').receive({ payload: { resourceType: 'Condition', code: { coding: [{ system: SCT, code: '< 404684003 : 363698007 = ' }] } } });
    const msg = await bad;
    assert.equal(msg.outcome.issue[0].severity, 'error');
    assert.match(msg.outcome.issue[0].diagnostics, /syntax error at position \d+/);
    assert.deepEqual(msg.audit.map((a: any) => [a.node, a.outcome]), [['m1', 'invalid']]);
  });

  it('map mode without a config node is a configuration error with a code', async () => {
    await h.load([snomedNode], [{ id: 'm1', type: 'nhs-snomed-map', z: 'f1', mode: 'map', path: 'OBX-3', wires: [[], []] }]);
    const err = new Promise<any>((resolve) => {
      const n = h.node('m1');
      const orig = n.error.bind(n);
      n.error = (e: any, msg?: any) => { if (msg) resolve({ e, msg }); return orig(e, msg); };
    });
    h.node('m1').receive({ payload: ORU });
    const { e } = await err;
    assert.equal(e.code, 'SNOMED_MAP_CONFIG');
  });

  describe('with the stand-in terminology server', { skip: skipWithoutShared('fhir-packages') }, () => {
    let s: StandIn;
    before(async () => { s = await startTerminologyStandIn({ auth: { clientId: 'cid', clientSecret: 'secret' } }); });
    after(() => s?.close());

    it('ValueSet membership with client credentials from Node-RED credentials', async () => {
      await h.load([terminologyNode, snomedNode], flow({ mode: 'valueset', path: 'Observation.valueCodeableConcept', valueSet: 'https://fhir.hl7.org.uk/ValueSet/UKCore-EthnicCategory' }, { maps: '', server: s.base, tokenUrl: s.tokenUrl, rateLimit: 0 }), { t1: { clientId: 'cid', clientSecret: 'secret' } });
      const obs = (code: string) => ({ resourceType: 'Observation', valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland', code }] } });
      const ok = h.next('ok');
      h.node('m1').receive({ payload: obs('A') });
      assert.equal((await ok).outcome.issue[0].diagnostics, 'All OK');
      const bad = h.next('bad');
      h.node('m1').receive({ payload: obs('ZZ') });
      const invalid = await bad;
      assert.equal(invalid.outcome.issue[0].severity, 'error');
      assert.deepEqual(invalid.outcome.issue[0].expression, ['Observation.valueCodeableConcept.coding']);
      assert.equal(s.counts.get('/token'), 1);
    });
  });
});

describe('map file paths', () => {
  it('package: paths resolve inside the package, never outside', () => {
    assert.equal(resolveMapPath('package:examples/SNOMED/lab-codes.csv', '/tmp/u'), join(packageRoot, 'examples', 'SNOMED', 'lab-codes.csv'));
    assert.equal(resolveMapPath('maps/a.csv', '/tmp/u'), '/tmp/u/maps/a.csv');
    assert.equal(resolveMapPath('/abs/a.csv', '/tmp/u'), '/abs/a.csv');
    assert.throws(() => resolveMapPath('package:../../etc/passwd', '/tmp/u'), /inside the package/);
  });
});
