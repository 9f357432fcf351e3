import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createStore, type Store } from '../../lib/store';
import { defaultStore, resolveStore } from '../../nodes/shared/store-access';
import type { RED } from '../../nodes/shared/types';
import { nodeRedHarness } from '../helpers/node-red';
import { pgUrl, skipWithoutPg } from '../helpers/shared';

const storeNode = require('../../nodes/store');

/** A module that only captures the RED API handed to node modules. */
let red: RED | undefined;
const captureRed = (r: RED): void => { red = r; };

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => (e as { code?: string }).code === code);
}

describe('nhs-store config node', () => {
  const h = nodeRedHarness();
  let userDir = '';
  const extraStores: Store[] = [];

  before(() => {
    userDir = mkdtempSync(join(tmpdir(), 'nhs-store-node-'));
    h.helper.settings({ userDir });
  });
  after(async () => {
    for (const s of extraStores) await s.close().catch(() => undefined);
    h.helper.settings({});
    rmSync(userDir, { recursive: true, force: true });
  });

  it('loads, opens one shared store, and closing on redeploy keeps the data', async () => {
    await h.load([storeNode], [{ id: 's1', type: 'nhs-store', name: 'main', backend: 'sqlite', file: 'data/main.sqlite', durability: 'full', retentionDays: 0 }]);
    const n = h.node('s1');
    assert.equal(typeof n.getStore, 'function');
    const [a, b] = await Promise.all([n.getStore(), n.getStore()]);
    assert.equal(a, b, 'one store per config node');
    assert.equal(a.backend, 'sqlite');
    assert.ok(existsSync(join(userDir, 'data', 'main.sqlite')), 'relative file resolved in userDir, folder created');
    const m = await a.appendMessage({ channel: 's1', raw: Buffer.from('MSH|^~\\&|A|B\r') });
    await a.appendAudit({ node: 's1', action: 'stored', outcome: 'success', messageId: m.id });

    await h.helper.unload();
    await rejectsCode(a.appendMessage({ channel: 's1', raw: Buffer.from('x') }), 'STORE_CLOSED');
    await rejectsCode(n.getStore(), 'STORE_CLOSED');

    const again = createStore({ backend: 'sqlite', file: join(userDir, 'data', 'main.sqlite') });
    extraStores.push(again);
    await again.open();
    assert.equal((await again.getMessage(m.id))?.raw.toString(), 'MSH|^~\\&|A|B\r');
    assert.equal((await again.queryAudit({ messageId: m.id })).length, 1);
  });

  it('defaults to <userDir>/nhs-interop.sqlite when no file is set', async () => {
    await h.load([storeNode], [{ id: 's2', type: 'nhs-store', backend: 'sqlite', file: '' }]);
    const s: Store = await h.node('s2').getStore();
    await s.appendMessage({ channel: 'c', raw: Buffer.from('x') });
    assert.ok(existsSync(join(userDir, 'nhs-interop.sqlite')));
  });

  it('resolveStore: the named config node, a clear error when missing, else the default store', async () => {
    await h.load([storeNode, captureRed], [{ id: 's3', type: 'nhs-store', backend: 'sqlite', file: 's3.sqlite' }]);
    assert.ok(red);
    const node = h.node('s3');
    const viaId = await resolveStore(red, node, 's3');
    assert.equal(viaId, await node.getStore());
    await rejectsCode(resolveStore(red, node, 'no-such-config'), 'STORE_UNAVAILABLE');
    const d1 = await resolveStore(red, node);
    const d2 = await resolveStore(red, node);
    assert.equal(d1, d2, 'one process-wide default store');
    assert.notEqual(d1, viaId);
    assert.equal(d1, await defaultStore(join(userDir, 'nhs-interop.sqlite')));
    const m = await d1.appendMessage({ channel: 'default', raw: Buffer.from('y') });
    assert.ok(await d1.getMessage(m.id));
  });

  it('PostgreSQL without a connection string rejects STORE_INVALID (and retries on the next call)', async () => {
    await h.load([storeNode], [{ id: 's4', type: 'nhs-store', backend: 'postgres' }]);
    const n = h.node('s4');
    await rejectsCode(n.getStore(), 'STORE_INVALID');
    await rejectsCode(n.getStore(), 'STORE_INVALID');
  });

  it('PostgreSQL: connection string is a credential; the store opens in the configured schema', { skip: skipWithoutPg }, async () => {
    const schema = `nhs_node_test_${process.pid}`;
    try {
      await h.load([storeNode], [{ id: 's5', type: 'nhs-store', backend: 'postgres', schema }], { s5: { url: pgUrl } });
      const n = h.node('s5');
      assert.equal(n.credentials.url, pgUrl);
      const s: Store = await n.getStore();
      assert.equal(s.backend, 'postgres');
      const m = await s.appendMessage({ channel: 'pg', raw: Buffer.from('z') });
      await h.helper.unload();
      const c = new Client({ connectionString: pgUrl });
      await c.connect();
      try {
        const r = await c.query(`SELECT id FROM "${schema}".messages`);
        assert.deepEqual(r.rows.map((x) => x.id), [m.id], 'data kept after close');
      } finally {
        await c.end();
      }
    } finally {
      const c = new Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });
});
