import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { NhsError } from '../../lib/errors';
import { nodeRedHarness } from '../helpers/node-red';
import { adt, controlIdOf, frame, msaOf, peerConnect, peerServer, type PeerServer } from '../helpers/mllp-peer';
import { parsePrometheus } from '../helpers/prometheus';
import { sleep, waitFor } from '../helpers/wait';
import { metrics } from '../../nodes/shared/ops';

const mllpIn = require('../../nodes/mllp-in');
const mllpResponse = require('../../nodes/mllp-response');
const storeNode = require('../../nodes/store');

const dir = mkdtempSync(join(tmpdir(), 'mllp-in-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function flow(inCfg: Record<string, unknown> = {}, extra: Record<string, unknown>[] = []): Record<string, unknown>[] {
  return [
    { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, `s${++n}.sqlite`), durability: 'full' },
    { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [['ok'], ['bad']], ...inCfg },
    { id: 'ok', type: 'helper' },
    { id: 'bad', type: 'helper' },
    ...extra,
  ];
}

describe('nhs-mllp-in', () => {
  const h = nodeRedHarness();
  const port = async (): Promise<number> => {
    const p = await h.node('in').mllpPort();
    assert.ok(p, 'listening');
    return p as number;
  };
  const store = (): Promise<any> => h.node('st').getStore();

  it('commit: stores the raw bytes, then answers AA and emits payload, hl7, topic and _mllp', async () => {
    await h.load([mllpIn, storeNode], flow());
    const c = await peerConnect(await port());
    const out = h.next('ok');
    const ack = msaOf(await c.request(adt('CMT1')));
    assert.deepEqual(ack, { code: 'AA', controlId: 'CMT1' });
    const msg = await out;
    assert.equal(msg.topic, 'ADT^A01');
    assert.equal(msg.payload, adt('CMT1'));
    assert.equal(msg.hl7.controlId, 'CMT1');
    assert.equal(typeof msg._mllp.session, 'string');
    const rec = await (await store()).getMessage(msg._mllp.storeId);
    assert.equal(rec.raw.toString('latin1'), adt('CMT1'));
    assert.equal(rec.controlId, 'CMT1');
    assert.equal(msg.audit[0].action, 'receive');
    c.close();
  });

  it('puts lenient-parsing warnings in msg.outcome on the valid output, and "All OK" on a clean message (DESIGN §2)', async () => {
    await h.load([mllpIn, storeNode], flow());
    const c = await peerConnect(await port());
    const ok = h.collect('ok', 2);
    // A blank line between segments: accepted (AA) with a warning, not an error.
    const blank = adt('LEN1').replace('\rPID', '\r\rPID');
    assert.notEqual(blank, adt('LEN1'));
    assert.equal(msaOf(await c.request(blank)).code, 'AA');
    assert.equal(msaOf(await c.request(adt('LEN2'))).code, 'AA');
    const [lenient, clean] = await ok;
    assert.equal(lenient.outcome.resourceType, 'OperationOutcome');
    assert.ok(lenient.outcome.issue.some((i: any) => i.severity === 'warning'), JSON.stringify(lenient.outcome));
    assert.ok(!lenient.outcome.issue.some((i: any) => i.severity === 'error'));
    assert.deepEqual(clean.outcome.issue.map((i: any) => i.severity), ['information']);
    c.close();
  });

  it('NAKs garbage (AR) and a message with a broken body (AE), sends them to output 2 and keeps them', async () => {
    await h.load([mllpIn, storeNode], flow());
    const c = await peerConnect(await port());
    const bad = h.collect('bad', 3);
    assert.equal(msaOf(await c.request('this is not HL7 at all')).code, 'AR');
    assert.equal(msaOf(await c.request('PID|1||9000000009')).code, 'AR');
    const noVersion = adt('NOVER').replace('|P|2.5.1', '|P|');
    assert.equal(msaOf(await c.request(noVersion)).code, 'AR');
    const msgs = await bad;
    assert.equal(msgs[0].outcome.resourceType, 'OperationOutcome');
    assert.ok(msgs[0].outcome.issue.some((i: any) => i.severity === 'error'));
    assert.equal((await (await store()).countMessages({ channel: 'in', status: 'errored' })), 3);
    // still serving valid messages on the same connection
    assert.equal(msaOf(await c.request(adt('AFTER'))).code, 'AA');
    c.close();
  });

  it('answers AE, never AA, when the store cannot be written', async () => {
    await h.load([mllpIn, storeNode], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: '/dev/null/cannot/x.sqlite' },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper' }, { id: 'bad', type: 'helper' },
    ]);
    let emitted = 0;
    h.node('ok').on('input', () => emitted++);
    const c = await peerConnect(await port());
    const ack = msaOf(await c.request(adt('NOSTORE')));
    assert.deepEqual(ack, { code: 'AE', controlId: 'NOSTORE' });
    assert.equal(emitted, 0);
    c.close();
  });

  it('a full disk: AE and a red status "not stored (STORE_FULL)" while appends fail; AA and yellow with the count once one is kept (HAZ-021 C8)', async () => {
    await h.load([mllpIn, storeNode], flow());
    const statuses: { fill?: string; text?: string }[] = [];
    h.node('in').on('call:status', (c: any) => statuses.push(c.args[0]));
    const s = await store();
    const append = s.appendMessage;
    // What the SQLite store rejects with on ENOSPC (the real disk is filled in test/e2e/store-enospc.test.ts).
    s.appendMessage = () => Promise.reject(new NhsError('STORE_FULL', 'SQLite store failed: database or disk is full'));
    let emitted = 0;
    h.node('ok').on('input', () => emitted++);
    const c = await peerConnect(await port());
    for (const id of ['FULL1', 'FULL2']) assert.deepEqual(msaOf(await c.request(adt(id))), { code: 'AE', controlId: id });
    const seen = async (fill: string, re: RegExp): Promise<void> => {
      const end = Date.now() + 5000;
      while (!statuses.some((x) => x.fill === fill && re.test(x.text ?? ''))) {
        assert.ok(Date.now() < end, `no ${fill} status matching ${re}: ${JSON.stringify(statuses)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await seen('red', /2 not stored \(STORE_FULL\)/);
    assert.equal(emitted, 0, 'nothing not kept reaches the flow');
    s.appendMessage = append;
    statuses.length = 0;
    assert.deepEqual(msaOf(await c.request(adt('ROOM1'))), { code: 'AA', controlId: 'ROOM1' });
    await seen('yellow', /2 not stored \(STORE_FULL\)/);
    assert.ok(!statuses.some((x) => x.fill === 'red'), 'no longer red once a message is kept');
    assert.equal(emitted, 1);
    c.close();
  });

  it('closes on an oversized frame and on a half frame, without emitting, and keeps serving', async () => {
    await h.load([mllpIn, storeNode], flow({ maxFrameBytes: 2000 }));
    let emitted = 0;
    h.node('ok').on('input', () => emitted++);
    h.node('bad').on('input', () => emitted++);
    const p = await port();
    const big = await peerConnect(p);
    big.sendRaw(frame(adt('BIG') + `\rNTE|1||${'x'.repeat(5000)}`));
    await big.closed;
    const half = await peerConnect(p);
    half.sendRaw(frame(adt('HALF')).subarray(0, 40));
    await new Promise((r) => setTimeout(r, 30));
    half.close();
    const c = await peerConnect(p);
    assert.equal(msaOf(await c.request(adt('NEXT'))).code, 'AA');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(emitted, 1);
    assert.equal(await (await store()).countMessages({ channel: 'in' }), 1);
    c.close();
  });

  it('immediate: answers AA without a store and emits with storeId null', async () => {
    await h.load([mllpIn, storeNode], flow({ ackMode: 'immediate', store: '' }));
    const c = await peerConnect(await port());
    const out = h.next('ok');
    assert.equal(msaOf(await c.request(adt('IMM1'))).code, 'AA');
    assert.equal((await out)._mllp.storeId, null);
    c.close();
  });

  it('decodes windows-1252 by MSH-18 and answers in the same charset', async () => {
    await h.load([mllpIn, storeNode], flow());
    const c = await peerConnect(await port());
    const text = adt('CP1', { charset: 'CP1252', family: 'D’ÉTÉ€' });
    const out = h.next('ok');
    c.sendRaw(frame(iconv.encode(text, 'windows-1252')));
    assert.equal(msaOf(await c.next()).code, 'AA');
    assert.equal((await out).payload, text);
    c.close();
  });

  it('replies in arrival order when two messages arrive in one write', async () => {
    await h.load([mllpIn, storeNode], flow());
    const c = await peerConnect(await port());
    c.sendRaw(Buffer.concat([frame(adt('ORD1')), frame('garbage'), frame(adt('ORD2'))]));
    const codes = [msaOf(await c.next()), msaOf(await c.next()), msaOf(await c.next())];
    assert.deepEqual(codes.map((a) => a.code), ['AA', 'AR', 'AA']);
    assert.deepEqual([codes[0]?.controlId, codes[2]?.controlId], ['ORD1', 'ORD2']);
    c.close();
  });

  it('frees its port on close so a redeploy on the same port listens again', async () => {
    await h.load([mllpIn, storeNode], flow());
    const p = await port();
    const c = await peerConnect(p);
    await h.helper.unload();
    await c.closed;
    await h.load([mllpIn, storeNode], flow({ port: p }));
    assert.equal(await port(), p);
    const c2 = await peerConnect(p);
    assert.equal(msaOf(await c2.request(adt('REDEPLOY'))).code, 'AA');
    c2.close();
  });

  it('a bad allow-list rule is a node error and the node does not listen (fails closed)', async () => {
    await h.load([mllpIn, storeNode], flow({ allow: '10.0.0.0/99' }));
    assert.equal(await h.node('in').mllpPort(), undefined);
  });

  it('reports a port already in use as a node error, not a crash', async () => {
    const blocker = require('node:net').createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = blocker.address().port;
    await h.load([mllpIn, storeNode], flow({ port: taken }));
    const errs: any[] = [];
    h.node('in').on('call:error', (call: any) => errs.push(call.args[0]));
    assert.equal(await h.node('in').mllpPort(), undefined);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(errs[0]?.code ?? (await new Promise((r) => setTimeout(r, 50)), errs[0]?.code), 'MLLP_LISTEN_FAILED');
    await new Promise((r) => blocker.close(r));
  });
});

describe('nhs-mllp-in hand-off admin API', () => {
  const h = nodeRedHarness();
  it('lists the watermarks and hands a gone instance\'s unreplayed messages to this one', async () => {
    await h.load([mllpIn, storeNode], flow());
    await h.node('in').mllpPort();
    const store = await h.node('st').getStore();
    // Another instance kept two messages on this listener and never came back.
    await store.openHandoff('in', 'gone-owner');
    await store.appendMessage({ channel: 'in', raw: Buffer.from(adt('GONE1')), controlId: 'GONE1', owner: 'gone-owner' });
    await store.appendMessage({ channel: 'in', raw: Buffer.from(adt('GONE2')), controlId: 'GONE2', owner: 'gone-owner' });
    const api = () => h.helper.request();
    const list = (await api().get('/nhs-interop/mllp-in/in/handoff').expect(200)).body;
    const me = h.node('in').mllpOwner;
    assert.equal(list.owner, me);
    assert.deepEqual(list.handoffs.find((x: any) => x.owner === 'gone-owner').pending, 2);
    await api().post('/nhs-interop/mllp-in/in/adopt').send({ from: me }).expect(400);
    await api().post('/nhs-interop/mllp-in/nope/adopt').send({ from: 'gone-owner' }).expect(404);
    assert.deepEqual((await api().post('/nhs-interop/mllp-in/in/adopt').send({ from: 'gone-owner' }).expect(200)).body, { adopted: 2 });
    const moved = await store.findMessages({ channel: 'in' });
    assert.deepEqual(moved.map((m: any) => [m.controlId, m.owner]), [['GONE1', me], ['GONE2', me]]);
  });
});

describe('nhs-mllp-in ack "flow" + nhs-mllp-response', () => {
  const h = nodeRedHarness();
  const build = (respCfg: Record<string, unknown> = {}, inCfg: Record<string, unknown> = {}): Record<string, unknown>[] =>
    flow({ ackMode: 'flow', flowTimeout: 0.3, wires: [['resp', 'ok'], ['bad']], ...inCfg }, [
      { id: 'resp', type: 'nhs-mllp-response', wires: [['done']], ...respCfg },
      { id: 'done', type: 'helper' },
    ]);

  it('sends the AA the flow produces and marks the stored message processed', async () => {
    await h.load([mllpIn, mllpResponse, storeNode], build());
    const c = await peerConnect(await h.node('in').mllpPort());
    const done = h.next('done');
    assert.deepEqual(msaOf(await c.request(adt('FLOW1'))), { code: 'AA', controlId: 'FLOW1' });
    const msg = await done;
    // msg.ack is the ACK sent, in the one shape of DESIGN.md §2.
    assert.deepEqual({ ...msg.ack, raw: undefined }, { code: 'AA', controlId: 'FLOW1', text: '', raw: undefined });
    assert.equal(msaOf(msg.ack.raw).code, 'AA');
    const rec = await (await h.node('st').getStore()).getMessage(msg._mllp.storeId);
    assert.equal(rec.status, 'processed');
    c.close();
  });

  it('sends AE with MSA-3 text and an ERR from msg.outcome and marks the message errored', async () => {
    await h.load([mllpIn, mllpResponse, storeNode], build({ code: 'AE', text: 'Unknown ward' }));
    h.node('in').on('input', () => undefined);
    const c = await peerConnect(await h.node('in').mllpPort());
    const done = h.next('done');
    const ack = await c.request(adt('FLOW2'));
    assert.equal(msaOf(ack).code, 'AE');
    assert.match(ack, /MSA\|AE\|FLOW2\|Unknown ward/);
    const msg = await done;
    const rec = await (await h.node('st').getStore()).getMessage(msg._mllp.storeId);
    assert.equal(rec.status, 'errored');
    c.close();
  });

  it('answers AE when the flow does not answer in time', async () => {
    await h.load([mllpIn, mllpResponse, storeNode], flow({ ackMode: 'flow', flowTimeout: 0.2, wires: [['ok'], ['bad']] }));
    const c = await peerConnect(await h.node('in').mllpPort());
    const t0 = Date.now();
    assert.equal(msaOf(await c.request(adt('SLOWFLOW'))).code, 'AE');
    assert.ok(Date.now() - t0 >= 190);
    c.close();
  });

  it('fails with MLLP_SESSION_GONE when the connection closed before the answer', async () => {
    await h.load([mllpIn, mllpResponse, storeNode], flow({ ackMode: 'flow', flowTimeout: 5, wires: [['ok'], ['bad']] }, [
      { id: 'resp', type: 'nhs-mllp-response', wires: [['done']] }, { id: 'done', type: 'helper' },
    ]));
    const c = await peerConnect(await h.node('in').mllpPort());
    const got = h.next('ok');
    c.send(adt('GONE'));
    const msg = await got;
    c.close();
    await c.closed;
    await new Promise((r) => setTimeout(r, 50));
    const err = new Promise<any>((resolve) => h.node('resp').on('call:error', (call: any) => resolve(call.args[0])));
    h.node('resp').receive(msg);
    const e = await err;
    assert.equal(e.code, 'MLLP_SESSION_GONE');
  });

  it('rejects a msg that did not come from nhs-mllp-in with MLLP_NO_SESSION', async () => {
    await h.load([mllpIn, mllpResponse, storeNode], build());
    const err = new Promise<any>((resolve) => h.node('resp').on('call:error', (call: any) => resolve(call.args[0])));
    h.node('resp').receive({ payload: 'x' });
    assert.equal((await err).code, 'MLLP_NO_SESSION');
  });

  it('sends a custom reply payload as-is', async () => {
    await h.load([mllpIn, mllpResponse, storeNode], flow({ ackMode: 'flow', flowTimeout: 5, wires: [['fn'], ['bad']] }, [
      { id: 'fn', type: 'helper' },
      { id: 'resp', type: 'nhs-mllp-response', reply: 'payload', wires: [['done']] },
      { id: 'done', type: 'helper' },
    ]));
    h.node('fn').on('input', (m: any) => { h.node('resp').receive({ ...m, payload: 'MSH|^~\\&|CUSTOM|||||20260101||ACK|C1|P|2.5.1\rMSA|AA|CUST1' }); });
    const c = await peerConnect(await h.node('in').mllpPort());
    const ack = await c.request(adt('CUST1'));
    assert.match(ack, /^MSH\|\^~\\&\|CUSTOM/);
    c.close();
  });

  it('msg.reply overrides the verdict for one message (code and MSA-3 text)', async () => {
    await h.load([mllpIn, mllpResponse, storeNode], flow({ ackMode: 'flow', flowTimeout: 5, wires: [['fn'], ['bad']] }, [
      { id: 'fn', type: 'helper' },
      { id: 'resp', type: 'nhs-mllp-response', wires: [['done']] },
      { id: 'done', type: 'helper' },
    ]));
    h.node('fn').on('input', (m: any) => { h.node('resp').receive({ ...m, reply: { code: 'AR', text: 'Ward closed' } }); });
    const c = await peerConnect(await h.node('in').mllpPort());
    const done = h.next('done');
    const ack = await c.request(adt('RPL1'));
    assert.match(ack, /MSA\|AR\|RPL1\|Ward closed/);
    const msg = await done;
    assert.equal(msg.ack.code, 'AR');
    assert.equal(msg.ack.controlId, 'RPL1');
    assert.equal(msg.audit.at(-1).node, 'resp');
    const rec = await (await h.node('st').getStore()).getMessage(msg._mllp.storeId);
    assert.equal(rec.status, 'errored');
    c.close();
  });
});

/**
 * Hand-off confirmed by the durable node downstream (hazard HAZ-005 C8, action A-13): in `commit`
 * mode with *Hand-off: confirm* a message counts as handed over only once nhs-mllp-out, nhs-audit,
 * nhs-quarantine or nhs-mllp-response has committed it, so a flow slower than the old 2 s grace
 * cannot lose it at a crash. A "crash" here is Node-RED stopping the flow (unload: the delay node
 * drops what it holds, nothing is written on close) and starting it again on the same store.
 */
describe('nhs-mllp-in hand-off confirmed downstream', () => {
  const h = nodeRedHarness();
  const mllpOut = require('../../nodes/mllp-out');
  const endpointNode = require('../../nodes/mllp-endpoint');
  const auditNode = require('../../nodes/audit');
  const quarantineNode = require('../../nodes/quarantine');
  const delayNode = require('@node-red/nodes/core/function/89-delay.js');
  const switchNode = require('@node-red/nodes/core/function/10-switch.js');
  const peers: PeerServer[] = [];
  after(async () => { await Promise.all(peers.map((p) => p.close())); });

  const delay = (id: string, seconds: number, wires: string[]): Record<string, unknown> => ({
    id, type: 'delay', pauseType: 'delay', timeout: String(seconds), timeoutUnits: 'seconds', rate: '1', nbRateUnits: '1', rateUnits: 'second',
    randomFirst: '1', randomLast: '5', randomUnits: 'seconds', drop: false, wires: [wires],
  });
  /** in (commit) → [seen, a delay of `seconds`] → nhs-mllp-out → endpoint → a peer that answers AA. */
  const slowFlow = (file: string, peerPort: number, handoff: Record<string, unknown>, seconds: number): Record<string, unknown>[] => [
    { id: 'st', type: 'nhs-store', backend: 'sqlite', file, durability: 'full' },
    { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [['seen', 'slow'], []], ...handoff },
    { id: 'seen', type: 'helper' },
    delay('slow', seconds, ['out']),
    { id: 'ep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port: peerPort, store: 'st', connectTimeout: 1, ackTimeout: 1, retryBase: 0.05, retryMax: 0.2, maxAttempts: 100, nakPolicy: 'retry' },
    { id: 'out', type: 'nhs-mllp-out', endpoint: 'ep', wires: [[], []] },
  ];
  const modules = [mllpIn, storeNode, mllpOut, endpointNode, delayNode];
  /** What this listener kept above its watermark (replayed on its next start). */
  const pending = async (): Promise<number> => {
    const s = await h.node('st').getStore();
    return (await s.listHandoffs('in')).find((x: any) => x.owner === h.node('in').mllpOwner)?.pending ?? 0;
  };
  const send = async (id: string): Promise<void> => {
    const c = await peerConnect(await h.node('in').mllpPort());
    assert.equal(msaOf(await c.request(adt(id))).code, 'AA');
    c.close();
  };
  const unconfirmedMetric = async (): Promise<number> => (parsePrometheus(await metrics.render({ at: new Date().toISOString(), stores: [], listeners: [], endpoints: [] }))
    .find((x) => x.name === 'nhs_handoff_unconfirmed_total' && x.labels.node_id === 'in')?.value ?? 0);

  it('confirm: a message still in a 6 s delay before nhs-mllp-out when Node-RED stops is replayed on the next start and delivered', { timeout: 30_000 }, async () => {
    const peer = await peerServer();
    peers.push(peer);
    const file = join(dir, `h${++n}.sqlite`);
    await h.load(modules, slowFlow(file, peer.port, { handoff: 'confirm' }, 6));
    const seen = h.next('seen');
    await send('SLOW1');
    await seen;
    // Well past the old 2 s grace and two watermark writes: not confirmed, so not passed.
    await sleep(3500);
    assert.equal(await pending(), 1, 'still above the watermark');
    assert.equal((await (await h.node('st').getStore()).listOutbox({ destination: 'ep' })).length, 0, 'not yet in the outbox');
    await h.helper.unload(); // the "crash": the delay node drops what it holds

    await h.load(modules, slowFlow(file, peer.port, { handoff: 'confirm' }, 0.1));
    const replayed = await h.next('seen', 5000);
    assert.equal(controlIdOf(replayed.payload), 'SLOW1');
    assert.equal(replayed._mllp.replayed, true);
    await waitFor('SLOW1 delivered to the peer', () => (peer.received.some((f) => controlIdOf(f.toString('latin1')) === 'SLOW1') ? true : undefined), 10_000);
    const item = (await (await h.node('st').getStore()).listOutbox({ destination: 'ep' }))[0];
    assert.equal(item.meta.replayed, true);
    // nhs-mllp-out confirmed it once queued: the watermark passes it.
    await waitFor('the watermark to pass SLOW1', async () => ((await pending()) === 0 ? true : undefined), 5000);
  });

  it('grace: the same stop with the message in the same delay loses it (the watermark passed it 2 s after send)', { timeout: 30_000 }, async () => {
    const peer = await peerServer();
    peers.push(peer);
    const file = join(dir, `h${++n}.sqlite`);
    await h.load(modules, slowFlow(file, peer.port, { handoff: 'grace' }, 6));
    const seen = h.next('seen');
    await send('SLOW2');
    await seen;
    await waitFor('the watermark to pass SLOW2', async () => ((await pending()) === 0 ? true : undefined), 5000);
    assert.equal((await (await h.node('st').getStore()).listOutbox({ destination: 'ep' })).length, 0, 'not yet in the outbox');
    await h.helper.unload();

    await h.load(modules, slowFlow(file, peer.port, { handoff: 'grace' }, 0.1));
    let again = 0;
    h.node('seen').on('input', () => again++);
    await h.node('in').mllpPort();
    await sleep(2000);
    assert.equal(again, 0, 'not replayed');
    assert.equal(peer.received.length, 0, 'never delivered');
    assert.equal((await (await h.node('st').getStore()).listOutbox({ destination: 'ep' })).length, 0);
    // It was AA'd and is in the store, but no node downstream ever got it: the loss C8 removes.
    assert.equal((await (await h.node('st').getStore()).findMessages({ channel: 'in' })).length, 1);
  });

  it('confirm: a message that reaches two durable nodes (nhs-audit and nhs-quarantine, as clones) confirms once', async () => {
    const file = join(dir, `h${++n}.sqlite`);
    await h.load([mllpIn, storeNode, auditNode, quarantineNode], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file, durability: 'full' },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: 'commit', handoff: 'confirm', wires: [['au', 'q'], []] },
      { id: 'au', type: 'nhs-audit', store: 'st', action: 'processed', wires: [['audited']] },
      { id: 'audited', type: 'helper' },
      { id: 'q', type: 'nhs-quarantine', store: 'st', owner: 'integration-team', ownerType: 'str', reasonCode: 'TEST', reasonCodeType: 'str', wires: [[], ['parked']] },
      { id: 'parked', type: 'helper' },
    ]);
    const listener = h.node('in');
    const real = listener.mllpConfirm;
    const results: boolean[] = [];
    listener.mllpConfirm = (seq: number, id: string | undefined): boolean => { const r = real(seq, id); results.push(r); return r; };
    const audited = h.next('audited');
    const parked = h.next('parked');
    await send('TWO1');
    await Promise.all([audited, parked]);
    const s = await h.node('st').getStore();
    assert.equal((await s.listQuarantine({ node: 'q' })).length, 1);
    assert.ok((await s.queryAudit({ node: 'au' })).length >= 1);
    assert.deepEqual([...results].sort(), [false, true], 'two confirmations, one counted');
    await waitFor('the watermark to pass TWO1', async () => ((await pending()) === 0 ? true : undefined), 5000);
    assert.equal(listener.mllpConfirm(1e9, 'nope'), false, 'an unknown message confirms nothing');
  });

  it('confirm: a message a switch node drops passes at the confirm timeout, counted in nhs_handoff_unconfirmed_total, warned and shown in the status', { timeout: 20_000 }, async () => {
    const file = join(dir, `h${++n}.sqlite`);
    await h.load([mllpIn, storeNode, auditNode, switchNode], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file, durability: 'full' },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: 'commit', handoff: 'confirm', handoffTimeout: 1, wires: [['sw'], []] },
      { id: 'sw', type: 'switch', property: 'topic', propertyType: 'msg', rules: [{ t: 'eq', v: 'ORU^R01', vt: 'str' }], checkall: 'true', outputs: 1, wires: [['au']] },
      { id: 'au', type: 'nhs-audit', store: 'st', action: 'processed', wires: [[]] },
    ]);
    const before = await unconfirmedMetric();
    const warnings: string[] = [];
    const statuses: string[] = [];
    h.node('in').on('call:warn', (c: any) => warnings.push(String(c.args[0])));
    h.node('in').on('call:status', (c: any) => statuses.push(String(c.args[0]?.text ?? '')));
    await send('DROP1');
    await sleep(500);
    assert.equal(await pending(), 1, 'held inside the confirm timeout');
    await waitFor('the watermark to pass DROP1', async () => ((await pending()) === 0 ? true : undefined), 6000);
    assert.equal(await unconfirmedMetric() - before, 1);
    await waitFor('the warning', () => (warnings.some((w) => /not confirmed by a durable node/.test(w)) ? true : undefined), 3000);
    const w = warnings.find((x) => /not confirmed/.test(x))!;
    assert.match(w, /1 message\(s\).*within 1 s/);
    assert.doesNotMatch(w, /9000000009|TESTPATIENT|DROP1/, 'no patient data or message content in the log');
    await waitFor('the status', () => (statuses.some((x) => /1 unconfirmed/.test(x)) ? true : undefined), 3000);
    assert.equal((await (await h.node('st').getStore()).queryAudit({ node: 'au' })).length, 0, 'the switch really dropped it');
  });

  it('confirm: nhs-mllp-response confirms once it has marked the stored message (commit mode)', async () => {
    const file = join(dir, `h${++n}.sqlite`);
    await h.load([mllpIn, storeNode, mllpResponse], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file, durability: 'full' },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: 'commit', handoff: 'confirm', wires: [['resp'], []] },
      { id: 'resp', type: 'nhs-mllp-response', wires: [['done']] },
      { id: 'done', type: 'helper' },
    ]);
    const done = h.next('done');
    await send('RESP1');
    const msg = await done;
    assert.equal((await (await h.node('st').getStore()).getMessage(msg._mllp.storeId)).status, 'processed');
    await waitFor('the watermark to pass RESP1', async () => ((await pending()) === 0 ? true : undefined), 5000);
  });

  it('a flow saved without the hand-off setting keeps the 2 s grace (upgrade, HAZ-025); new nodes default to confirm', { timeout: 20_000 }, async () => {
    // The editor's default for a new node is `confirm`; a saved node without the field is not given it.
    const editor = readFileSync(join(__dirname, '..', '..', 'nodes', 'mllp-in.html'), 'utf8');
    assert.match(editor, /handoff: \{ value: 'confirm' \}/);
    assert.match(editor, /if \(this\.handoff !== 'confirm' && this\.handoff !== 'grace'\) \$\('#node-input-handoff'\)\.val\('grace'\)/);
    // Saved before the setting: no `handoff`, no durable node downstream. With the grace it passes
    // within about 3 s; in confirm mode (60 s timeout) it would stay above the watermark.
    const file = join(dir, `h${++n}.sqlite`);
    await h.load([mllpIn, storeNode], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file, durability: 'full' },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [['ok'], []] },
      { id: 'ok', type: 'helper' },
    ]);
    const got = h.next('ok');
    await send('OLD1');
    await got;
    assert.equal(h.node('in').mllpConfirm(1, undefined), false, 'grace mode takes no confirmation');
    await waitFor('the watermark to pass OLD1 by the grace', async () => ((await pending()) === 0 ? true : undefined), 5000);
  });
});
