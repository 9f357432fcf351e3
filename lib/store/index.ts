/**
 * The store (DESIGN.md §4): `createStore(opts)` returns the SQLite or PostgreSQL implementation of
 * the one {@link Store} interface. Call `open()` before use and `close()` when done.
 */
import { invalid } from './checks';
import { PostgresStore } from './postgres';
import { SqliteStore } from './sqlite';
import { threadedSqliteStore } from './sqlite-thread';
import type { Store, StoreOptions } from './types';

export * from './types';
export { indexText } from './checks';
export { SqliteStore } from './sqlite';
export { PostgresStore } from './postgres';

/** Create (not open) a store for `opts.backend`; bad options throw `STORE_INVALID`. */
export function createStore(opts: StoreOptions): Store {
  if (typeof opts !== 'object' || opts === null) throw invalid('store options must be an object');
  switch (opts.backend) {
    case 'sqlite':
      return opts.writerThread && !opts.clock && !opts.idGen ? threadedSqliteStore(opts) : new SqliteStore(opts);
    case 'postgres':
      return new PostgresStore(opts);
    default:
      throw invalid('backend must be sqlite or postgres');
  }
}
export { GENESIS_HASH, auditContent, auditHash, canonicalJson } from './chain';
