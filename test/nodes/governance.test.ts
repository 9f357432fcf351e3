/**
 * nhs-governance (issue 16 item 4) and the disclosure report route (item 6), in Node-RED through
 * node-red-node-test-helper: a node's governance resolves from its own reference, else from a
 * governance node applied to its tab; every audit record written for it carries the references
 * (inside the hash chain) and the AuditEvent export shows them; a patient-data node without one
 * warns at deploy; the report lists the patient's exchanges with agreement and purpose, its CSV
 * matches, it is audited as a reveal, and bad input is a 400.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toAuditEvent } from '../../lib/audit/fhir';
import { DISCLOSURE_COLUMNS } from '../../lib/audit/disclosure';
import { LAWFUL_BASES, PURPOSES, SPECIAL_CONDITIONS } from '../../lib/audit/governance';
import { verifyStore } from '../../lib/audit/verify';
import { nodeRedHarness } from '../helpers/node-red';
import { ADT } from '../lib/quarantine/fixtures';
import { parseCsv } from '../helpers/csv';

const storeNode = require('../../nodes/store');
const sidebarPlugin = require('../../plugins/nhs-sidebar');
const auditNode = require('../../nodes/audit');
const hl7Node = require('../../nodes/hl7');
const governanceNode = require('../../nodes/governance');

const GOV_TAB = { id: 'g1', type: 'nhs-governance', name: 'ADT sharing', agreement: 'DSA-2026-014', dpia: 'DPIA-0042', lawfulBasis: '6(1)(e)', condition: '9(2)(h)', purpose: 'TREAT', caldicott: 'caldicott@trust.example', tabs: ['f1'] };
const GOV_OWN = { id: 'g2', type: 'nhs-governance', agreement: 'DSA-RESEARCH-7', lawfulBasis: '6(1)(e)', condition: '9(2)(j)', purpose: 'HRESCH', tabs: [] };

describe('nhs-governance editor', () => {
  it('offers exactly the UK GDPR Art. 6 / Art. 9 and PurposeOfUse lists of lib/audit/governance.ts', () => {
    const html = readFileSync(join(__dirname, '..', '..', 'nodes', 'governance.html'), 'utf8');
    const list = (name: string): string[][] => {
      const m = new RegExp(`var ${name} = \\[([\\s\\S]*?)\\];`).exec(html);
      assert.ok(m, name);
      return [...m[1]!.matchAll(/\['([^']+)', '([^']+)'\]/g)].map((x) => [x[1]!, x[2]!]);
    };
    assert.deepEqual(list('LAWFUL_BASES'), LAWFUL_BASES.map((e) => [e.code, e.display]));
    assert.deepEqual(list('CONDITIONS'), SPECIAL_CONDITIONS.map((e) => [e.code, e.display]));
    assert.deepEqual(list('PURPOSES'), PURPOSES.map((e) => [e.code, e.display]));
  });
});

describe('nhs-governance', () => {
  const h = nodeRedHarness();
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nhs-gov-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const flow = (file: string, hl7: Record<string, unknown> = {}, extra: Record<string, unknown>[] = [GOV_TAB, GOV_OWN]) => [
    { id: 'f1', type: 'tab', label: 'ADT feed' },
    { id: 's1', type: 'nhs-store', backend: 'sqlite', file, durability: 'normal' },
    ...extra,
    { id: 'h1', type: 'nhs-hl7', z: 'f1', action: 'parse', property: 'payload', wires: [['a1'], []], ...hl7 },
    { id: 'a1', type: 'nhs-audit', z: 'f1', store: 's1', action: 'hl7.received', wires: [['out']] },
    { id: 'out', type: 'helper', z: 'f1' },
  ];
  const warnings = (): { id: string; msg: string }[] => h.helper.log().args.map((a: any[]) => a[0]).filter((l: any) => l.level === 30).map((l: any) => ({ id: l.id, msg: String(l.msg) }));
  const storeOf = async () => h.node('s1').getStore();

  it('resolves the tab\'s governance and puts it on every audit record (chain intact) and into the AuditEvent', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode, hl7Node, governanceNode], flow(join(dir, 'a.db')));
    const out = h.next('out');
    h.node('h1').receive({ payload: ADT, audit: [{ node: 'mi1', action: 'receive', outcome: 'accepted', from: '10.0.0.5:40122' }] });
    await out;
    const store = await storeOf();
    const recs = await store.queryAudit({ limit: 100 });
    const by = Object.fromEntries(recs.map((r: any) => [r.node, r]));
    const expected = { ref: 'g1', agreement: 'DSA-2026-014', dpia: 'DPIA-0042', lawfulBasis: '6(1)(e)', condition: '9(2)(h)', purpose: 'TREAT' };
    assert.deepEqual(by.h1.detail.governance, expected, 'the hl7 node runs under its tab\'s governance');
    assert.deepEqual(by.a1.detail.governance, expected, 'so does the audit node');
    assert.equal(by.mi1.detail?.governance, undefined, 'a node not deployed here has none');
    assert.equal(by.mi1.detail.source, '10.0.0.5:40122', 'the step\'s from is the record\'s source');
    assert.equal(JSON.stringify(by.h1.detail).includes('caldicott'), false, 'the contact is not put on records');
    assert.equal((await verifyStore(store)).ok, true);
    const ev = toAuditEvent(by.h1);
    assert.deepEqual(ev.purposeOfEvent, [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT', display: 'Direct care (treatment)' }] }]);
    assert.deepEqual(ev.agent[0]?.policy, ['urn:nhs-interop:dsa:DSA-2026-014', 'urn:nhs-interop:dpia:DPIA-0042', 'urn:nhs-interop:uk-gdpr:article-6(1)(e)', 'urn:nhs-interop:uk-gdpr:article-9(2)(h)']);
    assert.equal(warnings().filter((w) => /governance/.test(w.msg)).length, 0, 'no governance warning when every node has one');
  });

  it('a node\'s own reference wins over its tab\'s', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode, hl7Node, governanceNode], flow(join(dir, 'b.db'), { governance: 'g2' }));
    const out = h.next('out');
    h.node('h1').receive({ payload: ADT });
    await out;
    const recs = await (await storeOf()).queryAudit({ limit: 100 });
    assert.equal(recs.find((r: any) => r.node === 'h1').detail.governance.agreement, 'DSA-RESEARCH-7');
    assert.equal(recs.find((r: any) => r.node === 'a1').detail.governance.agreement, 'DSA-2026-014');
  });

  it('warns at deploy for each patient-data node without governance (and for a reference to a missing one), not for others', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode, hl7Node, governanceNode], flow(join(dir, 'c.db'), { governance: 'gone' }, []));
    const w = warnings().filter((x) => /governance/.test(x.msg));
    assert.deepEqual(w.map((x) => x.id).sort(), ['a1', 'h1']);
    assert.match(w.find((x) => x.id === 'h1')!.msg, /nhs-governance node gone it references is not deployed/);
    assert.match(w.find((x) => x.id === 'a1')!.msg, /handles patient data but has no nhs-governance reference/);
    assert.ok(w.every((x) => !/9000000009|Smith/i.test(x.msg)));
    const out = h.next('out');
    h.node('h1').receive({ payload: ADT });
    await out;
    const recs = await (await storeOf()).queryAudit({ limit: 100 });
    assert.ok(recs.every((r: any) => r.detail?.governance === undefined), 'no governance, none on the records');
  });

  it('a governance node with a code outside the lists drops it and warns', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode, hl7Node, governanceNode], flow(join(dir, 'd.db'), {}, [{ ...GOV_TAB, lawfulBasis: '6(1)(z)' }]));
    assert.ok(warnings().some((x) => x.id === 'g1' && /lawfulBasis is not one of the listed codes/.test(x.msg)));
    const out = h.next('out');
    h.node('h1').receive({ payload: ADT });
    await out;
    const recs = await (await storeOf()).queryAudit({ limit: 100 });
    assert.equal(recs.find((r: any) => r.node === 'h1').detail.governance.lawfulBasis, undefined);
  });

  it('disclosure report: the patient\'s exchanges with agreement and purpose, CSV matching, audited as a reveal; bad input is a 400', async () => {
    await h.load([storeNode, sidebarPlugin, auditNode, hl7Node, governanceNode], flow(join(dir, 'e.db')));
    const out = h.next('out');
    h.node('h1').receive({ payload: ADT, audit: [{ at: new Date(Date.now() - 1000).toISOString(), node: 'mi1', action: 'receive', outcome: 'accepted', from: '=cmd|calc' }] });
    await out;
    const api = () => h.helper.request();
    const year = new Date().getUTCFullYear();
    const q = { store: 's1', nhsNumber: '900 000 0009', from: `${year}-01-01`, to: `${year}-12-31` };
    const r = await api().get('/nhs-interop/disclosure').query(q).expect(200);
    assert.equal(r.body.subject, '900 000 0009');
    assert.equal(r.body.total, 3);
    assert.deepEqual(r.body.rows.map((x: any) => x.node), ['mi1', 'h1', 'a1']);
    const h1 = r.body.rows[1];
    assert.equal(h1.nodeType, 'nhs-hl7');
    assert.equal(h1.flowName, 'ADT feed');
    assert.equal(h1.agreement, 'DSA-2026-014');
    assert.equal(h1.purpose, 'Direct care (treatment)');
    assert.equal(h1.lawfulBasis, '6(1)(e)');
    assert.equal(r.body.rows[0].source, '=cmd|calc');
    const csv = await api().get('/nhs-interop/disclosure.csv').query(q).expect(200);
    assert.match(csv.headers['content-type'], /^text\/csv/);
    assert.match(csv.headers['content-disposition'], /^attachment; filename="disclosure-9000000009-/);
    const rows = parseCsv(csv.text);
    assert.deepEqual(rows[0], [...DISCLOSURE_COLUMNS]);
    assert.equal(rows.length, r.body.rows.length + 1);
    r.body.rows.forEach((row: any, i: number) => assert.deepEqual(rows[i + 1], DISCLOSURE_COLUMNS.map((c) => (c === 'source' && row[c] ? `'${row[c]}` : row[c] ?? ''))));
    const logged = (await (await storeOf()).queryAudit({ action: 'disclosure.report', limit: 10 }));
    assert.equal(logged.length, 2, 'the JSON and the CSV report are each audited');
    assert.equal(logged[0].subject, '9000000009');
    assert.equal(logged[0].actor, 'anonymous');
    assert.deepEqual({ ...logged[0].detail }, { from: r.body.from, to: r.body.to, rows: 3, truncated: false, format: 'json', revealed: true });
    assert.equal(logged[1].detail.format, 'csv');
    const ev = toAuditEvent(logged[0]);
    assert.deepEqual([ev.type.code, ev.action, ev.subtype.map((x) => x.code)], ['rest', 'E', ['disclosure.report', 'search-type']]);
    assert.equal(ev.agent[0]?.requestor, true);
    assert.equal(ev.entity.find((e) => e.role.code === '1')?.what.identifier.value, '9000000009');
    for (const bad of [{ ...q, nhsNumber: '9000000008' }, { ...q, from: 'nope' }, { ...q, from: q.to, to: q.from }, { ...q, from: '2000-01-01' }, { store: 's1' }]) {
      const b = await api().get('/nhs-interop/disclosure').query(bad).expect(400);
      assert.equal(b.body.code, 'BAD_REQUEST');
    }
  });
});
