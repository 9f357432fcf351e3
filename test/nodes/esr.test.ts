import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { assignmentRow, goFile, goName, personRow } from '../lib/esr/fixtures';

const storeNode = require('../../nodes/store');
const esrNode = require('../../nodes/esr');
const esrSourceNode = require('../../nodes/esr-source');

describe('nhs-esr node (local folder source)', () => {
  const h = nodeRedHarness();
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nhs-esr-node-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const flow = (base: string, extra: Record<string, unknown> = {}) => [
    { id: 's1', type: 'nhs-store', backend: 'sqlite', file: join(base, 'store.sqlite'), durability: 'normal' },
    { id: 'src', type: 'nhs-esr-source', protocol: 'folder', folder: join(base, 'in'), archiveFolder: join(base, 'done'), pattern: 'GO_*.DAT', schedule: '86400' },
    { id: 'e1', type: 'nhs-esr', z: 'f1', source: 'src', store: 's1', stableSeconds: 0, pollOnStart: false, wires: [['rec'], ['ev'], ['bad'], ['alert']], ...extra },
    { id: 'rec', type: 'helper', z: 'f1' }, { id: 'ev', type: 'helper', z: 'f1' }, { id: 'bad', type: 'helper', z: 'f1' }, { id: 'alert', type: 'helper', z: 'f1' },
  ];

  it('sends rows, events, invalid rows and alerts on their four outputs; status shows progress without personal data', async () => {
    const base = join(dir, 'a');
    mkdirSync(join(base, 'in'), { recursive: true });
    const name = goName('GDR', 1);
    writeFileSync(join(base, 'in', name), goFile(name, [personRow({ id: 'P1' }), assignmentRow({ person: 'P1', id: 'A1' }), personRow({ id: 'P2', ni: 'ZZ123456A' })]), 'latin1');
    const truncated = goName('GOC', 2);
    writeFileSync(join(base, 'in', truncated), goFile(truncated, [personRow({ id: 'P3' })]).slice(0, 100));
    await h.load([storeNode, esrSourceNode, esrNode], flow(base));
    const statuses: { text?: string }[] = [];
    const e1 = h.node('e1');
    const origStatus = e1.status.bind(e1);
    e1.status = (s: { text?: string }) => { statuses.push(s); origStatus(s); };
    const recs = h.collect('rec', 2);
    const evs = h.collect('ev', 2);
    const bad = h.next('bad');
    const alert = h.next('alert');
    e1.receive({ payload: 'poll' });
    const [r1, r2] = await recs;
    assert.equal(r1.topic, 'PRA');
    assert.deepEqual(r1.esr, { file: name, line: 2, recordType: 'PRA', action: 'A' });
    assert.equal(r1.payload.named.personId, 'P1');
    assert.equal(r2.topic, 'ASA');
    assert.deepEqual(r1.audit.map((a: { action: string }) => a.action), ['esr.record']);
    const [j1, j2] = await evs;
    assert.deepEqual([j1.topic, j1.payload.entity, j2.topic, j2.payload.entity], ['joiner', 'person', 'joiner', 'assignment']);
    const b = await bad;
    assert.equal(b.quarantine.owner, 'workforce team');
    assert.match(b.outcome.issue[0].diagnostics, /line 4 column 14 \(niNumber\)/);
    const a = await alert;
    assert.equal(a.payload.type, 'file-rejected');
    assert.equal(a.payload.file, truncated);
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(existsSync(join(base, 'done', name)), 'archived');
    assert.ok(existsSync(join(base, 'in', truncated)), 'rejected file left in place');
    const texts = statuses.map((s) => s.text ?? '').join('\n');
    assert.match(texts, /rows/);
    assert.ok(!/Synthetic|AB123456C|ZZ123456A|90000001/.test(texts), 'no personal data in status');
  });

  it('reports a missing source as an error, not a crash', async () => {
    const base = join(dir, 'b');
    const f = flow(base).filter((n) => n.id !== 'src');
    await h.load([storeNode, esrSourceNode, esrNode], f);
    const e1 = h.node('e1');
    const err = new Promise<unknown>((resolve) => { e1.on('call:error', (call: { args: unknown[] }) => resolve(call.args[0])); });
    e1.receive({ payload: 'poll' });
    const e = await err;
    assert.match(String((e as Error).message ?? e), /ESR source/i);
  });
});
