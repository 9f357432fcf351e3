/**
 * A local server laid out like a FHIR package registry (FHIR NPM Package Specification:
 * `GET /<name>` → npm-style metadata with `dist.tarball` and `dist.shasum`; `GET /<name>/<version>`
 * → the .tgz), serving the shared UK Core STU2 package packed at test time, a trust package
 * depending on it, and a tampered one whose published shasum does not match what is served.
 * Used by the CLI install test and the editor's install route test.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sharedDir } from './shared';

export const TRUST_PROFILE = 'http://example.org/fhir/StructureDefinition/TrustPatient';

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
export async function startRegistry(): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
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

