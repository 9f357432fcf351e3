/**
 * Store backends for governance tests: a real SQLite file in a temp dir, and PostgreSQL (its own
 * schema per test) when NHS_TEST_PG_URL is set. Tests tamper with the tables directly through
 * `sql`, as an attacker with database access would.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Store, StoreOptions } from '../../../lib/store/types';
import { pgUrl, skipWithoutPg } from '../../helpers/shared';

export interface TestBackend {
  store: Store;
  opts: StoreOptions;
  /** Run SQL directly on the backend; `$1`-style placeholders; `audit`/`quarantine` are unqualified. */
  sql(text: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

const pgAvailable = existsSync(join(__dirname, '..', '..', '..', 'lib', 'store', 'postgres.ts'));
export const backends: { name: 'sqlite' | 'postgres'; skip: false | string }[] = [
  { name: 'sqlite', skip: false },
  { name: 'postgres', skip: skipWithoutPg || (pgAvailable ? false : 'lib/store/postgres.ts not present yet') },
];

export async function openBackend(name: 'sqlite' | 'postgres', extra: Partial<StoreOptions> = {}): Promise<TestBackend> {
  // Backends are loaded directly (not via lib/store/index) so SQLite tests run while the
  // PostgreSQL backend is still being written.
  const createStore = (o: StoreOptions): Store => name === 'sqlite' ? new (require('../../../lib/store/sqlite').SqliteStore)(o) : new (require('../../../lib/store/postgres').PostgresStore)(o);
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'nhs-gov-'));
    const opts: StoreOptions = { backend: 'sqlite', file: join(dir, 'store.db'), durability: 'normal', ...extra };
    const store = createStore(opts);
    await store.open();
    return {
      store, opts,
      async sql(text, params = []) {
        const db = new Database(opts.file);
        try { db.prepare(text.replace(/\$\d+/g, '?')).run(...params); } finally { db.close(); }
      },
      async close() { await store.close().catch(() => undefined); rmSync(dir, { recursive: true, force: true }); },
    };
  }
  const schema = `gov_${randomBytes(6).toString('hex')}`;
  const opts: StoreOptions = { backend: 'postgres', url: pgUrl!, schema, ...extra };
  const store = createStore(opts);
  await store.open();
  const { Client } = await import('pg');
  return {
    store, opts,
    async sql(text, params = []) {
      const c = new Client({ connectionString: pgUrl });
      await c.connect();
      try { await c.query(`SET search_path TO "${schema}"`); await c.query(text, params); } finally { await c.end(); }
    },
    async close() {
      await store.close().catch(() => undefined);
      const c = new Client({ connectionString: pgUrl });
      await c.connect();
      try { await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`); } finally { await c.end(); }
    },
  };
}
