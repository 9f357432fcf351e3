import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { registerAdminApi } from '../../../plugins/admin-api';
import { park } from '../../../lib/quarantine/service';
import { ADT } from '../quarantine/fixtures';
import { openBackend } from './stores';

describe('admin API permissions', () => {
  it('puts every /nhs-interop route behind the right RED.auth.needsPermission, registered once', () => {
    const routes: { method: string; path: string; perm: string }[] = [];
    const mw = (perm: string) => Object.assign(() => undefined, { perm });
    const RED: any = {
      settings: {}, nodes: { getNode: () => null },
      auth: { needsPermission: (p: string) => mw(p) },
      httpAdmin: {
        get: (path: string, m: any) => routes.push({ method: 'GET', path, perm: m.perm }),
        post: (path: string, m: any) => routes.push({ method: 'POST', path, perm: m.perm }),
      },
    };
    registerAdminApi(RED);
    registerAdminApi(RED);
    const table = Object.fromEntries(routes.map((r) => [`${r.method} ${r.path}`, r.perm]));
    assert.deepEqual(table, {
      'GET /nhs-interop/config-versions': 'flows.read',
      'GET /nhs-interop/quarantine': 'nhs.quarantine.read',
      'GET /nhs-interop/quarantine/:id': 'nhs.quarantine.read',
      'GET /nhs-interop/quarantine/:id/reveal': 'nhs.quarantine.reveal',
      'POST /nhs-interop/quarantine/:id/preview': 'nhs.quarantine.write',
      'POST /nhs-interop/quarantine/:id/release': 'nhs.quarantine.write',
      'POST /nhs-interop/quarantine/:id/discard': 'nhs.quarantine.write',
      'GET /nhs-interop/audit': 'nhs.audit.read',
      'GET /nhs-interop/audit/reveal': 'nhs.audit.reveal',
      'GET /nhs-interop/audit/trail': 'nhs.audit.read',
      'POST /nhs-interop/audit/verify': 'nhs.audit.read',
      // Queried by NHS number and showing one patient's exchanges: the reveal permission.
      'GET /nhs-interop/disclosure': 'nhs.audit.reveal',
      'GET /nhs-interop/disclosure.csv': 'nhs.audit.reveal',
    });
    assert.equal(routes.length, 13, 'registered once per runtime');
    // Node-RED's read-only scope is granted every permission ending in .read (and "write" every
    // one ending in .write): a reveal permission must end in neither.
    for (const r of routes.filter((x) => x.path.endsWith('/reveal') || x.path.includes('disclosure'))) assert.doesNotMatch(r.perm, /\.(read|write)$/);
  });

  it('refuses ?reveal=1 (403 REVEAL_FORBIDDEN) to a caller RED.auth denies the reveal permission, before touching a store', async () => {
    const handlers: Record<string, (req: any, res: any) => void> = {};
    const granted = new Set(['nhs.quarantine.read', 'nhs.audit.read']);
    // Behaves like @node-red/editor-api needsPermission for a user with scope "read".
    const needsPermission = (p: string) => (_req: any, res: any, next: () => void) => { if (granted.has(p)) next(); else res.status(401).end(); };
    const RED: any = {
      settings: {}, nodes: { getNode: () => null }, auth: { needsPermission },
      httpAdmin: {
        get: (path: string, _m: any, h: any) => { handlers[`GET ${path}`] = h; },
        post: (path: string, _m: any, h: any) => { handlers[`POST ${path}`] = h; },
      },
    };
    registerAdminApi(RED);
    const call = (key: string, query: Record<string, string>) => new Promise<{ status: number; body: any }>((resolve) => {
      let status = 200;
      const res = { status(c: number) { status = c; return res; }, json(body: unknown) { resolve({ status, body }); } };
      handlers[key]!({ params: { id: 'x' }, query, user: { username: 'viewer' } }, res);
    });
    const q = await call('GET /nhs-interop/quarantine/:id', { reveal: '1' });
    assert.equal(q.status, 403);
    assert.equal(q.body.code, 'REVEAL_FORBIDDEN');
    assert.match(q.body.message, /nhs\.quarantine\.reveal/);
    const a = await call('GET /nhs-interop/audit', { reveal: 'true', nhsNumber: '9000000009' });
    assert.equal(a.status, 403);
    assert.match(a.body.message, /nhs\.audit\.reveal/);
  });

  it('preview with write but without nhs.quarantine.reveal returns masked diff rows (audited as a masked preview)', async () => {
    const t = await openBackend('sqlite');
    try {
      const item = await park(t.store, { msg: { payload: ADT }, reasonCode: 'X', reason: 'x', owner: 'o', dueAt: null, node: 'q1', flow: null, correlationId: null, subject: '9000000009', messageId: null, contentType: 'hl7v2' });
      const handlers: Record<string, (req: any, res: any) => void> = {};
      let granted = new Set(['nhs.quarantine.read', 'nhs.quarantine.write']);
      const needsPermission = (p: string) => (_req: any, res: any, next: () => void) => { if (granted.has(p)) next(); else res.status(401).end(); };
      const RED: any = {
        settings: {}, auth: { needsPermission }, log: { warn: () => undefined },
        nodes: { getNode: (id: string) => (id === 's1' ? { getStore: () => Promise.resolve(t.store) } : null) },
        httpAdmin: {
          get: (path: string, _m: any, h: any) => { handlers[`GET ${path}`] = h; },
          post: (path: string, _m: any, h: any) => { handlers[`POST ${path}`] = h; },
        },
      };
      registerAdminApi(RED);
      const preview = (payload: string) => new Promise<{ status: number; body: any }>((resolve) => {
        let status = 200;
        const res = { status(c: number) { status = c; return res; }, json(body: unknown) { resolve({ status, body }); } };
        handlers['POST /nhs-interop/quarantine/:id/preview']!({ params: { id: item.id }, query: {}, body: { store: 's1', payload }, user: { username: 'editor' } }, res);
      });
      const edited = ADT.replace('SMITH^JANE', 'SMYTH^JANE').replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2');
      const masked = await preview(edited);
      assert.equal(masked.status, 200);
      assert.equal(masked.body.revealed, false);
      assert.equal(masked.body.changed, true);
      const text = JSON.stringify(masked.body.rows);
      assert.ok(!/SMITH|SMYTH|9000000009|19800101|HIGH STREET/.test(text), text);
      assert.ok(masked.body.rows.some((r: any) => r.op === '+' && r.line === 'PV1|1|I|WARD2'), 'non-patient edits still show');
      granted = new Set([...granted, 'nhs.quarantine.reveal']);
      const full = await preview(edited);
      assert.equal(full.body.revealed, true);
      assert.ok(full.body.rows.some((r: any) => r.op === '+' && r.line.includes('SMYTH')));
      const actions = (await t.store.queryAudit({ limit: 10 })).map((r) => r.action);
      assert.ok(actions.includes('quarantine.preview.masked') && actions.includes('quarantine.preview'), actions.join());
    } finally {
      await t.close();
    }
  });
});
