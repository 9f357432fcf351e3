/**
 * Disclosure report (issue 16 item 6) through the admin endpoint of a real Node-RED with
 * adminAuth: only a user holding nhs.audit.reveal gets it (401 without a token, for the read
 * scope and for nhs.audit.read alone); the rows are the patient's exchanges in the period with
 * agreement and purpose; the CSV download has the same rows; the report is audited as a reveal
 * by that user; bad input is a 400.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DISCLOSURE_COLUMNS } from '../../lib/audit/disclosure';
import { SqliteStore } from '../../lib/store/sqlite';
import { repoRoot, type NodeRedProcess } from '../helpers/node-red-process';
import { adminGet, startDisclosureServer, tokenFor } from '../helpers/disclosure-server';
import { parseCsv } from '../helpers/csv';

const built = existsSync(join(repoRoot, 'dist', 'plugins'));
const P = '9000000009';
const GOV = { ref: 'g1', agreement: 'DSA-2026-014', lawfulBasis: '6(1)(e)', condition: '9(2)(h)', purpose: 'TREAT' };

describe('disclosure report through the admin API (real Node-RED, adminAuth)', { skip: built ? false : 'dist/ not built (npm test builds it first)', timeout: 120_000 }, () => {
  let dir = '';
  let nr: NodeRedProcess;
  const file = (): string => join(dir, 'store.db');
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nhs-disc-'));
    const s = new SqliteStore({ backend: 'sqlite', file: file(), durability: 'normal' });
    await s.open();
    await s.appendAudit({ at: '2026-02-01T09:00:00.000Z', node: 'mi1', flow: 'f1', action: 'receive', outcome: 'accepted', subject: P, correlationId: 'MSG1', detail: { source: '10.1.2.3:5000', governance: GOV } });
    await s.appendAudit({ at: '2026-02-01T09:00:01.000Z', node: 'mo1', flow: 'f1', action: 'deliver', outcome: 'AA', subject: P, correlationId: 'MSG1', detail: { destination: 'ris.example:2575', governance: GOV } });
    await s.appendAudit({ at: '2026-02-01T09:00:02.000Z', node: 'mi1', flow: 'f1', action: 'receive', outcome: 'accepted', subject: '9990000026' });
    await s.appendAudit({ at: '2025-02-01T09:00:02.000Z', node: 'mi1', flow: 'f1', action: 'receive', outcome: 'accepted', subject: P });
    await s.close();
    nr = await startDisclosureServer(file(), [{ id: 'f1', type: 'tab', label: 'ADT feed' }]);
  });
  after(async () => {
    await nr?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const path = (q: Record<string, string>, csv = false): string => `/nhs-interop/disclosure${csv ? '.csv' : ''}?${new URLSearchParams({ store: 's1', ...q }).toString()}`;
  const q = { nhsNumber: '900 000 0009', from: '2026-01-01', to: '2026-12-31' };

  it('is refused without the reveal permission: 401 without a token, for the read scope and for nhs.audit.read alone', async () => {
    for (const p of [path(q), path(q, true)]) {
      assert.equal((await adminGet(nr, p)).status, 401);
      for (const u of ['reader', 'searcher']) assert.equal((await adminGet(nr, p, await tokenFor(nr, u))).status, 401, `${u} ${p}`);
    }
  });

  it('gives the auditor the rows, the same rows as CSV, and audits each report as a reveal by that user', async () => {
    const token = await tokenFor(nr, 'auditor');
    const r = await adminGet(nr, path(q), token);
    assert.equal(r.status, 200, r.text);
    const body = JSON.parse(r.text);
    assert.equal(body.subject, '900 000 0009');
    assert.deepEqual(body.rows.map((x: any) => [x.action, x.flowName, x.source, x.destination, x.agreement, x.purpose]), [
      ['receive', 'ADT feed', '10.1.2.3:5000', null, 'DSA-2026-014', 'Direct care (treatment)'],
      ['deliver', 'ADT feed', null, 'ris.example:2575', 'DSA-2026-014', 'Direct care (treatment)'],
    ]);
    const c = await adminGet(nr, path(q, true), token);
    assert.equal(c.status, 200);
    assert.match(c.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(c.headers.get('content-disposition') ?? '', /^attachment; filename="disclosure-9000000009-2026-01-01-2026-12-31\.csv"$/);
    const rows = parseCsv(c.text);
    assert.deepEqual(rows, [[...DISCLOSURE_COLUMNS], ...body.rows.map((row: any) => DISCLOSURE_COLUMNS.map((k) => row[k] ?? ''))]);
    const audit = await adminGet(nr, `/nhs-interop/audit/reveal?${new URLSearchParams({ store: 's1', nhsNumber: P }).toString()}`, token);
    const reports = JSON.parse(audit.text).records.filter((x: any) => x.action === 'disclosure.report');
    assert.deepEqual(reports.map((x: any) => [x.actor, x.subject, x.detail.format, x.detail.rows]), [['auditor', '900 000 0009', 'csv', 2], ['auditor', '900 000 0009', 'json', 2]]);
  });

  it('answers bad input with 400 and a reason, never a 500', async () => {
    const token = await tokenFor(nr, 'auditor');
    for (const bad of [{ ...q, nhsNumber: '9000000001' }, { ...q, from: '2026-02-30x' }, { ...q, from: '2026-12-31', to: '2026-01-01' }, { ...q, from: '2019-01-01' }, { from: q.from, to: q.to }]) {
      const r = await adminGet(nr, path(bad), token);
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
      assert.equal(JSON.parse(r.text).code, 'BAD_REQUEST');
    }
  });
});
