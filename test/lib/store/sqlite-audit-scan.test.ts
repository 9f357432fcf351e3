/** The read-only SQLite audit range scan used by the parallel chain verify. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { scanSqliteAudit, type UnreadableAuditRow } from '../../../lib/store/sqlite-audit-scan';
import type { AuditRecord } from '../../../lib/store/types';
import { openBackend } from '../audit/stores';

type Seen = AuditRecord | UnreadableAuditRow;

describe('scanSqliteAudit', () => {
  it('returns exactly the stored records of a seq range, stops when asked, reports an unreadable row', async () => {
    const t = await openBackend('sqlite');
    try {
      for (let i = 1; i <= 10; i++) await t.store.appendAudit({ node: 'n', action: 'a', outcome: 'success', subject: i === 2 ? '9990000018' : null, detail: i % 2 ? { i } : null });
      assert.ok(t.store.location.backend === 'sqlite');
      const file = t.store.location.file;
      const all = await t.store.queryAudit({});
      const range: Seen[] = [];
      scanSqliteAudit(file, 3, 7, (r) => { range.push(r); return true; });
      assert.deepEqual(range, all.slice(3, 7), 'same records as queryAudit, seq 4..7');
      const open: Seen[] = [];
      scanSqliteAudit(file, 8, null, (r) => { open.push(r); return true; });
      assert.deepEqual(open.map((r) => r.seq), [9, 10]);
      let calls = 0;
      scanSqliteAudit(file, 0, null, () => ++calls < 2);
      assert.equal(calls, 2, 'stops when visit returns false');
      await t.sql("UPDATE audit SET detail = '{\"trunc' WHERE seq = 5");
      const seen: Seen[] = [];
      scanSqliteAudit(file, 4, 6, (r) => { seen.push(r); return true; });
      assert.deepEqual(seen.map((r) => ('unreadable' in r ? `!${r.seq}` : r.seq)), ['!5', 6]);
      // The scan's connection is closed: the store can still write.
      assert.equal((await t.store.appendAudit({ node: 'n', action: 'a', outcome: 'success' })).seq, 11);
      assert.throws(() => scanSqliteAudit(join(tmpdir(), 'nhs-no-such-dir', 'x.db'), 0, null, () => true));
    } finally {
      await t.close();
    }
  });
});
