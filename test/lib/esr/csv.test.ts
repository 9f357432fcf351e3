/** Plain CSV extracts (ESR BI reports) with a user-configured column schema, through the intake. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkCsvFormat, type CsvFormat } from '../../../lib/esr/csv';
import { EsrIntake, type EsrInvalidMsg, type EsrRecordMsg } from '../../../lib/esr/intake';
import type { EsrAlert } from '../../../lib/esr/alerts';
import { FolderSource } from '../../../lib/remote/folder';
import { createStore, type Store } from '../../../lib/store';

const format: CsvFormat = {
  recordType: 'BI_STAFF',
  columns: [
    { name: 'Assignment Number', kind: 'assignmentNumber', required: true },
    { name: 'NHS Number', kind: 'nhsNumber', personal: true },
    { name: 'Start Date', kind: 'date', required: true },
    { name: 'Staff Group', kind: 'code', codes: ['Nursing', 'Medical', 'Admin'] },
    { name: 'Department', kind: 'text' },
  ],
};

describe('ESR BI CSV extracts', () => {
  let dir: string;
  let store: Store;
  let n = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'esr-csv-'));
    store = createStore({ backend: 'sqlite', file: join(dir, 's.sqlite') });
    await store.open();
  });
  after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });

  async function run(text: string): Promise<{ records: EsrRecordMsg[]; invalid: EsrInvalidMsg[]; alerts: EsrAlert[]; outcome: string; inbox: string; name: string }> {
    const inbox = join(dir, `in${++n}`);
    mkdirSync(inbox);
    const name = `staff_${n}.csv`;
    writeFileSync(join(inbox, name), text);
    const out = { records: [] as EsrRecordMsg[], invalid: [] as EsrInvalidMsg[], alerts: [] as EsrAlert[] };
    const intake = new EsrIntake({ source: `csv${n}`, node: 'n', store, tempDir: join(dir, 'tmp'), pattern: '*.csv', csv: format },
      { record: (m) => { out.records.push(m); }, invalid: (m) => { out.invalid.push(m); }, event: () => undefined, alert: (a) => { out.alerts.push(a); } });
    const [r] = await intake.poll(new FolderSource({ folder: inbox, archiveFolder: join(inbox, 'done') }));
    return { ...out, outcome: r!.outcome, inbox, name };
  }

  it('validates each row against the configured columns, quoted fields included, with line and column', async () => {
    const r = await run([
      'Assignment Number,NHS Number,Start Date,Staff Group,Department',
      '12345678,9434765919,20240101,Nursing,"Ward 1, ""East"""',
      '12345679-2,,20240301,Admin,"Multi',
      'line"',
      '12345680,9434765918,20240101,Nursing,Ward 2',
      'x,9434765919,20241301,Porter,Ward 3',
      '12345681,9434765919,20240101,Medical',
    ].join('\r\n') + '\r\n');
    assert.equal(r.outcome, 'processed');
    assert.deepEqual(r.records.map((m) => [m.topic, m.esr.line, m.payload.named['Department']]), [['BI_STAFF', 2, 'Ward 1, "East"'], ['BI_STAFF', 3, 'Multi\r\nline']]);
    assert.equal(r.records[0]!.payload.fields[0], 'BI_STAFF');
    const diag = r.invalid.map((m) => m.outcome.issue.map((i) => i.diagnostics));
    assert.deepEqual(diag, [
      [`${r.name} line 5 column 2 (NHS Number): NHS number fails the Modulus 11 check`],
      [`${r.name} line 6 column 1 (Assignment Number): not a valid assignment number`, `${r.name} line 6 column 3 (Start Date): not a YYYYMMDD date`, `${r.name} line 6 column 4 (Staff Group): not in the code list`],
      [`${r.name} line 7 column 5: has 4 columns, the report has 5`],
    ]);
    assert.ok(!JSON.stringify(diag).includes('9434765918'));
    assert.ok(existsSync(join(r.inbox, 'done', r.name)));
  });

  it('rejects a report cut inside a quoted field, or with other columns, whole and untouched', async () => {
    const cut = await run('Assignment Number,NHS Number,Start Date,Staff Group,Department\n12345678,,20240101,Nursing,"Ward');
    assert.equal(cut.outcome, 'rejected');
    assert.deepEqual(cut.records, []);
    assert.equal(cut.alerts[0]?.type, 'file-rejected');
    assert.ok(existsSync(join(cut.inbox, cut.name)));
    const other = await run('Assignment,NHS Number,Start Date,Staff Group,Department\n12345678,,20240101,Nursing,Ward\n');
    assert.equal(other.outcome, 'rejected');
    assert.match(other.alerts[0]!.text, /header columns do not match/);
  });

  it('refuses a malformed format', () => {
    for (const bad of [null, {}, { recordType: 'x y', columns: [{ name: 'a' }] }, { recordType: 'X', columns: [] }, { recordType: 'X', columns: [{ name: 'a', kind: 'money' }] }, { recordType: 'X', columns: [{ name: 'a', kind: 'code' }] }]) {
      assert.throws(() => checkCsvFormat(bad), { code: 'ESR_CSV_FORMAT' }, JSON.stringify(bad));
    }
    assert.equal(checkCsvFormat(format).recordType, 'BI_STAFF');
  });
});
