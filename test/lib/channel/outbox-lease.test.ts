/**
 * Outbox leases with two senders on one store (two Node-RED instances sharing it): an item one
 * sender is sending is never sent by the other, however long the send waits, and a sender that
 * restarts after a crash takes back its own in-flight item at once.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore } from '../../../lib/store';
import type { Store } from '../../../lib/store/types';
import { OutboxSender, type SendFn } from '../../../lib/channel/outbound';
import { adt, controlIdOf, peerAck } from '../../helpers/mllp-peer';
import { sleep, until } from '../../helpers/wait';

const dir = mkdtempSync(join(tmpdir(), 'mllp-lease-'));
const stores: Store[] = [];
const senders: OutboxSender[] = [];
/** Sends that never complete (a crashed process): failed on cleanup so their senders can stop. */
const hanging: ((e: Error) => void)[] = [];
after(async () => {
  // Even after a failed assertion: a sender left polling would keep this test file running.
  for (const h of hanging) h(Object.assign(new Error('closed'), { code: 'MLLP_CLIENT_CLOSED' }));
  await Promise.all(senders.map((x) => x.stop()));
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});
const track = (x: OutboxSender): OutboxSender => { senders.push(x); return x; };

/** Two store instances on one SQLite file, as two processes would open it. */
async function twoStores(): Promise<[Store, Store]> {
  const file = join(dir, `s${stores.length}.sqlite`);
  const a = createStore({ backend: 'sqlite', file });
  const b = createStore({ backend: 'sqlite', file });
  await Promise.all([a.open(), b.open()]);
  stores.push(a, b);
  return [a, b];
}


/** A destination that answers AA after `delayMs`, recording who sent what. */
function slowPeer(delayMs: number, log: string[], who: string): SendFn {
  return async (payload) => {
    const text = payload.toString('latin1');
    log.push(`${who}:${controlIdOf(text)}`);
    await sleep(delayMs);
    return Buffer.from(peerAck(text));
  };
}

describe('outbox leases across two senders', () => {
  it('a second instance starting mid-send neither recovers nor re-sends the item, even when the send outlasts the lease', async () => {
    const [s1, s2] = await twoStores();
    await s1.enqueue({ destination: 'd', payload: Buffer.from(adt('L1')), controlId: 'L1' });
    const sent: string[] = [];
    const errors: string[] = [];
    // The send takes 5× the lease: only the renewals keep the item this sender's. (A 300 ms lease renewed
    // every 100 ms leaves room for a loaded test machine; 60 ms was flaky under load.)
    const a = track(new OutboxSender({ store: s1, destination: 'd', owner: 'instance-a', leaseMs: 300, pollMs: 10, send: slowPeer(1500, sent, 'a'), onError: (e) => errors.push(e.code) }));
    const b = track(new OutboxSender({ store: s2, destination: 'd', owner: 'instance-b', leaseMs: 300, pollMs: 10, send: slowPeer(0, sent, 'b'), onError: (e) => errors.push(e.code) }));
    await a.start();
    await until(() => sent.length === 1);
    await b.start();
    await until(() => a.stats.delivered === 1);
    await sleep(100);
    assert.deepEqual(sent, ['a:L1'], 'sent once, by the sender that claimed it');
    assert.deepEqual(errors, []);
    // New work is delivered exactly once by whichever instance claims it.
    await s2.enqueue({ destination: 'd', payload: Buffer.from(adt('L2')), controlId: 'L2' });
    a.wake();
    b.wake();
    await until(() => a.stats.delivered + b.stats.delivered === 2);
    await Promise.all([a.stop(), b.stop()]);
    assert.deepEqual(sent.map((x) => x.split(':')[1]), ['L1', 'L2']);
    assert.ok((await s1.listOutbox({ destination: 'd' })).every((i) => i.state === 'done'));
  });

  it('a lease lost while the database was out of reach is reported (MLLP_LEASE_LOST), not silent', async () => {
    const [s1, s2] = await twoStores();
    await s1.enqueue({ destination: 'd', payload: Buffer.from(adt('X1')), controlId: 'X1' });
    let down = true;
    // Instance A's view of the store: renewals fail while "the database is down".
    const flaky = new Proxy(s1, {
      get(t, k, r) {
        if (k === 'renewOutboxLease') {
          return (id: string, attempts: number, ms: number) => (down
            ? Promise.reject(Object.assign(new Error('connection reset'), { code: 'STORE_UNAVAILABLE' }))
            : t.renewOutboxLease(id, attempts, ms));
        }
        const v = Reflect.get(t, k, r) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const sent: string[] = [];
    const errors: string[] = [];
    const a = track(new OutboxSender({ store: flaky, destination: 'd', owner: 'instance-a', leaseMs: 60, pollMs: 10, send: slowPeer(500, sent, 'a'), onError: (e) => errors.push(e.code) }));
    await a.start();
    await until(() => sent.length === 1);
    const b = track(new OutboxSender({ store: s2, destination: 'd', owner: 'instance-b', leaseMs: 60, pollMs: 10, send: slowPeer(0, sent, 'b') }));
    await b.start();
    await until(() => sent.length === 2);
    down = false;
    await until(() => errors.includes('MLLP_LEASE_LOST'));
    assert.deepEqual(sent, ['a:X1', 'b:X1']);
    assert.deepEqual(errors, ['STORE_UNAVAILABLE', 'MLLP_LEASE_LOST']);
  });

  it('a very long lease is renewed at most every 24.8 days, not every millisecond (timer limit)', async () => {
    const [s1] = await twoStores();
    await s1.enqueue({ destination: 'd', payload: Buffer.from(adt('T1')), controlId: 'T1' });
    let renewals = 0;
    const counting = new Proxy(s1, {
      get(t, k, r) {
        if (k === 'renewOutboxLease') return (id: string, attempts: number, ms: number) => { renewals++; return t.renewOutboxLease(id, attempts, ms); };
        const v = Reflect.get(t, k, r) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const sent: string[] = [];
    const a = track(new OutboxSender({ store: counting, destination: 'd', leaseMs: 7_000_000_000, pollMs: 10, send: slowPeer(200, sent, 'a') }));
    await a.start();
    await until(() => a.stats.delivered === 1);
    assert.equal(renewals, 0);
  });

  it('a sender restarting after a crash takes back its own in-flight item at once and delivers it', async () => {
    const [s1, s2] = await twoStores();
    await s1.enqueue({ destination: 'd', payload: Buffer.from(adt('C1')), controlId: 'C1' });
    const sent: string[] = [];
    // The "crashed" run: its send never completes (the process died mid-send).
    const crashed = track(new OutboxSender({
      store: s1, destination: 'd', owner: 'instance-a', leaseMs: 60_000, pollMs: 10,
      send: (p) => { sent.push(`old:${controlIdOf(p.toString('latin1'))}`); return new Promise((_, reject) => { hanging.push(reject); }); },
    }));
    await crashed.start();
    await until(() => sent.length === 1);
    // Another instance cannot take it: the lease (60 s) is live and not its own.
    const other = track(new OutboxSender({ store: s2, destination: 'd', owner: 'instance-b', leaseMs: 60_000, pollMs: 10, send: slowPeer(0, sent, 'other') }));
    await other.start();
    await sleep(100);
    assert.deepEqual(sent, ['old:C1']);
    await other.stop();
    // The same instance restarting (same owner) recovers it without waiting for the lease.
    const restarted = track(new OutboxSender({ store: s2, destination: 'd', owner: 'instance-a', leaseMs: 60_000, pollMs: 10, send: slowPeer(0, sent, 'new') }));
    const t = Date.now();
    await restarted.start();
    await until(() => restarted.stats.delivered === 1);
    assert.ok(Date.now() - t < 2000, 'no wait for the 60 s lease');
    await restarted.stop();
    assert.deepEqual(sent, ['old:C1', 'new:C1']);
  });
});
