/**
 * The backends the contract and crash tests run against: a fresh SQLite file in a temp folder, and
 * (when NHS_TEST_PG_URL is set) a fresh PostgreSQL schema per test, all dropped afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createStore, type Store, type StoreOptions } from '../../../lib/store';
import { pgUrl, skipWithoutPg } from '../../helpers/shared';

export interface Place {
  /** A new (unopened) store on this place; several may share it. */
  make(extra?: Partial<StoreOptions>): Store;
  /** Options that reach the same place (for child processes). */
  opts: StoreOptions;
}

export interface BackendUnderTest {
  name: 'sqlite' | 'postgres';
  /** Writes run on the store's worker thread: requests reach it in as many port deliveries as the scheduler makes. */
  threaded: boolean;
  skip: false | string;
  /** A fresh, empty place (file or schema). */
  fresh(): Place;
  /** Close every store made and remove every place. */
  cleanup(): Promise<void>;
}

let counter = 0;
const runId = `${process.pid}_${Date.now().toString(36)}`;

/** SQLite; with `writerThread`, every write runs on the store's worker thread (issue 9 item 5). */
export function sqliteBackend(extra: Partial<StoreOptions> = {}): BackendUnderTest {
  const dir = mkdtempSync(join(tmpdir(), 'nhs-store-test-'));
  const made: Store[] = [];
  return {
    name: 'sqlite',
    threaded: extra.writerThread === true,
    skip: false,
    fresh() {
      const opts: StoreOptions = { backend: 'sqlite', file: join(dir, `s${++counter}`, 'store.sqlite'), ...extra };
      return { opts, make: (extra) => { const s = createStore({ ...opts, ...extra }); made.push(s); return s; } };
    },
    async cleanup() {
      await Promise.all(made.map((s) => s.close().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): BackendUnderTest {
  const schemas: string[] = [];
  const made: Store[] = [];
  return {
    name: 'postgres',
    threaded: false,
    skip: skipWithoutPg,
    fresh() {
      const schema = `nhs_test_${runId}_${++counter}`;
      schemas.push(schema);
      const opts: StoreOptions = { backend: 'postgres', url: pgUrl ?? '', schema };
      return { opts, make: (extra) => { const s = createStore({ ...opts, ...extra }); made.push(s); return s; } };
    },
    async cleanup() {
      await Promise.all(made.map((s) => s.close().catch(() => undefined)));
      if (!pgUrl || schemas.length === 0) return;
      const c = new Client({ connectionString: pgUrl });
      await c.connect();
      try {
        for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
