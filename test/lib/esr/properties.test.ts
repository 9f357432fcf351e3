/**
 * Property tests (fast-check) for the ESR GO reader and row checks: any text (mutated GO files and
 * ../shared ESR samples, token soup, any ISO-8859-1 bytes), cut into any chunks, gives one row per
 * physical line split on `~` with its line number, never throws, and every issue names its line
 * and column. Oracle: the fuzz target's (test/lib/fuzz/targets.ts). Bounded for `npm test`
 * (ESR_PROPERTY_RUNS raises it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkGoRow } from '../../../lib/esr/go';
import { checkCsvFormat, checkCsvRow, csvSchema } from '../../../lib/esr/csv';
import { esrRowsTarget, type EsrInput } from '../fuzz/targets';

const RUNS = Number(process.env.ESR_PROPERTY_RUNS ?? 80);
const WHERE = /^F line (\d+) column (\d+)/;

describe('properties: ESR rows', () => {
  it('goRows + checkGoRow on any text, any chunking: rows by physical line, never a throw, every issue with line and column', async () => {
    await fc.assert(fc.asyncProperty(esrRowsTarget.arbitrary, (i: EsrInput) => Promise.resolve(esrRowsTarget.check(i))), { numRuns: RUNS });
  });

  it('checkGoRow / checkCsvRow on any fields: every issue names the row line and a column', () => {
    const schema = csvSchema(checkCsvFormat({ recordType: 'R', columns: [{ name: 'A', kind: 'nhsNumber', required: true }, { name: 'D', kind: 'date' }, { name: 'C', kind: 'code', codes: ['X'] }] }));
    const fields = fc.array(fc.oneof(fc.constantFrom('PRA', 'ASA', 'PRD', 'R', '', '20240101', '9000000009'), fc.string({ maxLength: 12 })), { maxLength: 60 });
    fc.assert(fc.property(fields, fc.integer({ min: 1, max: 1e6 }), (f, line) => {
      for (const c of [checkGoRow('F', { line, fields: f }), checkCsvRow('F', { line, fields: ['R', ...f] }, schema)]) {
        for (const x of c.issues) {
          const m = WHERE.exec(x.diagnostics ?? '');
          assert.ok(m, x.diagnostics);
          assert.equal(Number(m[1]), line);
        }
      }
    }), { numRuns: RUNS * 2 });
  });

  it('found while writing the property: a row with the wrong number of columns names the first missing (or first extra) column', () => {
    const short = checkGoRow('F', { line: 3, fields: ['PRA', '1'] });
    assert.deepEqual(short.issues.map((i) => [i.expression?.[0], i.diagnostics]), [['PRA-2', 'F line 3 column 2: has 2 columns, PRA rows have 44']]);
    const long = checkGoRow('F', { line: 4, fields: ['PRD', '1', 'x'] });
    assert.deepEqual(long.issues.map((i) => i.diagnostics), ['F line 4 column 2: has 3 columns, PRD rows have 2']);
  });
});
