/**
 * Install a FHIR NPM package tarball (`.tgz`, as the FHIR package registries serve them) into the
 * package cache as `<cache>/<name>#<version>/package/…` (FHIR NPM Package Specification, "local
 * cache"). A small POSIX ustar reader over node:zlib: the tarball is untrusted input, so entry
 * names are checked (no absolute paths, no `..`, only `package/…`), sizes are capped and
 * nothing but regular files is written.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { NhsError } from '../errors';
import type { PackageRef } from './packages';

export interface TarEntry { name: string; type: 'file' | 'dir' | 'other'; data: Buffer }

/** Default cap on the unpacked size: hl7.fhir.r4.core itself is about 70 MB. */
export const MAX_UNPACKED_BYTES = 256 * 1024 * 1024;

function field(buf: Buffer, start: number, len: number): string {
  const raw = buf.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number): number {
  const s = field(buf, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new NhsError('FHIR_TGZ_INVALID', 'tar header has a malformed number');
  return parseInt(s, 8);
}

/** Header checksum (ustar: sum of header bytes with the checksum field read as spaces). */
function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === octal(h, 148, 8);
}

/** Entries of an uncompressed tar archive (ustar, GNU long names, pax `path`). */
export function readTar(tar: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h)) throw new NhsError('FHIR_TGZ_INVALID', `tar header checksum mismatch at byte ${off}`);
    const size = octal(h, 124, 12);
    const flag = String.fromCharCode(h[156]!);
    const start = off + 512;
    if (start + size > tar.length) throw new NhsError('FHIR_TGZ_INVALID', 'tar archive is truncated');
    const data = tar.subarray(start, start + size);
    off = start + Math.ceil(size / 512) * 512;
    const prefix = field(h, 345, 155);
    let name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    longName = undefined;
    if (flag === 'L') { longName = data.toString('utf8').replace(/\0+$/, ''); continue; }
    if (flag === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    if (flag === 'g') continue;
    name = name.replace(/^\.\//, '');
    out.push({ name, type: flag === '0' || flag === '\0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : 'other', data });
  }
  return out;
}

/** A relative path inside `package/` with no way out of it, or undefined. */
function safeName(name: string): string | undefined {
  if (name.startsWith('/') || name.includes('\\') || name.includes('\0')) return undefined;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length < 2 || parts[0] !== 'package' || parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}

/**
 * Unpack a package `.tgz` into the cache and return its name and version. Replaces an existing
 * copy of the same name#version (written to a temporary folder first, then renamed into place).
 */
export function installPackageTgz(tgzFile: string, cacheDir: string, maxBytes = MAX_UNPACKED_BYTES): PackageRef {
  return installPackageBuffer(readFileSync(tgzFile), cacheDir, maxBytes);
}

/** As installPackageTgz, from the tarball's bytes (a registry download, already checksum-verified). */
export function installPackageBuffer(tgz: Buffer, cacheDir: string, maxBytes = MAX_UNPACKED_BYTES): PackageRef {
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: maxBytes });
  } catch (e) {
    const tooBig = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new NhsError(tooBig ? 'FHIR_TGZ_TOO_LARGE' : 'FHIR_TGZ_INVALID', tooBig ? `package unpacks to more than ${maxBytes} bytes` : 'not a gzip file', { cause: e });
  }
  const files = new Map<string, Buffer>();
  for (const e of readTar(tar)) {
    if (e.type !== 'file') continue;
    const n = safeName(e.name);
    if (!n) throw new NhsError('FHIR_TGZ_UNSAFE', 'package entry outside package/ (absolute path or ..)');
    files.set(n, e.data);
  }
  const manifestBuf = files.get('package/package.json');
  if (!manifestBuf) throw new NhsError('FHIR_TGZ_INVALID', 'no package/package.json in the tarball');
  let manifest: { name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(manifestBuf.toString('utf8')) as { name?: unknown; version?: unknown };
  } catch (e) {
    throw new NhsError('FHIR_TGZ_INVALID', 'package/package.json is not valid JSON', { cause: e });
  }
  const { name, version } = manifest;
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || typeof version !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(version)) {
    throw new NhsError('FHIR_TGZ_INVALID', 'package.json name/version missing or not a safe package id');
  }
  mkdirSync(cacheDir, { recursive: true });
  const tmp = join(cacheDir, `.install-${randomBytes(6).toString('hex')}`);
  try {
    for (const [n, data] of files) {
      const dest = join(tmp, n);
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSync(dest, data);
    }
    if (!files.has('package/.index.json')) writeIndex(join(tmp, 'package'));
    const target = join(cacheDir, `${name}#${version}`);
    if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { name, version };
}

/** `.index.json` (FHIR NPM package spec, index-version 1) for packages shipped without one. */
function writeIndex(dir: string): void {
  const files: Record<string, unknown>[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json') || f === 'package.json' || f.startsWith('.')) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;
      if (typeof r.resourceType !== 'string') continue;
      files.push({ filename: f, resourceType: r.resourceType, id: r.id, url: r.url, version: r.version });
    } catch {
      // Not JSON: the loader skips it too.
    }
  }
  writeFileSync(join(dir, '.index.json'), JSON.stringify({ 'index-version': 1, files }, null, 2));
}
