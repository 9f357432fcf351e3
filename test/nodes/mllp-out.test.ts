import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { nodeRedHarness } from '../helpers/node-red';
import { adt, controlIdOf, msaOf, peerAck, peerServer, type PeerServer } from '../helpers/mllp-peer';
import { parsePrometheus } from '../helpers/prometheus';
import { metrics } from '../../nodes/shared/ops';

const mllpOut = require('../../nodes/mllp-out');
const endpointNode = require('../../nodes/mllp-endpoint');
const storeNode = require('../../nodes/store');

const dir = mkdtempSync(join(tmpdir(), 'mllp-out-'));
const peers: PeerServer[] = [];
after(async () => { await Promise.all(peers.map((p) => p.close())); rmSync(dir, { recursive: true, force: true }); });
let n = 0;

async function peer(reply?: Parameters<typeof peerServer>[0]): Promise<PeerServer> {
  const p = await peerServer(reply);
  peers.push(p);
  return p;
}
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function flow(port: number, ep: Record<string, unknown> = {}, file = join(dir, `o${++n}.sqlite`), writerThread = false): Record<string, unknown>[] {
  return [
    { id: 'st', type: 'nhs-store', backend: 'sqlite', file, writerThread },
    { id: 'ep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port, store: 'st', connectTimeout: 1, ackTimeout: 1, retryBase: 0.05, retryMax: 0.2, maxAttempts: 3, nakPolicy: 'retry', ...ep },
    { id: 'out', type: 'nhs-mllp-out', endpoint: 'ep', wires: [['ok'], ['bad']] },
    { id: 'ok', type: 'helper' },
    { id: 'bad', type: 'helper' },
  ];
}

describe('nhs-mllp-out + nhs-mllp-endpoint', () => {
  const h = nodeRedHarness();
  const modules = [mllpOut, endpointNode, storeNode];
  const outbox = async (): Promise<any[]> => (await h.node('st').getStore()).listOutbox({ destination: 'ep' });

  it('delivers in order and emits each AA on output 1', async () => {
    const p = await peer();
    await h.load(modules, flow(p.port));
    const acks = h.collect('ok', 5);
    for (let i = 1; i <= 5; i++) h.node('out').receive({ payload: adt(`OUT${i}`) });
    const got = await acks;
    assert.deepEqual(got.map((m) => msaOf(m.payload).controlId), ['OUT1', 'OUT2', 'OUT3', 'OUT4', 'OUT5']);
    assert.deepEqual(p.received.map((f) => controlIdOf(f.toString('latin1'))), ['OUT1', 'OUT2', 'OUT3', 'OUT4', 'OUT5']);
    assert.equal(got[0].topic, 'ADT^A01');
    assert.ok((await outbox()).every((i) => i.state === 'done'));
  });

  it('discards a foreign ACK (wrong MSA-2) and waits for the right one', async () => {
    const p = await peer((t) => `${peerAck(adt('NOT-YOURS'))}\u001c\r\u000b${peerAck(t)}`);
    await h.load(modules, flow(p.port));
    const ack = h.next('ok');
    h.node('out').receive({ payload: adt('MINE') });
    assert.equal(msaOf((await ack).payload).controlId, 'MINE');
    assert.equal(p.received.length, 1);
  });

  it('AE with policy park: parks at once on output 2 and never resends', async () => {
    const p = await peer((t) => peerAck(t, 'AE'));
    await h.load(modules, flow(p.port, { nakPolicy: 'park' }));
    const parked = h.next('bad');
    h.node('out').receive({ payload: adt('NAKME') });
    const m = await parked;
    assert.match(m.outbox.reason, /AE/);
    assert.equal(m.ack.code, 'AE');
    assert.equal(m.ack.controlId, 'NAKME');
    assert.equal(controlIdOf(m.payload), 'NAKME');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(p.received.length, 1);
    assert.equal((await outbox())[0].state, 'parked');
  });

  it('AR with policy fail: parks, reports on output 2 and raises MLLP_NEGATIVE_ACK', async () => {
    const p = await peer((t) => peerAck(t, 'AR'));
    await h.load(modules, flow(p.port, { nakPolicy: 'fail' }));
    const err = new Promise<any>((resolve) => h.node('out').on('call:error', (c: any) => resolve(c.args[0])));
    const parked = h.next('bad');
    h.node('out').receive({ payload: adt('REJECTME') });
    await parked;
    assert.equal((await err).code, 'MLLP_NEGATIVE_ACK');
  });

  it('AE with policy retry: retries with back-off, then parks after maxAttempts', async () => {
    const p = await peer((t) => peerAck(t, 'AE'));
    await h.load(modules, flow(p.port, { nakPolicy: 'retry', maxAttempts: 3 }));
    const retries = async (): Promise<number> => (parsePrometheus(await metrics.render({ at: new Date().toISOString(), stores: [], listeners: [], endpoints: [] })).find((x) => x.name === 'nhs_outbox_retries_total' && x.labels.node_id === 'out' && x.labels.destination === 'ep')?.value ?? 0);
    const before = await retries();
    const parked = h.next('bad', 5000);
    h.node('out').receive({ payload: adt('RETRYME') });
    const m = await parked;
    assert.equal(p.received.length, 3);
    assert.equal(m.outbox.attempts, 3);
    // Issue 16 item 1: retries are counted (two reschedules, then the third failure parks).
    assert.equal(await retries() - before, 2);
  });

  it('no listener: parks after its retry budget, never silently drops', async () => {
    const port = await freePort();
    await h.load(modules, flow(port, { maxAttempts: 2 }));
    const parked = h.next('bad', 5000);
    h.node('out').receive({ payload: adt('NOBODY') });
    const m = await parked;
    assert.match(m.outbox.reason, /MLLP_CONNECT_FAILED/);
    assert.equal(m.outcome.resourceType, 'OperationOutcome');
  });

  it('a silent destination times out (MLLP_ACK_TIMEOUT) and the message is retried, then delivered', async () => {
    let calls = 0;
    const p = await peer((t) => (++calls === 1 ? undefined : peerAck(t)));
    await h.load(modules, flow(p.port, { ackTimeout: 0.2 }));
    const ack = h.next('ok', 5000);
    h.node('out').receive({ payload: adt('SILENT') });
    assert.equal(msaOf((await ack).payload).controlId, 'SILENT');
    assert.equal(p.received.length, 2);
  });

  it('sends bad input to output 2 without queueing it', async () => {
    const p = await peer();
    await h.load(modules, flow(p.port));
    const bad = h.collect('bad', 3);
    h.node('out').receive({ payload: 'garbage' });
    h.node('out').receive({ payload: { not: 'hl7' } });
    h.node('out').receive({ payload: 'PID|1||9000000009' });
    const got = await bad;
    assert.ok(got.every((m) => m.outcome?.resourceType === 'OperationOutcome'));
    assert.equal((await outbox()).length, 0);
    assert.equal(p.received.length, 0);
  });

  async function survivesRestart(writerThread: boolean): Promise<void> {
    const port = await freePort();
    const file = join(dir, `restart-${writerThread}.sqlite`);
    await h.load(modules, flow(port, { maxAttempts: 100, retryBase: 0.05, retryMax: 0.1 }, file, writerThread));
    h.node('out').receive({ payload: adt('R1') });
    h.node('out').receive({ payload: adt('R2') });
    // Redeploy once both are committed (the input's promise), not at the first status call: that
    // can be the node's deferred start-up status, before the store (a writer thread takes a few
    // hundred ms to start from source) has taken anything.
    const end = Date.now() + 10_000;
    while ((await outbox()).length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await outbox()).length, 2, 'both messages committed to the outbox before the redeploy');
    await h.helper.unload();
    await h.load(modules, flow(port, { maxAttempts: 100, retryMax: 0.1 }, file, writerThread));
    const acks = h.collect('ok', 2, 8000);
    // the destination comes up on the port the endpoint names, after the restart
    const received: string[] = [];
    const socks = new Set<net.Socket>();
    const srv = net.createServer((s) => socks.add(s) && s.on('data', (d: Buffer) => {
      for (const part of d.toString('latin1').split('\u001c\r')) {
        const start = part.indexOf('\u000b');
        const text = start < 0 ? '' : part.slice(start + 1);
        if (text) { received.push(controlIdOf(text)); s.write(`\u000b${peerAck(text)}\u001c\r`); }
      }
    }));
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    try {
      assert.deepEqual((await acks).map((m) => msaOf(m.payload).controlId), ['R1', 'R2']);
      assert.deepEqual(received, ['R1', 'R2']);
    } finally {
      for (const s of socks) s.destroy();
      await new Promise((r) => srv.close(r));
    }
  }
  it('survives a restart: what was queued while the destination was down is delivered after redeploy', () => survivesRestart(false));
  it('survives a restart: what was queued while the destination was down is delivered after redeploy (store writer thread)', () => survivesRestart(true));

  it('without an endpoint: done(err) MLLP_NO_ENDPOINT', async () => {
    await h.load(modules, [{ id: 'out', type: 'nhs-mllp-out', endpoint: 'missing', wires: [[], []] }]);
    const err = new Promise<any>((resolve) => h.node('out').on('call:error', (c: any) => { if (c.args[0]?.code) resolve(c.args[0]); }));
    h.node('out').receive({ payload: adt('X') });
    assert.equal((await err).code, 'MLLP_NO_ENDPOINT');
  });
});
