/**
 * The ESR intake over a local folder source, on SQLite and on PostgreSQL: rows, events,
 * quarantine, audit, archive, and the failure cases (truncated, duplicate, out of sequence,
 * 1 % bad rows, a crash mid-file, a missing file under a fake clock).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EsrAlert } from '../../../lib/esr/alerts';
import { EsrIntake, type EsrInvalidMsg, type EsrRecordMsg, type IntakeOptions } from '../../../lib/esr/intake';
import type { JmlEvent } from '../../../lib/esr/jml';
import { FolderSource } from '../../../lib/remote/folder';
import type { Store } from '../../../lib/store';
import { postgresBackend, sqliteBackend } from '../store/backends';
import { assignmentRow, goFile, goName, personRow } from './fixtures';

class Sink {
  records: EsrRecordMsg[] = [];
  invalids: EsrInvalidMsg[] = [];
  events: JmlEvent[] = [];
  alerts: EsrAlert[] = [];
  record(m: EsrRecordMsg): void { this.records.push(m); }
  invalid(m: EsrInvalidMsg): void { this.invalids.push(m); }
  event(e: JmlEvent): void { this.events.push(e); }
  alert(a: EsrAlert): void { this.alerts.push(a); }
}
const sink = (): Sink => new Sink();

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe(`ESR intake, folder source (${backend.name})`, { skip: backend.skip }, () => {
    let dir: string;
    let n = 0;
    before(() => { dir = mkdtempSync(join(tmpdir(), 'esr-intake-')); });
    after(async () => { await backend.cleanup(); rmSync(dir, { recursive: true, force: true }); });

    async function setup(extra: Partial<IntakeOptions> = {}): Promise<{ store: Store; inbox: string; archive: string; src: FolderSource; opts: IntakeOptions }> {
      const store = backend.fresh().make();
      await store.open();
      const base = join(dir, `t${++n}`);
      const inbox = join(base, 'in');
      const archive = join(base, 'done');
      mkdirSync(inbox, { recursive: true });
      const opts: IntakeOptions = { source: 'src1', node: 'esr1', store, tempDir: join(base, 'tmp'), pattern: 'GO_*.DAT', ...extra };
      return { store, inbox, archive, src: new FolderSource({ folder: inbox, archiveFolder: archive }), opts };
    }

    it('full extracts: the people and assignments a full extract no longer contains become leavers; unchanged ones it contains do not (their state is stamped, not rewritten)', async () => {
      const { inbox, src, opts } = await setup({ leaversFromFullExtract: true, batch: 2 });
      const rows = (ids: string[]): string[] => ids.flatMap((id) => [personRow({ id }), assignmentRow({ person: id, id: `A${id}` })]);
      writeFileSync(join(inbox, goName('GDR', 1)), goFile(goName('GDR', 1), rows(['P1', 'P2', 'P3'])));
      const first = sink();
      await new EsrIntake(opts, first).poll(src);
      assert.equal(first.events.length, 6);
      // The next full extract: P1 and P3 unchanged (batches of 2 rows, so the stamps span commits), P2 gone.
      writeFileSync(join(inbox, goName('GDR', 2)), goFile(goName('GDR', 2), rows(['P1', 'P3'])));
      const second = sink();
      const r = await new EsrIntake(opts, second).poll(src);
      assert.deepEqual(r.map((x) => x.outcome), ['processed']);
      assert.deepEqual(second.events.map((e) => `${e.type} ${e.entity} ${e.assignmentId ?? e.personId} ${e.reason}`),
        ['leaver person P2 missing-from-full-extract', 'leaver assignment AP2 missing-from-full-extract']);
      // And again: nothing is missing now (P2 already left).
      writeFileSync(join(inbox, goName('GDR', 3)), goFile(goName('GDR', 3), rows(['P1', 'P3'])));
      const third = sink();
      await new EsrIntake(opts, third).poll(src);
      assert.deepEqual(third.events, []);
    });

    it('streams a file: valid rows on, a bad row quarantined for the workforce team, events, audit per file and per event, archived after', async () => {
      const { store, inbox, archive, src, opts } = await setup();
      const name = goName('GDR', 1);
      writeFileSync(join(inbox, name), goFile(name, [personRow({ id: 'P1' }), assignmentRow({ person: 'P1', id: 'A1' }), personRow({ id: 'P2', ni: 'XX' }), 'LOV~LKUP~T~C~D~~~~~Y~~~20201014 095943'], { eol: '\r\n' }), 'latin1');
      const s = sink();
      const r = await new EsrIntake(opts, s).poll(src);
      assert.deepEqual(r.map((x) => [x.name, x.outcome]), [[name, 'processed']]);
      assert.deepEqual(r[0]!.counts, { rows: 4, valid: 3, invalid: 1, joiners: 2, movers: 0, leavers: 0 });
      assert.deepEqual(s.records.map((m) => [m.topic, m.esr.line, m.esr.action]), [['PRA', 2, 'A'], ['ASA', 3, 'A'], ['LOV', 5, null]]);
      assert.equal(s.records[0]!.outcome.issue[0]!.diagnostics, 'All OK');
      assert.equal(s.invalids.length, 1);
      const bad = s.invalids[0]!;
      assert.deepEqual(bad.esr, { file: name, line: 4, recordType: 'PRA', action: 'A' });
      assert.match(bad.outcome.issue[0]!.diagnostics!, new RegExp(`^${name} line 4 column 14 \\(niNumber\\)`));
      assert.equal(bad.quarantine?.owner, 'workforce team');
      const q = await store.getQuarantine(bad.quarantine.id);
      assert.equal(q?.reasonCode, 'ESR_ROW_INVALID');
      assert.equal(q?.correlationId, `${name}:4`);
      assert.deepEqual(s.events.map((e) => `${e.type} ${e.entity} ${e.line}`), ['joiner person 2', 'joiner assignment 3']);
      const audit = await store.queryAudit({ node: 'esr1' });
      assert.deepEqual(audit.map((a) => a.action), ['quarantine.park', 'esr.joiner', 'esr.joiner', 'esr.file']);
      assert.equal(audit[3]!.correlationId, name);
      assert.equal(audit[3]!.detail?.rows, 4);
      assert.match(String(audit[3]!.detail?.hash), /^[0-9a-f]{64}$/);
      assert.ok(!existsSync(join(inbox, name)) && existsSync(join(archive, name)), 'archived');
      // Nothing personal in the audit trail.
      assert.ok(!JSON.stringify(audit).includes('Synthetic') && !JSON.stringify(audit).includes('AB123456C'));
      // State survives: the same person in the next file is not a joiner again.
      const name2 = goName('GOC', 2);
      writeFileSync(join(inbox, name2), goFile(name2, [personRow({ id: 'P1' }), assignmentRow({ person: 'P1', id: 'A1', fte: '0.8' })]));
      const s2 = sink();
      await new EsrIntake(opts, s2).poll(src);
      assert.deepEqual(s2.events.map((e) => `${e.type} ${e.assignmentId} ${JSON.stringify(e.changes)}`), ['mover A1 {"fte":{"before":"1","after":"0.8"}}']);
    });

    it('rejects a truncated file whole (trailer count), leaves it in place, and alerts once', async () => {
      const { store, inbox, archive, src, opts } = await setup();
      const name = goName('GOC', 5);
      const full = goFile(name, Array.from({ length: 50 }, (_, i) => personRow({ id: `P${i}` })));
      writeFileSync(join(inbox, name), full.slice(0, Math.floor(full.length * 0.6)));
      const s = sink();
      const intake = new EsrIntake(opts, s);
      assert.deepEqual((await intake.poll(src)).map((r) => [r.outcome, r.reason]), [['rejected', 'trailer-mismatch']]);
      assert.deepEqual(s.records, []);
      assert.deepEqual(s.events, []);
      assert.deepEqual(s.alerts.map((a) => [a.type, a.file]), [['file-rejected', name]]);
      assert.ok(existsSync(join(inbox, name)) && !existsSync(join(archive, name)), 'remote file untouched');
      assert.equal((await intake.poll(src))[0]!.outcome, 'already-seen');
      assert.equal(s.alerts.length, 1, 'not repeated on the next poll');
      assert.equal((await store.queryAudit({ action: 'esr.file' }))[0]!.outcome, 'rejected');
      // The corrected file (same name, complete) is then processed.
      writeFileSync(join(inbox, name), full);
      assert.equal((await intake.poll(src))[0]!.outcome, 'processed');
      assert.equal(s.records.length, 50);
    });

    it('reports a re-sent file once and skips it, or reprocesses it on request', async () => {
      const { inbox, src, opts } = await setup();
      const a = goName('GOC', 1);
      writeFileSync(join(inbox, a), goFile(a, [personRow({ id: 'P1' })]));
      const s = sink();
      const intake = new EsrIntake(opts, s);
      await intake.poll(src);
      const b = 'GO_123_GDW_GOC_20260105_00000001 (copy).DAT';
      writeFileSync(join(inbox, b), readFileSync(join(opts.tempDir, '..', 'done', a)));
      const r = await intake.poll(src);
      assert.deepEqual(r.map((x) => x.outcome), ['duplicate']);
      assert.deepEqual(s.alerts.map((x) => x.type), ['file-duplicate']);
      assert.equal(s.records.length, 1);
      writeFileSync(join(inbox, 'GO_123_GDW_GOC_20260105_00000001 (again).DAT'), readFileSync(join(opts.tempDir, '..', 'done', a)));
      const s2 = sink();
      assert.deepEqual((await new EsrIntake({ ...opts, reprocessDuplicates: true }, s2).poll(src)).map((x) => x.outcome), ['processed']);
      assert.equal(s2.records.length, 1);
    });

    it('leaves a file that is still growing for the next poll (size not stable)', async () => {
      const { inbox, src, opts } = await setup({ stableMs: 300 });
      const name = goName('GOC', 1);
      const full = goFile(name, Array.from({ length: 20 }, (_, i) => personRow({ id: `P${i}` })));
      writeFileSync(join(inbox, name), full.slice(0, 500));
      const s = sink();
      const intake = new EsrIntake(opts, s);
      const growing = setTimeout(() => writeFileSync(join(inbox, name), full), 100);
      assert.deepEqual((await intake.poll(src)).map((r) => r.outcome), ['unstable']);
      clearTimeout(growing);
      assert.equal(s.records.length, 0);
      assert.deepEqual((await intake.poll(src)).map((r) => r.outcome), ['processed']);
      assert.equal(s.records.length, 20);
    });

    it('processes in sequence order and rejects a file older than the last one processed', async () => {
      const { inbox, src, opts } = await setup();
      for (const seq of [3, 1, 2]) writeFileSync(join(inbox, goName('GOC', seq)), goFile(goName('GOC', seq), [personRow({ id: `P${seq}` })]));
      const s = sink();
      const intake = new EsrIntake(opts, s);
      assert.deepEqual((await intake.poll(src)).map((r) => r.name.slice(-12)), ['00000001.DAT', '00000002.DAT', '00000003.DAT']);
      assert.deepEqual(s.records.map((m) => m.payload.fields[1]), ['P1', 'P2', 'P3']);
      const late = goName('GOC', 2, '20260106');
      writeFileSync(join(inbox, late), goFile(late, [personRow({ id: 'P9' })]));
      assert.deepEqual((await intake.poll(src)).map((r) => r.outcome), ['out-of-sequence']);
      assert.deepEqual(s.alerts.map((a) => a.type), ['file-out-of-sequence']);
      assert.ok(existsSync(join(inbox, late)), 'left in place');
      assert.equal(s.records.length, 3);
    });

    it('a file with 1 % bad rows: exactly those rows rejected, every good row delivered', async () => {
      const { store, inbox, src, opts } = await setup({ batch: 128 });
      const name = goName('GDR', 1);
      const rows: string[] = [];
      const badLines = new Set<number>();
      for (let i = 0; i < 2000; i++) {
        const bad = i % 100 === 37;
        if (bad) badLines.add(i + 2);
        rows.push(i % 2 === 0 ? personRow({ id: `P${i}`, ...(bad ? { dob: '20231345' } : {}) }) : assignmentRow({ person: `P${i - 1}`, id: `A${i}`, ...(bad ? { number: 'x' } : {}) }));
      }
      writeFileSync(join(inbox, name), goFile(name, rows));
      const s = sink();
      const [r] = await new EsrIntake(opts, s).poll(src);
      assert.equal(r!.counts!.invalid, 20);
      assert.deepEqual(new Set(s.invalids.map((m) => m.esr.line)), badLines);
      assert.equal(s.records.length, 1980);
      const good = new Set(s.records.map((m) => m.esr.line));
      for (let line = 2; line <= 2001; line++) assert.equal(good.has(line), !badLines.has(line), `line ${line}`);
      assert.equal((await store.listQuarantine({ owner: 'workforce team' })).length, 20);
    });

    it('after a crash mid-file the file resumes after its last committed batch: no committed row is handed on twice', async () => {
      const { store, inbox, archive, src, opts } = await setup({ batch: 100 });
      const name = goName('GDR', 1);
      writeFileSync(join(inbox, name), goFile(name, Array.from({ length: 1000 }, (_, i) => personRow({ id: `P${i}` }))));
      const first: number[] = [];
      const crashing = new (class extends Sink {
        override record(m: EsrRecordMsg): void { if (m.esr.line === 451) throw new Error('simulated crash'); first.push(m.esr.line); }
      })();
      await assert.rejects(new EsrIntake(opts, crashing).poll(src), /simulated crash/);
      assert.ok(existsSync(join(inbox, name)), 'not archived: not finished');
      const ledger = await store.esrState!().getFile('src1', name, (await store.esrState!().filesSince('src1', '2000'))[0]!.hash);
      assert.equal(ledger?.status, 'processing');
      const committed = ledger.committedLine;
      assert.equal(committed, 400, 'four batches of 100 lines committed (HDR and lines 2–400)');
      const s = sink();
      const [r] = await new EsrIntake(opts, s).poll(src);
      assert.equal(r!.outcome, 'processed');
      const second = s.records.map((m) => m.esr.line);
      assert.equal(Math.min(...second), committed + 1, 'nothing at or before the watermark again');
      const all = new Set([...first, ...second]);
      for (let line = 2; line <= 1001; line++) assert.ok(all.has(line), `line ${line} delivered`);
      assert.equal(s.events.length, 1000 - (committed - 1), 'joiners only for rows not yet committed');
      assert.ok(existsSync(join(archive, name)));
    });

    it('missing-file alert fires once after the deadline and resolves once when a file comes (fake clock)', async () => {
      let now = new Date(2026, 0, 5, 5, 0);
      const { inbox, src, opts } = await setup({ expectBy: '06:30', clock: () => now });
      const s = sink();
      const intake = new EsrIntake(opts, s);
      await intake.poll(src);
      assert.equal(s.alerts.length, 0, 'before the deadline');
      now = new Date(2026, 0, 5, 6, 31);
      await intake.poll(src);
      now = new Date(2026, 0, 5, 6, 45);
      await intake.poll(src);
      await new EsrIntake(opts, s).checkMissing(); // a restarted node does not repeat it
      assert.deepEqual(s.alerts.map((a) => [a.type, a.day]), [['file-missing', '2026-01-05']]);
      assert.match(s.alerts[0]!.text, /not arrived by 06:30/);
      now = new Date(2026, 0, 5, 7, 10);
      writeFileSync(join(inbox, goName('GOC', 1)), goFile(goName('GOC', 1), [personRow({ id: 'P1' })]));
      await intake.poll(src);
      now = new Date(2026, 0, 5, 8, 0);
      await intake.poll(src);
      assert.deepEqual(s.alerts.map((a) => a.type), ['file-missing', 'file-missing-resolved']);
      // Next day: the file came before the deadline, so nothing.
      now = new Date(2026, 0, 6, 4, 0);
      writeFileSync(join(inbox, goName('GOC', 2)), goFile(goName('GOC', 2), [personRow({ id: 'P1' })]));
      await intake.poll(src);
      now = new Date(2026, 0, 6, 9, 0);
      await intake.poll(src);
      assert.equal(s.alerts.length, 2);
    });
  });
}
