import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { registerAdminApi } from '../../../nodes/shared/admin-api';

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
      'GET /nhs-interop/quarantine': 'nhs.quarantine.read',
      'GET /nhs-interop/quarantine/:id': 'nhs.quarantine.read',
      'POST /nhs-interop/quarantine/:id/preview': 'nhs.quarantine.write',
      'POST /nhs-interop/quarantine/:id/release': 'nhs.quarantine.write',
      'POST /nhs-interop/quarantine/:id/discard': 'nhs.quarantine.write',
      'GET /nhs-interop/audit': 'nhs.audit.read',
      'GET /nhs-interop/audit/trail': 'nhs.audit.read',
      'POST /nhs-interop/audit/verify': 'nhs.audit.read',
    });
    assert.equal(routes.length, 8, 'registered once per runtime');
  });
});
