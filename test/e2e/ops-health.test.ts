/**
 * `GET /nhs-interop/health` answers 503 (issue 16, Health):
 *  - with the store down: a PostgreSQL store reached through a TCP proxy in this test; the proxy
 *    is stopped (listener closed, every connection cut) instead of stopping the shared PostgreSQL
 *    server other test runs use. To the store that is the server going away;
 *  - with an MLLP listener that could not bind (its port held by another socket).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { repoRoot, startNodeRed } from '../helpers/node-red-process';
import { pgUrl, skipWithoutPg } from '../helpers/shared';
import { tcpProxy } from '../helpers/tcp-proxy';

const built = existsSync(join(repoRoot, 'dist', 'plugins'));
const TOKEN = 'ops-health-token-0123456789';
const settings = { nhsInterop: { operations: { health: true, token: TOKEN } } };
const auth = { authorization: `Bearer ${TOKEN}` };

describe('health endpoint: 503 cases (real Node-RED)', { skip: built ? false : 'dist/ not built (npm test builds it first)', timeout: 120_000 }, () => {
  it('PostgreSQL store down (proxy stopped) → 503 naming the store; 200 before', { skip: skipWithoutPg }, async () => {
    const target = new URL(pgUrl as string);
    const proxy = await tcpProxy(target);
    const viaProxy = new URL(pgUrl as string);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const schema = `nhs_ops_health_${process.pid}_${Date.now()}`;
    const nr = await startNodeRed({ flows: [], settings });
    try {
      await nr.deploy([
        { id: 'tab1', type: 'tab', label: 'health' },
        { id: 'pg1', type: 'nhs-store', backend: 'postgres', schema, durability: 'full', version: 1, credentials: { url: viaProxy.toString() } },
      ]);
      // The first check opens the store (connect + migrations): on a loaded machine that can take
      // longer than a health check waits, so the first answers may be 503 until it is open (and
      // the deploy's answer comes before its nodes have started).
      const pg1Up = (r: { status: number; text: string }): boolean => r.status === 200 && /"name":"pg1"/.test(r.text);
      let up = await nr.api('/nhs-interop/health', { headers: auth });
      for (let i = 0; i < 30 && !pg1Up(up); i++) { await new Promise((x) => setTimeout(x, 500)); up = await nr.api('/nhs-interop/health', { headers: auth }); }
      assert.equal(up.status, 200, up.text);
      assert.equal((up.json() as { stores: { name: string; reachable: boolean }[] }).stores.find((s) => s.name === 'pg1')?.reachable, true);
      await proxy.stop();
      // Seen once under the full suite: the request's connection closed with no answer. Say what
      // Node-RED printed, so a repeat can be diagnosed.
      const down = await nr.api('/nhs-interop/health', { headers: auth }).catch((e: unknown) => {
        throw new Error(`health request failed (${String(e)}); Node-RED exit ${nr.child.exitCode}:\n${nr.output().slice(-3000)}`);
      });
      assert.equal(down.status, 503, down.text);
      const body = down.json() as { status: string; problems: string[]; stores: { name: string; reachable: boolean }[] };
      assert.equal(body.status, 'unhealthy');
      assert.equal(body.stores.find((s) => s.name === 'pg1')?.reachable, false);
      assert.ok(body.problems.includes('store pg1 unreachable'), body.problems.join('; '));
    } finally {
      await nr.stop();
      await proxy.stop();
      const c = new Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });

  it('an MLLP listener that could not bind (port taken) → 503 naming the listener', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const a = holder.address();
    const taken = typeof a === 'object' && a ? a.port : 0;
    const nr = await startNodeRed({
      settings,
      flows: [
        { id: 'tab1', type: 'tab', label: 'health' },
        { id: 'in1', type: 'nhs-mllp-in', z: 'tab1', port: String(taken), host: '127.0.0.1', ackMode: 'immediate', allow: '', wires: [[], []] },
      ],
    });
    try {
      let r = await nr.api('/nhs-interop/health', { headers: auth });
      // The bind fails asynchronously just after start; give it a moment on a loaded machine.
      for (let i = 0; i < 50 && r.status === 200; i++) { await new Promise((x) => setTimeout(x, 100)); r = await nr.api('/nhs-interop/health', { headers: auth }); }
      assert.equal(r.status, 503, r.text);
      const body = r.json() as { problems: string[]; listeners: { node: string; listening: boolean }[] };
      assert.deepEqual(body.listeners, [{ node: 'in1', listening: false }]);
      assert.ok(body.problems.includes('listener in1 not listening'));
    } finally {
      await nr.stop();
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });

  it('a listener that is listening → 200 with its port', async () => {
    const nr = await startNodeRed({
      settings,
      flows: [
        { id: 'tab1', type: 'tab', label: 'health' },
        { id: 'in1', type: 'nhs-mllp-in', z: 'tab1', port: '0', host: '127.0.0.1', ackMode: 'immediate', allow: '', wires: [[], []] },
      ],
    });
    try {
      const r = await nr.api('/nhs-interop/health', { headers: auth });
      assert.equal(r.status, 200, r.text);
      const l = (r.json() as { listeners: { node: string; listening: boolean; port: number }[] }).listeners[0];
      assert.equal(l?.listening, true);
      assert.ok((l?.port ?? 0) > 0);
      // The sidebar's feed summary names it, up, no message yet.
      const ov = await nr.api('/nhs-interop/overview');
      assert.equal(ov.status, 200, ov.text);
      assert.deepEqual((ov.json() as { feeds: unknown[] }).feeds, [{ node: 'in1', name: 'in1', type: 'listener', up: true, lastMessageAt: null, backlog: null }]);
    } finally {
      await nr.stop();
    }
  });
});
