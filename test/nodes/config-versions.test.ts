/**
 * Config versions (nodes/shared/config-version.ts), Acceptance 3 of the house issue: a flow
 * exported before nodes had a `version` (test/nodes/fixtures/flow-before-versions.json) loads,
 * runs, and reads back upgraded — in node-red-node-test-helper for each node type, and in one
 * real Node-RED process (the built package, dist/).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { ADT, PATIENT } from '../lib/quarantine/fixtures';
import { assignmentRow, goFile, goName, personRow } from '../lib/esr/fixtures';
import { configVersion, upgradeConfig, VERSION_ADDED } from '../../nodes/shared/config-version';

const fixture: Record<string, unknown>[] = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'flow-before-versions.json'), 'utf8'));
const OURS = ['nhs-store', 'nhs-hl7', 'nhs-fhir-validate', 'nhs-quarantine', 'nhs-audit',
  'nhs-pds-config', 'nhs-pds-lookup', 'nhs-esr-source', 'nhs-esr', 'nhs-hl7-to-fhir', 'nhs-terminology', 'nhs-snomed-map',
  'nhs-mllp-in', 'nhs-mllp-response', 'nhs-mllp-out', 'nhs-mllp-endpoint', 'nhs-governance'];
/** Node ids in the fixture of each of our types (same order as OURS). */
const IDS = ['s1', 'h1', 'f1', 'q1', 'a1', 'pc1', 'p1', 'es1', 'e1', 'x1', 't1', 'm1', 'mi1', 'mr1', 'mo1', 'me1', 'g1'];
const FILES = ['store', 'hl7', 'fhir-validate', 'quarantine', 'audit', 'pds-config', 'pds-lookup', 'esr-source', 'esr', 'hl7-to-fhir', 'terminology-config', 'snomed-map',
  'mllp-in', 'mllp-response', 'mllp-out', 'mllp-endpoint', 'governance'];
const SCT = 'http://snomed.info/sct';
const BROKEN = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01||P|2.5\rPID|1||9990000018||TESTPATIENT\r';

describe('config versions: upgradeConfig', () => {
  it('runs each step from the saved version up, in order, on a copy', () => {
    const steps = [(d: any) => ({ ...d, a: 1 }), (d: any) => ({ ...d, b: d.a + 1 })];
    const saved = { id: 'x', type: 't' };
    const r = upgradeConfig(saved, steps);
    assert.deepEqual(r.def, { id: 'x', type: 't', a: 1, b: 2, version: 2 });
    assert.equal(r.from, 0);
    assert.deepEqual(saved, { id: 'x', type: 't' }, 'the flow config itself is not changed');
    assert.deepEqual(upgradeConfig({ id: 'x', type: 't', a: 5, version: 1 }, steps).def, { id: 'x', type: 't', a: 5, b: 6, version: 2 });
    assert.deepEqual(upgradeConfig({ id: 'x', type: 't', version: '1' }, [VERSION_ADDED]).def.version, 1);
  });

  it('a missing or malformed version is 0; a newer one is kept and flagged', () => {
    for (const v of [undefined, null, -1, 1.5, 'x', '']) assert.equal(configVersion({ id: 'x', type: 't', version: v }), 0);
    const r = upgradeConfig({ id: 'x', type: 't', version: 3 }, [VERSION_ADDED]);
    assert.equal(r.newer, true);
    assert.equal(r.def.version, 3);
  });
});

describe('config versions: a flow saved before versions, in node-red-node-test-helper', () => {
  const h = nodeRedHarness();
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nhs-upgrade-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The fixture with HTTP in/out and debug nodes as helper nodes, the store in a temp file. */
  const flow = (): Record<string, unknown>[] => fixture
    .filter((n) => n.type !== 'http in')
    .map((n) => (n.type === 'http response' || n.type === 'debug' ? { id: n.id, z: n.z, type: 'helper' }
      : n.type === 'nhs-store' ? { ...n, file: join(dir, 'upgrade.sqlite') }
        : n.type === 'nhs-esr-source' ? { ...n, folder: join(dir, 'esr-in') } : n));
  const modules = () => FILES.map((f) => require(`../../nodes/${f}`));

  it('every node type loads with its config upgraded to version 1 in memory', async () => {
    assert.ok(fixture.filter((n) => OURS.includes(n.type as string)).every((n) => !('version' in n)), 'the fixture has no version');
    assert.deepEqual(OURS.map((t) => fixture.filter((n) => n.type === t).length), OURS.map(() => 1), 'one node of each type');
    await h.load(modules(), flow());
    for (const id of IDS) {
      const n = h.node(id);
      assert.ok(n, `${id} deployed`);
      assert.equal(n.configVersion, 1, `${n.type} runs config version 1`);
      assert.equal(n.savedConfigVersion, 0, `${n.type} was saved without a version`);
    }
  });

  it('the upgraded flow runs: hl7 → audit, hl7 invalid → quarantine, fhir validate', async () => {
    await h.load(modules(), flow());
    const audited = h.next('r1');
    h.node('h1').receive({ payload: ADT });
    const ok = await audited;
    assert.deepEqual(ok.audit.map((s: any) => `${s.node}:${s.action}`), ['h1:parse', 'a1:hl7.received']);
    const notice = h.next('n1');
    h.node('h1').receive({ payload: BROKEN });
    assert.equal((await notice).payload.code, 'HL7_STRUCTURE');
    const validated = h.next('r2');
    h.node('f1').receive({ payload: PATIENT });
    const v = await validated;
    assert.equal(v.outcome.resourceType, 'OperationOutcome');
    assert.equal(v.fhir.resourceType, 'Patient');
  });

  it('the upgraded flow runs: pds lookup (stand-in), esr intake, hl7 to fhir, snomed map', async () => {
    mkdirSync(join(dir, 'esr-in'), { recursive: true });
    await h.load(modules(), flow());
    const pds = h.next('r3');
    h.node('p1').receive({ payload: '9990000018' });
    const p = await pds;
    assert.equal(p.pds.environment, 'stand-in');
    assert.equal(p.pds.patient?.resourceType, 'Patient');
    assert.deepEqual(p.audit.map((s: any) => `${s.node}:${s.action}:${s.outcome}`), ['p1:pds.retrieve:matched']);

    const name = goName('GDR', 1);
    writeFileSync(join(dir, 'esr-in', name), goFile(name, [personRow({ id: 'P1' }), assignmentRow({ person: 'P1', id: 'A1' })]), 'latin1');
    const records = h.collect('d2', 2);
    h.node('e1').receive({ payload: 'poll' });
    const rows = await records;
    assert.deepEqual(rows.map((m: any) => m.audit.at(-1).node), ['e1', 'e1']);

    const bundle = h.next('r4');
    h.node('x1').receive({ payload: ADT });
    const b = await bundle;
    assert.equal(b.payload.resourceType, 'Bundle');
    assert.deepEqual(b.fhir, { profile: 'http://hl7.org/fhir/StructureDefinition/Bundle', resourceType: 'Bundle' });

    const sct = h.next('r5');
    h.node('m1').receive({ payload: { resourceType: 'Condition', code: { coding: [{ system: SCT, code: '22298007' }] } } });
    const s = await sct;
    assert.equal(s.outcome.issue[0].severity, 'error', 'a corrupted SCTID is invalid');
    assert.match(s.outcome.issue[0].diagnostics, /check-digit/);
  });
});

const built = existsSync(join(repoRoot, 'dist', 'nodes', 'hl7.js'));

describe('config versions: the same flow in a real Node-RED process', { skip: built ? false : 'dist/ not built (npm test builds it first)' }, () => {
  let nr: NodeRedProcess;
  before(async () => { nr = await startNodeRed({ flows: fixture, timeoutMs: 60000 }); });
  after(async () => { await nr?.stop(); });

  it('loads, runs, and lists every node of ours as upgraded from version 0 to 1', async () => {
    const post = (path: string, body: unknown) => fetch(`${nr.url}${path}`, { method: 'POST', headers: { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const hl7 = await post('/upgrade/hl7', ADT);
    assert.equal(hl7.status, 200);
    assert.match(await hl7.text(), /^MSH\|/);
    const bad = await post('/upgrade/hl7', BROKEN);
    assert.equal(bad.status, 200);
    const fhir = await post('/upgrade/fhir', PATIENT);
    assert.equal(fhir.status, 200);
    const r = await nr.api('/nhs-interop/config-versions');
    assert.equal(r.status, 200);
    const byId = Object.fromEntries((r.json().nodes as { id: string; type: string; version: number; saved: number }[]).map((n) => [n.id, n]));
    const pds = await post('/upgrade/pds', '9990000018');
    assert.equal(pds.status, 200);
    const bundle = await post('/upgrade/hl7-to-fhir', ADT);
    assert.equal(bundle.status, 200);
    assert.equal(((await bundle.json()) as { resourceType?: string }).resourceType, 'Bundle');
    const sct = await post('/upgrade/snomed', { resourceType: 'Condition', code: { coding: [{ system: SCT, code: '22298006' }] } });
    assert.equal(sct.status, 200);
    for (const id of IDS) assert.deepEqual({ version: byId[id]?.version, saved: byId[id]?.saved }, { version: 1, saved: 0 }, id);
    assert.deepEqual(OURS.slice().sort(), Object.values(byId).map((n) => n.type).sort());
    // The parked message is in the store the upgraded config named.
    const q = await nr.api('/nhs-interop/quarantine?store=s1');
    assert.equal(q.json().items.length, 1);
  });

  it('serves each node\'s message catalog (nodes/locales/en-US/<file>.json) under its node set', async () => {
    for (const [set, key] of [['nhs-hl7', 'hl7'], ['nhs-fhir-validate', 'fhir-validate'], ['nhs-quarantine', 'quarantine'], ['nhs-audit', 'audit'], ['nhs-store', 'store'],
      ['nhs-pds-config', 'pds-config'], ['nhs-pds-lookup', 'pds-lookup'], ['nhs-esr-source', 'esr-source'], ['nhs-esr', 'esr'], ['nhs-hl7-to-fhir', 'hl7-to-fhir'],
      ['nhs-terminology', 'terminology-config'], ['nhs-snomed-map', 'snomed-map'],
      ['nhs-mllp-in', 'mllp-in'], ['nhs-mllp-response', 'mllp-response'], ['nhs-mllp-out', 'mllp-out'], ['nhs-mllp-endpoint', 'mllp-endpoint']]) {
      const r = await nr.api(`/locales/node-red-contrib-nhs-interop/${set}?lng=en-US`);
      assert.equal(r.status, 200, set);
      assert.ok(r.json()[key!]?.label, `${set}: catalog with top-level key ${key}`);
    }
  });
});
