/**
 * Schema v4 (ESR state) on both backends: a store whose schema_version has a gap — a lower
 * version listed but never applied, as when another branch's v3 merges after v4 has shipped — gets
 * the missing version applied and does not run an applied one again. Here the gap is v2: a store
 * made with v1 and v4 only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { createStore } from '../../../lib/store';
import { SQLITE_MIGRATIONS, postgresMigrations } from '../../../lib/store/schema';
import { pgUrl, skipWithoutPg } from '../../helpers/shared';

const v = (list: readonly { version: number; sql: string }[], n: number): string => list.find((m) => m.version === n)!.sql;

describe('ESR state schema v4 and the migration runner', () => {
  it('SQLite: a missing lower version is applied, applied ones are not run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esr-mig-'));
    const file = join(dir, 'gap.sqlite');
    try {
      const db = new Database(file);
      db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
      db.exec(v(SQLITE_MIGRATIONS, 1));
      db.exec(v(SQLITE_MIGRATIONS, 4));
      db.exec('INSERT INTO schema_version (version) VALUES (1), (4)');
      db.prepare("INSERT INTO esr_files (source, name, hash, size, status, started_at) VALUES ('s', 'f', 'h', 1, 'done', '2026-01-01')").run();
      db.close();
      const s = createStore({ backend: 'sqlite', file });
      await s.open();
      assert.equal((await s.esrState!().getFile('s', 'f', 'h'))?.status, 'done', 'v4 data kept (v4 not re-run)');
      await s.close();
      const check = new Database(file, { readonly: true });
      const versions = (check.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[]).map((r) => r.version);
      const cols = (check.prepare('PRAGMA table_info(outbox)').all() as { name: string }[]).map((c) => c.name);
      check.close();
      assert.deepEqual(versions, SQLITE_MIGRATIONS.map((m) => m.version).sort((a, b) => a - b), 'every listed version applied once');
      assert.ok(cols.includes('lease_owner'), 'v2 applied after v4');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: the same', { skip: skipWithoutPg }, async () => {
    const schema = `esr_mig_${process.pid}_${Date.now()}`;
    const c = new Client({ connectionString: pgUrl });
    await c.connect();
    try {
      const list = postgresMigrations(schema);
      await c.query(`CREATE SCHEMA "${schema}"`);
      await c.query(`CREATE TABLE "${schema}".schema_version (version INTEGER NOT NULL)`);
      await c.query(v(list, 1));
      await c.query(v(list, 4));
      await c.query(`INSERT INTO "${schema}".schema_version (version) VALUES (1), (4)`);
      await c.query(`INSERT INTO "${schema}".esr_files (source, name, hash, size, status, started_at) VALUES ('s', 'f', 'h', 1, 'done', '2026-01-01')`);
      const s = createStore({ backend: 'postgres', url: pgUrl!, schema });
      await s.open();
      assert.equal((await s.esrState!().getFile('s', 'f', 'h'))?.status, 'done');
      await s.close();
      const versions = await c.query<{ version: number }>(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(versions.rows.map((r) => r.version), postgresMigrations(schema).map((m) => m.version).sort((a, b) => a - b), 'every listed version applied once');
      const col = await c.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'outbox' AND column_name = 'lease_owner'`, [schema]);
      assert.equal(col.rowCount, 1);
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });

  it('a writer-thread SQLite store keeps ESR and alert state too (on its reader connection, beside the writer thread)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esr-wt-'));
    const s = createStore({ backend: 'sqlite', file: join(dir, 'store.sqlite'), writerThread: true });
    try {
      await s.open();
      const esr = s.esrState!();
      const at = '2026-12-06T00:00:00.000Z';
      // Writes on both connections at once: each waits for the other's lock, none fails.
      const appends = Promise.all(Array.from({ length: 50 }, (_, i) => s.appendMessage({ channel: 'c', raw: Buffer.from(`MSH|^~\\&|${i}`) })));
      await esr.beginFile({ source: 's', name: 'f', hash: 'h', seq: 1, kind: 'full', size: 1, at });
      await esr.finishFile('s', 'f', 'h', 'done', { rows: 0 }, null, at);
      await appends;
      assert.equal((await esr.getFile('s', 'f', 'h'))?.status, 'done');
      const row = { monitor: 'm', alertId: 'a', state: 'open' as const, emitted: 'open' as const, heldSince: null, clearSince: null, openedAt: at, resolvedAt: null, data: { n: 1 }, updatedAt: at };
      await s.alertState!().save([row]);
      assert.deepEqual((await s.alertState!().listOpen()).map((r) => r.alertId), ['a']);
      assert.equal(await s.countMessages({}), 50);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => s.esrState!(), (e: { code?: string }) => e.code === 'STORE_CLOSED');
  });
});
