import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHl7 } from '../../lib/hl7';
import type { PdsStandIn } from '../../lib/nhs/pds/stand-in';
import { nodeRedHarness } from '../helpers/node-red';
import { API_KEY, INVALIDATED, KID, SUPERSEDED_OLD, UNKNOWN_VALID, skipWithoutPdsData, startStandIn, testKeys } from '../helpers/pds';

const storeNode = require('../../nodes/store');
const configNode = require('../../nodes/pds-config');
const lookupNode = require('../../nodes/pds-lookup');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

/** An ADT^A04 for the published sandbox patient 9000000009 (Jane Smith, F, 2010-10-22). */
function adt(nhs: string, family = 'SMITH', given = 'JANE', dob = '20101022', sex = 'F', id = 'MSG0001'): unknown {
  const text = ['MSH|^~\\&|PAS|RX1|EPR|RX1|20260101120000||ADT^A04|' + id + '|P|2.4',
    `PID|1||${nhs}^^^NHS^NH||${family}^${given}||${dob}|${sex}`].join('\r');
  return parseHl7(text).message!.toJSON();
}

describe('nhs-pds-lookup node against the PDS stand-in', { skip: skipWithoutPdsData }, () => {
  const h = nodeRedHarness();
  let s: PdsStandIn;
  let dir = '';
  before(async () => { s = await startStandIn(); dir = mkdtempSync(join(tmpdir(), 'nhs-pds-node-')); });
  after(async () => { await s.stop(); rmSync(dir, { recursive: true, force: true }); });

  const flow = (lookup: Record<string, unknown>, cfg: Record<string, unknown> = {}) => [
    { id: 'c1', type: 'nhs-pds-config', environment: 'custom', baseUrl: s.baseUrl, rate: 50, attempts: 3, budget: 10, ...cfg },
    { id: 'lk', type: 'nhs-pds-lookup', z: 'f1', pds: 'c1', mode: 'verify', wires: [['ok'], ['no'], ['down']], ...lookup },
    { id: 'ok', type: 'helper', z: 'f1' },
    { id: 'no', type: 'helper', z: 'f1' },
    { id: 'down', type: 'helper', z: 'f1' },
  ];

  /** Collect every message reaching any of the three outputs, tagged with the output. */
  function outputs(): { got: { port: string; msg: any }[]; wait: (n: number, ms?: number) => Promise<void> } {
    const got: { port: string; msg: any }[] = [];
    for (const port of ['ok', 'no', 'down']) h.node(port).on('input', (msg: any) => got.push({ port, msg }));
    return {
      got,
      wait: async (n, ms = 60_000) => {
        const end = Date.now() + ms;
        while (got.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        if (got.length < n) throw new Error(`only ${got.length}/${n} messages came out`);
      },
    };
  }

  it('verify from msg.hl7 PID: matched, with msg.pds, msg.outcome and an audit step', async () => {
    await h.load([configNode, lookupNode], flow({}));
    const o = outputs();
    h.node('lk').receive({ hl7: adt('9000000009'), payload: 'raw' });
    await o.wait(1);
    const { port, msg } = o.got[0]!;
    assert.equal(port, 'ok');
    assert.equal(msg.pds.nhsNumber, '9000000009');
    assert.deepEqual(msg.pds.differences, []);
    assert.equal(msg.pds.environment, 'custom');
    assert.equal(msg.outcome.issue[0].diagnostics, 'All OK');
    assert.equal(msg.audit.length, 1);
    assert.equal(msg.audit[0].node, 'lk');
    assert.equal(msg.audit[0].action, 'pds.verify');
    assert.equal(msg.audit[0].outcome, 'matched');
    assert.equal(msg.audit[0].ref, 'MSG0001', 'correlation = MSH-10');
    assert.equal(s.stats.lastHeaders['x-correlation-id'], 'MSG0001');
    assert.ok(!JSON.stringify(msg.audit).includes('9000000009'));
  });

  it('verify: a configured path whose parent is missing falls back to the HL7 PID (no node error)', async () => {
    await h.load([configNode, lookupNode], flow({ family: 'referral.family', birthDate: 'referral.dob' }));
    const o = outputs();
    h.node('lk').receive({ hl7: adt('9000000009'), payload: 'raw' });
    await o.wait(1);
    assert.equal(o.got[0]!.port, 'ok');
    assert.deepEqual(o.got[0]!.msg.pds.differences, []);
  });

  it('verify: differing demographics go to "not matched" naming the fields; invalid NHS number makes no request', async () => {
    await h.load([configNode, lookupNode], flow({}));
    const o = outputs();
    const before = s.stats.requests;
    h.node('lk').receive({ hl7: adt('9000000000') });
    await o.wait(1);
    assert.equal(s.stats.requests, before, 'no request for an invalid number');
    h.node('lk').receive({ hl7: adt('9000000009', 'SMITH', 'JANE', '20111022', 'M') });
    await o.wait(2);
    assert.equal(o.got[0]!.port, 'no');
    assert.equal(o.got[0]!.msg.outcome.issue[0].extension[0].valueString, 'PDS_INVALID_NHS_NUMBER');
    assert.equal(o.got[1]!.port, 'no');
    assert.deepEqual(o.got[1]!.msg.pds.differences, ['birthDate', 'gender']);
  });

  it('raw HL7 text in the payload is read too; hostile input gives "not matched", never a crash', async () => {
    await h.load([configNode, lookupNode], flow({}));
    const o = outputs();
    const raw = 'MSH|^~\\&|PAS|RX1|EPR|RX1|20260101||ADT^A04|RAW1|P|2.4\rPID|1||9000000009^^^NHS^NH||SMITH^JANE||20101022|F';
    const hostile: unknown[] = [{ a: { b: 1 } }, 'x'.repeat(1_000_000), null, 12, ['9000000009'], { resourceType: 'Patient', identifier: 'nope' }, 'MSH|garbage'];
    h.node('lk').receive({ payload: raw });
    for (const p of hostile) h.node('lk').receive({ payload: p, hl7: p === null ? { segments: 'bad' } : undefined });
    await o.wait(1 + hostile.length);
    const rawOut = o.got.filter((g) => g.msg.payload === raw);
    assert.equal(rawOut.length, 1);
    assert.equal(rawOut[0]!.port, 'ok');
    assert.equal(rawOut[0]!.msg.pds.nhsNumber, '9000000009');
    const rest = o.got.filter((g) => g.msg.payload !== raw);
    assert.equal(rest.length, hostile.length);
    assert.ok(rest.every((g) => g.port === 'no' && g.msg.outcome.issue[0].extension[0].valueString === 'PDS_INVALID_NHS_NUMBER'));
  });

  it('retrieve and trace from msg paths; unavailable keeps the message intact', async () => {
    await h.load([configNode, lookupNode], [
      ...flow({ mode: 'retrieve', nhsNumber: 'nhs' }),
      { id: 'c2', type: 'nhs-pds-config', environment: 'custom', baseUrl: 'http://127.0.0.1:1/none', attempts: 2, budget: 1 },
      { id: 'lk2', type: 'nhs-pds-lookup', z: 'f1', pds: 'c2', mode: 'retrieve', wires: [['ok'], ['no'], ['down']] },
      { id: 'lk3', type: 'nhs-pds-lookup', z: 'f1', pds: 'c1', mode: 'trace', family: 'q.family', birthDate: 'q.dob', gender: 'q.gender', wires: [['ok'], ['no'], ['down']] },
    ]);
    const o = outputs();
    h.node('lk').receive({ nhs: SUPERSEDED_OLD });
    await o.wait(1);
    h.node('lk2').receive({ payload: '9000000009', keep: { a: 1 } });
    await o.wait(2);
    h.node('lk3').receive({ q: { family: 'Smith', dob: '2010-10-22', gender: 'female' } });
    await o.wait(3);
    const [sup, down, traced] = o.got;
    assert.equal(sup!.port, 'ok');
    assert.equal(sup!.msg.pds.supersededFrom, SUPERSEDED_OLD);
    assert.equal(sup!.msg.pds.nhsNumber, '9000000009');
    assert.equal(down!.port, 'down');
    assert.equal(down!.msg.payload, '9000000009');
    assert.deepEqual(down!.msg.keep, { a: 1 });
    assert.equal(down!.msg.outcome.issue[0].extension[0].valueString, 'PDS_UNAVAILABLE');
    assert.equal(traced!.port, 'ok');
    assert.equal(traced!.msg.pds.nhsNumber, '9000000009');
    assert.equal(typeof traced!.msg.pds.score, 'number');
  });

  it('trace with Min score: a match below it leaves on "not matched" with PDS_LOW_SCORE and no NHS number (HAZ-001 C6)', async () => {
    await h.load([configNode, lookupNode], [
      ...flow({ mode: 'trace', family: 'q.family', birthDate: 'q.dob', gender: 'q.gender', minScore: '0.99' }),
      { id: 'lk4', type: 'nhs-pds-lookup', z: 'f1', pds: 'c1', mode: 'trace', family: 'q.family', birthDate: 'q.dob', gender: 'q.gender', minScore: '', wires: [['ok'], ['no'], ['down']] },
    ]);
    const o = outputs();
    const q = { family: 'Smith', dob: '2010-10-22', gender: 'female' };
    h.node('lk').receive({ q });
    await o.wait(1);
    h.node('lk4').receive({ q });
    await o.wait(2);
    const [low, off] = o.got;
    assert.equal(low!.port, 'no');
    assert.equal(low!.msg.outcome.issue[0].extension[0].valueString, 'PDS_LOW_SCORE');
    assert.equal(low!.msg.pds.nhsNumber, null);
    assert.ok(low!.msg.pds.score < 0.99);
    assert.equal(low!.msg.audit[0].outcome, 'not-matched');
    assert.equal(off!.port, 'ok', 'an empty Min score is off');
    assert.equal(off!.msg.pds.nhsNumber, '9000000009');
  });

  it('a Node-RED marked live (nhsInterop.live) refuses a non-production PDS: warned at deploy, every lookup unavailable with PDS_NOT_LIVE, nothing sent to it (HAZ-003 C5)', async () => {
    h.helper.settings({ nhsInterop: { live: true } });
    try {
      const before = s.stats.requests;
      await h.load([configNode, lookupNode], flow({}));
      const warned = new Set(h.helper.log().args.map((a: any[]) => a[0]).filter((e: any) => String(e?.msg).includes('PDS_NOT_LIVE')).map((e: any) => e.id));
      assert.deepEqual([...warned], ['c1']);
      const o = outputs();
      h.node('lk').receive({ hl7: adt('9000000009'), keep: 1 });
      await o.wait(1);
      assert.equal(o.got[0]!.port, 'down');
      assert.equal(o.got[0]!.msg.outcome.issue[0].extension[0].valueString, 'PDS_NOT_LIVE');
      assert.equal(o.got[0]!.msg.keep, 1, 'the message is intact');
      assert.equal(s.stats.requests, before, 'no request reached the non-production service');
    } finally {
      h.helper.settings({});
    }
  });

  it('restricted patient: no address, telecom or GP leaves the node or reaches the store; the NHS number only in the audit subject', async () => {
    const file = join(dir, 'audit.db');
    await h.load([storeNode, configNode, lookupNode], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file, durability: 'normal' },
      ...flow({ mode: 'retrieve', store: 'st' }),
    ]);
    const o = outputs();
    h.node('lk').receive({ payload: '9000000025' });
    await o.wait(1);
    const msg = o.got[0]!.msg;
    assert.equal(o.got[0]!.port, 'ok');
    assert.equal(msg.pds.restricted, true);
    for (const k of ['address', 'telecom', 'generalPractitioner']) assert.equal(msg.pds.patient[k], undefined, k);
    assert.equal(msg.audit[0].recorded, true);
    const store = await h.node('st').getStore();
    const recs = await store.queryAudit({ node: 'lk' });
    assert.equal(recs.length, 1);
    assert.equal(recs[0].subject, '9000000025');
    assert.equal(recs[0].action, 'pds.retrieve');
    assert.equal(recs[0].outcome, 'matched');
    assert.deepEqual(Object.keys(recs[0].detail).sort(), ['code', 'environment', 'requests']);
    assert.ok(!JSON.stringify(recs[0].detail).includes('9000000025'));
  });

  it('the status shows the queue length while a burst waits, and counts only', async () => {
    await h.load([configNode, lookupNode], flow({ mode: 'retrieve' }, { rate: 4 }));
    const o = outputs();
    const texts: string[] = [];
    h.node('lk').on('call:status', (call: any) => { if (call.args[0]?.text) texts.push(call.args[0].text); });
    for (let i = 0; i < 8; i++) h.node('lk').receive({ payload: '9000000009' });
    await o.wait(8, 30_000);
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(texts.some((t) => /queue \d+/.test(t)), texts.join(' | '));
    assert.match(texts.at(-1)!, /^matched 8 \/ not matched 0 \/ unavailable 0$/);
  });

  it('200 lookups at once: rate never exceeded at the stand-in, each msg on exactly one output, none lost; 429 Retry-After obeyed', async () => {
    await h.load([configNode, lookupNode], flow({ mode: 'retrieve' }, { rate: 20 }));
    const o = outputs();
    s.stats.perSecond.clear();
    const nums = ['9000000009', '9000000017', '9000000025', '9000000033', UNKNOWN_VALID, '9000000000', INVALIDATED, SUPERSEDED_OLD];
    s.failNext(1, 429, '2');
    for (let i = 0; i < 200; i++) h.node('lk').receive({ payload: nums[i % nums.length], seq: i });
    await o.wait(200, 120_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(o.got.length, 200, 'no message twice');
    assert.deepEqual(o.got.map((g) => g.msg.seq).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i));
    assert.ok(o.got.every((g) => g.port !== 'down'), 'the 429 was retried, nothing unavailable');
    assert.ok(s.maxPerSecond() <= 20, `max ${s.maxPerSecond()}/s at the stand-in`);
    const byPort = (p: string) => o.got.filter((g) => g.port === p).length;
    assert.equal(byPort('ok'), 125);
    assert.equal(byPort('no'), 75);
  });
});

describe('nhs-pds-lookup with signed-JWT auth', { skip: skipWithoutPdsData }, () => {
  const h = nodeRedHarness();
  let s: PdsStandIn;
  before(async () => { s = await startStandIn({ withAuth: true }); });
  after(async () => { await s.stop(); });

  it('two nodes on one config share one token over 100 lookups; a bad kid is unavailable with PDS_AUTH_KID (and reaches Catch when asked)', async () => {
    const cfg = (id: string) => ({ id, type: 'nhs-pds-config', environment: 'custom', baseUrl: s.baseUrl, customAuth: true, tokenUrl: s.tokenUrl, rate: 200 });
    await h.load([configNode, lookupNode, catchNode], [
      cfg('c1'), cfg('c2'),
      { id: 'a', type: 'nhs-pds-lookup', z: 'f1', pds: 'c1', mode: 'retrieve', wires: [['ok'], ['no'], ['down']] },
      { id: 'b', type: 'nhs-pds-lookup', z: 'f1', pds: 'c1', mode: 'retrieve', wires: [['ok'], ['no'], ['down']] },
      { id: 'x', type: 'nhs-pds-lookup', z: 'f1', pds: 'c2', mode: 'retrieve', catchUnavailable: true, wires: [['ok'], ['no'], ['down']] },
      { id: 'f1', type: 'tab' },
      { id: 'ct', type: 'catch', z: 'f1', scope: ['x'], uncaught: false, wires: [['caught']] },
      { id: 'ok', type: 'helper', z: 'f1' }, { id: 'no', type: 'helper', z: 'f1' }, { id: 'down', type: 'helper', z: 'f1' }, { id: 'caught', type: 'helper', z: 'f1' },
    ], {
      c1: { apiKey: API_KEY, kid: KID, privateKey: testKeys().privateKey.replace(/\n/g, ' ') },
      c2: { apiKey: API_KEY, kid: 'nope', privateKey: testKeys().privateKey },
    });
    const tokens = s.stats.tokenRequests;
    const ok = h.collect('ok', 100, 60_000);
    for (let i = 0; i < 50; i++) { h.node('a').receive({ payload: '9000000009' }); h.node('b').receive({ payload: '9000000017' }); }
    assert.equal((await ok).length, 100);
    assert.equal(s.stats.tokenRequests - tokens, 1, 'one token for both nodes');
    const down = h.next('down');
    const caught = h.next('caught');
    h.node('x').receive({ payload: '9000000009' });
    const [d, c] = await Promise.all([down, caught]);
    assert.equal(d.outcome.issue[0].extension[0].valueString, 'PDS_AUTH_KID');
    assert.equal(c.error.source.id, 'x');
    assert.match(c.error.message, /PDS_AUTH_KID/);
  });
});
