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
import { loadCsvMap } from '../../../lib/terminology/map-loaders';
import { cleanUp, csvMapTarget, terminologyResponseTarget, type HttpInput } from '../fuzz/targets';

const RUNS = Number(process.env.TERMINOLOGY_PROPERTY_RUNS ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'nhs-term-props-'));
after(() => { rmSync(dir, { recursive: true, force: true }); cleanUp(); });

const hasCode = (code: string) => (e: unknown): boolean => e instanceof NhsError && e.code === code;
const answering = (status: number, body: string): TerminologyClient =>
  new TerminologyClient({ baseUrl: 'http://tx.invalid/fhir', retries: 0, rateLimit: 0, fetch: (async () => new Response(body, { status })) });

describe('properties: CSV map loader', () => {
  it('any text: a table whose issues have a line and a column, or TERMINOLOGY_MAP_INVALID', async () => {
    await fc.assert(fc.asyncProperty(csvMapTarget.arbitrary, async (t: string) => { await csvMapTarget.check(t); }), { numRuns: Math.ceil(RUNS * 0.6) });
  });

  it('bad rows are reported by physical line (blank and comment lines counted) and column', async () => {
    const f = join(dir, 'lines.csv');
    writeFileSync(f, '# version: 1\nsource code,target code,equivalence\n\n,1,equivalent\n"A\nB",2,sort-of\n');
    const t = await loadCsvMap(f);
    assert.deepEqual(t.issues, [{ row: 2, line: 4, column: 1, message: 'empty source code' }, { row: 3, line: 5, column: 3, message: 'unknown equivalence' }]);
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
