/**
 * The first ten minutes: the demo flow `npm start` deploys runs in a real Node-RED with the built
 * package, every inject button does what its comment says, and nothing logs an error.
 * Evidence is read back from the default store the nodes used (<userDir>/nhs-interop.sqlite).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStore } from '../../lib/store';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { waitFor } from '../helpers/wait';

const demoFile = join(repoRoot, 'examples', 'Getting started', '01 - Demo.json');
const built = existsSync(join(repoRoot, 'dist', 'nodes'));

describe('demo flow (npm start)', { skip: built ? false : 'dist/ not built (npm test builds it first)' }, () => {
  let nr: NodeRedProcess;
  let flow: any[];
  before(async () => {
    // The demo listens on 2575; use a free port so the test never collides with a running demo.
    const port = String(await freePort());
    flow = JSON.parse(readFileSync(demoFile, 'utf8')).map((n: any) =>
      (n.type === 'nhs-mllp-in' || n.type === 'nhs-mllp-endpoint') && String(n.port) === '2575' ? { ...n, port } : n);
    nr = await startNodeRed({ flows: flow });
  });
  after(async () => { await nr?.stop(); });

  it('deploys every node of the demo without an error', async () => {
    const r = await nr.api('/flows');
    const deployed: any[] = r.json();
    assert.equal(deployed.length, flow.length);
    for (const type of ['nhs-mllp-in', 'nhs-mllp-out', 'nhs-mllp-response', 'nhs-hl7', 'nhs-fhir-validate', 'nhs-audit', 'nhs-quarantine']) {
      assert.ok(deployed.some((n) => n.type === type), `demo uses ${type}`);
    }
    assert.doesNotMatch(nr.output(), /\[error\]/);
  });

  it('every inject button runs: MLLP round trip, audit, quarantine, FHIR validation', async () => {
    const injects = flow.filter((n) => n.type === 'inject');
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
});
