/**
 * examples/Referral/01 - Referral to triage.json in a real Node-RED with the built package (DESIGN
 * §4, issue 14): referrals arrive as FHIR on the flow's HTTP endpoint and as HL7 v2 REF^I12 over
 * MLLP, are verified against the PDS stand-in, validated against UK Core STU2 (../shared), mapped
 * to SNOMED CT and become a UK Core Task on the example's EPR stand-in. Bad referrals end in
 * quarantine for the referrals team with a reason code naming the step; one is edited and released
 * through the sidebar's admin API and completes the path; the patient's audit trail is found by
 * NHS number. Evidence comes only from outside the flow: HTTP answers, MLLP ACKs, the admin API.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { peerConnect, msaOf } from '../helpers/mllp-peer';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { sharedDir, skipWithoutShared } from '../helpers/shared';
import { waitFor } from '../helpers/wait';

const exampleFile = join(repoRoot, 'examples', 'Referral', '01 - Referral to triage.json');
const built = existsSync(join(repoRoot, 'dist', 'nodes', 'hl7-to-fhir.js'));
const skip = !built ? 'dist/ not built (npm run build first)' : skipWithoutShared('fhir-packages');


const LOCAL = 'https://example-trust.nhs.uk/CodeSystem/referral-local';
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

/** A FHIR referral: a transaction Bundle with a UK Core ServiceRequest and its Patient. */
function fhirReferral(id: string, p: { nhs: string; family: string; given: string; gender: string; birthDate: string }, code = 'CARDIO', status = 'active'): unknown {
  const pid = `urn:uuid:00000000-0000-4000-8000-${id.padStart(12, '0')}`;
  return {
    resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: pid, resource: { resourceType: 'Patient', meta: { profile: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient'] }, identifier: [{ system: NHS, value: p.nhs }], name: [{ use: 'official', family: p.family, given: [p.given] }], gender: p.gender, birthDate: p.birthDate }, request: { method: 'POST', url: 'Patient' } },
      { fullUrl: `urn:uuid:00000000-0000-4000-9000-${id.padStart(12, '0')}`, resource: { resourceType: 'ServiceRequest', meta: { profile: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest'] }, identifier: [{ system: 'https://example-trust.nhs.uk/Id/referral', value: `WEB${id}` }], status, intent: 'order', priority: 'routine', code: { coding: [{ system: LOCAL, code, display: 'local referral code' }] }, subject: { reference: pid }, authoredOn: '2026-01-15T09:55:00+00:00' }, request: { method: 'POST', url: 'ServiceRequest' } },
    ],
  };
}

/** An HL7 v2.5.1 REF^I12 (RF1, PRD, PID, OBR-4 the local referral code). */
function ref(controlId: string, pid: string, code: string): string {
  return [
    `MSH|^~\\&|GPSYS|Y12345|EREF|RX1|20260115100000+0000||REF^I12^REF_I12|${controlId}|P|2.5.1|||AL|NE|GBR|UNICODE UTF-8`,
    `RF1|P^Pending^HL70283|R^Routine^HL70280|Med^Medical^HL70281||O^Outpatient^HL70284|${controlId}^Y12345|20260115095500+0000`,
    'PRD|RP^Referring Provider^HL70286|REFERRER^RITA^^^DR|||||G7654321^GMP',
    `PID|1||${pid}`,
    `OBR|1|||${code}^Local referral^L`,
  ].join('\r') + '\r';
}

const ALICE = { nhs: '9990000018', family: 'DEMOPATIENT', given: 'Alice', gender: 'female', birthDate: '1980-02-14' };
const BEN = { nhs: '9990000026', family: 'EXAMPLEPERSON', given: 'Ben', gender: 'male', birthDate: '1975-07-01' };

describe('Referral example: referral to triage Task (real Node-RED)', { skip }, () => {
  let nr: NodeRedProcess;
  let mllpPort: number;
  const tasks = async (): Promise<any[]> => ((await (await fetch(`${nr.url}/epr/Task`)).json()) as { entry: { resource: unknown }[] }).entry.map((e) => e.resource);
  const post = async (body: unknown, type = 'application/fhir+json'): Promise<{ status: number; json: any }> => {
    const r = await fetch(`${nr.url}/referrals`, { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, json: await r.json() };
  };
  const openItems = async (): Promise<any[]> => (await nr.api('/nhs-interop/quarantine?state=open')).json().items;

  before(async () => {
    nr = await startNodeRed({ flows: [], env: { FHIR_PACKAGE_CACHE: join(sharedDir, 'fhir-packages') } });
    mllpPort = await freePort();
    const flow = (JSON.parse(readFileSync(exampleFile, 'utf8')) as any[]).map((n) => {
      if (n.type === 'tab') return { ...n, env: [{ name: 'EPR_URL', value: `${nr.url}/epr`, type: 'str' }] };
      if (n.type === 'nhs-mllp-in') return { ...n, port: String(mllpPort) };
      return n;
    });
    await nr.deploy(flow);
    // The flow's HTTP routes exist once its nodes have started.
    await waitFor('the EPR stand-in route', async () => ((await fetch(`${nr.url}/epr/Task`)).ok ? true : undefined));
  });
  after(async () => { await nr?.stop(); });

  it('good referrals (FHIR over HTTP, REF^I12 over MLLP) become triage Tasks with no manual touch', async () => {
    const accepted = await post(fhirReferral('1', ALICE));
    assert.equal(accepted.status, 202);
    assert.match(accepted.json.issue[0].diagnostics, /WEB1 accepted/);

    const peer = await waitFor('the MLLP listener', async () => { try { return await peerConnect(mllpPort); } catch { return undefined; } });
    try {
      const ack = msaOf(await peer.request(ref('REF2001', `${BEN.nhs}^^^NHS^NH||${BEN.family}^${BEN.given}||19750701|M`, 'GEN'), 15000));
      assert.deepEqual(ack, { code: 'CA', controlId: 'REF2001' }, 'committed, then a commit accept (MSH-15 AL: enhanced mode)');
    } finally { peer.close(); }

    const got = await waitFor('two Tasks at the EPR', async () => { const t = await tasks(); return t.length >= 2 ? t : undefined; });
    assert.equal(got.length, 2);
    const byNhs = new Map(got.map((t) => [t.for.identifier.value, t]));
    const alice = byNhs.get(ALICE.nhs);
    const ben = byNhs.get(BEN.nhs);
    assert.ok(alice && ben, 'one Task per patient');
    for (const t of [alice, ben]) {
      assert.equal(t.resourceType, 'Task');
      assert.deepEqual(t.meta.profile, ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Task']);
      assert.equal(t.status, 'requested');
      assert.equal(t.intent, 'order');
      assert.equal(t.code.coding[0].code, 'fulfill');
      assert.equal(t.owner.display, 'Referrals triage team');
    }
    assert.equal(alice.focus.identifier.value, 'WEB1');
    assert.equal(ben.focus.identifier.value, 'REF2001');
    // SNOMED CT beside the local code, on both paths (the HL7 one through hl7-to-fhir).
    assert.deepEqual(alice.reasonCode.coding.map((c: any) => `${c.system}|${c.code}`), [`${LOCAL}|CARDIO`, 'http://snomed.info/sct|183519002']);
    assert.deepEqual(ben.reasonCode.coding.map((c: any) => `${c.system}|${c.code}`), [`${LOCAL}|GEN`, 'http://snomed.info/sct|306206005']);
    assert.deepEqual(await openItems(), [], 'nothing was quarantined, nobody touched anything');
  });

  it('each bad referral ends in quarantine for the referrals team with a reason naming the step', async () => {
    assert.equal((await post(fhirReferral('2', { ...ALICE, birthDate: '1980-02-15' }, 'GEN'))).status, 202);
    assert.equal((await post(fhirReferral('3', BEN, 'GEN', 'not-a-status'))).status, 202);
    const notFhir = await post('{"resourceType":"Patient"}');
    assert.equal(notFhir.status, 400);
    assert.equal(notFhir.json.issue[0].severity, 'error');
    const peer = await peerConnect(mllpPort);
    try {
      assert.equal(msaOf(await peer.request(ref('REF2002', `${ALICE.nhs}^^^NHS^NH||${ALICE.family}^${ALICE.given}||19800214|F`, 'NEWCLINIC'), 15000)).code, 'CA');
      // An unknown patient: valid Modulus 11, not held by the stand-in.
      assert.equal(msaOf(await peer.request(ref('REF2003', '9990000093^^^NHS^NH||NOBODY^NEMO||19600101|M', 'GEN'), 15000)).code, 'CA');
    } finally { peer.close(); }

    const items = await waitFor('five quarantined referrals', async () => { const q = await openItems(); return q.length >= 5 ? q : undefined; });
    assert.equal(items.length, 5);
    for (const i of items) {
      assert.equal(i.owner, 'referrals team');
      assert.match(i.reason, /\(see msg\.outcome\)$/);
    }
    assert.deepEqual(items.map((i) => i.reasonCode).sort(), ['REFERRAL_INVALID', 'REFERRAL_NOT_FHIR', 'REFERRAL_PDS', 'REFERRAL_PDS', 'REFERRAL_UNMAPPED']);
    assert.equal((await tasks()).length, 2, 'no Task for a bad referral');
  });

  it('a referral edited and released from the sidebar API completes the path', async () => {
    const items = await openItems();
    const pds = items.filter((i) => i.reasonCode === 'REFERRAL_PDS' && i.contentType !== 'hl7');
    const item = await waitFor('the wrong-birth-date referral', async () => {
      for (const i of pds) {
        const v = (await nr.api(`/nhs-interop/quarantine/${i.id}/reveal`)).json();
        if (typeof v.payload === 'string' && v.payload.includes('1980-02-15')) return v;
      }
      return undefined;
    }, 5000);
    const edited = (item.payload as string).replace('1980-02-15', '1980-02-14');
    const r = await nr.api(`/nhs-interop/quarantine/${item.id}/release`, { method: 'POST', body: { payload: edited } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().delivered, true);
    const t = await waitFor('the released referral\'s Task', async () => (await tasks()).find((x) => x.focus.identifier.value === 'WEB2'));
    assert.equal(t.for.identifier.value, ALICE.nhs);
    assert.equal(t.reasonCode.coding[1].code, '306206005');
    const after = (await nr.api(`/nhs-interop/quarantine/${item.id}`)).json();
    assert.equal(after.state, 'released');
    assert.equal(after.edited, true);
  });

  it('one patient\'s audit trail covers every step and is found by NHS number in under a second', async () => {
    const started = performance.now();
    const r = await nr.api(`/nhs-interop/audit?nhsNumber=${BEN.nhs}&limit=1000`);
    const ms = performance.now() - started;
    assert.equal(r.status, 200);
    assert.ok(ms < 1000, `audit search took ${ms.toFixed(0)} ms`);
    const records: any[] = r.json().records;
    // REF2001: Ben's HL7 referral, every step from the socket to the EPR.
    const actions = new Set(records.filter((x) => x.correlationId === 'REF2001' || x.messageId === 'REF2001').map((x) => x.action));
    for (const step of ['receive', 'pds.verify', 'hl7-to-fhir', 'validate', 'snomed.map', 'referral.triage-task']) assert.ok(actions.has(step), `Ben's referral trail has ${step}: ${[...actions].join(', ')}`);
    // Alice: parked at PDS, released by the editor, then the Task.
    const alice: any[] = (await nr.api(`/nhs-interop/audit?nhsNumber=${ALICE.nhs}&limit=1000`)).json().records;
    const aliceActions = new Set(alice.map((x) => x.action));
    for (const step of ['pds.verify', 'validate', 'snomed.map', 'quarantine.park', 'quarantine.release', 'referral.triage-task']) assert.ok(aliceActions.has(step), `Alice's trail has ${step}: ${[...aliceActions].join(', ')}`);
    assert.ok(alice.every((x) => x.subject === null || /\*/.test(x.subject)), 'the search shows masked NHS numbers');
    const verify = await nr.api('/nhs-interop/audit/verify', { method: 'POST', body: {} });
    assert.equal(verify.json().ok, true, 'the chain verifies');
    assert.doesNotMatch(nr.output(), /\[error\]/);
  });
});
