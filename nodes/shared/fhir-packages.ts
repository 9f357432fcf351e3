/**
 * FHIR packages for the `nhs-fhir-validate` node and its editor: a package set is loaded once per
 * distinct configuration and shared by every node (R4 core alone is tens of MB), and the editor's
 * profile list is served at `GET /nhs-interop/fhir/profiles`, and its install button posts to
 * `POST /nhs-interop/fhir/packages/install` (both registered once per runtime).
 */
import { isAbsolute, relative, resolve as resolvePath, sep } from 'node:path';
import { NhsError } from '../../lib/errors';
import { defaultCacheDir, FhirPackages } from '../../lib/fhir/packages';
import { installFromRegistry } from '../../lib/fhir/registry';
import type { RED } from './types';

export interface PackageConfig { folders: string[]; packages: string[]; useCache: boolean }

/** Split a user list (one per line, or `;`/`,`-separated for package ids). */
export function list(v: unknown, separators: RegExp): string[] {
  return typeof v === 'string' ? v.split(separators).map((s) => s.trim()).filter(Boolean) : [];
}

/**
 * Package sets are loaded once per distinct configuration and shared by every node (and the
 * editor's profile list): R4 core alone is tens of MB. A failed load is not kept, so a fixed
 * folder is picked up by the next deploy or message.
 */
const loads = new Map<string, Promise<FhirPackages>>();
const MAX_LOADS = 8;

export function loadPackages(cfg: PackageConfig): Promise<FhirPackages> {
  const key = JSON.stringify(cfg);
  let p = loads.get(key);
  if (!p) {
    p = FhirPackages.load({ folders: cfg.folders, packages: cfg.packages, useCache: cfg.useCache });
    loads.set(key, p);
    p.catch(() => loads.delete(key));
    while (loads.size > MAX_LOADS) loads.delete(loads.keys().next().value!);
  }
  return p;
}

export function packageConfig(RED: RED, folders: unknown, packages: unknown, useCache: unknown): PackageConfig {
  const base = RED.settings.userDir ?? process.cwd();
  return {
    folders: list(folders, /[\n;]/).map((f) => (isAbsolute(f) ? f : resolvePath(base, f))),
    packages: list(packages, /[\n;,\s]+/),
    useCache: useCache !== false && useCache !== 'false',
  };
}

/** FHIR package id `name#version` (npm-style name, no path separators, no `..`). */
const PACKAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,213}#[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$/;

/**
 * Package configuration from an editor request: the editor may only name folders under the
 * Node-RED user directory (relative, no `..`) and package ids of the `name#version` form, so
 * the endpoint cannot be used to read other directories. Throws BAD_REQUEST.
 */
function requestPackageConfig(RED: RED, q: Record<string, unknown>): PackageConfig {
  const base = RED.settings.userDir;
  const folders = list(q.folders, /[\n;]/);
  if (folders.length && !base) throw new NhsError('BAD_REQUEST', 'package folders can only be listed when Node-RED has a user directory');
  const resolved = folders.map((f) => {
    if (isAbsolute(f) || f.split(/[\\/]/).includes('..')) throw new NhsError('BAD_REQUEST', 'package folders must be relative to the Node-RED user directory, without ..');
    const abs = resolvePath(base!, f);
    const rel = relative(resolvePath(base!), abs);
    if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) throw new NhsError('BAD_REQUEST', 'package folders must be inside the Node-RED user directory');
    return abs;
  });
  const packages = list(q.packages, /[\n;,\s]+/);
  if (packages.some((p) => !PACKAGE_ID.test(p) || p.includes('..'))) throw new NhsError('BAD_REQUEST', 'packages must be name#version ids');
  return { folders: resolved, packages, useCache: q.useCache !== false && q.useCache !== 'false' };
}

/** Fixed reply text per code: a load error's own message may quote paths or file contents. */
function profilesError(code: string): string {
  if (code === 'FHIR_PACKAGE_FOLDER') return 'a configured package folder does not exist or holds no FHIR package';
  if (code === 'FHIR_PACKAGE_INVALID') return 'a FHIR package file is not valid';
  return 'FHIR packages could not be loaded';
}

const registered = new WeakSet<object>();

/** The editor's profile list route (idempotent per runtime). */
export function registerProfilesRoute(RED: RED): void {
  const admin = RED.httpAdmin as unknown as object;
  if (!admin || registered.has(admin)) return;
  registered.add(admin);
  registerInstallRoute(RED);
  RED.httpAdmin.get('/nhs-interop/fhir/profiles', RED.auth.needsPermission('nhs-fhir-validate.read'), (req: { query: Record<string, unknown> }, res: { json(v: unknown): void; status(n: number): { json(v: unknown): void } }) => {
    let cfg: PackageConfig;
    try {
      cfg = requestPackageConfig(RED, req.query);
    } catch (e) {
      res.status(400).json({ error: e instanceof Error ? e.message : 'bad request', code: 'BAD_REQUEST' });
      return;
    }
    loadPackages(cfg).then(
      (p) => res.json({ packages: p.packages(), missing: p.missing(), profiles: p.profiles() }),
      (e: unknown) => {
        const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'FHIR_PACKAGE_LOAD';
        res.status(400).json({ error: profilesError(code), code });
      },
    );
  });
}

/** Reply status per install error code; the message is a fixed text (no URLs or paths echoed). */
const INSTALL_ERRORS: Record<string, [number, string]> = {
  FHIR_REGISTRY_SPEC: [400, 'not a package id'],
  FHIR_REGISTRY_NOT_FOUND: [404, 'the package (or a dependency) is not in the registry'],
  FHIR_REGISTRY_CHECKSUM: [422, 'a tarball does not match the registry\'s published checksum: nothing of it was installed'],
  FHIR_REGISTRY_DEPENDENCIES: [422, 'the package\'s dependencies could not be followed'],
};
let installing: Promise<unknown> = Promise.resolve();

/**
 * The editor's install button (issue 15 item 8): `{ package: "name#version" }` is fetched from the
 * registry in the `nhsFhirValidateRegistry` setting (else NHS_FHIR_REGISTRY, else the public FHIR
 * registry) with its dependencies, checksums checked, into the package cache the nodes read
 * (FHIR_PACKAGE_CACHE or ~/.fhir/packages). One install at a time.
 */
function registerInstallRoute(RED: RED): void {
  RED.httpAdmin.post('/nhs-interop/fhir/packages/install', RED.auth.needsPermission('nhs-fhir-validate.write'), (req: { body?: unknown }, res: { json(v: unknown): void; status(n: number): { json(v: unknown): void } }) => {
    const spec = (req.body as { package?: unknown } | undefined)?.package;
    if (typeof spec !== 'string' || !PACKAGE_ID.test(spec) || spec.includes('..')) {
      res.status(400).json({ error: 'package must be a name#version id', code: 'BAD_REQUEST' });
      return;
    }
    const registry = typeof RED.settings.nhsFhirValidateRegistry === 'string' && RED.settings.nhsFhirValidateRegistry ? RED.settings.nhsFhirValidateRegistry : undefined;
    const run = installing.then(() => installFromRegistry(spec, { cacheDir: defaultCacheDir(), timeoutMs: 60_000, ...(registry ? { registry } : {}) }));
    installing = run.catch(() => undefined);
    run.then(
      (installed) => {
        loads.clear(); // package sets read before the install may have missed it
        res.json({ installed });
      },
      (e: unknown) => {
        const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'FHIR_REGISTRY_HTTP';
        const [status, error] = INSTALL_ERRORS[code] ?? [502, 'the registry could not be reached or answered with an error'];
        res.status(status).json({ error, code });
      },
    );
  });
}
