import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { auditHash } from '../../../lib/store/chain';
import { verifyChain, verifyStore, auditPages, checkpointHmac, CHECKPOINT_ACTION } from '../../../lib/audit/verify';
import { pruneAudit } from '../../../lib/audit/retention';
import { makeChain } from './chain-fixture';
import { backends, openBackend, type TestBackend } from './stores';

describe('verifyChain over a list of records', () => {
  it('accepts an intact chain and an empty one', async () => {
    const c = makeChain(20);
    const last = c[19]!;
    assert.deepEqual(await verifyChain(c, { head: { seq: 20, hash: last.hash } }), { ok: true, count: 20, firstSeq: 1, lastSeq: 20 });
    assert.equal((await verifyChain([], { head: { seq: 0, hash: '0'.repeat(64) } })).ok, true);
  });

  it('names a modified record', async () => {
    const c = makeChain(10);
    c[4] = { ...c[4]!, outcome: 'failure' };
    const r = await verifyChain(c);
    assert.equal(r.ok, false);
    assert.deepEqual([r.problem?.seq, r.problem?.reason], [5, 'modified']);
  });

  it('names a modified and re-hashed record by the broken link after it', async () => {
    const c = makeChain(10);
    const { hash: _h, ...rest } = { ...c[4]!, subject: '9990000026' };
    c[4] = { ...rest, hash: auditHash(rest) };
    const r = await verifyChain(c);
    assert.deepEqual([r.problem?.seq, r.problem?.reason], [6, 'broken-link']);
  });

  it('names a deleted record, a reordered pair, a duplicate and a truncated tail', async () => {
    const c = makeChain(10);
    const del = c.filter((r) => r.seq !== 4);
    assert.deepEqual((await verifyChain(del)).problem?.seq, 4);
    assert.equal((await verifyChain(del)).problem?.reason, 'deleted');

    const swapped = [...c];
    [swapped[6], swapped[7]] = [{ ...c[7]!, seq: 7 }, { ...c[6]!, seq: 8 }];
    const sw = await verifyChain(swapped);
    assert.deepEqual([sw.problem?.seq, sw.problem?.reason], [7, 'reordered']);

    const dup = [...c.slice(0, 5), c[4]!, ...c.slice(5)];
    assert.deepEqual((await verifyChain(dup)).problem, { seq: 5, reason: 'inserted', message: 'duplicate record with seq 5' });

    const head = { seq: 10, hash: c[9]!.hash };
    const tr = await verifyChain(c.slice(0, 7), { head });
    assert.deepEqual([tr.problem?.seq, tr.problem?.reason], [8, 'truncated']);
  });

  it('flags a well-formed record appended beyond the head as inserted', async () => {
    const c = makeChain(6);
    const r = await verifyChain(c, { head: { seq: 5, hash: c[4]!.hash } });
    assert.deepEqual([r.problem?.seq, r.problem?.reason], [6, 'inserted']);
  });

  it('detects a tail removed when the head was rolled back too, using a trusted checkpoint', async () => {
    const c = makeChain(10);
    const r = await verifyChain(c.slice(0, 6), { head: { seq: 6, hash: c[5]!.hash }, checkpoints: [{ seq: 9, hash: c[8]!.hash }] });
    assert.deepEqual([r.problem?.seq, r.problem?.reason], [7, 'truncated']);
  });

  it('streams async pages and starts from an anchor', async () => {
    const c = makeChain(12);
    async function* pages() { yield c.slice(4, 8); yield c.slice(8); }
    const r = await verifyChain(pages(), { anchor: { seq: 4, hash: c[3]!.hash }, head: { seq: 12, hash: c[11]!.hash } });
    assert.equal(r.ok, true);
    assert.equal(r.count, 8);
    const noAnchor = await verifyChain(pages());
    assert.deepEqual([noAnchor.problem?.seq, noAnchor.problem?.reason], [1, 'deleted']);
  });

  it('survives hostile input (non-array detail, missing fields) by reporting, not throwing', async () => {
    const c = makeChain(3);
    const bad = [c[0]!, { ...c[1]!, detail: 'x' as unknown as Record<string, unknown> }, c[2]!];
    const r = await verifyChain(bad);
    assert.deepEqual([r.problem?.seq, r.problem?.reason], [2, 'modified']);
  });
});

for (const b of backends) {
  describe(`audit tamper detection on ${b.name}`, { skip: b.skip }, () => {
    async function withChain(n: number, fn: (t: TestBackend) => Promise<void>): Promise<void> {
      const t = await openBackend(b.name);
      try {
        for (let i = 1; i <= n; i++) {
          await t.store.appendAudit({ node: 'n1', action: 'hl7.receive', outcome: 'success', correlationId: `MSG${i}`, subject: '9000000009', messageId: `m${i}`, detail: { i } });
        }
        await fn(t);
      } finally {
        await t.close();
      }
    }
    const verify = async (t: TestBackend) => verifyStore(t.store, { pageSize: 4 });

    it('verifies an intact store', async () => withChain(10, async (t) => {
      const r = await verify(t);
      assert.equal(r.ok, true, r.problem?.message);
      assert.equal(r.count, 10);
      assert.equal(r.head?.seq, 10);
    }));

    it('edit → modified at that seq', async () => withChain(10, async (t) => {
      await t.sql("UPDATE audit SET outcome = 'failure' WHERE seq = 6");
      assert.deepEqual([(await verify(t)).problem?.seq, (await verify(t)).problem?.reason], [6, 'modified']);
    }));

    it('edit of the subject (NHS number) → modified', async () => withChain(5, async (t) => {
      await t.sql("UPDATE audit SET subject = '9990000018' WHERE seq = 2");
      assert.deepEqual([(await verify(t)).problem?.seq, (await verify(t)).problem?.reason], [2, 'modified']);
    }));

    it('delete → deleted at that seq', async () => withChain(10, async (t) => {
      await t.sql('DELETE FROM audit WHERE seq = 3');
      const r = await verify(t);
      assert.deepEqual([r.problem?.seq, r.problem?.reason], [3, 'deleted']);
    }));

    it('delete of the first records without a checkpoint → deleted at 1', async () => withChain(6, async (t) => {
      await t.sql('DELETE FROM audit WHERE seq <= 2');
      const r = await verify(t);
      assert.deepEqual([r.problem?.seq, r.problem?.reason], [1, 'deleted']);
    }));

    it('insert of a forged, correctly hashed record at the tail → inserted', async () => withChain(5, async (t) => {
      const last = (await t.store.queryAudit({ order: 'desc', limit: 1 }))[0]!;
      const forged = { seq: 6, at: new Date().toISOString(), node: 'n1', flow: null, action: 'hl7.receive', outcome: 'success', correlationId: 'X', subject: null, actor: null, messageId: null, detail: null, prevHash: last.hash };
      await t.sql('INSERT INTO audit (seq, at, node, flow, action, outcome, correlation_id, subject, actor, message_id, detail, prev_hash, hash) VALUES ($1, $2, $3, NULL, $4, $5, $6, NULL, NULL, NULL, NULL, $7, $8)',
        [6, forged.at, 'n1', 'hl7.receive', 'success', 'X', forged.prevHash, auditHash(forged)]);
      const r = await verify(t);
      assert.deepEqual([r.problem?.seq, r.problem?.reason], [6, 'inserted']);
    }));

    it('insert in the middle (renumbering the rows after it) → first bad record named', async () => withChain(6, async (t) => {
      await t.sql('UPDATE audit SET seq = seq + 100 WHERE seq >= 4');
      await t.sql('UPDATE audit SET seq = seq - 99 WHERE seq >= 104');
      await t.sql("INSERT INTO audit (seq, at, node, action, outcome, prev_hash, hash) VALUES (4, '2026-01-01T00:00:00.000Z', 'n1', 'x', 'success', 'ab', 'cd')");
      const r = await verify(t);
      assert.equal(r.ok, false);
      assert.equal(r.problem?.seq, 4);
    }));

    it('reorder (swap two rows) → reordered at the first of them', async () => withChain(8, async (t) => {
      await t.sql('UPDATE audit SET seq = -1 WHERE seq = 4');
      await t.sql('UPDATE audit SET seq = 4 WHERE seq = 5');
      await t.sql('UPDATE audit SET seq = 5 WHERE seq = -1');
      const r = await verify(t);
      assert.deepEqual([r.problem?.seq, r.problem?.reason], [4, 'reordered']);
    }));

    it('reorder of row contents (seq column kept) → reordered', async () => withChain(8, async (t) => {
      // Swap everything but seq between rows 4 and 5 by moving both out of the way first.
      await t.sql('UPDATE audit SET seq = seq + 1000 WHERE seq IN (4, 5)');
      await t.sql('INSERT INTO audit (seq, at, node, flow, action, outcome, correlation_id, subject, actor, message_id, detail, prev_hash, hash) SELECT 4, at, node, flow, action, outcome, correlation_id, subject, actor, message_id, detail, prev_hash, hash FROM audit WHERE seq = 1005');
      await t.sql('INSERT INTO audit (seq, at, node, flow, action, outcome, correlation_id, subject, actor, message_id, detail, prev_hash, hash) SELECT 5, at, node, flow, action, outcome, correlation_id, subject, actor, message_id, detail, prev_hash, hash FROM audit WHERE seq = 1004');
      await t.sql('DELETE FROM audit WHERE seq > 1000');
      const r = await verify(t);
      assert.deepEqual([r.problem?.seq, r.problem?.reason], [4, 'reordered']);
    }));

    it('truncate (tail removed) → truncated, by the head', async () => withChain(10, async (t) => {
      await t.sql('DELETE FROM audit WHERE seq > 7');
      const r = await verify(t);
      assert.deepEqual([r.problem?.seq, r.problem?.reason], [8, 'truncated']);
    }));

    it('retention: prune behind a signed checkpoint keeps the rest verifiable; forging it fails', async () => withChain(12, async (t) => {
      const out = await pruneAudit(t.store, { throughSeq: 5, hmacKey: 'k3y' });
      assert.deepEqual([out.pruned, out.prunedThrough, out.checkpointSeq], [5, 5, 13]);
      const ok = await verifyStore(t.store, { hmacKey: 'k3y' });
      assert.equal(ok.ok, true, ok.problem?.message);
      assert.equal(ok.firstSeq, 6);
      const cps = await t.store.queryAudit({ action: CHECKPOINT_ACTION });
      assert.equal((cps[0]?.detail as any).hmac, checkpointHmac('k3y', 5, (cps[0]?.detail as any).anchorHash));
      // The wrong key (or an attacker without it) cannot vouch for the checkpoint.
      const wrong = await verifyStore(t.store, { hmacKey: 'other' });
      assert.deepEqual([wrong.problem?.reason, wrong.problem?.seq], ['checkpoint', 5]);
      // Deleting more than the checkpoint covers is still caught.
      await t.sql('DELETE FROM audit WHERE seq = 6');
      const more = await verifyStore(t.store, { hmacKey: 'k3y' });
      assert.deepEqual([more.problem?.seq, more.problem?.reason], [1, 'deleted']);
    }));

    it('retention twice at once: one prunes, the other finds the range gone; appends meanwhile stay chained', async () => withChain(10, async (t) => {
      const settled = await Promise.allSettled([
        pruneAudit(t.store, { throughSeq: 4, actor: 'ops' }),
        t.store.appendAudit({ node: 'n', action: 'during', outcome: 'success' }),
        pruneAudit(t.store, { throughSeq: 4, actor: 'ops' }),
      ]);
      assert.equal(settled[1].status, 'fulfilled');
      const pruned = [settled[0], settled[2]];
      assert.equal(pruned.filter((r) => r.status === 'fulfilled').length, 1);
      const lost = pruned.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      // Usually the store's check under the write lock; if the winner commits while the loser is
      // still verifying, the loser's verify sees records vanish and refuses instead. Never both.
      assert.ok(['STORE_NOT_FOUND', 'AUDIT_CHAIN_INVALID'].includes((lost?.reason as { code?: string }).code ?? ''));
      assert.equal((await t.store.queryAudit({ action: CHECKPOINT_ACTION })).length, 1);
      assert.equal((await t.store.queryAudit({ afterSeq: 0, limit: 1 }))[0]?.seq, 5);
      const ok = await verifyStore(t.store);
      assert.equal(ok.ok, true, ok.problem?.message);
    }));

    it('refuses to prune a tampered chain', async () => withChain(6, async (t) => {
      await t.sql("UPDATE audit SET action = 'x' WHERE seq = 2");
      await assert.rejects(pruneAudit(t.store, { throughSeq: 3 }), { code: 'AUDIT_CHAIN_INVALID' });
      assert.equal((await t.store.queryAudit({})).length, 6);
    }));

    it('pages with keyset paging in seq order', async () => withChain(9, async (t) => {
      const seqs: number[] = [];
      for await (const p of auditPages(t.store, 0, 4)) seqs.push(...p.map((r) => r.seq));
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }));
  });
}

describe('auditContent fast path', () => {
  it('produces exactly the generic canonical JSON, including undefined/null/odd values', async () => {
    const { auditContent, canonicalJson } = await import('../../../lib/store/chain');
    const generic = (r: any) => canonicalJson({ seq: r.seq, at: r.at, node: r.node, flow: r.flow, action: r.action, outcome: r.outcome, correlationId: r.correlationId, subject: r.subject, actor: r.actor, messageId: r.messageId, detail: r.detail, prevHash: r.prevHash });
    const samples: any[] = [
      ...makeChain(5),
      { seq: 1, at: 'x', node: 'n"\\\u2028é', flow: null, action: 'a', outcome: 'o', correlationId: undefined, subject: null, actor: undefined, messageId: null, detail: { z: [1, { b: 2, a: undefined }], a: NaN, 'k"': 'v' }, prevHash: '0' },
      { seq: 2.5, at: '\u0000\t\x7f', node: '', flow: '', action: '', outcome: '', correlationId: '', subject: '', actor: '', messageId: '', detail: null, prevHash: '' },
    ];
    for (const r of samples) assert.equal(auditContent(r), generic(r));
  });
});

describe('auditHash', () => {
  it('is sha256 over prevHash, a newline and the canonical content (one-shot and streaming agree)', async () => {
    const { auditHash, auditContent } = await import('../../../lib/store/chain');
    const { createHash } = await import('node:crypto');
    for (const r of makeChain(3)) {
      assert.equal(auditHash(r), createHash('sha256').update(`${r.prevHash}\n${auditContent(r)}`).digest('hex'));
      assert.equal(auditHash(r), r.hash);
    }
  });
});

describe('parallel SQLite verify agrees with the sequential one', () => {
  it('ok on an intact chain; on tampering falls back and names the same record', async () => {
    const { verifySqliteParallel } = await import('../../../lib/audit/verify-parallel');
    const t = await openBackend('sqlite');
    try {
      for (let i = 1; i <= 60; i++) await t.store.appendAudit({ node: 'n', action: 'a', outcome: 'success', subject: '9000000009', detail: { i, z: { b: 1, a: 2 } } });
      const ok = await verifySqliteParallel(t.store, t.opts.file!, { workers: 3, minRecords: 0 });
      assert.deepEqual([ok.ok, ok.count, ok.lastSeq], [true, 60, 60]);
      for (const [sql, seq, reason] of [["UPDATE audit SET outcome = 'x' WHERE seq = 33", 33, 'modified'], ['DELETE FROM audit WHERE seq = 21', 21, 'deleted'], ['DELETE FROM audit WHERE seq > 55', 21, 'deleted']] as const) {
        await t.sql(sql);
        const r = await verifySqliteParallel(t.store, t.opts.file!, { workers: 3, minRecords: 0 });
        assert.deepEqual([r.ok, r.problem?.seq, r.problem?.reason], [false, seq, reason]);
      }
    } finally {
      await t.close();
    }
  });
});
