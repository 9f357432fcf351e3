/**
 * How `nhs-snomed-map` (and later other nodes) reach the `nhs-terminology` config node: the one
 * typed interface for its live objects (DESIGN.md §1), and the rule for map file paths.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { NhsError } from '../../lib/errors';
import type { TerminologyClient } from '../../lib/terminology/client';
import type { MapSource } from '../../lib/terminology/map-source';
import type { Node } from './types';

/** What the `nhs-terminology` config node offers. */
export interface Terminology {
  /** Local maps (CSV, ConceptMap, Read v2 / CTV3), in the configured order. */
  maps: MapSource;
  /** SNOMED CT → ICD-10 RF2 map, if configured. */
  icd10: MapSource;
  /** SNOMED CT → OPCS-4 RF2 map, if configured. */
  opcs4: MapSource;
  /** Code system URIs used for ICD-10 and OPCS-4 targets. */
  icd10System: string;
  opcs4System: string;
  /** FHIR terminology server client, if a server URL is configured. */
  client?: TerminologyClient;
}

export interface TerminologyConfigNode extends Node {
  terminology(): Terminology;
}

/** The package's own folder: above nodes/shared in the sources, above dist/nodes/shared when built. */
export const packageRoot = resolve(__dirname, ...Array<string>(/[\\/]dist[\\/]nodes[\\/]shared$/.test(__dirname) ? 3 : 2).fill('..'));

/**
 * A map file path from the config node: absolute; relative to the Node-RED user directory; or
 * `package:examples/...` for files shipped inside this package (so an imported example finds its
 * map wherever the package is installed). `package:` paths must stay inside the package.
 */
export function resolveMapPath(text: string, userDir: string): string {
  const t = text.trim();
  if (t.startsWith('package:')) {
    const rel = t.slice('package:'.length).replace(/^[/\\]+/, '');
    const abs = resolve(packageRoot, rel);
    const back = relative(packageRoot, abs);
    if (back.startsWith('..') || isAbsolute(back)) throw new NhsError('TERMINOLOGY_CONFIG', 'a package: map path must stay inside the package');
    return abs;
  }
  return isAbsolute(t) ? t : resolve(userDir, t);
}
