/**
 * The two-person rule for releasing an edited quarantine item (HAZ-014 C7): with the rule on, an
 * item whose payload was edited is released only by a user other than its last editor; the editor
 * is recorded with the edit in the store. Rule off (a flow saved before the option) = as before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS, park, release, releaseRefusal, saveEdit, detectContentType } from '../../../lib/quarantine/service';
import { verifyStore } from '../../../lib/audit/verify';
import type { QuarantineItem } from '../../../lib/store/types';
import { backends, openBackend, type TestBackend } from '../audit/stores';
import { ADT } from './fixtures';

const WARD2 = ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2');
const WARD3 = ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD3');

describe('releaseRefusal (the two-person rule as a pure decision)', () => {
  it('allows an unedited item and anything with the rule off; refuses the editor, anonymous and an unknown editor', () => {
    assert.equal(releaseRefusal(null, null, 'alice', true), null, 'no edit: anyone');
    assert.equal(releaseRefusal(null, null, ANONYMOUS, true), null, 'no edit: anonymous too');
    assert.equal(releaseRefusal('{"v":1}', 'alice', 'alice', false), null, 'rule off: the editor too');
    assert.equal(releaseRefusal('{"v":1}', 'alice', 'bob', true), null, 'a second person');
    const same = releaseRefusal('{"v":1}', 'alice', 'alice', true);
    assert.equal(same?.code, 'QUARANTINE_SECOND_PERSON_REQUIRED');
    assert.match(same?.message ?? '', /this edit was made by you; a second person with nhs\.quarantine\.write must release it/);
    assert.match(releaseRefusal('{"v":1}', 'alice', ANONYMOUS, true)!.message, /needs identified users.*adminAuth/);
    // Bad input: an empty or non-string actor is no identified user either.
    assert.equal(releaseRefusal('{"v":1}', 'alice', '', true)?.detail?.reason, 'anonymous');
    assert.equal(releaseRefusal('{"v":1}', 'alice', 42 as unknown as string, true)?.detail?.reason, 'anonymous');
    assert.match(releaseRefusal('{"v":1}', null, 'bob', true)!.message, /not recorded/);
  });
});

for (const b of backends) {
  describe(`two-person release on ${b.name}`, { skip: b.skip }, () => {
    async function withItem(fn: (t: TestBackend, id: string) => Promise<void>): Promise<void> {
      const t = await openBackend(b.name);
      try {
        const item = await park(t.store, {
          msg: { _msgid: 'abc', payload: ADT }, reasonCode: 'HL7_STRUCTURE', reason: 'PV1-3 missing', owner: 'PAS team',
          dueAt: null, node: 'q1', flow: 'f1', correlationId: 'MSG0001', subject: '9000000009', messageId: null, contentType: detectContentType(ADT),
        });
        await fn(t, item.id);
      } finally {
        await t.close();
      }
    }
    const unchanged = (a: QuarantineItem, b2: QuarantineItem): void => {
      assert.deepEqual([b2.state, b2.editDiff, b2.editedBy, b2.editedAt, b2.releaseCount, b2.resolvedBy], [a.state, a.editDiff, a.editedBy, a.editedAt, a.releaseCount, a.resolvedBy]);
    };

    it('the editor is refused (audited, nothing changes); a second user releases the edit', async () => withItem(async (t, id) => {
      const saved = await saveEdit(t.store, id, WARD2, 'alice', { clock: () => new Date('2030-01-01T10:00:00.000Z') });
      assert.deepEqual([saved.state, saved.editedBy, saved.editedAt], ['open', 'alice', '2030-01-01T10:00:00.000Z']);
      await assert.rejects(release(t.store, id, { actor: 'alice', twoPerson: true }), { code: 'QUARANTINE_SECOND_PERSON_REQUIRED', message: /this edit was made by you/ });
      unchanged(saved, (await t.store.getQuarantine(id))!);
      const refused = await t.store.queryAudit({ action: 'quarantine.release' });
      assert.deepEqual(refused.map((r) => [r.outcome, r.actor, r.detail?.quarantineId, r.detail?.reason, r.detail?.editedBy]), [['refused', 'alice', id, 'same-user', 'alice']]);
      const r = await release(t.store, id, { actor: 'bob', twoPerson: true });
      assert.equal(r.msg.payload, WARD2);
      assert.deepEqual([r.item.state, r.item.resolvedBy, r.item.editedBy], ['released', 'bob', 'alice']);
      assert.deepEqual([(r.msg.quarantine as any).released.by, (r.msg.quarantine as any).released.editedBy], ['bob', 'alice'], 'downstream sees who released and whose edit');
      const trail = await t.store.queryAudit({ subject: '9000000009' });
      assert.deepEqual(trail.map((a) => [a.action, a.outcome, a.actor]), [
        ['quarantine.park', 'quarantined', 'system'], ['quarantine.edit', 'edited', 'alice'], ['quarantine.release', 'refused', 'alice'], ['quarantine.release', 'released', 'bob'],
      ]);
      assert.equal(trail[3]!.detail?.editedBy, 'alice', 'the release record names whose edit it released');
      // A forced re-release is a release too: the editor may not do it either.
      await assert.rejects(release(t.store, id, { actor: 'alice', force: true, twoPerson: true }), { code: 'QUARANTINE_SECOND_PERSON_REQUIRED' });
      assert.equal((await verifyStore(t.store)).ok, true);
    }));

    it('editing again after a review resets who must release: the reviewer who re-edits may not release, the first editor now may', async () => withItem(async (t, id) => {
      await saveEdit(t.store, id, WARD2, 'alice');
      const again = await saveEdit(t.store, id, WARD3, 'bob');
      assert.equal(again.editedBy, 'bob');
      await assert.rejects(release(t.store, id, { actor: 'bob', twoPerson: true }), { code: 'QUARANTINE_SECOND_PERSON_REQUIRED' });
      // Saving the very same edit again is no new edit: the editor stays bob.
      assert.equal((await saveEdit(t.store, id, WARD3, 'carol')).editedBy, 'bob');
      // A release that submits the stored edit unchanged is no edit either.
      const r = await release(t.store, id, { actor: 'alice', edited: WARD3, twoPerson: true });
      assert.equal(r.msg.payload, WARD3);
      assert.equal(r.item.editedBy, 'bob');
    }));

    it('an edit and its release in one request by one user is refused and stores nothing', async () => withItem(async (t, id) => {
      const before = (await t.store.getQuarantine(id))!;
      await assert.rejects(release(t.store, id, { actor: 'alice', edited: WARD2, twoPerson: true }), { code: 'QUARANTINE_SECOND_PERSON_REQUIRED' });
      unchanged(before, (await t.store.getQuarantine(id))!);
      // Releasing someone else's edit with a change of one's own is a new edit by oneself.
      await saveEdit(t.store, id, WARD2, 'alice');
      await assert.rejects(release(t.store, id, { actor: 'bob', edited: WARD3, twoPerson: true }), { code: 'QUARANTINE_SECOND_PERSON_REQUIRED' });
      assert.equal((await t.store.getQuarantine(id))!.editedBy, 'alice');
    }));

    it('an unedited item is released as before, by anyone (anonymous too); saving the original text back removes the edit and its editor', async () => withItem(async (t, id) => {
      await saveEdit(t.store, id, WARD2, 'alice');
      const back = await saveEdit(t.store, id, ADT, 'alice');
      assert.deepEqual([back.editDiff, back.editedBy, back.editedAt], [null, null, null]);
      const r = await release(t.store, id, { actor: ANONYMOUS, twoPerson: true });
      assert.equal(r.msg.payload, ADT);
      assert.equal((r.msg.quarantine as any).released.edited, false);
    }));

    it('anonymous (no adminAuth): an edited item cannot be released under the rule, whoever edited it; with the rule off it can', async () => withItem(async (t, id) => {
      await saveEdit(t.store, id, WARD2, ANONYMOUS);
      assert.equal((await t.store.getQuarantine(id))!.editedBy, ANONYMOUS);
      await assert.rejects(release(t.store, id, { actor: ANONYMOUS, twoPerson: true }), { code: 'QUARANTINE_SECOND_PERSON_REQUIRED', message: /adminAuth/ });
      await saveEdit(t.store, id, WARD3, 'alice');
      await assert.rejects(release(t.store, id, { actor: ANONYMOUS, twoPerson: true }), { code: 'QUARANTINE_SECOND_PERSON_REQUIRED', message: /adminAuth/ });
      assert.equal((await t.store.getQuarantine(id))!.state, 'open');
      const r = await release(t.store, id, { actor: ANONYMOUS, twoPerson: false });
      assert.equal(r.msg.payload, WARD3);
    }));

    it('rule off (a flow saved before the option): the editor releases their own edit, as before', async () => withItem(async (t, id) => {
      await saveEdit(t.store, id, WARD2, 'alice');
      const r = await release(t.store, id, { actor: 'alice' });
      assert.equal(r.msg.payload, WARD2);
      // An edit and its release in one request by one user, as the sidebar's "Release edited" did.
      const other = await park(t.store, { msg: { payload: ADT }, reasonCode: 'X', reason: 'x', owner: 'o', dueAt: null, node: 'q1', flow: null, correlationId: null, subject: null, messageId: null, contentType: 'hl7v2' });
      const one = await release(t.store, other.id, { actor: 'alice', edited: WARD3, twoPerson: false });
      assert.equal(one.msg.payload, WARD3);
      assert.equal(one.item.editedBy, 'alice');
    }));

    it('an edit stored before schema v7 (editor not recorded) is refused until someone saves it again', async () => withItem(async (t, id) => {
      await saveEdit(t.store, id, WARD2, 'alice');
      await t.sql('UPDATE quarantine SET edited_by = NULL, edited_at = NULL WHERE id = $1', [id]);
      await assert.rejects(release(t.store, id, { actor: 'bob', twoPerson: true }), { code: 'QUARANTINE_SECOND_PERSON_REQUIRED', message: /not recorded/ });
      await saveEdit(t.store, id, WARD3, 'alice');
      assert.equal((await release(t.store, id, { actor: 'bob', twoPerson: true })).msg.payload, WARD3);
    }));

    it('an edit saved between the check and the commit makes the release lose (QUARANTINE_CONFLICT); the new edit stays, unreleased', async () => withItem(async (t, id) => {
      await saveEdit(t.store, id, WARD2, 'alice');
      // Alice saves another edit just as Bob's release, checked against her first one, commits.
      const racing = new Proxy(t.store, {
        get(target, prop, receiver) {
          if (prop !== 'transitionQuarantine') return Reflect.get(target, prop, receiver) as unknown;
          return async (...a: Parameters<typeof target.transitionQuarantine>) => {
            if (a[2] === 'released') await saveEdit(target, id, WARD3, 'alice');
            return target.transitionQuarantine(...a);
          };
        },
      });
      await assert.rejects(release(racing, id, { actor: 'bob', twoPerson: true }), { code: 'QUARANTINE_CONFLICT' });
      const item = (await t.store.getQuarantine(id))!;
      assert.deepEqual([item.state, item.editedBy, item.releaseCount], ['open', 'alice', 0]);
      assert.equal((await t.store.queryAudit({ action: 'quarantine.release' })).length, 0, 'the loser writes no release record');
    }));

    it('saveEdit on an item resolved meanwhile is refused and stores nothing', async () => withItem(async (t, id) => {
      await release(t.store, id, { actor: 'bob', twoPerson: true });
      await assert.rejects(saveEdit(t.store, id, WARD2, 'alice'), { code: 'QUARANTINE_ALREADY_RESOLVED' });
      assert.equal((await t.store.getQuarantine(id))!.editDiff, null);
    }));
  });
}
