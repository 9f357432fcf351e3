/**
 * Schema upgrades: a store created by an earlier version opens, is migrated once, and keeps its
 * rows. v1 → v2 adds `outbox.lease_owner`; an item a v1 sender left inflight has no owner, so the
 * first sender to start takes it back (what v1 did).
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

const T = '2030-01-01T00:00:00.000Z';
const LATER = '2030-01-01T00:05:00.000Z';
const row = ['o1', 'd', Buffer.from('MSH|^~\\&|A'), 'C1', '{}', 'inflight', 1, LATER, null, T, T];
const insert = (t: string, ph: (i: number) => string): string =>
  `INSERT INTO ${t} (id, destination, payload, control_id, meta, state, attempts, next_attempt_at, last_error, created_at, updated_at) VALUES (${row.map((_, i) => ph(i)).join(', ')})`;

describe('store schema upgrade v1 → v2', () => {
  it('SQLite: a v1 file opens, is migrated to v2 once, and its inflight item is recovered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhs-migrate-'));
    const file = join(dir, 'v1.sqlite');
    try {
      const db = new Database(file);
      db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
      db.exec(SQLITE_MIGRATIONS[0]!.sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (1)').run();
      db.prepare(insert('outbox', () => '?')).run(row);
      db.close();

      const s = createStore({ backend: 'sqlite', file, clock: () => new Date(T) });
      await s.open();
      assert.equal(await s.recoverOutbox('d', 'owner-new'), 1, 'an unowned v1 lease is taken back');
      assert.equal((await s.claimNext('d', 1000, 'owner-new'))?.id, 'o1');
      await s.close();
      const check = new Database(file, { readonly: true });
      const versions = check.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[];
      const owner = check.prepare('SELECT lease_owner FROM outbox WHERE id = ?').get('o1') as { lease_owner: string };
      check.close();
      assert.deepEqual(versions.map((v) => v.version), SQLITE_MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
      assert.equal(owner.lease_owner, 'owner-new');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: a v1 schema is migrated to v2 once, and its inflight item is recovered', { skip: skipWithoutPg }, async () => {
    const schema = `nhs_migrate_${process.pid}_${Date.now()}`;
    const c = new Client({ connectionString: pgUrl });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA "${schema}"`);
      await c.query(`CREATE TABLE "${schema}".schema_version (version INTEGER NOT NULL)`);
      await c.query(postgresMigrations(schema)[0]!.sql);
      await c.query(`INSERT INTO "${schema}".schema_version (version) VALUES (1)`);
      await c.query(insert(`"${schema}".outbox`, (i) => `$${i + 1}`), row);

      const s = createStore({ backend: 'postgres', url: pgUrl!, schema, clock: () => new Date(T) });
      await s.open();
      assert.equal(await s.recoverOutbox('d', 'owner-new'), 1);
      assert.equal((await s.claimNext('d', 1000, 'owner-new'))?.id, 'o1');
      await s.close();
      const versions = await c.query<{ version: number }>(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(versions.rows.map((v) => v.version), postgresMigrations(schema).map((m) => m.version).sort((a, b) => a - b));
      const owner = await c.query<{ lease_owner: string }>(`SELECT lease_owner FROM "${schema}".outbox WHERE id = 'o1'`);
      assert.equal(owner.rows[0]?.lease_owner, 'owner-new');
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });
});

describe('migration runner: a missing lower version listed later still runs (branches merged out of order)', () => {
  it('SQLite: versions 1, 2 and a higher 99 recorded → v5 (alert state) is applied anyway, once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhs-migrate-gap-'));
    const file = join(dir, 'gap.sqlite');
    try {
      const db = new Database(file);
      db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
      db.exec(SQLITE_MIGRATIONS[0]!.sql);
      db.exec(SQLITE_MIGRATIONS[1]!.sql);
      for (const v of [1, 2, 99]) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(v);
      db.close();
      for (let i = 0; i < 2; i++) {
        const s = createStore({ backend: 'sqlite', file });
        await s.open();
        await s.alertState!().save([{ monitor: 'm', alertId: 'a', state: 'open', emitted: 'open', heldSince: null, clearSince: null, openedAt: T, resolvedAt: null, data: {}, updatedAt: T }]);
        await s.close();
      }
      const check = new Database(file, { readonly: true });
      const versions = (check.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[]).map((v) => v.version);
      check.close();
      assert.deepEqual(versions, [...new Set([...SQLITE_MIGRATIONS.map((m) => m.version), 99])].sort((a, b) => a - b));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: the same', { skip: skipWithoutPg }, async () => {
    const schema = `nhs_migrate_gap_${process.pid}`;
    const c = new Client({ connectionString: pgUrl });
    await c.connect();
    try {
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.query(`CREATE SCHEMA "${schema}"`);
      await c.query(`CREATE TABLE "${schema}".schema_version (version INTEGER NOT NULL)`);
      const ms = postgresMigrations(schema);
      await c.query(ms[0]!.sql);
      await c.query(ms[1]!.sql);
      await c.query(`INSERT INTO "${schema}".schema_version (version) VALUES (1), (2), (99)`);
      const s = createStore({ backend: 'postgres', url: pgUrl, schema });
      await s.open();
      await s.alertState!().save([{ monitor: 'm', alertId: 'a', state: 'open', emitted: 'open', heldSince: null, clearSince: null, openedAt: T, resolvedAt: null, data: {}, updatedAt: T }]);
      assert.equal((await s.alertState!().listOpen()).length, 1);
      await s.close();
      const v = await c.query<{ version: number }>(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(v.rows.map((x) => x.version), [...new Set([...ms.map((m) => m.version), 99])].sort((a, b) => a - b));
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });
});

/**
 * v6 → v7 adds `quarantine.edited_by` / `edited_at` (HAZ-014 C7). An item edited under v6 keeps its
 * edit, with no recorded editor (null): the two-person rule treats that as unknown, never as
 * "someone else" (test/lib/quarantine/two-person.test.ts).
 */
describe('store schema upgrade v6 → v7 (quarantine editor)', () => {
  const qCols = 'id, state, reason_code, reason, owner, node, original, content_type, edit_diff, created_at, updated_at';
  const qRow = ['qv6', 'open', 'HL7_STRUCTURE', 'r', 'PAS team', 'q1', JSON.stringify({ payload: 'MSH|^~\\&|A' }), 'hl7v2', '{"v":1}', T, T];

  it('SQLite: a v6 file opens, gains the editor columns once, and its edited item reads with editedBy null', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhs-migrate-v7-'));
    const file = join(dir, 'v6.sqlite');
    try {
      const db = new Database(file);
      db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 6)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
      }
      db.prepare(`INSERT INTO quarantine (${qCols}) VALUES (${qRow.map(() => '?').join(', ')})`).run(qRow);
      db.close();
      for (let i = 0; i < 2; i++) {
        const s = createStore({ backend: 'sqlite', file });
        await s.open();
        const q = await s.getQuarantine('qv6');
        // First open: as v6 left it; second open (no second migration): what the first one wrote.
        assert.deepEqual([q?.editDiff, q?.editedBy, q?.editedAt], ['{"v":1}', i === 0 ? null : 'alice', null]);
        if (i === 0) assert.equal((await s.patchQuarantine('qv6', { editedBy: 'alice' }))?.editedBy, 'alice', 'the new column is writable');
        await s.close();
      }
      const check = new Database(file, { readonly: true });
      const versions = (check.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[]).map((v) => v.version);
      check.close();
      assert.deepEqual(versions, SQLITE_MIGRATIONS.map((m) => m.version).sort((a, b) => a - b), 'v7 applied once');
      assert.ok(versions.includes(7));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: the same', { skip: skipWithoutPg }, async () => {
    const schema = `nhs_migrate_v7_${process.pid}_${Date.now()}`;
    const c = new Client({ connectionString: pgUrl });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA "${schema}"`);
      await c.query(`CREATE TABLE "${schema}".schema_version (version INTEGER NOT NULL)`);
      for (const m of postgresMigrations(schema).filter((x) => x.version <= 6)) {
        await c.query(m.sql);
        await c.query(`INSERT INTO "${schema}".schema_version (version) VALUES ($1)`, [m.version]);
      }
      await c.query(`INSERT INTO "${schema}".quarantine (${qCols}) VALUES (${qRow.map((_, i) => `$${i + 1}`).join(', ')})`, qRow);
      for (let i = 0; i < 2; i++) {
        const s = createStore({ backend: 'postgres', url: pgUrl!, schema });
        await s.open();
        const q = await s.getQuarantine('qv6');
        assert.deepEqual([q?.editDiff, q?.editedBy, q?.editedAt], ['{"v":1}', i === 0 ? null : 'alice', null]);
        if (i === 0) assert.equal((await s.patchQuarantine('qv6', { editedBy: 'alice' }))?.editedBy, 'alice');
        await s.close();
      }
      const v = await c.query<{ version: number }>(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(v.rows.map((x) => x.version), postgresMigrations(schema).map((m) => m.version).sort((a, b) => a - b));
      assert.ok(v.rows.some((x) => x.version === 7));
    } finally {
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });
});
