import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { nodeRedHarness } from '../helpers/node-red';
import { mqttUrl, skipWithoutMqtt } from '../helpers/shared';
import { ADT } from '../lib/quarantine/fixtures';
import { endpointOf } from '../../nodes/shared/quarantine-endpoints';

const storeNode = require('../../nodes/store');
// The admin API the sidebar calls is registered by the plugin (plugins/admin-api.ts).
const sidebarPlugin = require('../../plugins/nhs-sidebar');
const quarantineNode = require('../../nodes/quarantine');

describe('nhs-quarantine node', () => {
  const h = nodeRedHarness();
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nhs-qnode-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const flow = (file: string, extra: Record<string, unknown> = {}) => [
    { id: 's1', type: 'nhs-store', backend: 'sqlite', file, durability: 'normal' },
    { id: 'q1', type: 'nhs-quarantine', z: 'f1', store: 's1', reasonCode: 'HL7_STRUCTURE', reasonCodeType: 'str', reason: 'reason', reasonType: 'msg', owner: 'PAS team', ownerType: 'str', sla: '4', slaType: 'num', wires: [['out'], ['note']], ...extra },
    { id: 'out', type: 'helper', z: 'f1' },
    { id: 'note', type: 'helper', z: 'f1' },
  ];
  const api = () => h.helper.request();

  it('parks with config + msg values, notifies once, lists masked in the admin API, releases after a redeploy', async () => {
    const file = join(dir, 'a.db');
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(file));
    const notes = h.collect('note', 1);
    h.node('q1').receive({ payload: ADT, reason: 'PV1-3 assigned location missing' });
    const [n] = await notes;
    assert.equal(n.payload.event, 'parked');
    assert.equal(n.payload.code, 'HL7_STRUCTURE');
    assert.equal(n.payload.owner, 'PAS team');
    assert.equal(n.payload.reason, 'PV1-3 assigned location missing');
    assert.ok(Date.parse(n.payload.dueAt) > Date.now() + 3.9 * 3600_000);
    assert.ok(!JSON.stringify(n).includes('9000000009'), 'no patient data in the notification');
    const id = n.payload.id;

    const list = await api().get('/nhs-interop/quarantine').query({ store: 's1', state: 'open' }).expect(200);
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].subject, '900 *** **09');
    assert.equal(list.body.items[0].nodeDeployed, true);
    const detail = await api().get(`/nhs-interop/quarantine/${id}`).query({ store: 's1' }).expect(200);
    assert.ok(!detail.body.payload.includes('SMITH') && !detail.body.payload.includes('9000000009'));
    assert.equal(detail.body.decoded.segments[0][0], 'MSH');
    const revealed = await api().get(`/nhs-interop/quarantine/${id}`).query({ store: 's1', reveal: '1' }).expect(200);
    assert.ok(revealed.body.payload.includes('SMITH'));

    // Redeploy: the same node id receives the release.
    await h.helper.unload();
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(file));
    const gone = h.collect('note', 1, 300).then(() => 'renotified', () => 'quiet');
    assert.equal(await gone, 'quiet', 'no second notification for an item after redeploy');
    const out = h.next('out');
    const resolved = h.next('note');
    const edited = ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2');
    const pv = await api().post(`/nhs-interop/quarantine/${id}/preview`).send({ store: 's1', payload: edited }).expect(200);
    assert.deepEqual(pv.body.rows.filter((r: any) => r.op !== ' ').map((r: any) => r.op + r.line), ['-PV1|1|I|WARD1', '+PV1|1|I|WARD2']);
    const rel = await api().post(`/nhs-interop/quarantine/${id}/release`).send({ store: 's1', payload: edited }).expect(200);
    assert.equal(rel.body.delivered, true);
    const msg = await out;
    assert.equal(msg.payload, edited);
    assert.equal(msg.reason, 'PV1-3 assigned location missing');
    assert.equal(msg.quarantine.id, id);
    assert.equal(msg.quarantine.released.by, 'anonymous');
    assert.equal(msg.quarantine.released.edited, true);
    assert.deepEqual(msg.audit.map((a: any) => a.action), ['quarantine.park', 'quarantine.release']);
    assert.equal((await resolved).payload.event, 'resolved');

    const twice = await api().post(`/nhs-interop/quarantine/${id}/release`).send({ store: 's1' }).expect(409);
    assert.equal(twice.body.code, 'QUARANTINE_ALREADY_RESOLVED');
    const missing = await api().post('/nhs-interop/quarantine/nope/release').send({ store: 's1' }).expect(404);
    assert.equal(missing.body.code, 'QUARANTINE_NOT_FOUND');

    const trail = await api().get('/nhs-interop/audit').query({ store: 's1', nhsNumber: '900 000 0009' }).expect(200);
    const actions = trail.body.records.map((r: any) => `${r.action}:${r.actor}`).reverse();
    assert.deepEqual(actions, ['quarantine.park:system', 'quarantine.view:anonymous', 'quarantine.reveal:anonymous', 'quarantine.preview:anonymous', 'quarantine.release:anonymous']);
    assert.equal(trail.body.records[0].subject, '900 *** **09');
    const ver = await api().post('/nhs-interop/audit/verify').send({ store: 's1' }).expect(200);
    assert.equal(ver.body.ok, true);
    await api().get('/nhs-interop/audit').query({ store: 's1', nhsNumber: '1234567890' }).expect(400);
  });

  it('refuses a release when the node is gone (clear error), the item stays open; discard needs a reason', async () => {
    const file = join(dir, 'b.db');
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(file));
    const notes = h.collect('note', 2);
    h.node('q1').receive({ payload: ADT });
    h.node('q1').receive({ payload: '{"resourceType":"Patient"}' });
    const [a, b] = await notes;
    await h.helper.unload();
    await h.load([storeNode, sidebarPlugin, quarantineNode], [{ id: 's1', type: 'nhs-store', backend: 'sqlite', file, durability: 'normal' }, { id: 'other', type: 'nhs-quarantine', store: 's1', wires: [[], []] }]);
    const r = await api().post(`/nhs-interop/quarantine/${a.payload.id}/release`).send({ store: 's1' }).expect(409);
    assert.equal(r.body.code, 'QUARANTINE_NODE_GONE');
    assert.match(r.body.message, /q1 is not deployed/);
    const still = await api().get('/nhs-interop/quarantine').query({ store: 's1', state: 'open' }).expect(200);
    assert.equal(still.body.items.length, 2, 'removing the node deleted nothing');
    const noReason = await api().post(`/nhs-interop/quarantine/${b.payload.id}/discard`).send({ store: 's1' }).expect(400);
    assert.equal(noReason.body.code, 'QUARANTINE_REASON_REQUIRED');
    await api().post(`/nhs-interop/quarantine/${b.payload.id}/discard`).send({ store: 's1', reason: 'test message' }).expect(200);
    const malformed = await api().post(`/nhs-interop/quarantine/${a.payload.id}/preview`).send({ store: 's1', payload: 'not hl7' }).expect(400);
    assert.equal(malformed.body.code, 'QUARANTINE_EDIT_INVALID');
  });

  it('1,000 items → 1,000 notices, each once; with a burst limit the rest fold into one summary', async () => {
    const file = join(dir, 'c.db');
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(file, { burstLimit: 10, burstWindow: 1 }));
    const got = h.collect('note', 11, 20000);
    for (let i = 0; i < 200; i++) h.node('q1').receive({ payload: `MSH|^~\\&|A|B|C|D|20260101||ADT^A01|M${i}|P|2.4` });
    const notes = await got;
    const individual = notes.filter((n) => n.payload.event === 'parked');
    const summary = notes.find((n) => n.payload.event === 'parked-summary');
    assert.equal(individual.length, 10);
    assert.equal(summary?.payload.count, 190);
    const ids = new Set([...individual.map((n) => n.payload.id), ...summary!.payload.ids]);
    assert.equal(ids.size, 200);
    await h.helper.unload();

    const file2 = join(dir, 'd.db');
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(file2));
    const all = h.collect('note', 1000, 60000);
    for (let i = 0; i < 1000; i++) h.node('q1').receive({ payload: `MSH|^~\\&|A|B|C|D|20260101||ADT^A01|M${i}|P|2.4` });
    const list = await all;
    assert.equal(new Set(list.map((n) => n.payload.id)).size, 1000);
  });

  it('publishes notifications to MQTT (QoS 1)', { skip: skipWithoutMqtt }, async () => {
    const topic = `nhs-test/quarantine/${process.pid}/${Date.now()}`;
    const sub = await connectAsync(mqttUrl!);
    const got = new Promise<any>((res) => sub.on('message', (_t, p) => res(JSON.parse(p.toString()))));
    await sub.subscribeAsync(topic, { qos: 1 });
    try {
      await h.load([storeNode, sidebarPlugin, quarantineNode], flow(join(dir, 'e.db'), { mqttBroker: mqttUrl, mqttTopic: topic }));
      h.node('q1').receive({ payload: ADT });
      const body = await got;
      assert.equal(body.event, 'parked');
      assert.equal(body.code, 'HL7_STRUCTURE');
    } finally {
      await sub.endAsync();
    }
  });

  it('a notification failure after the park committed is a warning, not done(err); msg.audit gets the step only after the park', async () => {
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(join(dir, 'n.db')));
    const store = await h.node('s1').getStore();
    const patch = store.patchQuarantine.bind(store);
    store.patchQuarantine = () => Promise.reject(new Error('disk full'));
    const n = h.node('q1');
    const errors: unknown[] = [];
    n.on('call:error', (call: any) => errors.push(call.args[0]));
    // (The deploy-time governance warning of a node with no nhs-governance is not this one.)
    const warned = new Promise<string>((res) => { n.on('call:warn', (call: any) => { if (!String(call.args[0]).startsWith('governance:')) res(String(call.args[0])); }); });
    const note = h.next('note');
    const msg: any = { payload: ADT, reason: 'r', audit: [{ node: 'x', action: 'hl7.parse', outcome: 'ok' }] };
    n.receive(msg);
    assert.equal((await note).payload.event, 'parked', 'the notice still goes out');
    assert.match(await warned, /not saved/);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(errors, [], 'no done(err): a Catch retry would park a duplicate');
    store.patchQuarantine = patch;
    const items = await store.listQuarantine({ node: 'q1' });
    assert.equal(items.length, 1);
    const stored = JSON.parse(items[0].original);
    assert.deepEqual(stored.audit.map((a: any) => a.action), ['hl7.parse', 'quarantine.park']);
    assert.deepEqual(msg.audit.map((a: any) => a.action), ['hl7.parse', 'quarantine.park'], 'the live msg gets the step once parked');
  });

  it('no owner: warned at deploy (QUARANTINE_NO_OWNER) and the item still parks, as "unassigned"; an empty msg owner is warned per item (HAZ-015 C7)', async () => {
    await h.load([storeNode, sidebarPlugin, quarantineNode], [
      ...flow(join(dir, 'owner.db'), { owner: '  ' }),
      { id: 'q2', type: 'nhs-quarantine', z: 'f1', store: 's1', reasonCode: 'X', reasonCodeType: 'str', owner: 'team', ownerType: 'msg', wires: [['out'], ['note2']] },
      { id: 'note2', type: 'helper', z: 'f1' },
    ]);
    // (The test helper starts a node of a tab it was not given once per flow: ids, not counts.)
    const warnedAtDeploy = new Set(h.helper.log().args.map((a: any[]) => a[0]).filter((e: any) => String(e?.msg).includes('QUARANTINE_NO_OWNER')).map((e: any) => e.id));
    assert.deepEqual([...warnedAtDeploy], ['q1'], 'warned at deploy for the node without an owner only');
    const note = h.next('note');
    h.node('q1').receive({ payload: ADT, reason: 'r' });
    assert.equal((await note).payload.owner, 'unassigned', 'parked, never refused at run time');
    const warned = new Promise<string>((res) => { h.node('q2').on('call:warn', (call: any) => res(String(call.args[0]))); });
    const note2 = h.next('note2');
    h.node('q2').receive({ payload: ADT, team: '' });
    assert.equal((await note2).payload.owner, 'unassigned');
    assert.match(await warned, /QUARANTINE_NO_OWNER/);
    const store = await h.node('s1').getStore();
    assert.equal((await store.listQuarantine({ state: 'open' })).length, 2, 'both kept');
  });

  it('two-person release (HAZ-014 C7): on for new nodes; a saved node without the field releases an edited item as before (HAZ-025); on without adminAuth, an edited release is refused naming adminAuth and deploy warns', async () => {
    // The editor's default for a new node is on.
    const html = readFileSync(join(__dirname, '..', '..', 'nodes', 'quarantine.html'), 'utf8');
    assert.match(html, /twoPersonRelease: \{ value: true \}/);
    const edited = ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2');
    const file = join(dir, 'two.db');
    await h.load([storeNode, sidebarPlugin, quarantineNode], [
      ...flow(file),
      { id: 'q2', type: 'nhs-quarantine', z: 'f1', store: 's1', reasonCode: 'X', reasonCodeType: 'str', owner: 'team', ownerType: 'str', twoPersonRelease: true, wires: [['out2'], ['note2']] },
      { id: 'q3', type: 'nhs-quarantine', z: 'f1', store: 's1', reasonCode: 'X', reasonCodeType: 'str', owner: 'team', ownerType: 'str', twoPersonRelease: 'false', wires: [['out2'], ['note3']] },
      { id: 'out2', type: 'helper', z: 'f1' }, { id: 'note2', type: 'helper', z: 'f1' }, { id: 'note3', type: 'helper', z: 'f1' },
    ]);
    assert.deepEqual(['q1', 'q2', 'q3'].map((id) => endpointOf(id)?.twoPersonRelease), [false, true, false]);
    const warned = new Set(h.helper.log().args.map((a: any[]) => a[0]).filter((e: any) => String(e?.msg).includes('QUARANTINE_TWO_PERSON_NO_AUTH')).map((e: any) => e.id));
    assert.deepEqual([...warned], ['q2'], 'only the node with the rule on warns that it needs adminAuth');
    const parkOn = async (node: string, note: string): Promise<string> => { const n = h.next(note); h.node(node).receive({ payload: ADT, reason: 'r' }); return (await n).payload.id as string; };

    // Saved without the field (q1): edit and release in one request, anonymously, as before.
    const old = await parkOn('q1', 'note');
    const out = h.next('out');
    await api().post(`/nhs-interop/quarantine/${old}/release`).send({ store: 's1', payload: edited }).expect(200);
    assert.equal((await out).payload, edited);

    // Rule on (q2), no adminAuth: the edit is saved (editor "anonymous"), its release refused.
    const id = await parkOn('q2', 'note2');
    const r = await api().post(`/nhs-interop/quarantine/${id}/release`).send({ store: 's1', payload: edited }).expect(403);
    assert.equal(r.body.code, 'QUARANTINE_SECOND_PERSON_REQUIRED');
    assert.match(r.body.message, /adminAuth/);
    const saved = await api().post(`/nhs-interop/quarantine/${id}/edit`).send({ store: 's1', payload: edited }).expect(200);
    assert.deepEqual([saved.body.item.editedBy, saved.body.release.allowed], ['anonymous', false]);
    const view = await api().get(`/nhs-interop/quarantine/${id}`).query({ store: 's1' }).expect(200);
    assert.deepEqual([view.body.release.twoPerson, view.body.release.allowed], [true, false]);
    assert.match(view.body.release.reason, /adminAuth/);
    await api().post(`/nhs-interop/quarantine/${id}/release`).send({ store: 's1' }).expect(403);
    const store = await h.node('s1').getStore();
    assert.equal((await store.getQuarantine(id))?.state, 'open', 'nothing released');
    // An unedited item on the same node is released as before.
    const plain = await parkOn('q2', 'note2');
    await api().post(`/nhs-interop/quarantine/${plain}/release`).send({ store: 's1' }).expect(200);
    // "false" as text is off too.
    const q3 = await parkOn('q3', 'note3');
    await api().post(`/nhs-interop/quarantine/${q3}/release`).send({ store: 's1', payload: edited }).expect(200);
  });

  it('a failed park does not append a "recorded" step to msg.audit', async () => {
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(join(dir, 'p.db')));
    const store = await h.node('s1').getStore();
    store.putQuarantine = () => Promise.reject(Object.assign(new Error('down'), { code: 'STORE_UNAVAILABLE' }));
    const n = h.node('q1');
    const err = new Promise<any>((res) => { n.on('call:error', (call: any) => res(call.args)); });
    n.receive({ payload: ADT, reason: 'r', audit: [{ node: 'x', action: 'hl7.parse', outcome: 'ok' }] });
    const [e, m] = await err;
    assert.equal(e.code, 'STORE_UNAVAILABLE');
    assert.deepEqual(m.audit.map((a: any) => a.action), ['hl7.parse']);
  });

  it('an unserialisable or oversized message is an operational error (done(err) with a code)', async () => {
    await h.load([storeNode, sidebarPlugin, quarantineNode], [
      { id: 's1', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'f.db'), durability: 'normal' },
      { id: 'q1', type: 'nhs-quarantine', store: 's1', wires: [[], []] },
    ]);
    const n = h.node('q1');
    const err = new Promise<any>((res) => { n.on('call:error', (call: any) => res(call.args[0])); });
    n.receive({ payload: 'x'.repeat(17 * 1024 * 1024) });
    const e = await err;
    assert.equal(e.code, 'STORE_RECORD_TOO_LARGE');
    assert.equal((await h.helper.request().get('/nhs-interop/quarantine').query({ store: 's1' })).body.items.length, 0);
  });
});

describe('Governance example flow', () => {
  const h = nodeRedHarness();
  it('runs: the good ADT is audited, the ADT without MSH-10 is parked and notified; an edited release is re-parsed and audited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhs-gex-'));
    try {
      const flow = require('../../examples/Governance/01 - Quarantine and audit.json') as any[];
      // Same flow, but on a store in a temp dir (not the user's default store) and with helpers on the debug wires.
      const nodes = JSON.parse(JSON.stringify(flow)).filter((n: any) => n.type !== 'debug' && n.type !== 'comment' && n.type !== 'inject');
      for (const n of nodes) if (n.type === 'nhs-audit' || n.type === 'nhs-quarantine') n.store = 'gs';
      nodes.push({ id: 'gs', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'g.db'), durability: 'normal' });
      for (const d of flow.filter((n: any) => n.type === 'debug')) nodes.push({ id: d.id, type: 'helper', z: d.z });
      const injects = Object.fromEntries(flow.filter((n: any) => n.type === 'inject').map((n: any) => [n.name, n]));
      await h.load([storeNode, sidebarPlugin, quarantineNode, require('../../nodes/audit'), require('../../nodes/hl7'), require('../../nodes/governance')], nodes);
      const audited = h.collect('g100000000000007', 2, 10000);
      const noted = h.next('g100000000000008', 10000);
      h.node('g100000000000004').receive({ payload: injects['good ADT^A01'].payload });
      h.node('g100000000000004').receive({ payload: injects['ADT^A01 without MSH-10'].payload });
      const note = await noted;
      assert.equal(note.payload.event, 'parked');
      assert.equal(note.payload.code, 'HL7_STRUCTURE');
      const fixed = String(injects['ADT^A01 without MSH-10'].payload).replace('ADT^A01^ADT_A01||P', 'ADT^A01^ADT_A01|MSG00102|P');
      await h.helper.request().post(`/nhs-interop/quarantine/${note.payload.id}/release`).send({ store: 'gs', payload: fixed }).expect(200);
      const [a, b] = await audited;
      assert.equal(a.audit.at(-1).action, 'hl7.receive');
      assert.ok(b.quarantine.released.edited);
      assert.equal(b.audit.at(-1).action, 'hl7.receive');
      const trail = await h.helper.request().get('/nhs-interop/audit').query({ store: 'gs', nhsNumber: '9000000009' }).expect(200);
      assert.ok(trail.body.records.some((r: any) => r.action === 'quarantine.release'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
