/**
 * Node-RED SIGKILLed mid-file (issue 13): a 200,000-row extract is being processed when the
 * process is killed; after a restart the file is finished once — every row after the last
 * committed batch is handed on, none at or before it is handed on again, one file audit record,
 * the file archived once.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { sleep } from '../helpers/wait';
import { goFile, goName, personRow } from '../lib/esr/fixtures';

const built = existsSync(join(repoRoot, 'dist', 'nodes', 'esr.js'));
const ROWS = 200_000;

describe('nhs-esr: Node-RED killed mid-file', { skip: built ? false : 'dist/ not built (npm test builds it first)' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'esr-kill-'));
  const userDir = join(work, 'user');
  let nr: NodeRedProcess | undefined;
  after(async () => { await nr?.stop('SIGKILL'); rmSync(work, { recursive: true, force: true }); });

  const flow = [
    { id: 'f1', type: 'tab', label: 'esr kill' },
    { id: 'src', type: 'nhs-esr-source', protocol: 'folder', folder: join(work, 'in'), archiveFolder: join(work, 'done'), pattern: 'GO_*.DAT', schedule: '86400' },
    { id: 'esr', type: 'nhs-esr', z: 'f1', source: 'src', stableSeconds: 0, pollOnStart: true, wires: [['line'], [], [], []] },
    { id: 'line', type: 'function', z: 'f1', func: 'msg.payload = String(msg.esr.line); return msg;', outputs: 1, wires: [['out']] },
    { id: 'out', type: 'file', z: 'f1', filename: join(work, 'out.txt'), filenameType: 'str', appendNewline: true, createDir: true, overwriteFile: 'false', encoding: 'none', wires: [[]] },
  ];
  const ledger = (): { status: string; committed_line: number } | undefined => {
    const f = join(userDir, 'nhs-interop.sqlite');
    if (!existsSync(f)) return undefined;
    try {
      const db = new Database(f, { readonly: true, timeout: 2000 });
      try { return db.prepare('SELECT status, committed_line FROM esr_files').get() as { status: string; committed_line: number } | undefined; } finally { db.close(); }
    } catch {
      return undefined; // not created yet
    }
  };
  /** Poll every 100 ms (each look opens the SQLite file). */
  const eventually = async (cond: () => boolean, ms: number, what: string): Promise<void> => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`not in time: ${what}`);
      await sleep(100);
    }
  };
  const outLines = (from = 0): number[] => {
    const f = join(work, 'out.txt');
    if (!existsSync(f)) return [];
    return readFileSync(f).subarray(from).toString().split('\n').filter(Boolean).map(Number);
  };

  it('processes the file once after a restart; no committed row is handed on twice', { timeout: 600_000 }, async () => {
    mkdirSync(join(work, 'in'), { recursive: true });
    mkdirSync(userDir, { recursive: true });
    const name = goName('GDR', 1);
    writeFileSync(join(work, 'in', name), goFile(name, Array.from({ length: ROWS }, (_, i) => personRow({ id: `P${i}` }))));
    nr = await startNodeRed({ flows: flow, userDir, timeoutMs: 60_000 });
    await eventually(() => (ledger()?.committed_line ?? 0) >= 5_000, 240_000, 'first batches committed');
    await nr.stop('SIGKILL');
    nr = undefined;
    const before = ledger()!;
    assert.equal(before.status, 'processing', 'killed mid-file');
    const watermark = before.committed_line;
    assert.ok(watermark < ROWS, `killed before the end (watermark ${watermark})`);
    assert.ok(existsSync(join(work, 'in', name)), 'not archived yet');
    // Appends already written by the first run; the file node may have lost its last few (killed).
    const firstSize = existsSync(join(work, 'out.txt')) ? statSync(join(work, 'out.txt')).size : 0;
    const first = outLines();
    assert.equal(new Set(first).size, first.length, 'no row twice in the first run');

    nr = await startNodeRed({ flows: flow, userDir, timeoutMs: 60_000 });
    await eventually(() => ledger()?.status === 'done', 400_000, 'file done after the restart');
    const lastLine = ROWS + 1;
    const expected = lastLine - watermark;
    // The file node drains its queue after the ledger says done. Wait while it keeps writing (a
    // look every 250 ms, by size: re-reading the growing file every few ms took the CPU the
    // writer needed), until the expected count or 30 s without growth.
    const outSize = (): number => (existsSync(join(work, 'out.txt')) ? statSync(join(work, 'out.txt')).size : 0);
    for (let size = -1, still = Date.now(); outLines(firstSize).length < expected && Date.now() - still < 30_000;) {
      await sleep(250);
      const now = outSize();
      if (now !== size) [size, still] = [now, Date.now()];
    }
    await sleep(500);
    const second = outLines(firstSize);
    assert.equal(second.length, expected, 'every row after the watermark, once');
    assert.equal(second.reduce((a, b) => Math.min(a, b)), watermark + 1, 'nothing at or before the last commit again');
    assert.equal(second.reduce((a, b) => Math.max(a, b)), lastLine);
    assert.equal(new Set(second).size, second.length);
    assert.ok(existsSync(join(work, 'done', name)) && !existsSync(join(work, 'in', name)), 'archived once finished');
    const db = new Database(join(userDir, 'nhs-interop.sqlite'), { readonly: true });
    try {
      const files = db.prepare("SELECT outcome, detail FROM audit WHERE action = 'esr.file'").all() as { outcome: string; detail: string }[];
      assert.equal(files.length, 1, 'one file audit record');
      assert.equal(files[0]!.outcome, 'success');
      assert.equal((JSON.parse(files[0]!.detail) as { rows: number }).rows, ROWS, 'counts carried across the restart');
      const joiners = db.prepare("SELECT COUNT(*) AS n FROM audit WHERE action = 'esr.joiner'").get() as { n: number };
      // An event is audited just before its batch commits: a kill between the two audits that
      // batch's events again after the restart (at-least-once, at most one batch of 500).
      assert.ok(joiners.n >= ROWS && joiners.n <= ROWS + 500, `joiner audit records ${joiners.n}`);
    } finally {
      db.close();
    }
  });
});
