import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { adt, peerServer, type PeerServer } from '../helpers/mllp-peer';
import { createStore, type Store } from '../../lib/store';

const mllpOut = require('../../nodes/mllp-out');
const endpointNode = require('../../nodes/mllp-endpoint');

const dir = mkdtempSync(join(tmpdir(), 'mllp-ep-close-'));
const peers: PeerServer[] = [];
const stores: Store[] = [];
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('nhs-mllp-endpoint closed while its sender is still starting', () => {
  const h = nodeRedHarness();

  it('stops the sender that finishes recoverOutbox after close: no attempts burnt, nothing parked or sent', async () => {
    const p = await peerServer();
    peers.push(p);
    const store = createStore({ backend: 'sqlite', file: join(dir, 'a.sqlite') });
    stores.push(store);
    await store.open();
    const queued = await store.enqueue({ destination: 'ep', payload: Buffer.from(adt('Z1'), 'latin1'), controlId: 'Z1' });
    // recoverOutbox is held until the flow has been stopped, as a slow database would.
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let recovering = false;
    const slow = new Proxy(store, {
      get(t, k, r) {
        if (k === 'recoverOutbox') return async (d: string) => { recovering = true; await gate; return t.recoverOutbox(d); };
        const v = Reflect.get(t, k, r);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const slowStoreModule = (RED: any): void => {
      RED.nodes.registerType('test-slow-store', function (this: any, def: any) {
        RED.nodes.createNode(this, def);
        this.getStore = () => Promise.resolve(slow);
      });
    };
    await h.load([mllpOut, endpointNode, slowStoreModule], [
      { id: 'st', type: 'test-slow-store' },
      { id: 'ep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port: p.port, store: 'st', connectTimeout: 1, ackTimeout: 1, retryBase: 0.02, retryMax: 0.05, maxAttempts: 2 },
      { id: 'out', type: 'nhs-mllp-out', endpoint: 'ep', wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper' },
      { id: 'bad', type: 'helper' },
    ]);
    for (let i = 0; i < 100 && !recovering; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(recovering, 'the endpoint never began starting its sender');
    const unloading = h.helper.unload() as Promise<void>;
    await new Promise((r) => setTimeout(r, 50));
    release();
    await unloading;
    await new Promise((r) => setTimeout(r, 400));
    const [item] = await store.listOutbox({ destination: 'ep' });
    assert.equal(item?.id, queued.id);
    assert.equal(item?.state, 'pending');
    assert.equal(item?.attempts, 0);
    assert.equal(p.received.length, 0);
  });
});
