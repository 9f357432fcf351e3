/**
 * One contract suite, run against both store backends: the same calls must give the same results
 * on SQLite and PostgreSQL (PostgreSQL part skipped with a reason when NHS_TEST_PG_URL is unset).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENESIS_HASH, auditHash } from '../../../lib/store/chain';
import { mapError as sqliteMapError } from '../../../lib/store/sqlite-engine';
import { mapError as pgMapError } from '../../../lib/store/postgres-sql';
import { createStore, type AuditRecord, type Store } from '../../../lib/store';
import { Client } from 'pg';
import { pgUrl, skipWithoutPg } from '../../helpers/shared';
import { postgresBackend, sqliteBackend, type BackendUnderTest } from './backends';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** A clock the test moves by hand. */
function manualClock(start = T0): { clock: () => Date; advance(ms: number): void; now(): number } {
  let t = start;
  return { clock: () => new Date(t), advance: (ms) => { t += ms; }, now: () => t };
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { code?: string }).code, code, `expected ${code}, got ${String((e as Error).message)}`);
    return true;
  });
}

/** Verify an audit chain with lib/store/chain.ts: contiguous seq, linked prevHash, correct hash. */
function verifyChain(records: AuditRecord[]): void {
  let prev = GENESIS_HASH;
  records.forEach((r, i) => {
    assert.equal(r.seq, i + 1, 'seq contiguous from 1');
    assert.equal(r.prevHash, prev, `prevHash links at seq ${r.seq}`);
    const { hash, ...rest } = r;
    assert.equal(hash, auditHash(rest), `hash recomputes at seq ${r.seq}`);
    prev = hash;
  });
}

const binary = Buffer.from([0x0b, 0x4d, 0x53, 0x48, 0x00, 0xff, 0xfe, 0x0d, 0x1c, 0x0d, 0x80, 0xa3]);

function contract(b: BackendUnderTest): void {
  describe(`store contract: ${b.name}${b.threaded ? ' (writer thread)' : ''}`, { skip: b.skip }, () => {
    after(() => b.cleanup());

    async function openFresh(extra: Parameters<ReturnType<BackendUnderTest['fresh']>['make']>[0] = {}): Promise<Store> {
      const s = b.fresh().make(extra);
      await s.open();
      return s;
    }

    describe('message log', () => {
      it('appends raw bytes exactly, with increasing seq, and reads them back', async () => {
        const s = await openFresh();
        const a = await s.appendMessage({ channel: 'in-1', raw: binary, controlId: 'MSG0001', messageType: 'ADT^A01', meta: { remote: '127.0.0.1', charset: 'ISO-8859-1' } });
        const c = await s.appendMessage({ channel: 'in-1', raw: Buffer.alloc(0) });
        assert.ok(c.seq > a.seq);
        assert.equal(a.status, 'received');
        const got = await s.getMessage(a.id);
        assert.ok(got);
        assert.ok(got.raw.equals(binary), 'raw bytes identical');
        assert.deepEqual({ ...got, raw: undefined }, { ...a, raw: undefined });
        assert.equal((await s.getMessage(c.id))?.raw.length, 0);
        assert.equal(await s.getMessage('no-such-id'), undefined);
      });

      it('copies the caller buffer so a later mutation does not change what is stored', async () => {
        const s = await openFresh();
        const buf = Buffer.from('MSH|^~\\&|A');
        const p = s.appendMessage({ channel: 'c', raw: buf });
        buf.fill(0x58);
        const m = await p;
        assert.equal((await s.getMessage(m.id))?.raw.toString(), 'MSH|^~\\&|A');
      });

      it('moves status received → processed / errored and filters by it', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const ms = await Promise.all([1, 2, 3].map((i) => s.appendMessage({ channel: i === 3 ? 'other' : 'c', raw: Buffer.from(`m${i}`), controlId: `C${i}` })));
        clk.advance(1000);
        await s.setMessageStatus(ms[0]!.id, 'processed');
        await s.setMessageStatus(ms[1]!.id, 'errored', 'HL7_STRUCTURE');
        const m1 = await s.getMessage(ms[1]!.id);
        assert.equal(m1?.status, 'errored');
        assert.equal(m1?.statusDetail, 'HL7_STRUCTURE');
        assert.equal(m1?.updatedAt, new Date(T0 + 1000).toISOString());
        assert.equal(m1?.receivedAt, new Date(T0).toISOString());
        assert.equal(await s.countMessages({}), 3);
        assert.equal(await s.countMessages({ status: 'processed' }), 1);
        assert.equal(await s.countMessages({ channel: 'c' }), 2);
        assert.deepEqual((await s.findMessages({ controlId: 'C3' })).map((m) => m.id), [ms[2]!.id]);
        assert.deepEqual((await s.findMessages({ channel: 'c', limit: 1 })).map((m) => m.id), [ms[0]!.id]);
        await rejectsCode(s.setMessageStatus('missing', 'processed'), 'STORE_NOT_FOUND');
        await rejectsCode(s.setMessageStatus(ms[0]!.id, 'bogus' as never), 'STORE_INVALID');
      });

      it('filters by received time range (inclusive)', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) {
          ids.push((await s.appendMessage({ channel: 'c', raw: Buffer.from([i]) })).id);
          clk.advance(60_000);
        }
        const from = new Date(T0 + 60_000).toISOString();
        const to = new Date(T0 + 120_000).toISOString();
        assert.deepEqual((await s.findMessages({ from, to })).map((m) => m.id), ids.slice(1, 3));
        await rejectsCode(s.findMessages({ from: 'not a date' }), 'STORE_INVALID');
      });

      it('stores hostile text literally (no SQL injection through any field)', async () => {
        const s = await openFresh();
        const evil = "x'); DROP TABLE messages; --";
        const m = await s.appendMessage({ channel: evil, raw: Buffer.from(evil), controlId: evil, meta: { evil } });
        assert.equal((await s.findMessages({ channel: evil }))[0]?.id, m.id);
        assert.equal(await s.countMessages({}), 1);
        assert.deepEqual((await s.getMessage(m.id))?.meta, { evil });
      });
    });

    describe('outbox', () => {
      it('claims strictly in order per destination; a leased head blocks the queue', async () => {
        const s = await openFresh();
        const a = await s.enqueue({ destination: 'd1', payload: Buffer.from('A'), controlId: 'A' });
        const bb = await s.enqueue({ destination: 'd1', payload: Buffer.from('B') });
        const x = await s.enqueue({ destination: 'd2', payload: Buffer.from('X') });
        const c1 = await s.claimNext('d1');
        assert.equal(c1?.id, a.id);
        assert.equal(c1?.state, 'inflight');
        assert.equal(c1?.attempts, 1);
        assert.ok(c1?.payload.equals(Buffer.from('A')));
        assert.equal(await s.claimNext('d1'), undefined, 'B must not overtake leased A');
        assert.equal((await s.claimNext('d2'))?.id, x.id, 'other destination independent');
        await s.ackOutbox(a.id);
        await s.ackOutbox(a.id); // idempotent
        assert.equal((await s.claimNext('d1'))?.id, bb.id);
        assert.equal(await s.claimNext('empty'), undefined);
        const done = await s.listOutbox({ state: 'done' });
        assert.deepEqual(done.map((i) => i.id), [a.id]);
      });

      it('ackOutbox with next: the done and the claim of the next head in one commit; a failed done claims nothing', async () => {
        const s = await openFresh();
        const a = await s.enqueue({ destination: 'd', payload: Buffer.from('A') });
        const bb = await s.enqueue({ destination: 'd', payload: Buffer.from('B') });
        await s.enqueue({ destination: 'other', payload: Buffer.from('X') });
        assert.equal((await s.claimNext('d', 60_000, 'me'))?.id, a.id);
        const before = s.stats!().commits;
        const next = await s.ackOutbox(a.id, { destination: 'd', leaseMs: 60_000, owner: 'me' });
        assert.equal(s.stats!().commits - before, 1, 'one commit for the done and the claim');
        assert.equal(next?.id, bb.id);
        assert.equal(next?.state, 'inflight');
        assert.equal(next?.attempts, 1);
        assert.ok(next?.payload.equals(Buffer.from('B')));
        const rows = await s.listOutbox({ destination: 'd' });
        assert.deepEqual(rows.map((i) => i.state), ['done', 'inflight']);
        assert.equal(await s.claimNext('d'), undefined, 'B is leased by the combined claim');
        // Idempotent done, and nothing left to claim: undefined, B untouched.
        assert.equal(await s.ackOutbox(a.id, { destination: 'd' }), undefined);
        assert.equal((await s.listOutbox({ destination: 'd' }))[1]?.attempts, 1);
        // Without next: nothing is claimed (old callers unchanged).
        assert.equal(await s.ackOutbox(bb.id), undefined);
        // A done that cannot be recorded (unknown item; a parked one) rejects and claims nothing.
        const c = await s.enqueue({ destination: 'd', payload: Buffer.from('C') });
        await assert.rejects(s.ackOutbox('no-such-item', { destination: 'd' }), (e: { code?: string }) => e.code === 'STORE_NOT_FOUND');
        const p = await s.enqueue({ destination: 'p', payload: Buffer.from('P') });
        await s.parkOutbox(p.id, 'refused');
        await assert.rejects(s.ackOutbox(p.id, { destination: 'd' }), (e: { code?: string }) => e.code === 'STORE_CONFLICT');
        assert.equal((await s.listOutbox({ destination: 'd' }))[2]?.state, 'pending', 'C not claimed by a failed done');
        assert.equal((await s.claimNext('d'))?.id, c.id);
        // Bad claim arguments are refused before anything is written.
        await assert.rejects(s.ackOutbox(c.id, { destination: '' }), (e: { code?: string }) => e.code === 'STORE_INVALID');
        assert.equal((await s.listOutbox({ destination: 'd' }))[2]?.state, 'inflight', 'C not marked done by a refused call');
      });

      it('retry with back-off keeps the head blocking until due; attempts count', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const a = await s.enqueue({ destination: 'd', payload: Buffer.from('A') });
        await s.enqueue({ destination: 'd', payload: Buffer.from('B') });
        assert.equal((await s.claimNext('d'))?.id, a.id);
        await s.retryOutbox(a.id, new Date(clk.now() + 10_000), 'connect refused');
        const pending = (await s.listOutbox({ destination: 'd' }))[0];
        assert.equal(pending?.state, 'pending');
        assert.equal(pending?.lastError, 'connect refused');
        assert.equal(await s.claimNext('d'), undefined, 'head not due: nothing behind it goes');
        clk.advance(10_000);
        const again = await s.claimNext('d');
        assert.equal(again?.id, a.id);
        assert.equal(again?.attempts, 2);
      });

      it('an expired lease makes the head claimable again (a sender that died)', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const a = await s.enqueue({ destination: 'd', payload: Buffer.from('A') });
        assert.equal((await s.claimNext('d', 5_000))?.id, a.id);
        clk.advance(4_999);
        assert.equal(await s.claimNext('d'), undefined);
        clk.advance(1);
        const re = await s.claimNext('d');
        assert.equal(re?.id, a.id);
        assert.equal(re?.attempts, 2);
      });

      it('park moves the head aside; recover returns inflight items to pending', async () => {
        const s = await openFresh();
        const a = await s.enqueue({ destination: 'd', payload: Buffer.from('A') });
        const bb = await s.enqueue({ destination: 'd', payload: Buffer.from('B') });
        const c = await s.enqueue({ destination: 'e', payload: Buffer.from('C') });
        await s.claimNext('d');
        await s.parkOutbox(a.id, 'AR: rejected');
        const parked = await s.listOutbox({ state: 'parked' });
        assert.deepEqual(parked.map((i) => [i.id, i.lastError]), [[a.id, 'AR: rejected']]);
        assert.equal((await s.claimNext('d'))?.id, bb.id);
        assert.equal((await s.claimNext('e'))?.id, c.id);
        assert.equal(await s.recoverOutbox('d'), 1);
        assert.deepEqual((await s.listOutbox({ state: 'inflight' })).map((i) => i.id), [c.id]);
        assert.equal(await s.recoverOutbox(), 1);
        assert.equal((await s.listOutbox({ state: 'inflight' })).length, 0);
        assert.equal((await s.claimNext('d'))?.id, bb.id, 'recovered item is due at once');
        await rejectsCode(s.ackOutbox(a.id), 'STORE_CONFLICT');
        await rejectsCode(s.retryOutbox(a.id, new Date(), 'x'), 'STORE_CONFLICT');
        await rejectsCode(s.ackOutbox('missing'), 'STORE_NOT_FOUND');
        await rejectsCode(s.parkOutbox('missing', 'x'), 'STORE_NOT_FOUND');
        await rejectsCode(s.retryOutbox(bb.id, new Date('nope'), 'x'), 'STORE_INVALID');
      });

      it('recover takes back its own and expired leases, not a lease another live owner holds', async () => {
        const clk = manualClock();
        const place = b.fresh();
        // Two instances on one store, as two Node-RED processes would be.
        const s1 = place.make({ clock: clk.clock });
        const s2 = place.make({ clock: clk.clock });
        await Promise.all([s1.open(), s2.open()]);
        const a = await s1.enqueue({ destination: 'd', payload: Buffer.from('A') });
        const e = await s1.enqueue({ destination: 'e', payload: Buffer.from('E') });
        assert.equal((await s1.claimNext('d', 10_000, 'owner-1'))?.id, a.id);
        assert.equal((await s1.claimNext('e', 10_000, 'owner-1'))?.id, e.id);
        // owner-2 starting: owner-1's leases are live, so nothing is taken from it.
        assert.equal(await s2.recoverOutbox('d', 'owner-2'), 0);
        assert.equal(await s2.recoverOutbox(undefined, 'owner-2'), 0);
        assert.equal(await s2.claimNext('d', 10_000, 'owner-2'), undefined, 'the head is leased by owner-1');
        // owner-1 restarting takes back its own at once, due now.
        assert.equal(await s1.recoverOutbox('d', 'owner-1'), 1);
        const again = await s2.claimNext('d', 10_000, 'owner-2');
        assert.equal(again?.id, a.id);
        assert.equal(again?.attempts, 2);
        // A lease that has expired is recovered by anyone.
        clk.advance(10_000);
        assert.equal(await s2.recoverOutbox('e', 'owner-2'), 1);
        assert.deepEqual((await s1.listOutbox({ state: 'inflight' })).map((i) => i.id), [a.id]);
        await rejectsCode(s1.recoverOutbox('d', ''), 'STORE_INVALID');
        await rejectsCode(s1.claimNext('d', 1000, 'x'.repeat(201)), 'STORE_INVALID');
      });

      it('renewing a lease keeps the item ours; a lease that was lost cannot be renewed', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const a = await s.enqueue({ destination: 'd', payload: Buffer.from('A') });
        const claimed = await s.claimNext('d', 5_000, 'owner-1');
        assert.equal(claimed?.attempts, 1);
        clk.advance(4_000);
        assert.equal(await s.renewOutboxLease(a.id, 1, 5_000), true);
        clk.advance(4_000);
        // 8 s after the claim, but renewed at 4 s for 5 s: still leased.
        assert.equal(await s.claimNext('d', 5_000, 'owner-2'), undefined);
        assert.equal((await s.listOutbox({ destination: 'd' }))[0]?.nextAttemptAt, new Date(T0 + 9_000).toISOString());
        clk.advance(1_000);
        const taken = await s.claimNext('d', 5_000, 'owner-2');
        assert.equal(taken?.attempts, 2, 'expired: someone else claims it');
        assert.equal(await s.renewOutboxLease(a.id, 1, 5_000), false, 'the first claim is no longer the lease holder');
        assert.equal(await s.renewOutboxLease(a.id, 2, 5_000), true);
        await s.ackOutbox(a.id);
        assert.equal(await s.renewOutboxLease(a.id, 2, 5_000), false, 'done items hold no lease');
        assert.equal(await s.renewOutboxLease('missing', 1, 5_000), false);
        await rejectsCode(s.renewOutboxLease(a.id, 0, 5_000), 'STORE_INVALID');
        await rejectsCode(s.renewOutboxLease(a.id, 1, Number.NaN), 'STORE_INVALID');
      });

      it('retry and park fenced on a claim leave an item someone else has claimed since', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const a = await s.enqueue({ destination: 'd', payload: Buffer.from('A') });
        assert.equal((await s.claimNext('d', 1_000, 'owner-1'))?.attempts, 1);
        clk.advance(1_000);
        assert.equal((await s.claimNext('d', 1_000, 'owner-2'))?.attempts, 2);
        await rejectsCode(s.retryOutbox(a.id, new Date(clk.now()), 'late failure of owner-1', 1), 'STORE_CONFLICT');
        await rejectsCode(s.parkOutbox(a.id, 'late park by owner-1', 1), 'STORE_CONFLICT');
        const still = (await s.listOutbox({ destination: 'd' }))[0];
        assert.equal(still?.state, 'inflight');
        assert.equal(still?.lastError, null);
        await s.retryOutbox(a.id, new Date(clk.now()), 'failure of owner-2', 2);
        assert.equal((await s.listOutbox({ destination: 'd' }))[0]?.state, 'pending');
        await rejectsCode(s.parkOutbox(a.id, 'x', 0), 'STORE_INVALID');
      });

      it('concurrent claims of one destination hand the head to exactly one caller', async () => {
        const place = b.fresh();
        const s1 = place.make();
        const s2 = place.make();
        await Promise.all([s1.open(), s2.open()]);
        await s1.enqueue({ destination: 'd', payload: Buffer.from('A') });
        await s1.enqueue({ destination: 'd', payload: Buffer.from('B') });
        const got = await Promise.all([s1.claimNext('d'), s2.claimNext('d'), s1.claimNext('d'), s2.claimNext('d')]);
        assert.equal(got.filter((g) => g !== undefined).length, 1);
      });
    });

    describe('audit', () => {
      it('chains hashes inside the commit; the chain verifies with lib/store/chain.ts', async () => {
        const s = await openFresh();
        assert.equal(await s.auditHead(), undefined);
        const recs = await Promise.all(Array.from({ length: 40 }, (_, i) => s.appendAudit({
          node: 'n1', action: i % 2 ? 'received' : 'sent', outcome: 'success', correlationId: `MSG${i}`,
          subject: i % 4 === 0 ? '9000000009' : '9990000018', messageId: `m${i % 3}`, actor: 'system', flow: 'f1',
          detail: i === 5 ? { nested: { list: [1, 'two', null], ok: true }, n: 1.5 } : null,
        })));
        const all = await s.queryAudit({});
        assert.equal(all.length, 40);
        verifyChain(all);
        assert.deepEqual(all, [...recs].sort((x, y) => x.seq - y.seq), 'returned records equal stored ones');
        assert.deepEqual(await s.auditHead(), { seq: 40, hash: all[39]!.hash });
        assert.deepEqual(all[5]!.detail, { nested: { list: [1, 'two', null], ok: true }, n: 1.5 });
      });

      it('queries by subject, correlationId, messageId, node, action, time, afterSeq, order, limit', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        for (let i = 0; i < 10; i++) {
          await s.appendAudit({ node: i < 5 ? 'a' : 'b', action: i % 2 ? 'odd' : 'even', outcome: 'success', subject: i === 3 ? '9990000026' : null, correlationId: `C${i}`, messageId: i === 7 ? 'M7' : null });
          clk.advance(1000);
        }
        assert.deepEqual((await s.queryAudit({ subject: '9990000026' })).map((r) => r.seq), [4]);
        assert.deepEqual((await s.queryAudit({ correlationId: 'C9' })).map((r) => r.seq), [10]);
        assert.deepEqual((await s.queryAudit({ messageId: 'M7' })).map((r) => r.seq), [8]);
        assert.equal((await s.queryAudit({ node: 'b' })).length, 5);
        assert.equal((await s.queryAudit({ node: 'b', action: 'odd' })).length, 3);
        assert.deepEqual((await s.queryAudit({ from: new Date(T0 + 2000).toISOString(), to: new Date(T0 + 4000).toISOString() })).map((r) => r.seq), [3, 4, 5]);
        assert.deepEqual((await s.queryAudit({ afterSeq: 7 })).map((r) => r.seq), [8, 9, 10]);
        assert.deepEqual((await s.queryAudit({ order: 'desc', limit: 2 })).map((r) => r.seq), [10, 9]);
        await rejectsCode(s.queryAudit({ order: 'sideways' as never }), 'STORE_INVALID');
      });

      it('keeps a caller-supplied time in canonical ISO form and refuses a bad one', async () => {
        const s = await openFresh();
        const r = await s.appendAudit({ at: '2031-02-03T04:05:06Z', node: 'n', action: 'a', outcome: 'success' });
        assert.equal(r.at, '2031-02-03T04:05:06.000Z');
        verifyChain(await s.queryAudit({}));
        await rejectsCode(s.appendAudit({ at: 'yesterday', node: 'n', action: 'a', outcome: 'x' }), 'STORE_INVALID');
        await rejectsCode(s.appendAudit({ node: '', action: 'a', outcome: 'x' }), 'STORE_INVALID');
      });
    });

    describe('quarantine', () => {
      const item = (i = 0) => ({
        reasonCode: i % 2 ? 'FHIR_INVALID' : 'HL7_STRUCTURE', reason: 'PID-3 missing', owner: i % 2 ? 'pas-team' : 'integration',
        node: 'q1', flow: 'f1', correlationId: `MSG${i}`, subject: '9990000034', messageId: `m${i}`,
        original: JSON.stringify({ payload: 'MSH|^~\\&|…', n: i }), contentType: 'hl7v2', detail: { issue: [{ severity: 'error' }] },
        dueAt: '2030-01-02T00:00:00Z',
      });

      it('puts, gets and lists with filters', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const q0 = await s.putQuarantine(item(0));
        clk.advance(1000);
        const q1 = await s.putQuarantine(item(1));
        assert.equal(q0.state, 'open');
        assert.equal(q0.dueAt, '2030-01-02T00:00:00.000Z');
        assert.equal(q0.releaseCount, 0);
        assert.equal(q0.editDiff, null);
        assert.deepEqual(await s.getQuarantine(q0.id), q0);
        assert.deepEqual((await s.listQuarantine({})).map((q) => q.id), [q0.id, q1.id]);
        assert.deepEqual((await s.listQuarantine({ reasonCode: 'FHIR_INVALID' })).map((q) => q.id), [q1.id]);
        assert.deepEqual((await s.listQuarantine({ owner: 'integration' })).map((q) => q.id), [q0.id]);
        assert.deepEqual((await s.listQuarantine({ createdBefore: new Date(T0 + 500).toISOString() })).map((q) => q.id), [q0.id]);
        assert.equal((await s.listQuarantine({ flow: 'f1', node: 'q1', state: 'open' })).length, 2);
        assert.equal(await s.getQuarantine('missing'), undefined);
      });

      it('transition is compare-and-set: exactly one of two concurrent releases wins', async () => {
        const s = await openFresh();
        const q = await s.putQuarantine(item());
        const [r1, r2] = await Promise.all([
          s.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 'alice', resolution: 'fixed', releaseCount: 1 }),
          s.transitionQuarantine(q.id, 'open', 'discarded', { resolvedBy: 'bob' }),
        ]);
        assert.equal([r1, r2].filter(Boolean).length, 1);
        assert.equal(r1?.state, 'released');
        assert.equal(r1?.resolvedBy, 'alice');
        assert.equal(r1?.releaseCount, 1);
        assert.equal((await s.getQuarantine(q.id))?.state, 'released');
        assert.equal(await s.transitionQuarantine('missing', 'open', 'released', {}), undefined);
        await rejectsCode(s.transitionQuarantine(q.id, 'open', 'gone' as never, {}), 'STORE_INVALID');
      });

      it('forced re-release is a compare-and-set on the release count too', async () => {
        const s = await openFresh();
        const q = await s.putQuarantine(item());
        assert.ok(await s.transitionQuarantine(q.id, 'open', 'released', { releaseCount: 1 }, undefined, 0));
        // Two forced releases read releaseCount 1 and race: the count guard lets exactly one win.
        const [r1, r2] = await Promise.all([
          s.transitionQuarantine(q.id, 'released', 'released', { resolvedBy: 'alice', releaseCount: 2 }, undefined, 1),
          s.transitionQuarantine(q.id, 'released', 'released', { resolvedBy: 'bob', releaseCount: 2 }, undefined, 1),
        ]);
        assert.equal([r1, r2].filter(Boolean).length, 1);
        assert.equal((await s.getQuarantine(q.id))?.releaseCount, 2);
        // A stale count matches nothing; without the guard the state alone decides (as before).
        assert.equal(await s.transitionQuarantine(q.id, 'released', 'released', { releaseCount: 2 }, undefined, 1), undefined);
        assert.equal((await s.transitionQuarantine(q.id, 'released', 'released', { releaseCount: 3 }))?.releaseCount, 3);
        await rejectsCode(s.transitionQuarantine(q.id, 'released', 'released', {}, undefined, -1), 'STORE_INVALID');
        await rejectsCode(s.transitionQuarantine(q.id, 'released', 'released', {}, undefined, 1.5), 'STORE_INVALID');
      });

      it('CAS holds across two store instances on one database', async () => {
        const place = b.fresh();
        const s1 = place.make();
        const s2 = place.make();
        await s1.open();
        await s2.open();
        const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => s1.putQuarantine(item(i))));
        const results = await Promise.all(ids.flatMap((q) => [
          s1.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 's1' }),
          s2.transitionQuarantine(q.id, 'open', 'discarded', { resolvedBy: 's2' }),
        ]));
        for (let i = 0; i < ids.length; i++) {
          const pair = results.slice(2 * i, 2 * i + 2);
          assert.equal(pair.filter(Boolean).length, 1, `item ${i}: exactly one winner`);
          const final = await s1.getQuarantine(ids[i]!.id);
          assert.equal(final?.resolvedBy, pair.find(Boolean)?.resolvedBy);
        }
      });

      it('patch updates fields without a state change', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const q = await s.putQuarantine(item());
        clk.advance(5000);
        const p = await s.patchQuarantine(q.id, { notifiedAt: new Date(T0 + 5000).toISOString(), owner: 'ward-clerks', editDiff: '[{"op":"replace"}]' });
        assert.equal(p?.state, 'open');
        assert.equal(p?.owner, 'ward-clerks');
        assert.equal(p?.editDiff, '[{"op":"replace"}]');
        assert.equal(p?.notifiedAt, new Date(T0 + 5000).toISOString());
        assert.equal(p?.updatedAt, new Date(T0 + 5000).toISOString());
        assert.equal(p?.original, q.original, 'original never changes');
        assert.equal(await s.patchQuarantine('missing', { owner: 'x' }), undefined);
        await rejectsCode(s.patchQuarantine(q.id, { releaseCount: -1 }), 'STORE_INVALID');
      });

      it('keeps the editor with the edit; the edit guard makes a transition lose when the edit or its editor changed (HAZ-014 C7)', async () => {
        const s = await openFresh();
        const q = await s.putQuarantine(item());
        assert.deepEqual([q.editedBy, q.editedAt], [null, null]);
        const e = await s.transitionQuarantine(q.id, 'open', 'open', { editDiff: 'D1', editedBy: 'alice', editedAt: '2030-01-01T10:00:00Z' });
        assert.deepEqual([e?.state, e?.editDiff, e?.editedBy, e?.editedAt], ['open', 'D1', 'alice', '2030-01-01T10:00:00.000Z']);
        assert.deepEqual(await s.getQuarantine(q.id), e, 'read back as written');
        assert.equal((await s.listQuarantine({})).find((x) => x.id === q.id)?.editedBy, 'alice');
        // A guard naming another edit or another editor matches nothing; null compares as null.
        assert.equal(await s.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 'bob' }, undefined, 0, { editDiff: 'D0', editedBy: 'alice' }), undefined);
        assert.equal(await s.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 'bob' }, undefined, 0, { editDiff: 'D1', editedBy: 'carol' }), undefined);
        assert.equal(await s.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 'bob' }, undefined, 0, { editDiff: null, editedBy: null }), undefined);
        assert.equal((await s.getQuarantine(q.id))?.state, 'open');
        const r = await s.transitionQuarantine(q.id, 'open', 'released', { resolvedBy: 'bob', releaseCount: 1 }, undefined, 0, { editDiff: 'D1', editedBy: 'alice' });
        assert.deepEqual([r?.state, r?.resolvedBy, r?.editedBy], ['released', 'bob', 'alice']);
        const plain = await s.putQuarantine(item(1));
        assert.equal((await s.transitionQuarantine(plain.id, 'open', 'released', {}, undefined, undefined, { editDiff: null, editedBy: null }))?.state, 'released', 'null = no edit matches an unedited item');
        // Bad input: a malformed guard or editor is refused, not ignored.
        await rejectsCode(s.transitionQuarantine(q.id, 'released', 'released', {}, undefined, undefined, { editDiff: 1 } as never), 'STORE_INVALID');
        await rejectsCode(s.transitionQuarantine(q.id, 'released', 'released', {}, undefined, undefined, 'D1' as never), 'STORE_INVALID');
        await rejectsCode(s.patchQuarantine(q.id, { editedBy: 'x'.repeat(201) }), 'STORE_INVALID');
        await rejectsCode(s.patchQuarantine(q.id, { editedBy: 7 as never }), 'STORE_INVALID');
        await rejectsCode(s.patchQuarantine(q.id, { editedAt: 'yesterday' }), 'STORE_INVALID');
      });
    });

    describe('group commit', () => {
      it('writes issued in one event-loop turn share one transaction', async () => {
        const s = await openFresh();
        const before = s.stats!();
        const n = 200;
        const all = await Promise.all(Array.from({ length: n }, (_, i) => i % 4 === 0
          ? s.appendAudit({ node: 'n', action: 'a', outcome: 'success' })
          : s.appendMessage({ channel: 'c', raw: Buffer.alloc(1500, i % 256) })));
        const after = s.stats!();
        assert.equal(all.length, n);
        // The writer thread too: the turn's writes cross to it as one port message, which it
        // runs in one turn of its own.
        assert.equal(after.commits - before.commits, 1, 'one commit for the whole turn');
        assert.equal(after.writes - before.writes, n);
        assert.ok(after.maxBatch >= n);
        verifyChain(await s.queryAudit({}));
      });

      it('groupCommit: false commits each write on its own', async () => {
        const s = await openFresh({ groupCommit: false });
        const before = s.stats!().commits;
        await Promise.all(Array.from({ length: 20 }, () => s.appendMessage({ channel: 'c', raw: Buffer.from('x') })));
        assert.equal(s.stats!().commits - before, 20);
        assert.equal(s.stats!().maxBatch, 1);
      });

      it('one failing write in a batch rejects alone; the others commit', async () => {
        let n = 0;
        // The 3rd generated id repeats the 1st: a unique-constraint failure inside the batch.
        const s = await openFresh({ idGen: () => { n++; return n === 3 ? 'id-1' : `id-${n}`; } });
        const ps = Array.from({ length: 5 }, (_, i) => s.appendMessage({ channel: 'c', raw: Buffer.from(`m${i}`) }));
        const settled = await Promise.allSettled(ps);
        assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
        assert.equal(((settled[2] as PromiseRejectedResult).reason as { code: string }).code, 'STORE_CONFLICT');
        assert.equal(await s.countMessages({}), 4);
        assert.equal((await s.getMessage('id-1'))?.raw.toString(), 'm0');
        // SQLite retries the batch row by row; PostgreSQL skips the duplicate inside the statement.
        if (b.name === 'sqlite') assert.ok(s.stats!().batchFallbacks >= 1);
      });
      it('a batch larger than one multi-row INSERT returns the seq each row really got, in call order', async () => {
        const s = await openFresh();
        // 150 = two full 64-row chunks plus single rows on SQLite; several prepared sizes on PostgreSQL.
        const recs = await Promise.all(Array.from({ length: 150 }, (_, i) => s.appendMessage({ channel: 'c', raw: Buffer.from(`r${i}`), controlId: `C${i}`, meta: i % 2 ? { i } : undefined })));
        // SQLite takes the whole turn as one batch; PostgreSQL splits a burst across its pipeline.
        // (The writer thread groups per port delivery, so only grouping itself is certain there.)
        assert.ok(s.stats!().maxBatch >= (b.threaded ? 8 : b.name === 'sqlite' ? 150 : 64));
        for (let i = 1; i < recs.length; i++) assert.ok(recs[i]!.seq > recs[i - 1]!.seq, `seq follows call order at ${i}`);
        const stored = await s.findMessages({ channel: 'c' });
        assert.deepEqual(stored.map((m) => [m.id, m.seq, m.raw.toString(), m.controlId]), recs.map((m, i) => [m.id, m.seq, `r${i}`, `C${i}`]));
        assert.deepEqual(stored.map((m) => m.meta), recs.map((m) => m.meta), 'returned meta equals what a reader gets');
      });

      it('records returned from multi-row appends equal what a reader gets (every column)', async () => {
        const s = await openFresh();
        // 70 of each: several multi-row statement sizes in one batch, messages and outbox mixed.
        const [msgs, items] = await Promise.all([
          Promise.all(Array.from({ length: 70 }, (_, i) => s.appendMessage({ channel: `ch${i % 3}`, raw: Buffer.from(`m${i}`), controlId: i % 2 ? `C${i}` : undefined, messageType: i % 5 ? 'ADT^A01' : undefined, meta: i % 4 ? { i } : undefined }))),
          Promise.all(Array.from({ length: 70 }, (_, i) => s.enqueue({ destination: `d${i % 2}`, payload: Buffer.from(`p${i}`), controlId: i % 3 ? `O${i}` : undefined, meta: i % 2 ? { i } : undefined }))),
        ]);
        const stored = await s.findMessages({ limit: 1000 });
        assert.deepEqual(stored.map((m) => ({ ...m, raw: m.raw.toString() })), msgs.map((m) => ({ ...m, raw: m.raw.toString() })));
        assert.ok(msgs.every((m) => m.status === 'received' && m.statusDetail === null && m.updatedAt === m.receivedAt));
        const out = await s.listOutbox({ limit: 1000 });
        assert.deepEqual(out.map((o) => ({ ...o, payload: o.payload.toString() })), items.map((o) => ({ ...o, payload: o.payload.toString() })));
        assert.ok(items.every((o) => o.state === 'pending' && o.attempts === 0 && o.lastError === null && o.nextAttemptAt === o.createdAt));
      });

      it('under sustained load (batches overlapping in the pipeline) seq order = call order', async () => {
        const s = await openFresh();
        const calls: Promise<{ seq: number }>[] = [];
        const end = Date.now() + 400;
        // 300 appends in flight, each worker re-appending as soon as its last one settled.
        await Promise.all(Array.from({ length: 300 }, async () => {
          while (Date.now() < end) {
            const p = s.appendMessage({ channel: 'load', raw: Buffer.from('x') });
            calls.push(p);
            await p;
          }
        }));
        const seqs = (await Promise.all(calls)).map((m) => m.seq);
        assert.ok(seqs.length > 600, `enough appends (${seqs.length}) for several batches`);
        for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `seq follows call order at ${i}`);
        assert.ok(s.stats!().commits > 2);
        assert.deepEqual((await s.findMessages({ channel: 'load', limit: 100_000 })).map((m) => m.seq), seqs);
      });

      it('a write queued behind appends still in the pipeline sees them committed', async () => {
        let n = 0;
        const s = await openFresh({ idGen: () => `pipe-${++n}` });
        const appends = Array.from({ length: 512 }, () => s.appendMessage({ channel: 'c', raw: Buffer.alloc(1500, 0x41) }));
        // Same turn: the update runs only after the 512 appends (two batches on PostgreSQL, the
        // second still inserting when the first settles) have committed.
        const update = s.setMessageStatus('pipe-512', 'processed');
        const enq = s.enqueue({ destination: 'd', payload: Buffer.from('y') });
        await Promise.all([...appends, update, enq]);
        assert.equal((await s.getMessage('pipe-512'))?.status, 'processed');
        assert.equal(await s.countMessages({}), 512);
      });

      it('a duplicate id inside a multi-row chunk rejects only that append', async () => {
        let n = 0;
        const s = await openFresh({ idGen: () => { n++; return n === 70 ? 'dup-5' : `dup-${n}`; } });
        const settled = await Promise.allSettled(Array.from({ length: 130 }, (_, i) => s.appendMessage({ channel: 'c', raw: Buffer.from(`m${i}`) })));
        assert.deepEqual(settled.flatMap((r, i) => (r.status === 'rejected' ? [i] : [])), [69]);
        assert.equal(((settled[69] as PromiseRejectedResult).reason as { code: string }).code, 'STORE_CONFLICT');
        assert.equal(await s.countMessages({}), 129);
        assert.equal((await s.getMessage('dup-5'))?.raw.toString(), 'm4');
      });

      it('groupCommit: false is a FIFO: one commit per write, seq order = call order', async () => {
        const s = await openFresh({ groupCommit: false });
        const recs = await Promise.all(Array.from({ length: 30 }, (_, i) => i % 5 === 4
          ? s.appendAudit({ node: 'n', action: 'a', outcome: 'success', correlationId: `A${i}` })
          : s.appendMessage({ channel: 'fifo', raw: Buffer.from(`f${i}`) })));
        const msgs = recs.filter((r): r is Awaited<ReturnType<Store['appendMessage']>> => 'raw' in r);
        for (let i = 1; i < msgs.length; i++) assert.ok(msgs[i]!.seq > msgs[i - 1]!.seq, 'seq follows call order');
        assert.deepEqual((await s.findMessages({ channel: 'fifo' })).map((m) => m.raw.toString()), msgs.map((m) => m.raw.toString()));
        assert.equal(s.stats!().commits, 30);
        verifyChain(await s.queryAudit({}));
      });

      it('default ids are fixed-width and increase with every append', async () => {
        const s = await openFresh();
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push(...(await Promise.all(Array.from({ length: 10 }, () => s.appendMessage({ channel: 'c', raw: Buffer.from('x') })))).map((m) => m.id));
        assert.ok(ids.every((id) => /^[0-9a-z]{26}$/.test(id)), 'base-36, 26 characters');
        assert.deepEqual([...ids].sort(), ids, 'text order = append order');
        assert.equal(new Set(ids).size, ids.length);
      });
    });

    describe('two instances on one database', () => {
      it('concurrent writers lose nothing and the audit chain stays valid', async () => {
        const place = b.fresh();
        const s1 = place.make();
        const s2 = place.make();
        await Promise.all([s1.open(), s2.open()]);
        const work = (s: Store, tag: string) => (async () => {
          const out: string[] = [];
          for (let round = 0; round < 10; round++) {
            const batch = await Promise.all(Array.from({ length: 20 }, (_, i) => s.appendMessage({ channel: tag, raw: Buffer.from(`${tag}-${round}-${i}`) })));
            await Promise.all(Array.from({ length: 5 }, (_, i) => s.appendAudit({ node: tag, action: 'stored', outcome: 'success', correlationId: `${tag}-${round}-${i}` })));
            out.push(...batch.map((m) => m.id));
          }
          return out;
        })();
        const [ids1, ids2] = await Promise.all([work(s1, 'one'), work(s2, 'two')]);
        assert.equal(await s1.countMessages({}), 400);
        for (const id of [...ids1, ...ids2]) assert.ok(await s2.getMessage(id), 'every resolved append is present');
        const audit = await s2.queryAudit({});
        assert.equal(audit.length, 100);
        verifyChain(audit);
        assert.deepEqual(await s1.auditHead(), { seq: 100, hash: audit[99]!.hash });
      });

      it('opening twice at once migrates once; reopening keeps data', async () => {
        const place = b.fresh();
        const [s1, s2] = [place.make(), place.make()];
        await Promise.all([s1.open(), s2.open()]);
        const m = await s1.appendMessage({ channel: 'c', raw: binary });
        await s1.close();
        await s2.close();
        const s3 = place.make();
        await s3.open();
        assert.ok((await s3.getMessage(m.id))?.raw.equals(binary));
      });
    });

    describe('retention', () => {
      it('prunes old processed messages and done outbox items only', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock, retentionDays: 7 });
        const processed = await s.appendMessage({ channel: 'c', raw: Buffer.from('p') });
        const received = await s.appendMessage({ channel: 'c', raw: Buffer.from('r') });
        const errored = await s.appendMessage({ channel: 'c', raw: Buffer.from('e') });
        const referenced = await s.appendMessage({ channel: 'c', raw: Buffer.from('q') });
        await s.setMessageStatus(processed.id, 'processed');
        await s.setMessageStatus(errored.id, 'errored');
        await s.setMessageStatus(referenced.id, 'processed');
        const q = await s.putQuarantine({ reasonCode: 'X', reason: 'r', owner: 'o', node: 'n', messageId: referenced.id, original: '{}', contentType: 'json' });
        const done = await s.enqueue({ destination: 'd', payload: Buffer.from('d') });
        const pending = await s.enqueue({ destination: 'e', payload: Buffer.from('p') });
        await s.claimNext('d');
        await s.ackOutbox(done.id);
        await s.appendAudit({ node: 'n', action: 'a', outcome: 'success' });

        assert.deepEqual(await s.prune!(new Date(T0 + 6 * 86_400_000)), { messages: 0, outbox: 0 }, 'younger than 7 days');
        clk.advance(8 * 86_400_000);
        assert.deepEqual(await s.prune!(), { messages: 1, outbox: 1 });
        assert.equal(await s.getMessage(processed.id), undefined);
        assert.ok(await s.getMessage(received.id));
        assert.ok(await s.getMessage(errored.id));
        assert.ok(await s.getMessage(referenced.id), 'referenced by an open quarantine item');
        assert.ok(await s.getQuarantine(q.id));
        assert.deepEqual((await s.listOutbox({})).map((i) => i.id), [pending.id]);
        assert.equal((await s.queryAudit({})).length, 1, 'audit untouched');
      });

      it('prunes on open when retentionDays is set (durability normal)', async () => {
        const place = b.fresh();
        const old = place.make({ clock: () => new Date(T0) });
        await old.open();
        const m = await old.appendMessage({ channel: 'c', raw: Buffer.from('old') });
        await old.setMessageStatus(m.id, 'processed');
        await old.close();
        const s = place.make({ retentionDays: 30, durability: 'normal', clock: () => new Date(T0 + 31 * 86_400_000) });
        await s.open();
        // The open-time prune is queued before this write, so it has committed when this resolves.
        await s.appendMessage({ channel: 'c', raw: Buffer.from('new') });
        assert.equal(await s.getMessage(m.id), undefined);
        assert.equal(await s.countMessages({}), 1);
      });

      it('prunes a backlog larger than one chunk in several transactions', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock, retentionDays: 1 });
        const n = 5003;
        const ms = await Promise.all(Array.from({ length: n }, (_, i) => s.appendMessage({ channel: 'c', raw: Buffer.from([i & 0xff]) })));
        await Promise.all(ms.map((m) => s.setMessageStatus(m.id, 'processed')));
        const keep = await s.appendMessage({ channel: 'c', raw: Buffer.from('keep') });
        clk.advance(2 * 86_400_000);
        const commitsBefore = s.stats!().commits;
        assert.deepEqual(await s.prune!(), { messages: n, outbox: 0 });
        assert.ok(s.stats!().commits - commitsBefore >= 2, 'more than one transaction');
        assert.equal(await s.countMessages({}), 1);
        assert.ok(await s.getMessage(keep.id));
        await s.close();
        await rejectsCode(s.prune!(), 'STORE_CLOSED');
      });

      it('a failing background retention run is reported to onError, not thrown away', async () => {
        const seen: { code: string; message: string }[] = [];
        // An invalid clock makes the on-open retention run fail (STORE_INVALID); a throwing
        // reporter must not turn that into an unhandled rejection.
        const s = await openFresh({ retentionDays: 1, clock: () => new Date(Number.NaN), onError: (e) => { seen.push({ code: e.code, message: e.message }); throw new Error('reporter broke'); } });
        for (let i = 0; i < 20 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(seen, [{ code: 'STORE_INVALID', message: 'now must be a valid Date' }]);
        await s.close();
      });

      it('retentionDays 0 keeps everything', async () => {
        const clk = manualClock();
        const s = await openFresh({ clock: clk.clock });
        const m = await s.appendMessage({ channel: 'c', raw: Buffer.from('p') });
        await s.setMessageStatus(m.id, 'processed');
        clk.advance(3650 * 86_400_000);
        assert.deepEqual(await s.prune!(), { messages: 0, outbox: 0 });
        assert.ok(await s.getMessage(m.id));
      });
    });

    describe('bad input and lifecycle', () => {
      it('refuses an oversized record before queueing, with STORE_RECORD_TOO_LARGE', async () => {
        const s = await openFresh({ maxRecordBytes: 1024 });
        const before = s.stats!();
        await rejectsCode(s.appendMessage({ channel: 'c', raw: Buffer.alloc(1025) }), 'STORE_RECORD_TOO_LARGE');
        await rejectsCode(s.enqueue({ destination: 'd', payload: Buffer.alloc(4096) }), 'STORE_RECORD_TOO_LARGE');
        await rejectsCode(s.putQuarantine({ reasonCode: 'X', reason: 'r', owner: 'o', node: 'n', original: 'é'.repeat(600), contentType: 'text' }), 'STORE_RECORD_TOO_LARGE');
        await rejectsCode(s.appendAudit({ node: 'n', action: 'a', outcome: 'x', detail: { big: 'y'.repeat(2000) } }), 'STORE_RECORD_TOO_LARGE');
        assert.deepEqual(s.stats!(), before, 'nothing reached the write path');
        await s.appendMessage({ channel: 'c', raw: Buffer.alloc(1024) });
        assert.equal(await s.countMessages({}), 1);
      });

      it('refuses malformed arguments with STORE_INVALID', async () => {
        const s = await openFresh();
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        await rejectsCode(s.appendMessage({ channel: 'c', raw: 'text' as never }), 'STORE_INVALID');
        await rejectsCode(s.appendMessage({ channel: '', raw: Buffer.from('x') }), 'STORE_INVALID');
        await rejectsCode(s.appendMessage({ channel: 'c', raw: Buffer.from('x'), meta: circular }), 'STORE_INVALID');
        await rejectsCode(s.appendMessage({ channel: 'c', raw: Buffer.from('x'), meta: [1] as never }), 'STORE_INVALID');
        await rejectsCode(s.appendMessage(null as never), 'STORE_INVALID');
        await rejectsCode(s.enqueue({ destination: 42 as never, payload: Buffer.from('x') }), 'STORE_INVALID');
        await rejectsCode(s.claimNext(''), 'STORE_INVALID');
        await rejectsCode(s.putQuarantine({ reasonCode: 'X', reason: 'r', owner: 'o', node: 'n', original: {} as never, contentType: 'json' }), 'STORE_INVALID');
        await rejectsCode(s.findMessages({ limit: -1 }), 'STORE_INVALID');
        await rejectsCode(s.listOutbox({ state: 'lost' as never }), 'STORE_INVALID');
        assert.equal(await s.countMessages({}), 0);
      });

      it('close flushes queued writes; use after close is STORE_CLOSED', async () => {
        const s = await openFresh();
        const pending = Array.from({ length: 50 }, (_, i) => s.appendMessage({ channel: 'c', raw: Buffer.from(String(i)) }));
        await s.close();
        const done = await Promise.all(pending);
        assert.equal(done.length, 50);
        await rejectsCode(s.appendMessage({ channel: 'c', raw: Buffer.from('x') }), 'STORE_CLOSED');
        await rejectsCode(s.getMessage(done[0]!.id), 'STORE_CLOSED');
        await rejectsCode(s.appendAudit({ node: 'n', action: 'a', outcome: 'x' }), 'STORE_CLOSED');
        await rejectsCode(s.open(), 'STORE_CLOSED');
        await s.close(); // idempotent
      });

      it('use before open is STORE_CLOSED', async () => {
        const s = b.fresh().make();
        await rejectsCode(s.appendMessage({ channel: 'c', raw: Buffer.from('x') }), 'STORE_CLOSED');
        await rejectsCode(s.countMessages({}), 'STORE_CLOSED');
      });
    });
  });
}

contract(sqliteBackend());
contract(postgresBackend());
contract(sqliteBackend({ writerThread: true }));

describe('store options and unreachable servers', () => {
  it('refuses bad options with STORE_INVALID', () => {
    assert.throws(() => createStore({ backend: 'mongo' as never }), { code: 'STORE_INVALID' });
    assert.throws(() => createStore({ backend: 'sqlite' }), { code: 'STORE_INVALID' });
    assert.throws(() => createStore({ backend: 'postgres', url: 'postgres://x', schema: 'a"; drop' }), { code: 'STORE_INVALID' });
    assert.throws(() => createStore({ backend: 'sqlite', file: '/tmp/x', durability: 'paranoid' as never }), { code: 'STORE_INVALID' });
  });

  it('a closed PostgreSQL port rejects STORE_UNAVAILABLE quickly', async () => {
    const s = createStore({ backend: 'postgres', url: 'postgres://postgres@127.0.0.1:1/test', timeoutMs: 2000 });
    const t = Date.now();
    await rejectsCode(s.open(), 'STORE_UNAVAILABLE');
    assert.ok(Date.now() - t < 3000, `took ${Date.now() - t} ms`);
    await rejectsCode(s.appendMessage({ channel: 'c', raw: Buffer.from('x') }), 'STORE_CLOSED');
  });

  it('a server that never answers rejects STORE_UNAVAILABLE within the timeout', async () => {
    // A listener that accepts TCP but never speaks the protocol: the connect timeout must fire.
    const sockets: Socket[] = [];
    const server = createServer((sock) => { sockets.push(sock); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const s = createStore({ backend: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/test`, timeoutMs: 500 });
      const t = Date.now();
      await rejectsCode(s.open(), 'STORE_UNAVAILABLE');
      assert.ok(Date.now() - t < 2500, `took ${Date.now() - t} ms`);
    } finally {
      for (const so of sockets) so.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('a PostgreSQL lock held elsewhere makes a write fail STORE_UNAVAILABLE within the timeout, not hang', { skip: skipWithoutPg }, async () => {
    const pg = postgresBackend();
    const place = pg.fresh();
    const s = place.make({ timeoutMs: 500 });
    await s.open();
    const blocker = new Client({ connectionString: pgUrl });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM "${place.opts.schema!}".audit_head FOR UPDATE`);
      const t = Date.now();
      await rejectsCode(s.appendAudit({ node: 'n', action: 'a', outcome: 'success' }), 'STORE_UNAVAILABLE');
      assert.ok(Date.now() - t < 2500, `took ${Date.now() - t} ms`);
      await blocker.query('ROLLBACK');
      const r = await s.appendAudit({ node: 'n', action: 'a', outcome: 'success' });
      assert.equal(r.seq, 1, 'the store recovers once the lock is gone; the failed append left no trace');
    } finally {
      await blocker.end();
      await pg.cleanup();
    }
  });

  it('an unwritable SQLite path rejects STORE_UNAVAILABLE', async () => {
    // The "folder" is a regular file, so the parent folder cannot be created.
    const dir = mkdtempSync(join(tmpdir(), 'nhs-store-bad-'));
    writeFileSync(join(dir, 'file'), 'x');
    try {
      const s = createStore({ backend: 'sqlite', file: join(dir, 'file', 'sub', 'x.sqlite') });
      await rejectsCode(s.open(), 'STORE_UNAVAILABLE');
      await rejectsCode(s.appendMessage({ channel: 'c', raw: Buffer.from('x') }), 'STORE_CLOSED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a full disk is STORE_FULL, not STORE_UNAVAILABLE: SQLite SQLITE_FULL and PostgreSQL 53100 disk_full', () => {
    // A real SQLITE_FULL from SQLite itself: a database capped by max_page_count fills up.
    const db = new Database(':memory:');
    db.pragma('max_page_count = 3');
    db.exec('CREATE TABLE t (b BLOB)');
    let full: unknown;
    try {
      for (let i = 0; i < 100; i++) db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(4096));
    } catch (e) {
      full = e;
    } finally {
      db.close();
    }
    assert.equal((full as { code?: string })?.code, 'SQLITE_FULL');
    assert.equal(sqliteMapError(full).code, 'STORE_FULL');
    assert.equal(sqliteMapError(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })).code, 'STORE_UNAVAILABLE');
    const pgFull = Object.assign(new Error('could not extend file: No space left on device'), { code: '53100' });
    assert.equal(pgMapError(pgFull).code, 'STORE_FULL');
    assert.equal(pgMapError(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' })).code, 'STORE_UNAVAILABLE');
  });
});
