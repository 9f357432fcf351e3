import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { park, release, discard, saveEdit, previewEdit, releasedMessage, detectContentType, serialiseMessage, currentPayloadText } from '../../../lib/quarantine/service';
import { verifyStore } from '../../../lib/audit/verify';
import { backends, openBackend, type TestBackend } from '../audit/stores';
import { ADT, PATIENT } from './fixtures';

describe('quarantine helpers', () => {
  it('detects content types', () => {
    assert.equal(detectContentType(ADT), 'hl7v2');
    assert.equal(detectContentType(PATIENT), 'fhir+json');
    assert.equal(detectContentType(JSON.stringify(PATIENT)), 'fhir+json');
    assert.equal(detectContentType({ a: 1 }), 'json');
    assert.equal(detectContentType('hello'), 'text');
    assert.equal(detectContentType('{bad'), 'text');
  });
  it('serialises a msg with circular refs and http req/res without throwing', () => {
    const msg: any = { payload: 'x', req: { socket: {} }, res: {} };
    msg.self = msg;
    assert.deepEqual(JSON.parse(serialiseMessage(msg)), { payload: 'x' });
  });
});

for (const b of backends) {
  describe(`quarantine service on ${b.name}`, { skip: b.skip }, () => {
    async function withItem(payload: unknown, fn: (t: TestBackend, id: string) => Promise<void>): Promise<void> {
      const t = await openBackend(b.name);
      try {
        const item = await park(t.store, {
          msg: { _msgid: 'abc', topic: 'ADT^A01', payload }, reasonCode: 'HL7_STRUCTURE', reason: 'PV1-3 missing', owner: 'PAS team',
          dueAt: '2026-01-02T00:00:00.000Z', node: 'q1', flow: 'f1', correlationId: 'MSG0001', subject: '9000000009', messageId: null,
          contentType: detectContentType(payload),
        });
        await fn(t, item.id);
      } finally {
        await t.close();
      }
    }

    it('parks, releases unedited, audits, and refuses a second release unless forced', async () => withItem(ADT, async (t, id) => {
      const r = await release(t.store, id, { actor: 'alice' });
      assert.equal(r.item.state, 'released');
      assert.equal(r.msg.payload, ADT);
      assert.equal(r.msg.topic, 'ADT^A01');
      const q = r.msg.quarantine as any;
      assert.deepEqual([q.id, q.code, q.reason, q.owner, q.released.by, q.released.edited, q.released.count], [id, 'HL7_STRUCTURE', 'PV1-3 missing', 'PAS team', 'alice', false, 1]);
      await assert.rejects(release(t.store, id, { actor: 'bob' }), { code: 'QUARANTINE_ALREADY_RESOLVED' });
      const again = await release(t.store, id, { actor: 'bob', force: true });
      assert.equal((again.msg.quarantine as any).released.count, 2);
      assert.equal((again.msg.quarantine as any).released.forced, true);
      const trail = await t.store.queryAudit({ subject: '9000000009' });
      assert.deepEqual(trail.map((a) => [a.action, a.actor]), [['quarantine.park', 'system'], ['quarantine.release', 'alice'], ['quarantine.release', 'bob']]);
      assert.equal((await verifyStore(t.store)).ok, true);
    }));

    it('release with an edit stores a diff, keeps the original, sends the edited payload', async () => withItem(ADT, async (t, id) => {
      const edited = ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2').split('\r').join('\n');
      const p = previewEdit((await t.store.getQuarantine(id))!, edited);
      assert.equal(p.changed, true);
      assert.deepEqual(p.rows.filter((r) => r.op !== ' '), [{ op: '-', line: 'PV1|1|I|WARD1' }, { op: '+', line: 'PV1|1|I|WARD2' }]);
      const r = await release(t.store, id, { actor: 'alice', edited });
      assert.equal(r.msg.payload, ADT.replace('WARD1', 'WARD2'));
      const stored = (await t.store.getQuarantine(id))!;
      assert.equal(JSON.parse(stored.original).payload, ADT, 'original unchanged');
      assert.ok(stored.editDiff && JSON.parse(stored.editDiff).v === 1);
      assert.equal(currentPayloadText(stored), ADT.replace('WARD1', 'WARD2'));
      assert.deepEqual(releasedMessage(stored).payload, r.msg.payload);
    }));

    it('a malformed edit is refused with a clear error and nothing changes', async () => withItem(ADT, async (t, id) => {
      const before = (await t.store.getQuarantine(id))!;
      await assert.rejects(release(t.store, id, { actor: 'a', edited: 'PID|1||x' }), { code: 'QUARANTINE_EDIT_INVALID', message: /MSH/ });
      await assert.rejects(release(t.store, id, { actor: 'a', edited: `${ADT}\rbad segment` }), { code: 'QUARANTINE_EDIT_INVALID', message: /segment 5 does not start/ });
      await assert.rejects(saveEdit(t.store, id, 'x'.repeat(10), 'a'), { code: 'QUARANTINE_EDIT_INVALID' });
      const after = (await t.store.getQuarantine(id))!;
      assert.deepEqual(after, before);
    }));

    it('FHIR JSON edit: invalid JSON refused, valid edit re-parsed to an object', async () => withItem(PATIENT, async (t, id) => {
      await assert.rejects(release(t.store, id, { actor: 'a', edited: '{"resourceType": "Patient",' }), { code: 'QUARANTINE_EDIT_INVALID', message: /does not parse/ });
      await assert.rejects(release(t.store, id, { actor: 'a', edited: '{"name": Jones}' }), (e: any) => e.code === 'QUARANTINE_EDIT_INVALID' && !e.message.includes('Jones'));
      await assert.rejects(release(t.store, id, { actor: 'a', edited: '{"id": "x"}' }), { code: 'QUARANTINE_EDIT_INVALID', message: /resourceType/ });
      assert.equal((await t.store.getQuarantine(id))!.state, 'open');
      const edited = JSON.stringify({ ...PATIENT, gender: 'female' }, null, 2);
      await saveEdit(t.store, id, edited, 'alice');
      const r = await release(t.store, id, { actor: 'alice' });
      assert.equal((r.msg.payload as any).gender, 'female');
      assert.equal((r.msg.quarantine as any).released.edited, true);
    }));

    it('release of a missing or malformed id → QUARANTINE_NOT_FOUND', async () => withItem(ADT, async (t) => {
      await assert.rejects(release(t.store, 'no-such-id', { actor: 'a' }), { code: 'QUARANTINE_NOT_FOUND' });
      await assert.rejects(release(t.store, '', { actor: 'a' }), { code: 'QUARANTINE_NOT_FOUND' });
      await assert.rejects(discard(t.store, 'x'.repeat(500), { actor: 'a', reason: 'r' }), { code: 'QUARANTINE_NOT_FOUND' });
    }));

    it('two editors releasing at once: exactly one wins', async () => withItem(ADT, async (t, id) => {
      const results = await Promise.allSettled([release(t.store, id, { actor: 'alice' }), release(t.store, id, { actor: 'bob' })]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      const bad = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok.length, 1);
      assert.equal(bad.length, 1);
      assert.ok(['QUARANTINE_CONFLICT', 'QUARANTINE_ALREADY_RESOLVED'].includes(bad[0]!.reason.code));
      const item = (await t.store.getQuarantine(id))!;
      assert.equal(item.releaseCount, 1);
      assert.equal((await t.store.queryAudit({ action: 'quarantine.release' })).length, 1);
    }));

    it('release racing a discard: exactly one wins, and only the winner is audited', async () => withItem(ADT, async (t, id) => {
      const results = await Promise.allSettled([discard(t.store, id, { actor: 'alice', reason: 'duplicate' }), release(t.store, id, { actor: 'bob' })]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const final = (await t.store.getQuarantine(id))!;
      const trail = (await t.store.queryAudit({})).filter((a) => a.action !== 'quarantine.park');
      assert.deepEqual(trail.map((a) => [a.action, a.actor]), [[final.state === 'released' ? 'quarantine.release' : 'quarantine.discard', final.resolvedBy]]);
    }));

    it('park, edit, release: each audit record names the item and commits with its change', async () => withItem(ADT, async (t, id) => {
      await saveEdit(t.store, id, ADT.replace('WARD1', 'WARD3'), 'carol');
      const head = (await t.store.auditHead())!;
      // Occupy the seq the release's audit record would take: the audit insert fails inside the
      // release transaction, so the release must roll back with it.
      await t.sql("INSERT INTO audit (seq, at, node, action, outcome, prev_hash, hash) VALUES ($1, '2030-01-01T00:00:00.000Z', 'x', 'x', 'x', 'x', 'x')", [head.seq + 1]);
      await assert.rejects(release(t.store, id, { actor: 'alice' }), { code: 'STORE_CONFLICT' });
      const item = (await t.store.getQuarantine(id))!;
      assert.deepEqual([item.state, item.releaseCount, item.resolvedBy], ['open', 0, null], 'no release without its audit record');
      await t.sql('DELETE FROM audit WHERE seq = $1', [head.seq + 1]);
      await release(t.store, id, { actor: 'alice' });
      const trail = await t.store.queryAudit({});
      assert.deepEqual(trail.map((a) => [a.action, a.actor, a.detail?.quarantineId]), [
        ['quarantine.park', 'system', id], ['quarantine.edit', 'carol', id], ['quarantine.release', 'alice', id],
      ]);
      assert.equal((await verifyStore(t.store)).ok, true);
    }));

    it('discard needs a reason, keeps the record, cannot be released afterwards', async () => withItem(ADT, async (t, id) => {
      await assert.rejects(discard(t.store, id, { actor: 'a', reason: '  ' }), { code: 'QUARANTINE_REASON_REQUIRED' });
      const d = await discard(t.store, id, { actor: 'alice', reason: 'duplicate of MSG0000' });
      assert.equal(d.state, 'discarded');
      assert.equal(d.resolution, 'discarded: duplicate of MSG0000');
      await assert.rejects(release(t.store, id, { actor: 'a', force: true }), { code: 'QUARANTINE_ALREADY_RESOLVED' });
      assert.ok(await t.store.getQuarantine(id));
    }));
  });
}
