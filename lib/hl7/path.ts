/**
 * HL7 v2 location paths, 1-based as in the HL7 v2 standard and ERR-2 (ERL data type):
 * `SEG[occurrence]-field[repetition].component.subcomponent`, e.g. `PID-3[2].4.1`, `MSH-9.1`,
 * `OBX[2]-5`. Occurrence and repetition default to 1. `MSH-1` is the field separator itself and
 * `MSH-2` the encoding characters, so MSH field n is the (n-1)th piece after splitting on MSH-1.
 */
import { NhsError } from '../errors';

export interface Hl7Path {
  segment: string;
  /** 1-based occurrence of the segment (`OBX[2]`); default 1. */
  occurrence: number;
  field: number;
  /** 1-based repetition; undefined when the path does not name one (means the first). */
  repetition?: number;
  component?: number;
  subcomponent?: number;
}

const PATH = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?$/;
const cache = new Map<string, Hl7Path | null>();

/** Parse a path, or undefined when it is not one. Parsed paths are cached (flows repeat them). */
export function parsePath(text: string): Hl7Path | undefined {
  const hit = cache.get(text);
  if (hit !== undefined) return hit ?? undefined;
  const m = PATH.exec(text);
  let p: Hl7Path | null = null;
  if (m) {
    const n = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));
    p = { segment: m[1] as string, occurrence: n(m[2]) ?? 1, field: Number(m[3]) };
    const r = n(m[4]);
    const c = n(m[5]);
    const s = n(m[6]);
    if (r !== undefined) p.repetition = r;
    if (c !== undefined) p.component = c;
    if (s !== undefined) p.subcomponent = s;
    const bad = [p.occurrence, p.field, r, c, s].some((v) => v !== undefined && (v < 1 || v > 100000));
    if (bad) p = null;
  }
  if (cache.size < 10000) cache.set(text, p);
  return p ?? undefined;
}

/** Parse a path or throw `HL7_BAD_PATH` (for set, where a bad path is a configuration error). */
export function requirePath(text: string): Hl7Path {
  const p = parsePath(text);
  if (!p) throw new NhsError('HL7_BAD_PATH', `not an HL7 path: "${text.slice(0, 40)}" (expected e.g. PID-3[2].4.1)`);
  return p;
}

/** Format a path back to text (occurrence and repetition only when not 1/absent). */
export function formatPath(p: Hl7Path): string {
  let s = p.segment + (p.occurrence !== 1 ? `[${p.occurrence}]` : '') + `-${p.field}`;
  if (p.repetition !== undefined) s += `[${p.repetition}]`;
  if (p.component !== undefined) s += `.${p.component}`;
  if (p.subcomponent !== undefined) s += `.${p.subcomponent}`;
  return s;
}
