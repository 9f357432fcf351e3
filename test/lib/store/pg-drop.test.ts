/**
 * PostgreSQL going away must not take Node-RED down: pg emits 'error' on a client whose
 * connection ends, and pg's pool removes its own listener from a client while it is lent, so a
 * client in use at that moment had no listener — an uncaught exception that stopped Node-RED
 * (seen in the health e2e test). Real PostgreSQL through a TCP proxy the test cuts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, type Pool } from 'pg';
import { createStore } from '../../../lib/store';
import { pgUrl, skipWithoutPg } from '../../helpers/shared';
import { tcpProxy } from '../../helpers/tcp-proxy';

describe('PostgreSQL store: the server goes away', { skip: skipWithoutPg }, () => {
  it('a connection cut while a client is lent is no uncaught exception; the next write rejects with a store code', async () => {
    const target = new URL(pgUrl!);
    const proxy = await tcpProxy(target);
    const via = new URL(pgUrl!);
    via.hostname = '127.0.0.1';
    via.port = String(proxy.port);
    const schema = `nhs_test_drop_${process.pid}`;
    const store = createStore({ backend: 'postgres', url: via.toString(), schema, timeoutMs: 2000 });
    await store.open();
    const uncaught: unknown[] = [];
    const record = (e: unknown): void => { uncaught.push(e); };
    process.on('uncaughtException', record);
    try {
      // A client lent out of the store's pool, as during any query (reached directly so the cut
      // lands while it is lent, not by chance of timing).
      const lent = await ((store as unknown as { pool: Pool }).pool).connect();
      await proxy.stop();
      await new Promise((r) => setTimeout(r, 300));
      lent.release(true);
      assert.deepEqual(uncaught.map(String), [], 'no uncaught exception');
      await assert.rejects(store.appendMessage({ channel: 'c', raw: Buffer.from('x') }), (e: unknown) => /^STORE_/.test(String((e as { code?: unknown }).code)));
    } finally {
      process.off('uncaughtException', record);
      await store.close().catch(() => undefined);
      const c = new Client({ connectionString: pgUrl! });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });
});
