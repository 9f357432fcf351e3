import { tar } from '../helpers/tar';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { sharedDir, skipWithoutShared } from '../helpers/shared';

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

const TRUST_PROFILE = 'http://example.org/fhir/StructureDefinition/TrustPatient';

/** ustar entries for every file under `dir`, as `package/<relative path>` (prefix field for long names). */
function packDir(dir: string, override: Record<string, string> = {}): Buffer {
  const files: { name: string; data: Buffer }[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d).sort()) {
      const f = join(d, n);
      if (statSync(f).isDirectory()) walk(f, `${rel}${n}/`);
      else files.push({ name: `package/${rel}${n}`, data: readFileSync(f) });
    }
  };
  if (dir) walk(dir, '');
  for (const [n, v] of Object.entries(override)) {
    const i = files.findIndex((x) => x.name === n);
    const e = { name: n, data: Buffer.from(v) };
    if (i >= 0) files[i] = e; else files.push(e);
  }
  const blocks: Buffer[] = [];
  for (const e of files) {
    const h = Buffer.alloc(512);
    let name = e.name; let prefix = '';
    if (name.length > 100) { const cut = name.lastIndexOf('/', name.length - 101 < 0 ? 0 : 155); prefix = name.slice(0, cut); name = name.slice(cut + 1); }
    h.write(name, 0); h.write('0000644\0', 100); h.write('0000000\0', 108); h.write('0000000\0', 116);
    h.write(`${e.data.length.toString(8).padStart(11, '0')}\0`, 124); h.write('00000000000\0', 136); h.write('0', 156);
    h.write('ustar\0', 257); h.write('00', 263); h.write(prefix, 345);
    h.fill(32, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/**
 * A local server laid out like a FHIR package registry (`GET /<name>` → npm-style metadata with
 * `dist.tarball` and `dist.shasum`; `GET /<name>/<version>` → the .tgz), serving the shared UK
 * Core STU2 package packed at test time, a trust package depending on it, and a tampered one.
 */
async function startRegistry(): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
  const stu2 = packDir(join(sharedDir, 'fhir-packages', 'fhir.r4.ukcore.stu2#2.0.2', 'package'));
  const trustProfile = {
    resourceType: 'StructureDefinition', id: 'TrustPatient', url: TRUST_PROFILE, version: '1.0.0', name: 'TrustPatient', status: 'active', kind: 'resource', abstract: false,
    type: 'Patient', derivation: 'constraint', baseDefinition: 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient',
    differential: { element: [{ id: 'Patient.gender', path: 'Patient.gender', min: 1 }] },
  };
  const trust = packDir('', {
    'package/package.json': JSON.stringify({ name: 'example.trust.profiles', version: '1.0.0', fhirVersions: ['4.0.1'], dependencies: { 'hl7.fhir.r4.core': '4.0.1', 'fhir.r4.ukcore.stu2': '2.0.2' } }),
    'package/StructureDefinition-TrustPatient.json': JSON.stringify(trustProfile),
  });
  const honest = packDir('', { 'package/package.json': JSON.stringify({ name: 'example.tampered', version: '1.0.0' }), 'package/x.json': '{"resourceType":"Basic"}' });
  const tampered = packDir('', { 'package/package.json': JSON.stringify({ name: 'example.tampered', version: '1.0.0' }), 'package/x.json': '{"resourceType":"Basic","id":"evil"}' });
  const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
  const hits: string[] = [];
  let base = '';
  const pkgs: Record<string, { version: string; tgz: Buffer; shasum: string; deps: Record<string, string> }> = {
    'fhir.r4.ukcore.stu2': { version: '2.0.2', tgz: stu2, shasum: sha1(stu2), deps: { 'hl7.fhir.r4.core': '4.0.1' } },
    'example.trust.profiles': { version: '1.0.0', tgz: trust, shasum: sha1(trust), deps: { 'hl7.fhir.r4.core': '4.0.1', 'fhir.r4.ukcore.stu2': '2.0.2' } },
    'example.tampered': { version: '1.0.0', tgz: tampered, shasum: sha1(honest), deps: {} },
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    hits.push(path);
    const [, name, version] = path.split('/');
    const p = name ? pkgs[name] : undefined;
    if (!p || (version !== undefined && version !== p.version)) { res.writeHead(404).end('{"error":"not found"}'); return; }
    if (version) { res.writeHead(200, { 'content-type': 'application/tar+gzip' }).end(p.tgz); return; }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      name, 'dist-tags': { latest: p.version },
      versions: { [p.version]: { name, version: p.version, dependencies: p.deps, dist: { shasum: p.shasum, tarball: `${base}/${name}/${p.version}` } } },
    }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: base, hits, close: () => new Promise<void>((r) => server.close(() => r())) };
}

