/**
 * The ESR example flow (examples/ESR/01 - Nightly intake.json) in a real Node-RED loading the
 * built package: drop a synthetic extract with its inject button, poll, and find the outcome in
 * the store — the file processed and archived, the bad row quarantined for the workforce team,
 * joiners then a mover audited — all offline with a local folder.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { until } from '../helpers/wait';

const built = existsSync(join(repoRoot, 'dist', 'nodes', 'esr.js'));
const flow = JSON.parse(readFileSync(join(repoRoot, 'examples', 'ESR', '01 - Nightly intake.json'), 'utf8')) as { id: string; type: string; name?: string }[];
const idOf = (name: string): string => flow.find((n) => n.name === name)!.id;

describe('ESR example flow in Node-RED', { skip: built ? false : 'dist/ not built (npm test builds it first)' }, () => {
  let nr: NodeRedProcess;
  let work: string;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'esr-example-'));
    nr = await startNodeRed({ flows: flow, settings: { fileWorkingDirectory: work } });
  });
  after(async () => { await nr?.stop(); rmSync(work, { recursive: true, force: true }); });

  const inject = async (name: string): Promise<void> => {
    const r = await nr.api(`/inject/${idOf(name)}`, { method: 'POST', body: {} });
    assert.equal(r.status, 200, r.text);
  };
  const query = <T>(sql: string): T[] => {
    const db = new Database(join(nr.userDir, 'nhs-interop.sqlite'), { readonly: true });
    try { return db.prepare(sql).all() as T[]; } finally { db.close(); }
  };

  it('night 1: rows validated, the bad row quarantined, joiners audited, the file archived', { timeout: 60_000 }, async () => {
    await inject("Drop tonight's extract");
    await until(() => existsSync(join(work, 'esr-example', 'in')) && readdirSync(join(work, 'esr-example', 'in')).length === 1, 10_000);
    await inject('Poll now');
    await until(() => existsSync(join(work, 'esr-example', 'done')) && readdirSync(join(work, 'esr-example', 'done')).length === 1, 30_000);
    const files = query<{ name: string; status: string; counts: string }>('SELECT name, status, counts FROM esr_files');
    assert.equal(files.length, 1);
    assert.equal(files[0]!.status, 'done');
    assert.deepEqual(JSON.parse(files[0]!.counts), { rows: 6, valid: 5, invalid: 1, joiners: 4, movers: 0, leavers: 0 });
    const q = query<{ owner: string; reason_code: string; correlation_id: string }>("SELECT owner, reason_code, correlation_id FROM quarantine WHERE state = 'open'");
    assert.deepEqual(q, [{ owner: 'workforce team', reason_code: 'ESR_ROW_INVALID', correlation_id: `${files[0]!.name}:6` }]);
    const actions = query<{ action: string }>('SELECT action FROM audit ORDER BY seq').map((a) => a.action);
    assert.deepEqual(actions.filter((a) => a.startsWith('esr.')), ['esr.joiner', 'esr.joiner', 'esr.joiner', 'esr.joiner', 'esr.file']);
    assert.ok(!nr.output().includes('AB123456C') && !nr.output().includes('90001001'), 'no personal data in the log');
  });

  it('night 2: the WTE change is a mover; night 3: a leaver', { timeout: 60_000 }, async () => {
    for (const night of [2, 3]) {
      await inject("Drop tonight's extract");
      await until(() => readdirSync(join(work, 'esr-example', 'in')).length === 1, 10_000);
      await inject('Poll now');
      await until(() => readdirSync(join(work, 'esr-example', 'done')).length === night, 30_000);
    }
    const events = query<{ action: string; detail: string }>("SELECT action, detail FROM audit WHERE action IN ('esr.mover', 'esr.leaver') ORDER BY seq")
      .map((r) => `${r.action} ${(JSON.parse(r.detail) as { entity: string }).entity}`);
    assert.deepEqual(events, ['esr.mover assignment', 'esr.leaver person', 'esr.leaver assignment']);
  });
});
