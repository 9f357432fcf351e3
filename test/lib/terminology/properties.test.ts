/**
 * Property tests (fast-check) for the terminology inputs from outside: the CSV map loader on any
 * text (mutated map files, CSV token soup, raw text) only ever fails with TERMINOLOGY_MAP_INVALID
 * and reports every bad row by line and column; the terminology-server client on any HTTP answer
 * (status, mutated Parameters/ValueSet bodies, any JSON, raw bytes) gives well-typed results or an
 * NhsError whose code starts TERMINOLOGY_. Oracles: the fuzz targets' (test/lib/fuzz/targets.ts).
 * Bounded for `npm test` (TERMINOLOGY_PROPERTY_RUNS raises it).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { NhsError } from '../../../lib/errors';
import { TerminologyClient } from '../../../lib/terminology/client';
import { csvMapTable, loadCsvMap } from '../../../lib/terminology/map-loaders';
import { csvMapTarget, csvOutcome, terminologyResponseTarget, utf8Chunks, type CsvInput, type HttpInput } from '../fuzz/targets';

const RUNS = Number(process.env.TERMINOLOGY_PROPERTY_RUNS ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'nhs-term-props-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const hasCode = (code: string) => (e: unknown): boolean => e instanceof NhsError && e.code === code;
const answering = (status: number, body: string): TerminologyClient =>
  new TerminologyClient({ baseUrl: 'http://tx.invalid/fhir', retries: 0, rateLimit: 0, fetch: (async () => new Response(body, { status })) });

describe('properties: CSV map loader', () => {
  it('any text in any chunks: a table whose issues have a line and a column, or TERMINOLOGY_MAP_INVALID; the same whatever the chunks', async () => {
    await fc.assert(fc.asyncProperty(csvMapTarget.arbitrary, async (i: CsvInput) => { await csvMapTarget.check(i); }), { numRuns: Math.ceil(RUNS * 0.6) });
  });

  it('any text as a file: loadCsvMap gives what the in-memory parser (the fuzz target) gives', async () => {
    // The fuzz target drives csvMapTable from memory; this holds the file wrapper to it.
    const f = join(dir, 'any.csv');
    await fc.assert(fc.asyncProperty(csvMapTarget.arbitrary, async ({ text, cuts }: CsvInput) => {
      writeFileSync(f, text, 'utf8');
      assert.deepEqual(await csvOutcome(loadCsvMap(f, 'm.csv')), await csvOutcome(csvMapTable(utf8Chunks(text, cuts), 'm.csv')));
    }), { numRuns: Math.ceil(RUNS * 0.4) });
  });

  it('provenance comes from the # lines before anything else, after a BOM, with CRLF, also past the first 8 KiB', async () => {
    const long = `# name: ${'x'.repeat(9000)}`;
    const text = `\ufeff# version: 2024.2\r\n${long}\r\n#effectiveTime:20240601  \r\nsource code,target code\r\n# version: not this\r\nA,1\r\n`;
    for (const cuts of [[], [1, 2, 3], [20, 9010]]) {
      const t = await csvMapTable(utf8Chunks(text, cuts), 'p.csv');
      assert.deepEqual(t.provenance, { map: 'x'.repeat(9000), format: 'csv', version: '2024.2', effectiveTime: '20240601' });
      assert.equal(t.size, 1);
    }
    const afterBlank = await csvMapTable(['# version: 1\n\n# effectiveTime: 2\nsource code,target code\n'], 'b.csv');
    assert.deepEqual(afterBlank.provenance, { map: 'b.csv', format: 'csv', version: '1' });
  });

  it('bad rows are reported by physical line (blank and comment lines counted) and column', async () => {
    const f = join(dir, 'lines.csv');
    writeFileSync(f, '# version: 1\nsource code,target code,equivalence\n\n,1,equivalent\n"A\nB",2,sort-of\n');
    const t = await loadCsvMap(f);
    assert.deepEqual(t.issues, [{ row: 2, line: 4, column: 1, message: 'empty source code' }, { row: 3, line: 5, column: 3, message: 'unknown equivalence' }]);
  });

  it('found by review: a stray quote no longer makes the loader quadratic, and a quoted field stops at 1 MiB', async () => {
    // 40,000 lines after an unterminated quote took 12 s (each line re-counted the quotes of all
    // before it); the fuzzer's inputs (≤ a few KB) were too short to show it.
    const stray = `source code,target code\n"A${'\nB,1'.repeat(100_000)}\n`;
    const t0 = performance.now();
    await assert.rejects(csvMapTable([stray], 's.csv'), (e) => hasCode('TERMINOLOGY_MAP_INVALID')(e) && /^s\.csv line 2 column 1: unterminated quoted field at the end of the file/.test((e as Error).message));
    // The same 1 s bound as a fuzz hang (about 0.1 s on a quiet machine).
    assert.ok(performance.now() - t0 < 1000);
    const endless = `source code,target code\nA,1\nB,"x${'\nC,1'.repeat(300_000)}\nD,1\n`;
    await assert.rejects(csvMapTable(utf8Chunks(endless, [5000, 70000]), 'e.csv'), (e) => hasCode('TERMINOLOGY_MAP_INVALID')(e) && /^e\.csv line 3 column 2: quoted field still open after 1024 KiB/.test((e as Error).message));
    const fine = await csvMapTable([`source code,target code,target display\nA,1,"two\nlines, ""quoted"""\nB,2,x\n`], 'f.csv');
    assert.equal(fine.lookup('A')?.targets[0]?.display, 'two\nlines, "quoted"');
    assert.equal(fine.lookup('B')?.targets[0]?.code, '2');
  });

  it('found while writing the target: text after a closing quote is TERMINOLOGY_MAP_INVALID naming line and column, not a csv-parse error', async () => {
    const f = join(dir, 'quote.csv');
    writeFileSync(f, 'source code,target code\nA,1\nB,"2"x\n');
    await assert.rejects(loadCsvMap(f, 'quote.csv'), (e) => hasCode('TERMINOLOGY_MAP_INVALID')(e) && /^quote\.csv line 3 column 2: malformed quoted field/.test((e as Error).message));
  });
});

describe('properties: terminology server responses', () => {
  it('any status and body: typed results or an NhsError TERMINOLOGY_*', async () => {
    await fc.assert(fc.asyncProperty(terminologyResponseTarget.arbitrary, async (i: HttpInput) => { await terminologyResponseTarget.check(i); }), { numRuns: RUNS * 2 });
  });

  it('fuzz findings (and their neighbours): a null parameter, a non-string value and a body that is not a resource', async () => {
    const r = await answering(200, '{"resourceType":"Parameters","parameter":[null,{"name":"display","valueString":["x"]},{"name":"name","valueString":"SNOMED CT"}]}').lookup({ system: 'http://snomed.info/sct', code: '22298006' });
    assert.equal(r.display, undefined);
    assert.equal(r.name, 'SNOMED CT');
    for (const body of ['null', '[]', '"x"', '1']) {
      await assert.rejects(answering(200, body).translate({ system: 'http://snomed.info/sct', code: '1', url: 'http://cm' }), hasCode('TERMINOLOGY_BAD_RESPONSE'));
    }
    const t = await answering(200, '{"resourceType":"Parameters","parameter":[{"name":"match","part":{"name":"concept"}},{"name":"match","part":[null,{"name":"concept","valueCoding":{"code":7}}]}]}').translate({ system: 'http://snomed.info/sct', code: '1', url: 'http://cm' });
    assert.deepEqual(t, { result: false, targets: [] });
    const page = await answering(200, '{"resourceType":"ValueSet","expansion":{"offset":"0","contains":[null,1,{"code":"1","display":2}]}}').expand({ url: 'http://vs' });
    assert.deepEqual(page, { offset: 0, contains: [{ code: '1' }] });
  });
});
