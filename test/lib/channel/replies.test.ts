import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseHl7 } from '../../../lib/hl7';
import { ReplyRendezvous } from '../../../lib/channel/replies';
import { adt } from '../../helpers/mllp-peer';

const message = (id: string) => {
  const m = parseHl7(adt(id)).message;
  assert.ok(m);
  return m;
};

describe('replies rendezvous (one per listener)', () => {
  const r = new ReplyRendezvous();
  const { sessionOpened, isSessionOpen, dropSession } = { sessionOpened: (s: string) => r.sessionOpened(s), isSessionOpen: (s: string) => r.isSessionOpen(s), dropSession: (s: string) => r.dropSession(s) };
  const expectReply = r.expect.bind(r);
  const pendingReply = r.waiting.bind(r);
  it('dropSession settles the wait with no reply and cancels its flow-timeout timer', async () => {
    sessionOpened('drop-1');
    let timeouts = 0;
    const onTimeout = (): Buffer => { timeouts++; return Buffer.from('AE'); };
    const a = expectReply('drop-1', 1, message('D1'), 'UTF-8', 100, onTimeout);
    const b = expectReply('drop-1', 2, message('D2'), 'UTF-8', 100, onTimeout);
    const other = expectReply('keep-1', 1, message('K1'), 'UTF-8', 100, onTimeout);
    assert.ok(pendingReply('drop-1', 1));
    dropSession('drop-1');
    assert.equal(isSessionOpen('drop-1'), false);
    assert.equal(pendingReply('drop-1', 1), undefined);
    assert.equal(pendingReply('drop-1', 2), undefined);
    assert.ok(pendingReply('keep-1', 1), 'another session’s wait was dropped');
    const settled = await Promise.race([Promise.all([a, b]), new Promise<'pending'>((r) => setTimeout(() => r('pending'), 50))]);
    assert.deepEqual(settled, [undefined, undefined]);
    assert.equal(String(await other), 'AE');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(timeouts, 1, 'a dropped wait’s timer still fired');
  });

  it('a reply after the drop is ignored, and a reply before it wins', async () => {
    const a = expectReply('drop-2', 1, message('E1'), 'UTF-8', 1000, () => Buffer.from('AE'));
    pendingReply('drop-2', 1)?.resolve(Buffer.from('AA'));
    dropSession('drop-2');
    assert.equal(String(await a), 'AA');
  });

  it('two listeners never see each other\'s waits', async () => {
    const other = new ReplyRendezvous();
    const a = expectReply('same-session', 1, message('L1'), 'UTF-8', 1000, () => Buffer.from('AE'));
    assert.equal(other.waiting('same-session', 1), undefined);
    other.dropSession('same-session');
    assert.ok(pendingReply('same-session', 1), 'another listener dropped this wait');
    pendingReply('same-session', 1)?.resolve(Buffer.from('AA'));
    assert.equal(String(await a), 'AA');
  });
});
