import { tar } from '../helpers/tar';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { sharedDir, skipWithoutShared } from '../helpers/shared';
import { startRegistry, TRUST_PROFILE } from '../helpers/fhir-registry';

const bin = join(__dirname, '..', '..', 'bin', 'fhir-validate.ts');
/** tsx's loader by absolute URL: the child runs in a temp cwd where `tsx` would not resolve. */
const tsxLoader = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
const tmp = mkdtempSync(join(tmpdir(), 'fhir-cli-'));
const cache = join(tmp, 'cache');
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Run the CLI as a child process (TypeScript source via tsx; dist/ is not needed). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', tsxLoader, bin, ...args], { cwd: tmp, env: { ...process.env, FHIR_PACKAGE_CACHE: cache }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stdout, stderr });
    });
  });
}

function write(rel: string, v: unknown): string {
  const f = join(tmp, rel);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(f, typeof v === 'string' ? v : JSON.stringify(v));
  return f;
}

/** A .tgz of `package/…` files. */
const tgz = (files: Record<string, string>): Buffer => gzipSync(tar(Object.entries(files).map(([name, data]) => ({ name, data }))));

const goodPatient = { resourceType: 'Patient', id: 'p1', gender: 'male', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' }] };
const badPatient = { resourceType: 'Patient', id: 'p2', gender: 'bogus' };


describe('nhs-fhir-validate CLI (child process)', () => {
  it('one valid file: prints its OperationOutcome and exits 0', async () => {
    const r = await cli([write('good.json', goodPatient), '--no-cache']);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.equal(o.resourceType, 'OperationOutcome');
    assert.ok(!o.issue.some((i: any) => i.severity === 'error'));
  });

  it('one invalid file: prints the issue with its expression and exits 1', async () => {
    const r = await cli([write('bad.json', badPatient), '--no-cache']);
    assert.equal(r.code, 1);
    const o = JSON.parse(r.stdout);
    assert.deepEqual(o.issue.find((i: any) => i.severity === 'error').expression, ['Patient.gender']);
  });

  it('a directory: one line per file, a total, exit 1 when any file has errors; malformed JSON is a failed file', async () => {
    write('dir/a.json', goodPatient);
    write('dir/sub/b.json', badPatient);
    write('dir/c.json', '{"resourceType": "Patient",');
    write('dir/notes.txt', 'ignored');
    const r = await cli([join(tmp, 'dir'), '--no-cache']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^ok {3}dir\/a\.json$/m);
    assert.match(r.stdout, /^FAIL dir\/sub\/b\.json {2}1 error\(s\).*Patient\.gender/m);
    assert.match(r.stdout, /^FAIL dir\/c\.json/m);
    assert.match(r.stdout, /3 file\(s\): 1 valid, 2 with errors/);
    assert.doesNotMatch(r.stdout, /notes\.txt/);
  });

  it('--profile applies a profile; --json prints outcomes for several files', async () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: 'Patient/p1' } };
    const f = write('obs.json', obs);
    const plain = await cli([f, '--no-cache']);
    assert.equal(plain.code, 0, plain.stdout);
    const r = await cli([f, write('good2.json', goodPatient), '--profile', 'http://hl7.org/fhir/StructureDefinition/bodyweight', '--no-cache', '--json']);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    assert.equal(out.length, 2);
    assert.ok(out[0].outcome.issue.some((i: any) => i.severity === 'error'));
  });

  it('usage errors and unloadable packages exit 2 with a message', async () => {
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage:/);
    const badOpt = await cli(['x.json', '--bogus']);
    assert.equal(badOpt.code, 2);
    assert.match(badOpt.stderr, /unknown option --bogus/);
    const badTerm = await cli(['x.json', '--terminology', 'loose']);
    assert.equal(badTerm.code, 2);
    const missing = await cli([write('g3.json', goodPatient), '--package', join(tmp, 'no-such-dir')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /FHIR_PACKAGE_FOLDER/);
    const noFile = await cli([join(tmp, 'nope.json'), '--no-cache']);
    assert.equal(noFile.code, 2);
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /install <package\.tgz \| name#version>/);
  });

  it('install puts a package .tgz into the cache; validation then uses its profile', async () => {
    const profile = {
      resourceType: 'StructureDefinition', id: 'NeedsGender', url: 'http://example.org/StructureDefinition/NeedsGender', version: '1.0.0', name: 'NeedsGender',
      status: 'active', kind: 'resource', abstract: false, type: 'Patient', derivation: 'constraint', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
      differential: { element: [{ id: 'Patient.gender', path: 'Patient.gender', min: 1 }] },
    };
    const file = join(tmp, 'example.pkg-1.0.0.tgz');
    writeFileSync(file, tgz({
      'package/package.json': JSON.stringify({ name: 'example.pkg', version: '1.0.0', dependencies: { 'hl7.fhir.r4.core': '4.0.1' } }),
      'package/StructureDefinition-NeedsGender.json': JSON.stringify(profile),
    }));
    const inst = await cli(['install', file]);
    assert.equal(inst.code, 0, inst.stderr);
    assert.match(inst.stdout, /installed example\.pkg#1\.0\.0/);
    const r = await cli([write('nogender.json', { resourceType: 'Patient' }), '--cached', 'example.pkg#1.0.0', '--profile', profile.url]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(JSON.parse(r.stdout).issue.some((i: any) => i.severity === 'error' && /gender/.test(JSON.stringify(i))));
    const evil = join(tmp, 'evil.tgz');
    writeFileSync(evil, tgz({ 'package/package.json': '{"name":"x","version":"1"}', 'package/../../../escape.json': '{}' }));
    const e = await cli(['install', evil]);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /FHIR_TGZ_UNSAFE/);
  });

  it('UK Core package folder: the STU2 Patient examples validate', { skip: skipWithoutShared('fhir-packages') }, async () => {
    const pkg = join(sharedDir, 'fhir-packages', 'fhir.r4.ukcore.stu2#2.0.2');
    const ex = join(pkg, 'package', 'examples', 'Patient-UKCore-Patient-RichardSmith-Example.json');
    const r = await cli([ex, '--package', pkg, '--no-cache']);
    assert.equal(r.code, 0, r.stdout);
  });

  it('install <name>#<version> from a registry: follows a dependency, checks checksums, refuses a tampered tarball, then validates', { skip: skipWithoutShared('fhir-packages') }, async () => {
    const reg = await startRegistry();
    try {
      const spec = 'example.trust.profiles#1.0.0';
      const inst = await cli(['install', spec, '--registry', reg.url]);
      assert.equal(inst.code, 0, inst.stderr);
      assert.match(inst.stdout, /installed example\.trust\.profiles#1\.0\.0/);
      assert.match(inst.stdout, /installed fhir\.r4\.ukcore\.stu2#2\.0\.2/);
      assert.ok(!/hl7\.fhir\.r4\.core/.test(inst.stdout), 'R4 core is bundled, never fetched');
      assert.ok(existsSync(join(cache, 'fhir.r4.ukcore.stu2#2.0.2', 'package', 'package.json')));
      assert.deepEqual(reg.hits.filter((h) => h.endsWith('/2.0.2') || h.endsWith('/1.0.0')).sort(), ['/example.trust.profiles/1.0.0', '/fhir.r4.ukcore.stu2/2.0.2']);
      // a second install finds both in the cache and downloads nothing
      const before = reg.hits.length;
      const again = await cli(['install', spec, '--registry', reg.url]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /cached fhir\.r4\.ukcore\.stu2#2\.0\.2/);
      assert.ok(reg.hits.slice(before).every((h) => !h.endsWith('/2.0.2')));

      // validates with the installed package and its dependency (profile on UKCore-Patient)
      const ex = JSON.parse(readFileSync(join(sharedDir, 'fhir-packages', 'fhir.r4.ukcore.stu2#2.0.2', 'package', 'examples', 'Patient-UKCore-Patient-RichardSmith-Example.json'), 'utf8')) as Record<string, unknown>;
      const ok = await cli([write('richard.json', ex), '--cached', 'example.trust.profiles#1.0.0', '--profile', TRUST_PROFILE]);
      assert.equal(ok.code, 0, ok.stdout);
      const { gender: _g, ...noGender } = ex;
      const bad = await cli([write('richard-nogender.json', noGender), '--cached', 'example.trust.profiles#1.0.0', '--profile', TRUST_PROFILE]);
      assert.equal(bad.code, 1, bad.stdout);
      assert.ok(JSON.parse(bad.stdout).issue.some((i: any) => i.severity === 'error' && /gender/.test(JSON.stringify(i))));

      // tampered tarball: the registry's shasum does not match what it serves → refused, nothing installed
      const t = await cli(['install', 'example.tampered#1.0.0', '--registry', reg.url]);
      assert.equal(t.code, 2);
      assert.match(t.stderr, /FHIR_REGISTRY_CHECKSUM/);
      assert.ok(!existsSync(join(cache, 'example.tampered#1.0.0')));
      // unknown package / version
      const u = await cli(['install', 'example.nothere#1.0.0', '--registry', reg.url]);
      assert.equal(u.code, 2);
      assert.match(u.stderr, /FHIR_REGISTRY_NOT_FOUND/);
    } finally {
      await reg.close();
    }
  });
});
