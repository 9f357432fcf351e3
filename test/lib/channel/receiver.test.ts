import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore } from '../../../lib/store';
import type { Store } from '../../../lib/store/types';
import { mllpReceiver, type Received } from '../../../lib/channel/inbound';
import { OutboxSender } from '../../../lib/channel/outbound';
import type { MllpSession } from '../../../lib/mllp';
import { adt, controlIdOf, msaOf, peerAck } from '../../helpers/mllp-peer';

const dir = mkdtempSync(join(tmpdir(), 'mllp-recv-'));
const stores: Store[] = [];
after(async () => { await Promise.all(stores.map((s) => s.close())); rmSync(dir, { recursive: true, force: true }); });
let n = 0;
async function store(): Promise<Store> {
  const s = createStore({ backend: 'sqlite', file: join(dir, `r${++n}.sqlite`) });
  await s.open();
  stores.push(s);
  return s;
}
const session: MllpSession = { id: 'sess-1', remoteAddress: '127.0.0.1', remotePort: 1, secure: false, authorized: false, open: true, received: 0, close: () => undefined };
const now = (): Date => new Date('2026-01-01T12:00:00Z');
const text = (b: Buffer | string | undefined): string => (Buffer.isBuffer(b) ? b.toString('latin1') : String(b));

describe('mllpReceiver (ACK policies, HL7 v2.5.1 2.9)', () => {
  it('commit: the record is committed before the AA is returned', async () => {
    const s = await store();
    const got: Received[] = [];
    const h = mllpReceiver({ policy: 'commit', channel: 'c1', store: async () => s, now, onMessage: (r) => got.push(r) });
    const ack = text(await h(Buffer.from(adt('R1'), 'latin1'), session, 1));
    assert.deepEqual(msaOf(ack), { code: 'AA', controlId: 'R1' });
    const rec = await s.getMessage(got[0]?.storeId as string);
    assert.equal(rec?.controlId, 'R1');
    assert.equal(rec?.messageType, 'ADT^A01');
    assert.match(ack, /^MSH\|\^~\\&\|RECVAPP\|RECVFAC\|SENDAPP\|SENDFAC\|20260101/);
  });

  it('enhanced mode (MSH-15/16 valued) answers CA', async () => {
    const s = await store();
    const h = mllpReceiver({ policy: 'commit', channel: 'c1', store: async () => s, now, onMessage: () => undefined });
    const enhanced = adt('E1').replace('|P|2.5.1', '|P|2.5.1|||AL|NE');
    assert.equal(msaOf(text(await h(Buffer.from(enhanced), session, 1))).code, 'CA');
  });

  it('AR for an unusable MSH, AE for a body error; both kept as errored', async () => {
    const s = await store();
    const got: Received[] = [];
    const h = mllpReceiver({ policy: 'commit', channel: 'c2', store: async () => s, now, onMessage: (r) => got.push(r) });
    assert.equal(msaOf(text(await h(Buffer.from('NOT HL7'), session, 1))).code, 'AR');
    const badSeg = `${adt('B2')}\r1XY|bad segment id`;
    assert.equal(msaOf(text(await h(Buffer.from(badSeg), session, 2))).code, 'AE');
    assert.deepEqual(got.map((r) => r.valid), [false, false]);
    assert.equal(await s.countMessages({ channel: 'c2', status: 'errored' }), 2);
  });

  it('a store that rejects gives AE and emits nothing', async () => {
    let emitted = 0;
    const h = mllpReceiver({ policy: 'commit', channel: 'c3', store: () => Promise.reject(new Error('disk full')), now, onMessage: () => emitted++ });
    assert.deepEqual(msaOf(text(await h(Buffer.from(adt('F1')), session, 1))), { code: 'AE', controlId: 'F1' });
    assert.equal(emitted, 0);
  });

  it('flow: AE after the timeout, and the record is marked errored', async () => {
    const s = await store();
    const got: Received[] = [];
    const h = mllpReceiver({ policy: 'flow', channel: 'c4', store: async () => s, flowTimeoutMs: 50, now, onMessage: (r) => got.push(r) });
    assert.equal(msaOf(text(await h(Buffer.from(adt('T1')), session, 1))).code, 'AE');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await s.getMessage(got[0]?.storeId as string))?.status, 'errored');
  });
});

describe('OutboxSender', () => {
  it('keeps strict order: the head is retried with back-off and nothing behind it overtakes', async () => {
    const s = await store();
    for (const id of ['O1', 'O2', 'O3']) await s.enqueue({ destination: 'd', payload: Buffer.from(adt(id)), controlId: id });
    const sent: string[] = [];
    let o1 = 0;
    const delivered: string[] = [];
    const sender = new OutboxSender({
      store: s, destination: 'd', backoff: { baseMs: 30, maxMs: 30 }, pollMs: 20, maxAttempts: 5,
      send: async (payload, accept) => {
        const t = payload.toString('latin1');
        sent.push(controlIdOf(t));
        const code = controlIdOf(t) === 'O1' && ++o1 < 3 ? 'AE' : 'AA';
        const ack = Buffer.from(peerAck(t, code));
        assert.ok(accept(ack));
        assert.ok(!accept(Buffer.from(peerAck(adt('OTHER')))));
        return ack;
      },
      onDelivered: (item) => delivered.push(item.controlId as string),
    });
    await sender.start();
    while (delivered.length < 3) await new Promise((r) => setTimeout(r, 10));
    await sender.stop();
    assert.deepEqual(sent, ['O1', 'O1', 'O1', 'O2', 'O3']);
    assert.deepEqual(delivered, ['O1', 'O2', 'O3']);
    assert.equal(sender.stats.retried, 2);
  });

  it('returns items left inflight by a crash to the queue on start', async () => {
    const s = await store();
    await s.enqueue({ destination: 'd2', payload: Buffer.from(adt('C1')), controlId: 'C1' });
    assert.ok(await s.claimNext('d2', 60_000)); // "crashed" while sending
    const delivered: string[] = [];
    const sender = new OutboxSender({ store: s, destination: 'd2', pollMs: 20, send: async (p) => Buffer.from(peerAck(p.toString('latin1'))), onDelivered: (i) => delivered.push(i.controlId as string) });
    await sender.start();
    while (delivered.length < 1) await new Promise((r) => setTimeout(r, 10));
    await sender.stop();
    assert.deepEqual(delivered, ['C1']);
  });
});
