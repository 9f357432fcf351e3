import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { registerAdminApi } from '../../../plugins/admin-api';
import { park } from '../../../lib/quarantine/service';
import { ADT } from '../quarantine/fixtures';
import { registerEndpoint } from '../../../nodes/shared/quarantine-endpoints';
import { openBackend } from './stores';
import type { Store } from '../../../lib/store';

/** registerAdminApi on a fake RED (`store` as the nhs-store `s1`): its route handlers by "METHOD path". */
function adminApi(needsPermission: (p: string) => unknown, store?: Store): Record<string, (req: any, res: any) => void> {
  const handlers: Record<string, (req: any, res: any) => void> = {};
  const RED: any = {
    settings: {}, auth: { needsPermission }, log: { warn: () => undefined },
    nodes: { getNode: (id: string) => (store && id === 's1' ? { getStore: () => Promise.resolve(store) } : null) },
    httpAdmin: {
      get: (path: string, _m: any, h: any) => { handlers[`GET ${path}`] = h; },
      post: (path: string, _m: any, h: any) => { handlers[`POST ${path}`] = h; },
    },
  };
  registerAdminApi(RED);
  return handlers;
}

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
      'POST /nhs-interop/quarantine/:id/edit': 'nhs.quarantine.write',
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
    assert.equal(routes.length, 14, 'registered once per runtime');
    // Node-RED's read-only scope is granted every permission ending in .read (and "write" every
    // one ending in .write): a reveal permission must end in neither.
    for (const r of routes.filter((x) => x.path.endsWith('/reveal') || x.path.includes('disclosure'))) assert.doesNotMatch(r.perm, /\.(read|write)$/);
  });

  it('refuses ?reveal=1 (403 REVEAL_FORBIDDEN) to a caller RED.auth denies the reveal permission, before touching a store', async () => {
    const granted = new Set(['nhs.quarantine.read', 'nhs.audit.read']);
    // Behaves like @node-red/editor-api needsPermission for a user with scope "read".
    const needsPermission = (p: string) => (_req: any, res: any, next: () => void) => { if (granted.has(p)) next(); else res.status(401).end(); };
    const handlers = adminApi(needsPermission);
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
      let granted = new Set(['nhs.quarantine.read', 'nhs.quarantine.write']);
      const needsPermission = (p: string) => (_req: any, res: any, next: () => void) => { if (granted.has(p)) next(); else res.status(401).end(); };
      const handlers = adminApi(needsPermission, t.store);
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

  it('two-person release: two users with nhs.quarantine.write — the editor is refused (403, shown before they try, audited, nothing changes), the other releases; forged user fields are anonymous', async () => {
    const t = await openBackend('sqlite');
    const delivered: unknown[] = [];
    const unregister = registerEndpoint('q2p', { storeId: 's1', twoPersonRelease: true, resolved: () => undefined, deliver: (msg) => { delivered.push(msg); } });
    try {
      const item = await park(t.store, { msg: { payload: ADT }, reasonCode: 'X', reason: 'x', owner: 'o', dueAt: null, node: 'q2p', flow: null, correlationId: null, subject: '9000000009', messageId: null, contentType: 'hl7v2' });
      // Behaves like @node-red/editor-api needsPermission: both users hold read and write.
      const users: Record<string, Set<string>> = { alice: new Set(['nhs.quarantine.read', 'nhs.quarantine.write', 'nhs.quarantine.reveal']), bob: new Set(['nhs.quarantine.read', 'nhs.quarantine.write']) };
      const needsPermission = (p: string) => (req: any, res: any, next: () => void) => { if (users[req.user?.username]?.has(p) || req.user?.forged) next(); else res.status(403).end(); };
      const handlers = adminApi(needsPermission, t.store);
      // As Express runs it: the permission middleware, then the handler.
      const call = (key: string, user: unknown, body: Record<string, unknown> = {}) => new Promise<{ status: number; body: any }>((resolve) => {
        let status = 200;
        const res: any = { status(c: number) { status = c; return res; }, json(b: unknown) { resolve({ status, body: b }); }, end() { resolve({ status, body: null }); } };
        const req = { params: { id: item.id }, query: { store: 's1' }, body: { store: 's1', ...body }, user };
        const perm = key.endsWith('/edit') || key.endsWith('/release') ? 'nhs.quarantine.write' : 'nhs.quarantine.read';
        needsPermission(perm)(req, res, () => handlers[key]!(req, res));
      });
      const alice = { username: 'alice' };
      const bob = { username: 'bob' };
      const edited = ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2');

      // Alice edits and releases in one request: refused, nothing stored.
      const oneShot = await call('POST /nhs-interop/quarantine/:id/release', alice, { payload: edited });
      assert.equal(oneShot.status, 403);
      assert.equal(oneShot.body.code, 'QUARANTINE_SECOND_PERSON_REQUIRED');
      assert.equal((await t.store.getQuarantine(item.id))!.editDiff, null);
      const saved = await call('POST /nhs-interop/quarantine/:id/edit', alice, { payload: edited });
      assert.equal(saved.status, 200);
      assert.deepEqual([saved.body.item.edited, saved.body.item.editedBy], [true, 'alice']);
      assert.deepEqual([saved.body.release.twoPerson, saved.body.release.allowed], [true, false]);
      // The view tells each user, before they try, whether they may release.
      const aliceView = await call('GET /nhs-interop/quarantine/:id', alice);
      assert.deepEqual([aliceView.body.editedBy, aliceView.body.release.allowed], ['alice', false]);
      assert.match(aliceView.body.release.reason, /this edit was made by you; a second person with nhs\.quarantine\.write must release it/);
      const bobView = await call('GET /nhs-interop/quarantine/:id', bob);
      assert.deepEqual([bobView.body.editedBy, bobView.body.release.allowed, bobView.body.release.reason], ['alice', true, null]);
      // Forged identities: a body or query naming a user, a non-string or empty username — all anonymous.
      for (const forged of [{ username: 42, forged: true }, { username: '', forged: true }, { username: '  ', forged: true }, { forged: true }]) {
        const r = await call('POST /nhs-interop/quarantine/:id/release', forged, { actor: 'bob', user: { username: 'bob' }, username: 'bob' });
        assert.equal(r.status, 403, JSON.stringify(forged));
        assert.match(r.body.message, /adminAuth/);
      }
      const refused = await call('POST /nhs-interop/quarantine/:id/release', alice, { actor: 'bob' });
      assert.equal(refused.status, 403);
      assert.match(refused.body.message, /this edit was made by you/);
      const after = (await t.store.getQuarantine(item.id))!;
      assert.deepEqual([after.state, after.editedBy, after.releaseCount], ['open', 'alice', 0]);
      assert.equal(delivered.length, 0, 'nothing sent');
      // Bob's view is stale once Alice edits again: his release of what he saw is refused.
      const stale = bobView.body.editToken;
      await call('POST /nhs-interop/quarantine/:id/edit', alice, { payload: ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD3') });
      const staleRelease = await call('POST /nhs-interop/quarantine/:id/release', bob, { editToken: stale });
      assert.equal(staleRelease.status, 409);
      assert.match(staleRelease.body.message, /edited again since you looked/);
      const fresh = await call('GET /nhs-interop/quarantine/:id', bob);
      const ok = await call('POST /nhs-interop/quarantine/:id/release', bob, { editToken: fresh.body.editToken });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(delivered.length, 1);
      assert.equal((delivered[0] as any).payload, ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD3'));
      assert.deepEqual([ok.body.item.resolvedBy, ok.body.item.editedBy], ['bob', 'alice']);
      const trail = (await t.store.queryAudit({ action: 'quarantine.release' })).map((r) => [r.outcome, r.actor]);
      assert.deepEqual(trail, [['refused', 'alice'], ['refused', 'anonymous'], ['refused', 'anonymous'], ['refused', 'anonymous'], ['refused', 'anonymous'], ['refused', 'alice'], ['released', 'bob']]);
    } finally {
      unregister();
      await t.close();
    }
  });
});
