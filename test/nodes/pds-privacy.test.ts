/**
 * "No patient data in logs or status": 50 lookups across every scenario (found, restricted,
 * minimal, superseded, invalidated, unknown, invalid, differing demographics, trace one / several /
 * none, PDS unavailable reported to Catch), capturing every Node-RED log call, every node status,
 * everything written to stdout/stderr and the audit records' detail; none may contain an NHS
 * number, name, birth date, address line or postcode of the patients involved.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHl7 } from '../../lib/hl7';
import type { PdsStandIn } from '../../lib/nhs/pds/stand-in';
import { nodeRedHarness } from '../helpers/node-red';
import { INVALIDATED, SUPERSEDED_OLD, UNKNOWN_VALID, pdsDataDir, skipWithoutPdsData, startStandIn } from '../helpers/pds';

const storeNode = require('../../nodes/store');
const configNode = require('../../nodes/pds-config');
const lookupNode = require('../../nodes/pds-lookup');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const PATIENTS = ['9000000009', '9000000017', '9000000025', '9000000033'];

/** Every name, birth date, address line and postcode of the published patients used here. */
function patientStrings(): string[] {
  const out = new Set<string>();
  const dirs = [join(pdsDataDir, 'karate-mock-stubs', 'patientResponses'), join(pdsDataDir, 'karate-mock-stubs', 'searchResponses')];
  for (const d of dirs) for (const f of readdirSync(d)) {
    const p = JSON.parse(readFileSync(join(d, f), 'utf8'));
    if (p.resourceType !== 'Patient' || !PATIENTS.includes(p.id)) continue;
    for (const n of p.name ?? []) { if (n.family) out.add(n.family); for (const g of n.given ?? []) out.add(g); }
    if (p.birthDate) { out.add(p.birthDate); out.add(p.birthDate.replace(/-/g, '')); }
    for (const a of p.address ?? []) { if (a.postalCode) out.add(a.postalCode); for (const l of a.line ?? []) if (l.length > 4) out.add(l); }
  }
  return [...out].filter((x) => x.length >= 4);
}

describe('no patient data in Node-RED logs, status or audit detail over 50 lookups', { skip: skipWithoutPdsData }, () => {
  const h = nodeRedHarness();
  let s: PdsStandIn;
  let dir = '';
  before(async () => { s = await startStandIn(); dir = mkdtempSync(join(tmpdir(), 'nhs-pds-priv-')); });
  after(async () => { await s.stop(); rmSync(dir, { recursive: true, force: true }); });

  it('finds no NHS number, name, birth date, address or postcode', async () => {
    const wires = [['ok'], ['no'], ['down']];
    await h.load([storeNode, configNode, lookupNode, catchNode], [
      { id: 'f1', type: 'tab' },
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'a.db'), durability: 'normal' },
      { id: 'c1', type: 'nhs-pds-config', environment: 'custom', baseUrl: s.baseUrl, rate: 100, attempts: 2, budget: 1 },
      { id: 'c2', type: 'nhs-pds-config', environment: 'custom', baseUrl: 'http://127.0.0.1:1/none', attempts: 1, budget: 0 },
      { id: 'v', type: 'nhs-pds-lookup', z: 'f1', pds: 'c1', mode: 'verify', store: 'st', wires },
      { id: 'r', type: 'nhs-pds-lookup', z: 'f1', pds: 'c1', mode: 'retrieve', store: 'st', wires },
      { id: 't', type: 'nhs-pds-lookup', z: 'f1', pds: 'c1', mode: 'trace', store: 'st', family: 'q.family', given: 'q.given', birthDate: 'q.dob', gender: 'q.gender', wires },
      { id: 'u', type: 'nhs-pds-lookup', z: 'f1', pds: 'c2', mode: 'retrieve', store: 'st', catchUnavailable: true, wires },
      { id: 'ct', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'ok', type: 'helper', z: 'f1' }, { id: 'no', type: 'helper', z: 'f1' }, { id: 'down', type: 'helper', z: 'f1' }, { id: 'caught', type: 'helper', z: 'f1' },
    ]);
    const statuses: unknown[] = [];
    const nodeLogs: string[] = [];
    for (const id of ['v', 'r', 't', 'u', 'c1', 'c2', 'st', 'ct']) {
      h.node(id).on('call:status', (call: any) => statuses.push(call.args[0]));
      for (const m of ['log', 'warn', 'error', 'debug', 'trace']) h.node(id).on(`call:${m}`, (call: any) => nodeLogs.push(JSON.stringify(call.args.map((a: any) => (a instanceof Error ? { message: a.message, code: (a as any).code } : a && a._msgid ? '[msg]' : a)))));
    }
    const written: string[] = [];
    const ow = process.stdout.write.bind(process.stdout);
    const ew = process.stderr.write.bind(process.stderr);
    (process.stdout as any).write = (c: any, ...a: any[]) => { written.push(String(c)); return ow(c, ...a); };
    (process.stderr as any).write = (c: any, ...a: any[]) => { written.push(String(c)); return ew(c, ...a); };
    let n = 0;
    const out = h.collect('ok', 1, 60_000).catch(() => []);
    const seen: any[] = [];
    for (const id of ['ok', 'no', 'down']) h.node(id).on('input', (m: any) => seen.push(m));
    try {
      const hl7 = (nhs: string, fam: string, given: string, dob: string, sex: string) => parseHl7(`MSH|^~\\&|PAS|RX1|EPR|RX1|20260101||ADT^A04|C${n}|P|2.4\rPID|1||${nhs}^^^NHS^NH||${fam}^${given}||${dob}|${sex}`).message!.toJSON();
      const jobs: [string, Record<string, unknown>][] = [
        ['v', { hl7: hl7('9000000009', 'Smith', 'Jane', '20101022', 'F') }],
        ['v', { hl7: hl7('9000000009', 'Smythe', 'Janet', '20101022', 'F') }],
        ['v', { hl7: hl7('9000000025', 'Smythe', 'Janet', '20101022', 'F') }],
        ['v', { hl7: hl7('9000000000', 'Smith', 'Jane', '20101022', 'F') }],
        ['v', { hl7: hl7(SUPERSEDED_OLD, 'Smith', 'Jane', '20101022', 'F') }],
        ['r', { payload: '9000000017' }], ['r', { payload: '9000000033' }], ['r', { payload: UNKNOWN_VALID }],
        ['r', { payload: INVALIDATED }], ['r', { payload: '9000000025' }],
        ['t', { q: { family: 'Smith', given: 'Jane', dob: '2010-10-22', gender: 'female' } }],
        ['t', { q: { family: 'Sm*', dob: '2010-10-22' } }],
        ['t', { q: { family: 'Nobody', dob: '2010-10-22' } }],
        ['t', { q: { family: 'Smith' } }],
        ['u', { payload: '9000000009' }],
      ];
      for (; n < 50; n++) { const [id, m] = jobs[n % jobs.length]!; h.node(id).receive(structuredClone(m)); }
      const end = Date.now() + 60_000;
      while (seen.length < 50 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 700)); // throttled statuses land
    } finally {
      (process.stdout as any).write = ow;
      (process.stderr as any).write = ew;
    }
    await out;
    assert.equal(seen.length, 50, 'every lookup came out');
    assert.ok(seen.some((m) => m.pds.restricted), 'a restricted patient was among them');
    const store = await h.node('st').getStore();
    const recs = await store.queryAudit({});
    assert.ok(recs.length >= 50);
    const logs = [...h.helper.log().args.map((a: unknown[]) => JSON.stringify(a)), ...nodeLogs];
    assert.ok(logs.length > 0 && statuses.length > 0, 'something was captured');
    assert.ok(logs.some((l: string) => l.includes('PDS_UNAVAILABLE')), 'the unavailable errors were logged (by code)');
    const haystack = [...logs, ...statuses.map((x) => JSON.stringify(x)), ...written, ...recs.map((r: any) => JSON.stringify(r.detail))].join('\n');
    const needles = [...PATIENTS, UNKNOWN_VALID, SUPERSEDED_OLD, INVALIDATED, '9000000000', ...patientStrings()];
    assert.ok(needles.includes('Smith') && needles.includes('2010-10-22'), 'needles built from the published records');
    for (const x of needles) assert.ok(!haystack.toLowerCase().includes(x.toLowerCase()), `found "${x}" in logs/status/audit detail`);
    // The subject column is the one place the number is kept.
    assert.ok(recs.some((r: any) => r.subject === '9000000025'));
  });
});
