import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { nodeRedHarness } from '../helpers/node-red';
import { mqttUrl, skipWithoutMqtt } from '../helpers/shared';
import { ADT, PATIENT } from '../lib/quarantine/fixtures';

const storeNode = require('../../nodes/store');
// The admin API the sidebar calls is registered by the plugin (plugins/admin-api.ts).
const sidebarPlugin = require('../../plugins/nhs-sidebar');
const auditNode = require('../../nodes/audit');

describe('nhs-audit node', () => {
  const h = nodeRedHarness();
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nhs-anode-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const flow = (file: string, a: Record<string, unknown> = {}, b: Record<string, unknown> = {}) => [
    { id: 's1', type: 'nhs-store', backend: 'sqlite', file, durability: 'normal' },
    { id: 'a1', type: 'nhs-audit', z: 'f1', store: 's1', action: 'hl7.receive', wires: [['a2']], ...a },
    { id: 'a2', type: 'nhs-audit', z: 'f1', store: 's1', action: 'fhir.validate', wires: [['out']], ...b },
    { id: 'out', type: 'helper', z: 'f1' },
  ];
  const api = () => h.helper.request();

  it('records the trail once per step across two audit nodes, subject from PID-3, passes the msg on', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode], flow(join(dir, 'a.db')));
    const out = h.next('out');
    h.node('a1').receive({ payload: ADT, hl7: { controlId: 'MSG0001' }, audit: [{ at: '2026-01-01T00:00:00.000Z', node: 'mllp1', action: 'mllp.receive', outcome: 'success', ref: 'MSG0001' }, { node: 'q9', action: 'quarantine.park', outcome: 'quarantined', recorded: true }] });
    const msg = await out;
    assert.equal(msg.payload, ADT);
    assert.deepEqual(msg.audit.map((s: any) => s.action), ['mllp.receive', 'quarantine.park', 'hl7.receive', 'fhir.validate']);
    const trail = await api().get('/nhs-interop/audit/trail').query({ store: 's1', correlationId: 'MSG0001' }).expect(200);
    // The step marked recorded (written to the store by the quarantine node itself) is not stored twice.
    assert.deepEqual(trail.body.records.map((r: any) => `${r.node}:${r.action}:${r.outcome}`), ['mllp1:mllp.receive:success', 'a1:hl7.receive:success', 'a2:fhir.validate:success']);
    assert.ok(trail.body.records.every((r: any) => r.subject === '900 *** **09'));
    const search = await api().get('/nhs-interop/audit').query({ store: 's1', nhsNumber: '9000000009' }).expect(200);
    assert.equal(search.body.records.filter((r: any) => r.action !== 'audit.search').length, 3);
    assert.equal((await api().post('/nhs-interop/audit/verify').send({ store: 's1' }).expect(200)).body.ok, true);
  });

  it('configurable outcome/subject/correlation from msg properties; invalid NHS number is not stored', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode], flow(join(dir, 'b.db'),
      { outcomeType: 'msg', outcome: 'result', subjectType: 'msg', subject: 'patient.nhs', correlationType: 'msg', correlation: 'req.id' },
      { subjectType: 'msg', subject: 'patient.bad', correlationType: 'msg', correlation: 'req.id' }));
    const out = h.next('out');
    h.node('a1').receive({ payload: PATIENT, result: 'accepted', patient: { nhs: '999 000 0018', bad: '1234567890' }, req: { id: 'R-1' } });
    await out;
    const trail = await api().get('/nhs-interop/audit/trail').query({ store: 's1', correlationId: 'R-1' }).expect(200);
    assert.deepEqual(trail.body.records.map((r: any) => [r.action, r.outcome, r.subject]), [['hl7.receive', 'accepted', '999 *** **18'], ['fhir.validate', 'success', null]]);
  });

  it('auto outcome reads msg.outcome errors as invalid', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode], flow(join(dir, 'c.db')));
    const out = h.next('out');
    h.node('a1').receive({ payload: PATIENT, fhir: { profile: null, resourceType: 'Patient' }, outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] } });
    const msg = await out;
    assert.equal(msg.audit[0].outcome, 'invalid');
  });

  it('a hostile msg.audit (not an array of steps) is skipped, not fatal', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode], flow(join(dir, 'd.db')));
    const out = h.next('out');
    h.node('a1').receive({ payload: 'x', audit: [null, 5, { node: 1 }, { node: 'n', action: 'a' }] });
    const msg = await out;
    assert.equal(msg._nhsAuditRecorded, 6);
  });

  it('exports AuditEvents to MQTT (QoS 1)', { skip: skipWithoutMqtt }, async () => {
    const topic = `nhs-test/auditnode/${process.pid}/${Date.now()}`;
    const sub = await connectAsync(mqttUrl!);
    const got = new Promise<any>((res) => sub.on('message', (_t, p) => res(JSON.parse(p.toString()))));
    await sub.subscribeAsync(topic, { qos: 1 });
    try {
      await h.load([storeNode, sidebarPlugin, auditNode], flow(join(dir, 'e.db'), { mqttBroker: mqttUrl, mqttTopic: topic }));
      h.node('a1').receive({ payload: ADT });
      const ev = await got;
      assert.equal(ev.resourceType, 'AuditEvent');
      assert.equal(ev.entity[0].what.identifier.value, '9000000009');
    } finally {
      await sub.endAsync();
    }
  });

  it('an unreachable syslog collector → msg still passed on, done(err) AUDIT_EXPORT_FAILED', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode], flow(join(dir, 'f.db'), { syslogHost: '127.0.0.1', syslogPort: 1 }));
    const n = h.node('a1');
    const err = new Promise<any>((res) => { n.on('call:error', (call: any) => res(call.args[0])); });
    const out = h.next('out');
    n.receive({ payload: ADT });
    await out;
    assert.equal((await err).code, 'AUDIT_EXPORT_FAILED');
  });
});
