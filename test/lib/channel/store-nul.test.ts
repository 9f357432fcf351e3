import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../../lib/store';
import { mllpReceiver, type Received } from '../../../lib/channel/inbound';
import type { MllpSession } from '../../../lib/mllp';
import { adt, msaOf } from '../../helpers/mllp-peer';
import { postgresBackend, sqliteBackend } from '../store/backends';

const session: MllpSession = { id: 'sess-nul', remoteAddress: '127.0.0.1', remotePort: 1, secure: false, authorized: false, open: true, received: 0, close: () => undefined };
const text = (b: Buffer | string | undefined): string => (Buffer.isBuffer(b) ? b.toString('latin1') : String(b));

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe(`NUL in MSH-9 / MSH-10 (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());
    const open = async (): Promise<Store> => {
      const s = backend.fresh().make();
      await s.open();
      return s;
    };

    it('the store refuses NUL in a text column for that write only; the rest of the batch commits', async () => {
      const s = await open();
      const results = await Promise.allSettled([
        s.appendMessage({ channel: 'c', raw: Buffer.from('ok1'), controlId: 'OK1' }),
        s.appendMessage({ channel: 'c', raw: Buffer.from('bad'), controlId: 'B\u0000D' }),
        s.appendMessage({ channel: 'c', raw: Buffer.from('bad'), messageType: 'ADT^A01\u0000' }),
        s.appendMessage({ channel: 'c\u0000', raw: Buffer.from('bad') }),
        s.appendMessage({ channel: 'c', raw: Buffer.from('ok2\u0000'), controlId: 'OK2', meta: { note: 'a\u0000b' } }),
        s.enqueue({ destination: 'd', payload: Buffer.from('x'), controlId: 'X\u0000' }),
        s.enqueue({ destination: 'd\u0000', payload: Buffer.from('x') }),
        s.enqueue({ destination: 'd', payload: Buffer.from('y\u0000'), controlId: 'Y', meta: { n: '\u0000' } }),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'STORE_INVALID');
      const msgs = await s.findMessages({ channel: 'c' });
      assert.deepEqual(msgs.map((m) => m.controlId).sort(), ['OK1', 'OK2']);
      const ok2 = msgs.find((m) => m.controlId === 'OK2');
      // Bytes (raw) and JSON meta keep a NUL safely.
      assert.equal(ok2?.raw.toString('latin1'), 'ok2\u0000');
      assert.deepEqual(ok2?.meta, { note: 'a\u0000b' });
      const out = await s.listOutbox({ destination: 'd' });
      assert.deepEqual(out.map((i) => i.controlId), ['Y']);
    });

    it('the receiver keeps a message with NUL in MSH-9/MSH-10 (AE for its content, not a store failure) and its neighbours get AA', async () => {
      const s = await open();
      const got: Received[] = [];
      const h = mllpReceiver({ policy: 'commit', channel: 'in', store: async () => s, onMessage: (r) => got.push(r) });
      const hostile = adt('N\u0000L').replace('ADT^A01', 'ADT^A\u000001');
      const frames = [adt('NB1'), hostile, adt('NB2')].map((t) => Buffer.from(t, 'latin1'));
      const acks = await Promise.all(frames.map(async (f, i) => h(f, session, i + 1)));
      // The parser refuses control characters (an HL7 data error → AE) but the record is still kept.
      assert.deepEqual(acks.map((a) => msaOf(text(a)).code), ['AA', 'AE', 'AA']);
      assert.ok(!text(acks[1]).includes('not stored'), text(acks[1]));
      const msgs = await s.findMessages({ channel: 'in' });
      assert.equal(msgs.length, 3);
      const kept = msgs.find((m) => m.raw.equals(frames[1]!));
      assert.ok(kept, 'the hostile message was not kept byte for byte');
      assert.equal(kept.controlId, 'N\uFFFDL');
      assert.equal(kept.status, 'errored');
      assert.equal(got.find((r) => r.storeId === kept.id)?.valid, false);
      assert.ok(kept.messageType?.includes('\uFFFD'), `messageType ${kept.messageType ?? ''}`);
      assert.ok(!msgs.some((m) => (m.controlId ?? '').includes('\u0000') || (m.messageType ?? '').includes('\u0000')));
      assert.equal(got.length, 3);
    });
  });
}
