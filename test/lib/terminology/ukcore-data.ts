/** Reads SNOMED CT codes and small terminology resources from the UK Core packages in ../shared. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '../../helpers/shared';

export const SCT = 'http://snomed.info/sct';
export const packagesDir = join(sharedDir, 'fhir-packages');

/** Every JSON file under the UK Core packages (parsed), skipping anything unreadable. */
export function ukCoreResources(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json') && !name.startsWith('.')) {
        try { out.push(JSON.parse(readFileSync(p, 'utf8'))); } catch { /* not JSON: not ours to judge */ }
      }
    }
  };
  walk(packagesDir);
  return out;
}

/** SNOMED CT codes named anywhere in the packages (ValueSet includes, codings in examples). */
export function ukCoreSctIds(): string[] {
  const ids = new Set<string>();
  const walk = (o: unknown): void => {
    if (Array.isArray(o)) { for (const v of o) walk(v); return; }
    if (!o || typeof o !== 'object') return;
    const r = o as Record<string, unknown>;
    if (r.system === SCT) {
      if (typeof r.code === 'string') ids.add(r.code);
      if (Array.isArray(r.concept)) for (const c of r.concept) if (typeof c?.code === 'string') ids.add(c.code);
    }
    for (const v of Object.values(r)) walk(v);
  };
  for (const r of ukCoreResources()) walk(r);
  return [...ids].sort();
}
