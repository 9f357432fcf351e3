import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkEnvelope, checkGoRow, goRows, inspectGoFile, parseGoFileName } from '../../../lib/esr/go';
import { GO_SCHEMAS, schemaOf } from '../../../lib/esr/records';
import { isEsrDate, isEsrDateTime, isNiNumber } from '../../../lib/esr/validate';
import { sharedDir, skipWithoutShared } from '../../helpers/shared';
import { assignmentRow, goFile, goName, personRow } from './fixtures';

const samples = join(sharedDir, 'data', 'esr-go-samples');
const skip = skipWithoutShared('data/esr-go-samples');

async function allRows(path: string): Promise<{ line: number; fields: string[] }[]> {
  const out: { line: number; fields: string[] }[] = [];
  for await (const b of goRows(path)) out.push(...b);
  return out;
}

describe('ESR GO file names', () => {
  const cases: [string, ReturnType<typeof parseGoFileName>][] = [
    ['GO_123_GDW_GDR_20210326_00000001.DAT', { vpd: '123', kind: 'GDR', date: '20210326', seq: 1 }],
    ['GO_456_GDW_GOC_20260105_00001234.DAT', { vpd: '456', kind: 'GOC', date: '20260105', seq: 1234 }],
    ['go_456_gdw_gof_20260105_7.dat', { vpd: '456', kind: 'GOF', date: '20260105', seq: 7 }],
    ['GO_123_GDW_XXX_20210326_00000001.DAT', undefined],
    ['GO_123_GDW_GDR_2021032_00000001.DAT', undefined],
    ['report.csv', undefined],
  ];
  for (const [name, want] of cases) it(name, () => assert.deepEqual(parseGoFileName(name), want));
});

describe('ESR field formats', () => {
  const table: [string, (v: string) => boolean, string, boolean][] = [
    ['date', isEsrDate, '20240229', true], ['date', isEsrDate, '20230229', false], ['date', isEsrDate, '20241301', false],
    ['date', isEsrDate, '2024011', false], ['date', isEsrDate, '2024O101', false], ['date', isEsrDate, '21000229', false], ['date', isEsrDate, '20000229', true],
    ['datetime', isEsrDateTime, '20110803 161310', true], ['datetime', isEsrDateTime, '20110803 246000', false], ['datetime', isEsrDateTime, '20110803161310', false],
    ['ni', isNiNumber, 'AB012201B', true], ['ni', isNiNumber, 'QQ123456C', false], ['ni', isNiNumber, 'AB123456', true], ['ni', isNiNumber, 'GB123456A', false],
    ['ni', isNiNumber, 'DA123456A', false], ['ni', isNiNumber, 'AO123456A', false], ['ni', isNiNumber, 'AB12345A', false], ['ni', isNiNumber, 'AB123456E', false],
  ];
  for (const [kind, f, v, ok] of table) it(`${kind} ${v} → ${ok}`, () => assert.equal(f(v), ok));
});

describe('ESR GO samples (../shared/data/esr-go-samples)', () => {
  it('every good_imports row is a known record type with its schema column count', { skip }, async () => {
    const files = readdirSync(join(samples, 'fixtures')).filter((f) => f.startsWith('good_imports-'));
    assert.ok(files.length > 40);
    let rows = 0;
    for (const f of files) {
      for (const r of await allRows(join(samples, 'fixtures', f))) {
        if (r.fields[0] === 'HDR' || r.fields[0] === 'TRL') continue;
        const c = checkGoRow(f, r);
        rows++;
        // The samples' free-text EIT and SIT columns are not validated; everything else must pass.
        assert.deepEqual(c.issues, [], `${f} line ${r.line}: ${JSON.stringify(c.issues)}`);
      }
    }
    assert.ok(rows >= 80, `only ${rows} rows`);
  });

  it('decodes the ISO-8859-1 sample explicitly (é is one byte 0xE9) with CRLF line ends', { skip }, async () => {
    const f = join(samples, 'fixtures', 'good_imports-iso_8859_1-Out-iso_8859_1_encoding_20201015_00001157_DAT');
    const rows = await allRows(f);
    assert.equal(rows.length, 2);
    assert.equal(rows[1]!.line, 2);
    assert.equal(rows[1]!.fields[0], 'LCA');
    assert.equal(rows[1]!.fields[6], 'Town Wells Café');
    assert.ok(!rows[1]!.fields.at(-1)!.endsWith('\r'), 'CR stripped');
    assert.equal(checkGoRow('iso', rows[1]!).issues.length, 0);
  });

  it('keeps quotes as data (liberal parsing sample)', { skip }, async () => {
    const rows = await allRows(join(samples, 'fixtures', 'good_imports-liberal_parsing-Out-liberal_parsing_20201015_00001157_DAT'));
    assert.equal(rows[0]!.fields[3], 'Maternity "Town" Hospital');
  });

  it('rejects the mixed sample whole: its trailer count (123456) is not its 32 data rows, and its header date-time is fine', { skip }, async () => {
    const f = join(samples, 'fixtures', 'good_imports-mixed_import-Out-mixed_import_20201015_00001157_DAT');
    const info = await inspectGoFile(f);
    assert.equal(info.lines, 34);
    const issues = checkEnvelope('mixed.DAT', info);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.severity, 'fatal');
    assert.match(issues[0]!.diagnostics!, /mixed\.DAT line 34 column 1 \(recordCount\): trailer record count 123456 does not match the 32 data rows/);
  });

  it('rejects the header-only sample (no newline, no TRL) as truncated', { skip }, async () => {
    const name = 'GO_123_GDW_GDR_20210326_00000001.DAT';
    const info = await inspectGoFile(join(samples, 'fixtures', `In-${name}`));
    assert.equal(info.endsWithNewline, false);
    const issues = checkEnvelope(name, info);
    assert.deepEqual(issues.map((i) => i.code), ['incomplete']);
  });

  it('rejects an empty sample file', { skip }, async () => {
    const info = await inspectGoFile(join(samples, 'fixtures', 'bad_imports-imports_missing_a_timestamp-Out-missing_timestamp_DAT'));
    assert.equal(checkEnvelope('x', info)[0]!.code, 'incomplete');
  });
});

describe('ESR GO rows: validation with line and column', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'esr-go-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names file, line and column of each bad cell, never the value', async () => {
    const name = goName('GOC', 1);
    const rows = [
      personRow({ id: 'P1' }),
      personRow({ id: 'P2', ni: 'AB12345XC' }),
      personRow({ id: 'P3', dob: '19801301' }),
      assignmentRow({ person: 'P1', id: 'A1', number: 'NOTANUMBER' }),
      'ZZA~1~2',
      'PRA~short',
      assignmentRow({ person: '', id: 'A2' }),
    ];
    const path = join(dir, name);
    writeFileSync(path, goFile(name, rows, { eol: '\r\n' }), 'latin1');
    const info = await inspectGoFile(path);
    assert.deepEqual(checkEnvelope(name, info), []);
    const checked = (await allRows(path)).filter((r) => r.fields[0] !== 'HDR' && r.fields[0] !== 'TRL').map((r) => checkGoRow(name, r));
    const diag = checked.map((c) => c.issues.map((i) => `${i.expression?.[0]} ${i.diagnostics}`));
    assert.deepEqual(diag, [
      [],
      [`PRA-14 ${name} line 3 column 14 (niNumber): not a valid National Insurance number`],
      [`PRA-13 ${name} line 4 column 13 (dateOfBirth): not a YYYYMMDD date`],
      [`ASA-7 ${name} line 5 column 7 (assignmentNumber): not a valid assignment number`],
      [`ZZA-0 ${name} line 6 column 0: unknown record type`],
      [`PRA-2 ${name} line 7 column 2: has 2 columns, PRA rows have 44`],
      [`ASA-1 ${name} line 8 column 1 (personId): required field is empty`],
    ]);
    for (const d of diag.flat()) assert.ok(!/AB12345XC|19801301|NOTANUMBER/.test(d), 'no values in diagnostics');
  });

  it('counts lines across blank lines and mixed CRLF/LF', async () => {
    const path = join(dir, 'mixed-eol.DAT');
    writeFileSync(path, `HDR~x~20260105 010203\r\n\r\n${personRow({ id: 'P1' })}\n\n${personRow({ id: 'P2' })}\r\nTRL~2\n`);
    const rows = await allRows(path);
    assert.deepEqual(rows.map((r) => [r.line, r.fields[0], r.fields[1]]), [[1, 'HDR', 'x'], [3, 'PRA', 'P1'], [5, 'PRA', 'P2'], [6, 'TRL', '2']]);
    const info = await inspectGoFile(path);
    assert.equal(info.lines, 4);
    assert.deepEqual(checkEnvelope('mixed-eol.DAT', info), []);
  });

  it('knows every record type the issue lists, with A and D actions', () => {
    for (const code of ['PR', 'AS', 'LC', 'OR', 'PO', 'AB', 'QL', 'CM', 'CO', 'ET', 'PI']) {
      assert.ok(GO_SCHEMAS[code], code);
      assert.equal(schemaOf(`${code}A`)?.action, 'A');
      assert.equal(schemaOf(`${code}D`)?.action, 'D');
    }
    assert.equal(schemaOf('PRX'), undefined);
    assert.equal(schemaOf('LOV')?.action, null);
  });
});
