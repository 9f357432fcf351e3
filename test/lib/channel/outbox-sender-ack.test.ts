import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore } from '../../../lib/store';
import type { Store } from '../../../lib/store/types';
import { OutboxSender } from '../../../lib/channel/outbound';
import { adt, controlIdOf, peerAck } from '../../helpers/mllp-peer';

const dir = mkdtempSync(join(tmpdir(), 'mllp-ack-'));
const stores: Store[] = [];
after(async () => { await Promise.all(stores.map((s) => s.close())); rmSync(dir, { recursive: true, force: true }); });

/** The real store, with ackOutbox failing the first `failures` times (a database blip). */
async function flakyAckStore(failures: number): Promise<{ store: Store; ackCalls: () => number }> {
  const s = createStore({ backend: 'sqlite', file: join(dir, `a${stores.length}.sqlite`) });
  await s.open();
  stores.push(s);
  let calls = 0;
  const store = new Proxy(s, {
    get(t, k, r) {
      if (k === 'ackOutbox') {
        return async (id: string) => {
          if (++calls <= failures) throw Object.assign(new Error('connection reset'), { code: 'STORE_UNAVAILABLE' });
          return t.ackOutbox(id);
        };
      }
      const v = Reflect.get(t, k, r);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  return { store, ackCalls: () => calls };
}

describe('OutboxSender after an AA', () => {
  it('retries a failed ackOutbox until it is recorded, so the accepted message is never re-sent', async () => {
    const { store, ackCalls } = await flakyAckStore(2);
    for (const id of ['A1', 'A2']) await store.enqueue({ destination: 'd', payload: Buffer.from(adt(id)), controlId: id });
    const sent: string[] = [];
    const delivered: string[] = [];
    const errors: string[] = [];
    // Lease shorter than the ack retries: without the retry the head would be re-claimed and re-sent.
    const sender = new OutboxSender({
      store, destination: 'd', leaseMs: 30, pollMs: 10, backoff: { baseMs: 40, maxMs: 80 },
      send: async (p) => { sent.push(controlIdOf(p.toString('latin1'))); return Buffer.from(peerAck(p.toString('latin1'))); },
      onDelivered: (i) => delivered.push(i.controlId as string),
      onError: (e) => errors.push(e.code),
    });
    await sender.start();
    for (let i = 0; i < 200 && delivered.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await sender.stop();
    assert.deepEqual(sent, ['A1', 'A2']);
    assert.deepEqual(delivered, ['A1', 'A2']);
    assert.equal(ackCalls(), 4);
    assert.equal(errors.length, 2);
    assert.ok((await store.listOutbox({ destination: 'd' })).every((i) => i.state === 'done'));
  });

  it('stop() cuts the ack retry short and leaves the item inflight for recovery (not reported delivered)', async () => {
    const { store } = await flakyAckStore(1000);
    await store.enqueue({ destination: 'd', payload: Buffer.from(adt('S1')), controlId: 'S1' });
    const delivered: string[] = [];
    let errors = 0;
    const sender = new OutboxSender({
      store, destination: 'd', pollMs: 10, backoff: { baseMs: 10_000, maxMs: 10_000 },
      send: async (p) => Buffer.from(peerAck(p.toString('latin1'))),
      onDelivered: (i) => delivered.push(i.controlId as string),
      onError: () => { errors++; },
    });
    await sender.start();
    for (let i = 0; i < 200 && errors === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    await sender.stop();
    assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms`);
    assert.deepEqual(delivered, []);
    const [item] = await store.listOutbox({ destination: 'd' });
    assert.equal(item?.state, 'inflight');
  });

  it('one commit per delivered message (the done of each shares it with the claim of the next), in order', async () => {
    const s = createStore({ backend: 'sqlite', file: join(dir, `c${stores.length}.sqlite`) });
    await s.open();
    stores.push(s);
    const ids = Array.from({ length: 40 }, (_, i) => `C${i}`);
    for (const id of ids) await s.enqueue({ destination: 'd', payload: Buffer.from(adt(id)), controlId: id });
    const sent: string[] = [];
    const before = s.stats!().commits;
    const sender = new OutboxSender({
      store: s, destination: 'd', owner: 'me', pollMs: 10_000,
      send: async (p) => { sent.push(controlIdOf(p.toString('latin1'))); return Buffer.from(peerAck(p.toString('latin1'))); },
    });
    await sender.start();
    for (let i = 0; i < 500 && sender.stats.delivered < ids.length; i++) await new Promise((r) => setTimeout(r, 10));
    const commits = s.stats!().commits - before;
    await sender.stop();
    assert.deepEqual(sent, ids);
    // recoverOutbox on start, the first claim, then one per message (its done + the next claim);
    // done and claim apart would be 2 per message.
    assert.ok(commits <= ids.length + 3, `${commits} commits for ${ids.length} messages`);
    assert.ok((await s.listOutbox({ destination: 'd' })).every((i) => i.state === 'done'));
  });

  it('stop() gives back an item claimed with the last done but not sent: pending again, not leased', async () => {
    const s = createStore({ backend: 'sqlite', file: join(dir, `g${stores.length}.sqlite`) });
    await s.open();
    stores.push(s);
    for (const id of ['G1', 'G2']) await s.enqueue({ destination: 'd', payload: Buffer.from(adt(id)), controlId: id });
    let stopping: Promise<void> | undefined;
    const sender = new OutboxSender({
      store: s, destination: 'd', owner: 'me', pollMs: 10_000,
      send: async (p) => Buffer.from(peerAck(p.toString('latin1'))),
      // Stop once G1's done is recorded — together with the claim of G2, which is then never sent.
      onDelivered: (i) => { if (i.controlId === 'G1') stopping = sender.stop(); },
    });
    await sender.start();
    for (let i = 0; i < 200 && !stopping; i++) await new Promise((r) => setTimeout(r, 10));
    await stopping;
    const [g1, g2] = await s.listOutbox({ destination: 'd' });
    assert.equal(g1?.state, 'done');
    assert.equal(g2?.state, 'pending');
    // Claimable at once by another sender (no lease left behind).
    assert.equal((await s.claimNext('d', 60_000, 'other'))?.controlId, 'G2');
  });
});
