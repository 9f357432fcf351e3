import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { ADT } from '../lib/quarantine/fixtures';
import { registerEndpoint } from '../../nodes/shared/quarantine-endpoints';

const storeNode = require('../../nodes/store');
// The admin API the sidebar calls is registered by the plugin (plugins/admin-api.ts).
const sidebarPlugin = require('../../plugins/nhs-sidebar');
const quarantineNode = require('../../nodes/quarantine');

describe('admin API (reveal, masking, release delivery)', () => {
  const h = nodeRedHarness();
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nhs-admin-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const flow = (file: string) => [
    { id: 's1', type: 'nhs-store', backend: 'sqlite', file, durability: 'normal' },
    { id: 'q1', type: 'nhs-quarantine', z: 'f1', store: 's1', reasonCode: 'HL7_STRUCTURE', reasonCodeType: 'str', wires: [['out'], ['note']] },
    { id: 'out', type: 'helper', z: 'f1' },
    { id: 'note', type: 'helper', z: 'f1' },
  ];
  const api = () => h.helper.request();
  const park = async (msg: Record<string, unknown>): Promise<string> => {
    const note = h.next('note');
    h.node('q1').receive(msg);
    return (await note).payload.id as string;
  };

  it('reveals through the reveal routes (audited), a masked view keeps NHS numbers stored as JSON numbers masked', async () => {
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(join(dir, 'a.db')));
    // The outcome detail holds the NHS number as a JSON number: the old text round trip turned it into invalid JSON (500).
    const id = await park({ payload: ADT, outcome: { resourceType: 'OperationOutcome', nhs: 9000000009, list: [9990000018, 12], text: 'patient 9990000026' } });
    const view = await api().get(`/nhs-interop/quarantine/${id}`).query({ store: 's1' }).expect(200);
    assert.equal(view.body.revealed, false);
    assert.ok(!JSON.stringify(view.body).includes('9000000009'));
    assert.deepEqual(view.body.detail.outcome.nhs, '900 *** **09');
    assert.deepEqual(view.body.detail.outcome.list, ['999 *** **18', 12]);
    assert.equal(view.body.detail.outcome.text, 'patient 999 *** **26');
    const rev = await api().get(`/nhs-interop/quarantine/${id}/reveal`).query({ store: 's1' }).expect(200);
    assert.equal(rev.body.revealed, true);
    assert.ok(rev.body.payload.includes('SMITH'));
    assert.equal(rev.body.subject, '900 000 0009');

    // Audit search: reveal only for one patient, and audited with that subject.
    const noSubject = await api().get('/nhs-interop/audit/reveal').query({ store: 's1' }).expect(400);
    assert.equal(noSubject.body.code, 'BAD_REQUEST');
    await api().get('/nhs-interop/audit').query({ store: 's1', reveal: '1' }).expect(400);
    const trail = await api().get('/nhs-interop/audit/reveal').query({ store: 's1', nhsNumber: '9000000009' }).expect(200);
    assert.ok(trail.body.records.every((r: any) => r.subject === '900 000 0009'));
    const masked = await api().get('/nhs-interop/audit').query({ store: 's1', nhsNumber: '9000000009' }).expect(200);
    const actions = masked.body.records.map((r: any) => r.action).reverse();
    assert.deepEqual(actions, ['quarantine.park', 'quarantine.view', 'quarantine.reveal', 'audit.search']);
    assert.ok(masked.body.records.every((r: any) => r.subject === '900 *** **09'));
  });

  it('the quarantine list flags an open item past its SLA as overdue; one within its SLA, and a resolved one, are not', async () => {
    await h.load([storeNode, sidebarPlugin, quarantineNode], [
      ...flow(join(dir, 'sla.db')),
      // SLA from msg.sla (hours): 0.00001 h = 36 ms, so that item is due almost at once.
      { id: 'q2', type: 'nhs-quarantine', z: 'f1', store: 's1', reasonCode: 'HL7_STRUCTURE', reasonCodeType: 'str', sla: 'sla', slaType: 'msg', owner: 'ward-clerks', ownerType: 'str', wires: [['out'], ['note2']] },
      { id: 'note2', type: 'helper', z: 'f1' },
    ]);
    const parkSla = async (sla: number): Promise<string> => {
      const note = h.next('note2');
      h.node('q2').receive({ payload: ADT, sla });
      return (await note).payload.id as string;
    };
    const soon = await parkSla(0.00001);
    const later = await parkSla(24);
    const resolved = await parkSla(0.00001);
    await new Promise((r) => setTimeout(r, 100));
    await api().post(`/nhs-interop/quarantine/${resolved}/discard`).send({ store: 's1', reason: 'duplicate' }).expect(200);
    const all = await api().get('/nhs-interop/quarantine').query({ store: 's1', state: 'all' }).expect(200);
    const byId = new Map(all.body.items.map((i: any) => [i.id, i]));
    assert.equal((byId.get(soon) as any)?.overdue, true, 'open and past its due time');
    assert.equal((byId.get(later) as any)?.overdue, false, 'open, due in 24 h');
    assert.equal((byId.get(resolved) as any)?.state, 'discarded');
    assert.equal((byId.get(resolved) as any)?.overdue, false, 'a resolved item is never overdue');
  });

  it('release: a failure to deliver after the commit answers QUARANTINE_RELEASED_NOT_DELIVERED; a forced release then delivers', async () => {
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(join(dir, 'b.db')));
    const id = await park({ payload: ADT });
    const real = registerEndpoint('q1', { storeId: 's1', resolved: () => undefined, deliver: () => { throw new Error('wire broken'); } });
    const r = await api().post(`/nhs-interop/quarantine/${id}/release`).send({ store: 's1' }).expect(500);
    assert.equal(r.body.code, 'QUARANTINE_RELEASED_NOT_DELIVERED');
    assert.match(r.body.message, /released but its message was not delivered/);
    assert.match(r.body.message, /again with force/);
    const item = await api().get('/nhs-interop/quarantine').query({ store: 's1', state: 'released' }).expect(200);
    assert.equal(item.body.items.length, 1);
    real();
    // Redeploy: the node registers its own endpoint again; "release again" delivers.
    await h.helper.unload();
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(join(dir, 'b.db')));
    const out = h.next('out');
    const again = await api().post(`/nhs-interop/quarantine/${id}/release`).send({ store: 's1', force: true }).expect(200);
    assert.equal(again.body.delivered, true);
    assert.equal((await out).quarantine.released.forced, true);
  });

  it('release: a malformed edit is refused before the commit (item stays open, nothing sent)', async () => {
    await h.load([storeNode, sidebarPlugin, quarantineNode], flow(join(dir, 'c.db')));
    const id = await park({ payload: ADT });
    const r = await api().post(`/nhs-interop/quarantine/${id}/release`).send({ store: 's1', payload: 'not hl7' }).expect(400);
    assert.equal(r.body.code, 'QUARANTINE_EDIT_INVALID');
    const open = await api().get('/nhs-interop/quarantine').query({ store: 's1', state: 'open' }).expect(200);
    assert.equal(open.body.items.length, 1);
  });
});
