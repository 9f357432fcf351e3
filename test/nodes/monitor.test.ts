/**
 * nhs-monitor wired in Node-RED: a quarantined item past its SLA opens one alert; evaluating
 * again sends nothing; redeploying (a restart of the node, same store) sends nothing; discarding
 * the item resolves it once. Real SQLite store, real quarantine node, admin API for the discard.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { ADT } from '../lib/quarantine/fixtures';

const storeNode = require('../../nodes/store');
const sidebarPlugin = require('../../plugins/nhs-sidebar');
const quarantineNode = require('../../nodes/quarantine');
const monitorNode = require('../../nodes/monitor');

describe('nhs-monitor node', () => {
  const h = nodeRedHarness();
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nhs-monitor-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const flow = (file: string) => [
    { id: 's1', type: 'nhs-store', backend: 'sqlite', file, durability: 'normal' },
    { id: 'q1', type: 'nhs-quarantine', z: 'f1', store: 's1', reasonCode: 'HL7_STRUCTURE', reasonCodeType: 'str', owner: 'pas-team', ownerType: 'str', wires: [[], []] },
    { id: 'm1', type: 'nhs-monitor', z: 'f1', store: 's1', interval: 3600, hold: 0, rules: JSON.stringify([{ kind: 'quarantine-sla', threshold: 0, severity: 'critical' }]), wires: [['out']] },
    { id: 'out', type: 'helper', z: 'f1' },
  ];
  /**
   * Evaluate now and collect what the monitor sent. An absence can only be seen by waiting: the
   * evaluation is a few store reads, so 400 ms is ample even on a loaded machine.
   */
  const evaluate = async (): Promise<any[]> => {
    const got: any[] = [];
    const out = h.node('out');
    const on = (m: any): void => { got.push(m); };
    out.on('input', on);
    h.node('m1').receive({ payload: 'tick' });
    await new Promise((r) => setTimeout(r, 400));
    out.removeListener('input', on);
    return got;
  };
  const openItems = async (): Promise<any[]> => (await h.helper.request().get('/nhs-interop/quarantine').query({ store: 's1', state: 'open' }).expect(200)).body.items;

  it('opens once, repeats nothing across a redeploy, resolves once', async () => {
    const file = join(dir, 'm.db');
    await h.load([storeNode, sidebarPlugin, quarantineNode, monitorNode], flow(file));
    assert.deepEqual(await evaluate(), [], 'nothing quarantined yet');
    h.node('q1').receive({ payload: ADT, _msgid: 'x1', outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'structure', diagnostics: 'bad' }] } });
    for (let i = 0; i < 50 && (await openItems()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const opened = await evaluate();
    assert.equal(opened.length, 1);
    assert.equal(opened[0].alert.event, 'alert');
    assert.equal(opened[0].alert.severity, 'critical');
    assert.equal(opened[0].topic, 'nhs/alert/alert/quarantine-sla');
    assert.match(opened[0].payload, /^ALERT \[critical\] quarantine-sla s1\/HL7_STRUCTURE\/pas-team/);
    assert.doesNotMatch(JSON.stringify(opened[0]), /9000000009|TESTPATIENT/);
    assert.deepEqual(await evaluate(), [], 'still open: not repeated');
    // The sidebar's overview lists it (GET /nhs-interop/overview).
    const ov = (await h.helper.request().get('/nhs-interop/overview').expect(200)).body;
    assert.deepEqual(ov.alerts.map((a: any) => [a.monitor, a.id, a.severity]), [['m1', opened[0].alert.id, 'critical']]);

    await h.helper.unload();
    await h.load([storeNode, sidebarPlugin, quarantineNode, monitorNode], flow(file));
    assert.deepEqual(await evaluate(), [], 'after a restart: not repeated');

    const id = (await openItems())[0].id as string;
    await h.helper.request().post(`/nhs-interop/quarantine/${id}/discard`).send({ store: 's1', reason: 'test' }).expect(200);
    const resolved = await evaluate();
    assert.deepEqual(resolved.map((m) => [m.alert.event, m.alert.id]), [['resolve', opened[0].alert.id]]);
    assert.deepEqual((await h.helper.request().get('/nhs-interop/overview').expect(200)).body.alerts, []);
    assert.deepEqual(await evaluate(), []);
  });

  it('audit-chain: verifies each store chain on its schedule (audited), alerts once on a tampered record and names it (HAZ-017 C6)', async () => {
    const file = join(dir, 'chain.db');
    // threshold 0.00001 h = 36 ms between checks, so each evaluation below verifies again.
    await h.load([storeNode, sidebarPlugin, monitorNode], [
      { id: 's1', type: 'nhs-store', backend: 'sqlite', file, durability: 'normal' },
      { id: 'm1', type: 'nhs-monitor', z: 'f1', store: 's1', interval: 3600, hold: 0, rules: JSON.stringify([{ kind: 'audit-chain', threshold: 0.00001, severity: 'critical' }]), wires: [['out']] },
      { id: 'out', type: 'helper', z: 'f1' },
    ]);
    const store = await h.node('s1').getStore();
    for (let i = 0; i < 5; i++) await store.appendAudit({ node: 'n', action: 'a', outcome: 'success' });
    assert.deepEqual(await evaluate(), [], 'an intact chain: no alert');
    const checks = await store.queryAudit({ node: 'm1' });
    assert.ok(checks.length >= 1 && checks.every((r: any) => r.action === 'audit.verify' && r.outcome === 'success' && r.actor === 'system'), 'each check is in the audit trail');
    const Database = require('better-sqlite3');
    const db = new Database(file);
    db.prepare("UPDATE audit SET outcome = 'failure' WHERE seq = 3").run();
    db.close();
    const opened = await evaluate();
    assert.equal(opened.length, 1);
    assert.equal(opened[0].alert.kind, 'audit-chain');
    assert.equal(opened[0].alert.target, 's1');
    assert.match(opened[0].alert.detail, /^record 3: /);
    assert.deepEqual(await evaluate(), [], 'still broken: not repeated');
    assert.ok((await store.queryAudit({ node: 'm1' })).some((r: any) => r.outcome === 'failure' && r.detail?.problemSeq === 3), 'the failed check is audited');
  });
});
