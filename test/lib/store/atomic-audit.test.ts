/**
 * Contract for the store methods that write audit records together with another change, on both
 * backends: audit retention (`pruneAuditThrough`), quarantine changes with their audit record in
 * the same transaction (`putQuarantine` / `transitionQuarantine` / `patchQuarantine` with `audit`)
 * and the credential-free `location` descriptor.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAbsolute } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { verifyStore } from '../../../lib/audit/verify';
import { createStore, type NewAuditRecord, type NewQuarantineItem, type Store } from '../../../lib/store';
import { pgUrl } from '../../helpers/shared';
import { postgresBackend, sqliteBackend, type BackendUnderTest, type Place } from './backends';

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { code?: string }).code, code, `expected ${code}, got ${String((e as Error).message)}`);
    return true;
  });
}

/** SQL straight on the place, as an attacker or a broken disk would (tables unqualified). */
async function rawSql(place: Place, sql: string): Promise<void> {
  if (place.opts.backend === 'sqlite') {
    const db = new Database(place.opts.file);
    try { db.exec(sql); } finally { db.close(); }
    return;
  }
  const c = new Client({ connectionString: pgUrl });
  await c.connect();
  try {
    await c.query(`SET search_path TO "${place.opts.schema!}"`);
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const item = (i = 0): NewQuarantineItem => ({
  reasonCode: 'HL7_STRUCTURE', reason: 'PV1-3 missing', owner: 'integration', node: 'q1', flow: 'f1',
  correlationId: `MSG${i}`, subject: '9000000009', messageId: `m${i}`, original: JSON.stringify({ payload: 'MSH|^~\\&|A', i }), contentType: 'hl7v2',
});
const auditFor = (action: string, actor: string, detail: Record<string, unknown> = {}): NewAuditRecord => ({
  node: 'q1', flow: 'f1', action, outcome: action.split('.')[1] ?? 'x', actor, subject: '9000000009', correlationId: 'MSG0', detail,
});

function suite(b: BackendUnderTest): void {
  describe(`store audit atomicity: ${b.name}`, { skip: b.skip }, () => {
    after(() => b.cleanup());

    async function openPlace(extra: Parameters<Place['make']>[0] = {}): Promise<{ s: Store; place: Place }> {
      const place = b.fresh();
      const s = place.make(extra);
      await s.open();
      return { s, place };
    }

    async function appendN(s: Store, n: number): Promise<void> {
      for (let i = 0; i < n; i++) await s.appendAudit({ node: 'n', action: 'a', outcome: 'success', correlationId: `C${i}` });
    }

    describe('location', () => {
      it('names the file or schema, frozen, never the connection string', async () => {
        const { s, place } = await openPlace();
        if (place.opts.backend === 'sqlite') {
          assert.equal(s.location.backend, 'sqlite');
          assert.ok(s.location.backend === 'sqlite' && isAbsolute(s.location.file) && s.location.file.endsWith('store.sqlite'));
        } else {
          assert.deepEqual(s.location, { backend: 'postgres', schema: place.opts.schema });
        }
        assert.ok(Object.isFrozen(s.location));
        assert.throws(() => { (s.location as { backend: string }).backend = 'x'; });
        // A url with a password: the descriptor (and its JSON) carries none of it.
        const pg = createStore({ backend: 'postgres', url: 'postgres://user:s3cr3t@db.example:5432/x', schema: 'nhs_x' });
        assert.deepEqual(pg.location, { backend: 'postgres', schema: 'nhs_x' });
        assert.doesNotMatch(JSON.stringify(pg.location), /s3cr3t|example|5432/);
        assert.deepEqual(pg.location, JSON.parse(JSON.stringify(pg.location)));
        const mem = createStore({ backend: 'sqlite', file: ':memory:' });
        assert.deepEqual(mem.location, { backend: 'sqlite', file: ':memory:' });
      });
    });

    describe('pruneAuditThrough', () => {
      const cp = (through: number): NewAuditRecord => ({ node: 'audit-retention', action: 'audit.checkpoint', outcome: 'success', detail: { prunedThrough: through } });

      it('appends the chained checkpoint and deletes seq ≤ N in one transaction', async () => {
        const { s } = await openPlace();
        await appendN(s, 10);
        const before = await s.queryAudit({});
        const r = await s.pruneAuditThrough(4, cp(4));
        assert.equal(r.pruned, 4);
        assert.equal(r.checkpoint.seq, 11);
        assert.equal(r.checkpoint.prevHash, before[9]!.hash, 'chained onto the head');
        assert.deepEqual(r.checkpoint.detail, { prunedThrough: 4 });
        const kept = await s.queryAudit({});
        assert.deepEqual(kept.map((x) => x.seq), [5, 6, 7, 8, 9, 10, 11]);
        assert.deepEqual(kept.at(-1), r.checkpoint, 'returned checkpoint equals the stored one');
        assert.equal(kept[0]!.prevHash, before[3]!.hash, 'first kept record still links to the pruned anchor');
        assert.deepEqual(await s.auditHead(), { seq: 11, hash: r.checkpoint.hash });
        // Appends continue the chain after the checkpoint.
        const next = await s.appendAudit({ node: 'n', action: 'a', outcome: 'success' });
        assert.deepEqual([next.seq, next.prevHash], [12, r.checkpoint.hash]);
      });

      it('a range already pruned → STORE_NOT_FOUND and nothing is written', async () => {
        const { s } = await openPlace();
        await appendN(s, 6);
        await s.pruneAuditThrough(3, cp(3));
        const head = await s.auditHead();
        await rejectsCode(s.pruneAuditThrough(3, cp(3)), 'STORE_NOT_FOUND');
        await rejectsCode(s.pruneAuditThrough(2, cp(2)), 'STORE_NOT_FOUND');
        await rejectsCode(s.pruneAuditThrough(99, cp(99)), 'STORE_NOT_FOUND');
        assert.deepEqual(await s.auditHead(), head, 'no checkpoint appended by a losing prune');
        assert.equal((await s.queryAudit({})).length, 4);
      });

      it('refuses a bad seq or a bad checkpoint before touching anything', async () => {
        const { s } = await openPlace();
        await appendN(s, 3);
        for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '2' as unknown as number, undefined as unknown as number]) {
          await rejectsCode(s.pruneAuditThrough(bad, cp(1)), 'STORE_INVALID');
        }
        await rejectsCode(s.pruneAuditThrough(1, { ...cp(1), node: '' }), 'STORE_INVALID');
        await rejectsCode(s.pruneAuditThrough(1, null as unknown as NewAuditRecord), 'STORE_INVALID');
        await rejectsCode(s.pruneAuditThrough(1, { ...cp(1), detail: [1] as unknown as Record<string, unknown> }), 'STORE_INVALID');
        assert.deepEqual((await s.queryAudit({})).map((x) => x.seq), [1, 2, 3]);
      });

      it('is serialised with appends issued in the same turn: the chain stays whole', async () => {
        const { s } = await openPlace();
        await appendN(s, 5);
        const first = Array.from({ length: 20 }, (_, i) => s.appendAudit({ node: 'n', action: 'before', outcome: 'success', correlationId: `B${i}` }));
        const pr = s.pruneAuditThrough(5, cp(5));
        const second = Array.from({ length: 20 }, (_, i) => s.appendAudit({ node: 'n', action: 'after', outcome: 'success', correlationId: `A${i}` }));
        const [r] = await Promise.all([pr, ...first, ...second]);
        assert.equal((r as { pruned: number }).pruned, 5);
        const all = await s.queryAudit({});
        assert.equal(all.length, 41);
        for (let i = 1; i < all.length; i++) {
          assert.equal(all[i]!.seq, all[i - 1]!.seq + 1, 'contiguous');
          assert.equal(all[i]!.prevHash, all[i - 1]!.hash, `linked at ${all[i]!.seq}`);
        }
        assert.equal(all[20]!.action, 'audit.checkpoint', 'checkpoint sits in call order between the two groups');
      });

      it('two instances pruning the same range: exactly one prunes, one checkpoint', async () => {
        const place = b.fresh();
        const s1 = place.make();
        const s2 = place.make();
        await Promise.all([s1.open(), s2.open()]);
        await appendN(s1, 8);
        const settled = await Promise.allSettled([s1.pruneAuditThrough(6, cp(6)), s2.pruneAuditThrough(6, cp(6))]);
        assert.equal(settled.filter((x) => x.status === 'fulfilled').length, 1);
        const lost = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
        assert.equal((lost?.reason as { code?: string }).code, 'STORE_NOT_FOUND');
        assert.equal((await s2.queryAudit({ action: 'audit.checkpoint' })).length, 1);
        assert.deepEqual((await s2.queryAudit({})).map((x) => x.seq), [7, 8, 9]);
      });
    });

    describe('quarantine change + audit record in one transaction', () => {
      it('put with audit stores both; the record is bound to the new id', async () => {
        const { s } = await openPlace();
        const q = await s.putQuarantine(item(), auditFor('quarantine.park', 'system', { reasonCode: 'HL7_STRUCTURE', quarantineId: 'spoofed' }));
        const [a] = await s.queryAudit({});
        assert.ok(a);
        assert.deepEqual(a.detail, { reasonCode: 'HL7_STRUCTURE', quarantineId: q.id }, 'store sets quarantineId');
        assert.deepEqual([a.action, a.actor, a.subject, a.seq], ['quarantine.park', 'system', '9000000009', 1]);
        assert.equal((await verifyStore(s)).ok, true);
        // Without audit: unchanged behaviour, no record.
        await s.putQuarantine(item(1));
        assert.equal((await s.queryAudit({})).length, 1);
      });

      it('put with a bad audit record stores neither', async () => {
        const { s } = await openPlace();
        await rejectsCode(s.putQuarantine(item(), { ...auditFor('quarantine.park', 'x'), action: '' }), 'STORE_INVALID');
        await rejectsCode(s.putQuarantine(item(), { ...auditFor('quarantine.park', 'x'), detail: 'text' as unknown as Record<string, unknown> }), 'STORE_INVALID');
        await rejectsCode(s.putQuarantine(item(), 7 as unknown as NewAuditRecord), 'STORE_INVALID');
        assert.equal((await s.listQuarantine({})).length, 0);
        assert.equal(await s.auditHead(), undefined);
      });

      it('transition: the CAS winner commits its audit record, the loser writes none', async () => {
        const { s } = await openPlace();
        const q = await s.putQuarantine(item());
        const [r1, r2] = await Promise.all([
          s.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 'alice', releaseCount: 1 }, auditFor('quarantine.release', 'alice')),
          s.transitionQuarantine(q.id, 'open', 'discarded', { resolvedBy: 'bob' }, auditFor('quarantine.discard', 'bob')),
        ]);
        assert.equal(r1?.state, 'released', 'first in call order wins');
        assert.equal(r2, undefined);
        const trail = await s.queryAudit({});
        assert.deepEqual(trail.map((a) => [a.action, a.actor, a.detail?.quarantineId]), [['quarantine.release', 'alice', q.id]]);
        // A later loser (state moved on) and a missing id write nothing either.
        assert.equal(await s.transitionQuarantine(q.id, 'open', 'discarded', {}, auditFor('quarantine.discard', 'carol')), undefined);
        assert.equal(await s.transitionQuarantine('no-such-id', 'open', 'released', {}, auditFor('quarantine.release', 'dave')), undefined);
        assert.equal((await s.queryAudit({})).length, 1);
        // The winner of a forced re-release is audited again.
        const again = await s.transitionQuarantine(q.id, 'released', 'released', { releaseCount: 2 }, auditFor('quarantine.release', 'erin'));
        assert.equal(again?.releaseCount, 2);
        assert.deepEqual((await s.queryAudit({})).map((a) => a.actor), ['alice', 'erin']);
        assert.equal((await verifyStore(s)).ok, true);
      });

      it('two instances racing on ten items: one audit record per item, always the winner’s', async () => {
        const place = b.fresh();
        const s1 = place.make();
        const s2 = place.make();
        await Promise.all([s1.open(), s2.open()]);
        const items = await Promise.all(Array.from({ length: 10 }, (_, i) => s1.putQuarantine(item(i))));
        await Promise.all(items.flatMap((q) => [
          s1.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 's1' }, auditFor('quarantine.release', 's1')),
          s2.transitionQuarantine(q.id, 'open', 'discarded', { resolvedBy: 's2' }, auditFor('quarantine.discard', 's2')),
        ]));
        const trail = await s2.queryAudit({});
        assert.equal(trail.length, 10, 'exactly one record per item');
        for (const q of items) {
          const final = (await s1.getQuarantine(q.id))!;
          const recs = trail.filter((a) => a.detail?.quarantineId === q.id);
          assert.equal(recs.length, 1);
          assert.equal(recs[0]!.actor, final.resolvedBy, 'the audited actor is the one whose change stuck');
          assert.equal(recs[0]!.action, final.state === 'released' ? 'quarantine.release' : 'quarantine.discard');
        }
        assert.equal((await verifyStore(s1)).ok, true);
      });

      it('when the audit write fails inside the transaction, the state change rolls back', async () => {
        const { s, place } = await openPlace({ groupCommit: false });
        const q = await s.putQuarantine(item());
        await s.appendAudit({ node: 'n', action: 'a', outcome: 'success' });
        // Occupy the seq the next chain step will take: its INSERT fails on the primary key.
        await rawSql(place, "INSERT INTO audit (seq, at, node, action, outcome, prev_hash, hash) VALUES (2, '2030-01-01T00:00:00.000Z', 'x', 'x', 'x', 'x', 'x')");
        await rejectsCode(s.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 'alice' }, auditFor('quarantine.release', 'alice')), 'STORE_CONFLICT');
        assert.equal((await s.getQuarantine(q.id))?.state, 'open', 'no release without its audit record');
        await rejectsCode(s.patchQuarantine(q.id, { owner: 'pas' }, auditFor('quarantine.edit', 'alice')), 'STORE_CONFLICT');
        assert.equal((await s.getQuarantine(q.id))?.owner, 'integration');
        await rejectsCode(s.putQuarantine(item(1), auditFor('quarantine.park', 'system')), 'STORE_CONFLICT');
        assert.equal((await s.listQuarantine({})).length, 1, 'no parked item without its audit record');
      });

      it('patch with audit: audited when the item exists, nothing when it does not', async () => {
        const { s } = await openPlace();
        const q = await s.putQuarantine(item());
        const p = await s.patchQuarantine(q.id, { editDiff: '{"v":1}' }, auditFor('quarantine.edit', 'alice', { changed: true }));
        assert.equal(p?.editDiff, '{"v":1}');
        assert.equal(await s.patchQuarantine('no-such-id', { owner: 'x' }, auditFor('quarantine.edit', 'bob')), undefined);
        await rejectsCode(s.patchQuarantine(q.id, { owner: 'x' }, { ...auditFor('quarantine.edit', 'bob'), at: 'soon' }), 'STORE_INVALID');
        const trail = await s.queryAudit({});
        assert.deepEqual(trail.map((a) => [a.action, a.actor, a.detail]), [['quarantine.edit', 'alice', { changed: true, quarantineId: q.id }]]);
        assert.equal((await s.getQuarantine(q.id))?.owner, 'integration', 'a refused audit record refuses the patch too');
      });
    });
  });
}

suite(sqliteBackend());
suite(postgresBackend());
