import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness, sharedDir, skipWithoutShared } from '../helpers/node-red';
import { startTerminologyStandIn, type StandIn } from '../helpers/terminology-server';
import { startRegistry, TRUST_PROFILE } from '../helpers/fhir-registry';

const validateNode = require('../../nodes/fhir-validate');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const flow = (cfg: Record<string, unknown> = {}): Record<string, unknown>[] => [
  { id: 'v', type: 'nhs-fhir-validate', property: 'payload', terminology: 'lenient', useCache: false, ...cfg, wires: [['ok'], ['bad']] },
  { id: 'ok', type: 'helper' },
  { id: 'bad', type: 'helper' },
];
const issues = (msg: any): any[] => msg.outcome.issue;
const errors = (msg: any): any[] => issues(msg).filter((i: any) => i.severity === 'error' || i.severity === 'fatal');

describe('nhs-fhir-validate node', () => {
  const h = nodeRedHarness();

  it('valid resource object → output 1 with msg.outcome, msg.fhir {profile, resourceType} and an audit step', async () => {
    await h.load([validateNode], flow());
    const got = h.next('ok', 15000);
    h.node('v').receive({ payload: { resourceType: 'Patient', id: 'p1', active: true, gender: 'female', birthDate: '1980-01-01' }, audit: [{ at: 'x', node: 'earlier', action: 'a', outcome: 'ok' }] });
    const msg = await got;
    assert.equal(msg.fhir.profile, 'http://hl7.org/fhir/StructureDefinition/Patient');
    assert.equal(msg.outcome.resourceType, 'OperationOutcome');
    assert.equal(msg.fhir.resourceType, 'Patient');
    assert.deepEqual(errors(msg), []);
    assert.equal(msg.audit.length, 2, 'appended, not rewritten');
    assert.equal(msg.audit[0].node, 'earlier');
    assert.deepEqual({ node: msg.audit[1].node, action: msg.audit[1].action, outcome: msg.audit[1].outcome }, { node: 'v', action: 'validate', outcome: 'valid' });
    assert.equal(msg.payload.id, 'p1', 'payload untouched');
  });

  it('invalid resource → output 2 with the issue and its FHIRPath expression', async () => {
    await h.load([validateNode], flow());
    const got = h.next('bad', 15000);
    h.node('v').receive({ payload: { resourceType: 'Patient', gender: 'bogus' } });
    const msg = await got;
    const e = errors(msg);
    assert.equal(e.length, 1);
    assert.deepEqual(e[0].expression, ['Patient.gender']);
    assert.equal(msg.audit.at(-1).outcome, 'invalid');
  });

  it('JSON text is accepted from a chosen property; the profile comes from meta.profile', async () => {
    await h.load([validateNode], flow({ property: 'data.resource' }));
    const got = h.next('ok', 15000);
    const text = JSON.stringify({ resourceType: 'Observation', meta: { profile: ['http://hl7.org/fhir/StructureDefinition/bodyweight'] }, status: 'final', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }], code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-01-01', valueQuantity: { value: 70, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } });
    h.node('v').receive({ data: { resource: text } });
    const msg = await got;
    assert.equal(msg.fhir.profile, 'http://hl7.org/fhir/StructureDefinition/bodyweight');
    assert.equal(typeof msg.data.resource, 'string');
  });

  it('configured profile is applied: bodyweight without a value fails', async () => {
    await h.load([validateNode], flow({ profiles: 'http://hl7.org/fhir/StructureDefinition/bodyweight' }));
    const got = h.next('bad', 15000);
    h.node('v').receive({ payload: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } } });
    const msg = await got;
    assert.equal(msg.fhir.profile, 'http://hl7.org/fhir/StructureDefinition/bodyweight');
    assert.ok(errors(msg).length >= 2, JSON.stringify(errors(msg)));
  });

  const bad: [string, unknown, RegExp][] = [
    ['invalid JSON text', '{"resourceType": "Patient", ', /JSON/],
    ['a number', 42, /not a FHIR resource/],
    ['an array', [{ resourceType: 'Patient' }], /not a FHIR resource/],
    ['missing payload', undefined, /not a FHIR resource/],
    ['an object without resourceType', { foo: 1 }, /resourceType/i],
    ['an unknown resourceType', { resourceType: 'NoSuchThing' }, /NoSuchThing|unknown|not/i],
    ['a Buffer with binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x7b]), /./],
  ];
  for (const [name, payload, re] of bad) {
    it(`bad input: ${name} → invalid output with an OperationOutcome, no crash`, async () => {
      await h.load([validateNode], flow());
      const got = h.next('bad', 15000);
      h.node('v').receive(payload === undefined ? {} : { payload });
      const msg = await got;
      assert.ok(errors(msg).length >= 1);
      assert.match(errors(msg).map((i: any) => i.diagnostics).join('\n'), re);
    });
  }

  it('bad input: huge text (> 10 MiB) and 5,000-deep nesting → invalid, node keeps working', async () => {
    await h.load([validateNode], flow());
    const got = h.collect('bad', 3, 30000);
    const huge = `{"resourceType":"Patient","id":"${'a'.repeat(11 * 1024 * 1024)}"}`;
    h.node('v').receive({ payload: huge });
    h.node('v').receive({ payload: `{"resourceType":"Patient","extension":${'['.repeat(5000)}${']'.repeat(5000)}}` });
    let deep: any = { url: 'http://example.org/x', valueString: 'x' };
    for (let i = 0; i < 5000; i++) deep = { url: 'http://example.org/x', extension: [deep] };
    h.node('v').receive({ payload: { resourceType: 'Patient', extension: [deep] } });
    const msgs = await got;
    assert.equal(errors(msgs[0]).some((i: any) => i.code === 'too-long'), true);
    for (const m of msgs) assert.ok(errors(m).length >= 1);
    const ok = h.next('ok', 15000);
    h.node('v').receive({ payload: { resourceType: 'Patient' } });
    await ok;
  });

  it('status shows valid/invalid counts only, never patient data', async () => {
    await h.load([validateNode], flow());
    const n = h.node('v');
    const texts: string[] = [];
    const orig = n.status.bind(n);
    n.status = (s: any) => { if (s?.text) texts.push(s.text); orig(s); };
    const got = h.collect('bad', 1, 15000);
    const ok = h.collect('ok', 1, 15000);
    n.receive({ payload: { resourceType: 'Patient', name: [{ family: 'Smithsonian' }], identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }] } });
    await ok;
    n.receive({ payload: { resourceType: 'Patient', name: [{ family: 'Smithsonian' }], gender: 'bogus' } });
    await got;
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(texts.some((t) => /valid 1 \/ invalid 1/.test(t)), texts.join(' | '));
    for (const t of texts) {
      assert.doesNotMatch(t, /Smithsonian|9000000009/);
    }
  });

  it('unloadable package folder → done(err) with code FHIR_PACKAGE_FOLDER (seen by a Catch node)', async () => {
    await h.load([validateNode, catchNode], [
      ...flow({ folders: '/nonexistent/fhir/packages' }),
      { id: 'c', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);
    const got = h.next('caught', 15000);
    h.node('v').receive({ payload: { resourceType: 'Patient' } });
    const msg = await got;
    assert.equal(msg.error.code, 'FHIR_PACKAGE_FOLDER');
  });

  it('admin endpoint lists profiles of the configured packages; bad folder → 400 with code', async () => {
    await h.load([validateNode], flow());
    const r = await h.helper.request().get('/nhs-interop/fhir/profiles').query({ useCache: 'false' }).expect(200);
    assert.ok(r.body.profiles.some((p: any) => p.url === 'http://hl7.org/fhir/StructureDefinition/vitalsigns'));
    assert.deepEqual(r.body.packages, [{ name: 'hl7.fhir.r4.core', version: '4.0.1' }]);
    const e = await h.helper.request().get('/nhs-interop/fhir/profiles').query({ folders: '/nonexistent/x', useCache: 'false' }).expect(400);
    assert.equal(e.body.code, 'BAD_REQUEST', 'absolute folders from a request are refused');
  });

  it('admin endpoint takes no filesystem input outside the user directory; errors do not echo paths or file contents', async () => {
    const userDir = mkdtempSync(join(tmpdir(), 'nhs-fv-user-'));
    try {
      mkdirSync(join(userDir, 'broken', 'package'), { recursive: true });
      writeFileSync(join(userDir, 'broken', 'package', 'package.json'), '{"name": "SECRET-CONTENT-7", oops');
      h.helper.settings({ userDir });
      await h.load([validateNode], flow());
      const get = (query: Record<string, string>) => h.helper.request().get('/nhs-interop/fhir/profiles').query({ useCache: 'false', ...query });
      for (const folders of ['/etc', '../', 'a/../../etc', '..\\x', 'ok;/etc']) {
        const r = await get({ folders }).expect(400);
        assert.equal(r.body.code, 'BAD_REQUEST', folders);
      }
      for (const packages of ['../../etc#1', 'a/b#1.0.0', 'x#..', 'x#1/../..', 'noversion']) {
        const r = await get({ packages }).expect(400);
        assert.equal(r.body.code, 'BAD_REQUEST', packages);
      }
      const missing = await get({ folders: 'not-there' }).expect(400);
      assert.equal(missing.body.code, 'FHIR_PACKAGE_FOLDER');
      assert.ok(!JSON.stringify(missing.body).includes(userDir), 'no path in the reply');
      const broken = await get({ folders: 'broken' }).expect(400);
      assert.ok(!JSON.stringify(broken.body).includes('SECRET-CONTENT'), 'no file content in the reply');
      assert.ok(!JSON.stringify(broken.body).includes(userDir), 'no path in the reply');
    } finally {
      h.helper.settings({ userDir: undefined });
      rmSync(userDir, { recursive: true, force: true });
    }
  });

  it('UK Core folder: the UKCore-Patient example is valid; a bad NHS number is invalid', { skip: skipWithoutShared('fhir-packages') }, async () => {
    const pkg = join(sharedDir, 'fhir-packages', 'fhir.r4.ukcore.stu2#2.0.2');
    await h.load([validateNode], flow({ folders: pkg, profiles: 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient' }));
    const example = JSON.parse(readFileSync(join(pkg, 'package', 'examples', 'Patient-UKCore-Patient-RichardSmith-Example.json'), 'utf8'));
    const ok = h.next('ok', 20000);
    h.node('v').receive({ payload: example });
    const good = await ok;
    assert.equal(good.fhir.profile, 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient');
    const badMsg = h.next('bad', 20000);
    const broken = structuredClone(example);
    broken.identifier[0].value = '9000000008';
    h.node('v').receive({ payload: broken });
    const m = await badMsg;
    assert.ok(errors(m).some((i: any) => /Modulus 11/.test(i.diagnostics) && i.expression[0] === 'Patient.identifier[0].value'), JSON.stringify(errors(m)));
    assert.doesNotMatch(JSON.stringify(m.outcome), /9000000008/, 'diagnostics never echo the number');
  });
  it('example flow (examples/FHIR/01) runs offline: the valid Patient leaves on output 1, the invalid one on output 2 with both issues', async () => {
    const flowJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'FHIR', '01 - Validate UK Core Patient.json'), 'utf8'));
    const v = flowJson.find((n: any) => n.type === 'nhs-fhir-validate');
    const injects = flowJson.filter((n: any) => n.type === 'inject');
    assert.equal(injects.length, 2);
    // The example's own node config (useCache as shipped); wiring swapped for helpers, and x/y
    // dropped because the test helper treats a positioned node without a tab as unplaced.
    const { x: _x, y: _y, ...cfg } = v;
    // The example's governance node comes along: the validate node references it.
    const gov = flowJson.find((n: any) => n.type === 'nhs-governance');
    assert.equal(cfg.governance, gov.id);
    await h.load([validateNode, require('../../nodes/governance')], [gov, { ...cfg, id: 'v', wires: [['ok'], ['bad']] }, { id: 'ok', type: 'helper' }, { id: 'bad', type: 'helper' }]);
    const ok = h.next('ok', 15000);
    h.node('v').receive({ payload: JSON.parse(injects[0].payload) });
    const good = await ok;
    assert.deepEqual(errors(good), []);
    const badP = h.next('bad', 15000);
    h.node('v').receive({ payload: JSON.parse(injects[1].payload) });
    const bad = await badP;
    assert.deepEqual(errors(bad).map((i: any) => i.expression[0]).sort(), ['Patient.gender', 'Patient.identifier[0].value']);
  });
});

describe('nhs-fhir-validate with a terminology server (nhs-terminology config; stand-in server)', { skip: skipWithoutShared('fhir-packages') }, () => {
  const h = nodeRedHarness();
  const terminologyNode = require('../../nodes/terminology-config');
  const VS = 'https://fhir.hl7.org.uk/ValueSet/UKCore-EthnicCategory';
  const CS = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland';
  const PROFILE = 'https://example.org/fhir/StructureDefinition/tx-observation';
  let tx: StandIn;
  let dir = '';
  before(async () => {
    tx = await startTerminologyStandIn();
    // A profile binding Observation.code (required) to a ValueSet this validator does not hold:
    // locally "cannot be checked", the way SNOMED CT and dm+d value sets defined by filters are.
    dir = mkdtempSync(join(tmpdir(), 'nhs-fhir-tx-'));
    mkdirSync(join(dir, 'package'));
    writeFileSync(join(dir, 'package', 'package.json'), JSON.stringify({ name: 'test.tx.binding', version: '0.1.0', fhirVersions: ['4.0.1'] }));
    writeFileSync(join(dir, 'package', 'StructureDefinition-tx-observation.json'), JSON.stringify({
      resourceType: 'StructureDefinition', url: PROFILE, name: 'TxObservation', status: 'draft', fhirVersion: '4.0.1', kind: 'resource', abstract: false, type: 'Observation',
      baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation', derivation: 'constraint',
      differential: { element: [{ id: 'Observation.code', path: 'Observation.code', binding: { strength: 'required', valueSet: VS } }] },
    }));
  });
  after(async () => { await tx?.close(); rmSync(dir, { recursive: true, force: true }); });

  const obs = (code: string): unknown => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: CS, code }] } });
  const load = (server: string | undefined, terminology = 'lenient') => h.load([validateNode, terminologyNode], [
    { id: 't1', type: 'nhs-terminology', server: server ?? '', watch: false, rateLimit: 0, retries: 0 },
    ...flow({ folders: dir, profiles: PROFILE, terminologyServer: 't1', terminology }),
  ]);
  const calls = (): number => tx.counts.get('/fhir/ValueSet/$validate-code') ?? 0;

  it('without a server the binding cannot be checked (information, valid)', async () => {
    await h.load([validateNode], flow({ folders: dir, profiles: PROFILE }));
    const ok = h.next('ok', 15000);
    h.node('v').receive({ payload: obs('ZZ') });
    const msg = await ok;
    assert.ok(issues(msg).some((i: any) => i.details?.coding?.[0]?.code === 'Terminology_TX_NoValid_Unknown' || /could not be checked/.test(i.diagnostics)), JSON.stringify(issues(msg)));
  });

  it('codes the local expander cannot check go to ValueSet/$validate-code: a wrong code is invalid, a right one valid, answers cached', async () => {
    await load(tx.base);
    const before = calls();
    const bad = h.next('bad', 15000);
    h.node('v').receive({ payload: obs('ZZ') });
    const b = await bad;
    assert.equal(errors(b).length, 1, JSON.stringify(issues(b)));
    assert.match(errors(b)[0].diagnostics, /not in the value set|None of the codings/);
    assert.deepEqual(errors(b)[0].expression, ['Observation.code']);
    assert.equal(calls(), before + 1);
    const ok = h.next('ok', 15000);
    h.node('v').receive({ payload: obs('A') });
    const g = await ok;
    assert.deepEqual(errors(g), []);
    assert.ok(!issues(g).some((i: any) => /could not be checked/.test(i.diagnostics)), 'checked by the server');
    assert.equal(calls(), before + 2);
    const again = h.next('bad', 15000);
    h.node('v').receive({ payload: obs('ZZ') });
    await again;
    assert.equal(calls(), before + 2, 'the answer for ZZ came from the cache');
  });

  it('a server that fails leaves the code "not checked" (lenient); the message still gets one verdict', async () => {
    await load(tx.base);
    tx.inject({ status: 500 });
    const ok = h.next('ok', 15000);
    h.node('v').receive({ payload: obs('B') });
    const msg = await ok;
    assert.ok(issues(msg).some((i: any) => /could not be checked/.test(i.diagnostics)));
  });
});

describe('nhs-fhir-validate editor: install a package by id from the registry (POST /nhs-interop/fhir/packages/install)', { skip: skipWithoutShared('fhir-packages') }, () => {
  const h = nodeRedHarness();
  let reg: Awaited<ReturnType<typeof startRegistry>>;
  let cache = '';
  const savedCache = process.env.FHIR_PACKAGE_CACHE;
  before(async () => {
    reg = await startRegistry();
    cache = mkdtempSync(join(tmpdir(), 'nhs-fhir-install-'));
    process.env.FHIR_PACKAGE_CACHE = cache;
    h.helper.settings({ nhsFhirValidateRegistry: reg.url });
  });
  after(async () => {
    h.helper.settings({ nhsFhirValidateRegistry: undefined });
    if (savedCache === undefined) delete process.env.FHIR_PACKAGE_CACHE; else process.env.FHIR_PACKAGE_CACHE = savedCache;
    await reg?.close();
    rmSync(cache, { recursive: true, force: true });
  });
  const install = (body: unknown) => h.helper.request().post('/nhs-interop/fhir/packages/install').send(body);

  it('installs name#version with its dependency into the package cache; the profile list and a node then use it', async () => {
    await h.load([validateNode], flow());
    const r = await install({ package: 'example.trust.profiles#1.0.0' }).expect(200);
    assert.deepEqual(r.body.installed.map((p: any) => `${p.name}#${p.version}`).sort(), ['example.trust.profiles#1.0.0', 'fhir.r4.ukcore.stu2#2.0.2']);
    assert.ok(existsSync(join(cache, 'fhir.r4.ukcore.stu2#2.0.2', 'package', 'package.json')));
    assert.ok(reg.hits.includes('/example.trust.profiles/1.0.0') && reg.hits.includes('/fhir.r4.ukcore.stu2/2.0.2'), 'fetched from the configured registry');
    const list = await h.helper.request().get('/nhs-interop/fhir/profiles').query({ packages: 'example.trust.profiles#1.0.0', useCache: 'true' }).expect(200);
    assert.ok(list.body.profiles.some((p: any) => p.url === TRUST_PROFILE));
    assert.deepEqual(list.body.missing, []);
  });

  it('a node then validates with the installed package and its dependency', async () => {
    await h.load([validateNode], flow({ packages: 'example.trust.profiles#1.0.0', useCache: true, profiles: TRUST_PROFILE }));
    const bad = h.next('bad', 20000);
    h.node('v').receive({ payload: { resourceType: 'Patient', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }] } });
    const m = await bad;
    assert.ok(errors(m).some((i: any) => /gender/.test(JSON.stringify(i))), JSON.stringify(errors(m)));
  });

  it('a tarball that does not match the registry checksum is refused (422) and nothing is installed', async () => {
    await h.load([validateNode], flow());
    const r = await install({ package: 'example.tampered#1.0.0' }).expect(422);
    assert.equal(r.body.code, 'FHIR_REGISTRY_CHECKSUM');
    assert.ok(!existsSync(join(cache, 'example.tampered#1.0.0')));
  });

  it('unknown package → 404; not a name#version id → 400, without asking the registry', async () => {
    await h.load([validateNode], flow());
    assert.equal((await install({ package: 'example.nothere#1.0.0' }).expect(404)).body.code, 'FHIR_REGISTRY_NOT_FOUND');
    const before = reg.hits.length;
    for (const body of [{}, { package: 42 }, { package: '../etc#1' }, { package: 'a b#1' }, { package: 'example.trust.profiles' }, []]) {
      assert.equal((await install(body).expect(400)).body.code, 'BAD_REQUEST', JSON.stringify(body));
    }
    assert.equal(reg.hits.length, before);
  });
});
