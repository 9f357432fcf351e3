/**
 * The first ten minutes: what `npm start` deploys (scripts/demo-flows.mjs: every example on its own
 * tab plus the demo traffic simulator) runs in a real Node-RED with the built package, the Getting
 * started tab's inject buttons do what its comment says, synthetic traffic reaches the Referral,
 * ADT and Lab examples within a minute (Tasks, FHIR posts, results, quarantine items, audit), and
 * nothing logs an error. Evidence is read back from the default store the nodes used
 * (<userDir>/nhs-interop.sqlite) and the examples' local receivers.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { createStore } from '../../lib/store';
import { PATIENT_DATA_TYPES } from '../../nodes/shared/governance';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { sharedDir, skipWithoutShared } from '../helpers/shared';
import { waitFor } from '../helpers/wait';

const withUkCore = skipWithoutShared('fhir-packages') === false;
const built = existsSync(join(repoRoot, 'dist', 'nodes'));

describe('demo flow (npm start)', { skip: built ? false : 'dist/ not built (npm test builds it first)' }, () => {
  let nr: NodeRedProcess;
  let flow: any[];
  let deployedAt = 0;
  let work = '';
  before(async () => {
    // The demo listens on 2575-2585; each port gets a free one so the test never collides with a
    // running demo (the listener and the endpoints sending to it keep sharing a number).
    const ports = new Map<number, number>();
    // The ESR example reads a folder under the core file nodes' working directory (npm start: the
    // user directory, where it creates esr-example/in).
    work = mkdtempSync(join(tmpdir(), 'nhs-demo-'));
    mkdirSync(join(work, 'esr-example', 'in'), { recursive: true });
    nr = await startNodeRed({ flows: [], settings: { fileWorkingDirectory: work }, ...(withUkCore ? { env: { FHIR_PACKAGE_CACHE: join(sharedDir, 'fhir-packages') } } : {}) });
    // The very function `npm start` uses (an ES module script, loaded by URL).
    const { demoFlows } = (await import(pathToFileURL(join(repoRoot, 'scripts', 'demo-flows.mjs')).href)) as { demoFlows: (o: { url: string; port: (n: number) => number }) => any[] };
    const wanted = demoFlows({ url: nr.url, port: (n) => n }).filter((n) => n.port).map((n) => Number(n.port));
    for (const p of wanted) if (!ports.has(p)) ports.set(p, await freePort());
    flow = demoFlows({ url: nr.url, port: (n) => ports.get(n) ?? n });
    await nr.deploy(flow);
    deployedAt = Date.now();
    await waitFor('the example flows\' HTTP routes', async () => ((await fetch(`${nr.url}/epr/Task`)).ok ? true : undefined));
  });
  after(async () => { await nr?.stop(); if (work) rmSync(work, { recursive: true, force: true }); });

  it('deploys every node of the demo without an error', async () => {
    const r = await nr.api('/flows');
    const deployed: any[] = r.json();
    assert.equal(deployed.length, flow.length);
    assert.ok(deployed.filter((n) => n.type === 'tab').length >= 12, 'every example on its own tab');
    for (const type of ['nhs-mllp-in', 'nhs-mllp-out', 'nhs-mllp-response', 'nhs-hl7', 'nhs-fhir-validate', 'nhs-audit', 'nhs-quarantine', 'nhs-pds-lookup', 'nhs-snomed-map', 'nhs-hl7-to-fhir', 'nhs-esr']) {
      assert.ok(deployed.some((n) => n.type === type), `demo uses ${type}`);
    }
    assert.doesNotMatch(nr.output(), /\[error\]/);
  });

  it('no example logs a governance warning at deploy: every patient-data node runs under the example\'s demo nhs-governance', async () => {
    // Each example ships one nhs-governance (synthetic references) that its patient-data nodes
    // name and that applies to its tab; a new user should not meet "no nhs-governance reference".
    const deployed: any[] = (await nr.api('/flows')).json();
    const govs = new Map(deployed.filter((n) => n.type === 'nhs-governance').map((n) => [n.id, n]));
    assert.ok(govs.size >= 12, 'a governance node per example with patient-data nodes');
    for (const g of govs.values()) {
      assert.match(g.agreement, /^DEMO-DSA-/, 'clearly a demo agreement');
      assert.deepEqual([g.lawfulBasis, g.condition, g.purpose], ['6(1)(e)', '9(2)(h)', 'TREAT']);
    }
    const patientData = deployed.filter((n) => PATIENT_DATA_TYPES.has(n.type));
    assert.ok(patientData.length > 0);
    for (const n of patientData) assert.ok(govs.has(n.governance), `${n.type} ${n.id} names a deployed nhs-governance`);
    assert.doesNotMatch(nr.output(), /\[warn\] \[[^\]]*\] governance: /, 'no governance warning in the log');
  });

  it('every inject button runs: MLLP round trip, audit, quarantine, FHIR validation', async () => {
    const demoTab = flow.find((n) => n.type === 'tab' && n.label === 'NHS interop demo').id;
    const injects = flow.filter((n) => n.type === 'inject' && n.z === demoTab);
    assert.ok(injects.length >= 4);
    for (const n of injects) {
      const r = await nr.api(`/inject/${n.id}`, { method: 'POST', body: {} });
      assert.equal(r.status, 200, `inject ${n.name}`);
    }
    const store = createStore({ backend: 'sqlite', file: join(nr.userDir, 'nhs-interop.sqlite') });
    await store.open();
    try {
      const received = await waitFor('an MLLP message in the store', async () => {
        const n = await store.countMessages({});
        return n > 0 ? n : undefined;
      });
      assert.ok(received >= 1);
      const parked = await waitFor('a quarantined message', async () => {
        const q = await store.listQuarantine({ state: 'open' });
        return q.length > 0 ? q : undefined;
      });
      assert.ok(parked.every((q) => q.owner.length > 0), 'every quarantined item has an owner');
      const audit = await waitFor('audit records', async () => {
        const a = await store.queryAudit({ limit: 100 });
        return a.length > 0 ? a : undefined;
      });
      assert.ok(audit.some((a) => a.action.startsWith('quarantine')), 'quarantine is audited');
    } finally {
      await store.close();
    }
    assert.doesNotMatch(nr.output(), /\[error\]/, 'no node logged an error');
  });

  it('the simulator\'s synthetic traffic flows through the Referral, ADT and Lab examples within a minute', async () => {
    // Measured from the deploy: that is when a new user's minute starts.
    const started = deployedAt;
    const list = async (path: string): Promise<unknown[]> => ((await (await fetch(`${nr.url}${path}`)).json()) as { entry: unknown[] }).entry;
    const store = createStore({ backend: 'sqlite', file: join(nr.userDir, 'nhs-interop.sqlite') });
    await store.open();
    try {
      // Each tab's audit records: the referral, ADT and lab paths all ran.
      await waitFor('audit records from the Referral, ADT and Lab tabs', async () => {
        const flows = new Set((await store.queryAudit({ limit: 1000 })).map((a) => a.flow));
        return ['ref01tab', 'adt01tab', 'lab01tab'].every((f) => flows.has(f)) ? true : undefined;
      }, 60000);
      await waitFor('a bad simulated message in quarantine', async () => ((await store.listQuarantine({ state: 'open' })).some((q) => ['ref01tab', 'adt01tab', 'lab01tab'].includes(q.flow ?? '')) ? true : undefined), 60000 - (Date.now() - started));
    } finally {
      await store.close();
    }
    if (withUkCore) {
      // With UK Core loaded the good ones go all the way: Tasks, FHIR transactions, results.
      await waitFor('a triage Task at the EPR stand-in', async () => ((await list('/epr/Task')).length > 0 ? true : undefined), Math.max(1000, 60000 - (Date.now() - started)));
      await waitFor('an ADT Bundle at the FHIR receiver', async () => ((await list('/fhir')).length > 0 ? true : undefined), Math.max(1000, 60000 - (Date.now() - started)));
      await waitFor('a result at the results store', async () => ((await list('/results')).length > 0 ? true : undefined), Math.max(1000, 60000 - (Date.now() - started)));
    }
    assert.ok(Date.now() - started < 60000, 'within a minute');
    assert.doesNotMatch(nr.output(), /\[error\]/, 'no node logged an error');
  });
});
