/**
 * Required-field check (hazard HAZ-008 C9): each field the HL7 v2 standard marks **R** (required)
 * in the segments the suite reads must carry a value — e.g. PID-3 (patient identifier list) in
 * an ADT^A01. It complements the required-segment check (`./structure.ts`, C8).
 *
 * What is checked, and why it is conservative:
 * - Only fields whose optionality is **R** in HL7 v2.5.1, taken from the segment definition
 *   tables of the standard (chapter and section named per segment below). B (backward
 *   compatible), O and C (conditional) fields are not checked, with one conditional exception
 *   that can be decided from the segment alone: OBX-2 when OBX-5 carries a value.
 * - Where the optionality differs between HL7 v2.3 and v2.5.1 the rule says since or until which
 *   version it is R, and it is checked only when the message's own version (MSH-12.1) is known
 *   and in that range; every other field here is R in v2.3 and in v2.5.1 (and in each version
 *   compared between) and is checked whatever MSH-12 says. A field that became R only in a version outside
 *   2.3–2.5.1, or that was R only before 2.3, is not listed.
 * - A segment has one definition in the standard, whatever message carries it, so a listed
 *   segment is checked in any message type, wherever it occurs, and only if it occurs: an NK1 is
 *   checked when present; a missing segment is the structure check's business (C8).
 * - Data-type components (e.g. CX.1, the ID number inside PID-3) are not checked; the transform
 *   refuses what it cannot map (HAZ-008 C6).
 *
 * "Valued" (HL7 v2.5.1 2.5.3, fields, empty fields and the null value): a field
 * is missing when the segment ends before it, when it is empty, when it holds only delimiters
 * (`^^^`, `~`) or spaces, and when every piece of it is the HL7 null `""`. An HL7 null says
 * "delete the value at the receiver"; for a required field that leaves the receiver with nothing
 * (a PID-3 of `""` names no patient), so it is reported as missing, with its own wording.
 *
 * Issues carry the location (`PID-3`, `OBX[2]-11`) and the field's name, never its value.
 */
import { issue, type Issue } from '../outcome';
import type { Delimiters } from './delimiters';
import type { Hl7Message } from './message';
import { formatPath } from './path';

/** One field the standard marks R. */
export interface RequiredField {
  /** Field number (MSH counts MSH-1, the field separator). */
  field: number;
  /** The element name in the standard, for the diagnostic. */
  name: string;
  /** First HL7 version in which the field is R (checked only for a known MSH-12 at or above). */
  since?: string;
  /** Last HL7 version in which the field is R (checked only for a known MSH-12 at or below). */
  until?: string;
  /** Conditional (C): required only when this other field of the segment is valued. */
  when?: number;
}

/** The required fields of one segment, with the section of the standard that defines them. */
export interface SegmentRule {
  /** Where HL7 v2.5.1 defines the segment, e.g. `3.4.2`. */
  section: string;
  fields: readonly RequiredField[];
}

/**
 * Required fields per segment ID. Sections are those of HL7 v2.5.1; the optionality was read
 * from the v2.5.1 segment tables and compared with v2.3 for every field, with v2.4 for MSH, EVN,
 * NK1, ORC, MSA and ERR, and with v2.3.1 for EVN (differences noted per segment).
 */
export const REQUIRED_FIELDS: Readonly<Record<string, SegmentRule>> = {
  /**
   * MSH, HL7 v2.5.1 2.15.9 Message Header. MSH-1, -2, -9, -10 and -12 are R too, but `parseHl7`
   * already refuses a message without them (HAZ-008 C1), so they are not repeated here. MSH-7 is
   * O in v2.3 and R from v2.4 (v2.3.1 was not confirmed, so it is not checked there).
   */
  MSH: {
    section: '2.15.9',
    fields: [
      { field: 7, name: 'Date/Time of Message', since: '2.4' },
      { field: 11, name: 'Processing ID' },
    ],
  },
  /** EVN, HL7 v2.5.1 3.4.1 Event Type. EVN-2 is O in v2.3 (where EVN-1 was R instead), R from v2.3.1. */
  EVN: { section: '3.4.1', fields: [{ field: 2, name: 'Recorded Date/Time', since: '2.3.1' }] },
  /** PID, HL7 v2.5.1 3.4.2 Patient Identification. */
  PID: {
    section: '3.4.2',
    fields: [
      { field: 3, name: 'Patient Identifier List' },
      { field: 5, name: 'Patient Name' },
    ],
  },
  /** PV1, HL7 v2.5.1 3.4.3 Patient Visit. */
  PV1: { section: '3.4.3', fields: [{ field: 2, name: 'Patient Class' }] },
  /** NK1, HL7 v2.5.1 3.4.5 Next of Kin / Associated Parties (checked when present: NK1 is optional). */
  NK1: { section: '3.4.5', fields: [{ field: 1, name: 'Set ID - NK1' }] },
  /** MRG, HL7 v2.5.1 3.4.9 Merge Patient Information. */
  MRG: { section: '3.4.9', fields: [{ field: 1, name: 'Prior Patient Identifier List' }] },
  /** ORC, HL7 v2.5.1 4.5.1 Common Order. */
  ORC: { section: '4.5.1', fields: [{ field: 1, name: 'Order Control' }] },
  /** OBR, HL7 v2.5.1 4.5.3 Observation Request (7.4.1 before v2.5). */
  OBR: { section: '4.5.3', fields: [{ field: 4, name: 'Universal Service Identifier' }] },
  /**
   * OBX, HL7 v2.5.1 7.4.2 Observation/Result. OBX-2 is R in v2.3 and C from v2.4; its condition
   * is checked in the one form every version implies: a valued OBX-5 cannot be read without
   * its value type.
   */
  OBX: {
    section: '7.4.2',
    fields: [
      { field: 2, name: 'Value Type', when: 5 },
      { field: 3, name: 'Observation Identifier' },
      { field: 11, name: 'Observation Result Status' },
    ],
  },
  /** RF1, HL7 v2.5.1 11.6.1 Referral Information. */
  RF1: { section: '11.6.1', fields: [{ field: 6, name: 'Originating Referral Identifier' }] },
  /** PRD, HL7 v2.5.1 11.6.3 Provider Data. */
  PRD: { section: '11.6.3', fields: [{ field: 1, name: 'Provider Role' }] },
  /** MSA, HL7 v2.5.1 2.15.8 Message Acknowledgment. */
  MSA: {
    section: '2.15.8',
    fields: [
      { field: 1, name: 'Acknowledgment Code' },
      { field: 2, name: 'Message Control ID' },
    ],
  },
  /**
   * ERR, HL7 v2.5.1 2.15.5 Error. v2.5 rebuilt the segment: ERR-3 and ERR-4 are R from v2.5,
   * ERR-1 (the only field before v2.5) is R until v2.4 and B after.
   */
  ERR: {
    section: '2.15.5',
    fields: [
      { field: 1, name: 'Error Code and Location', until: '2.4' },
      { field: 3, name: 'HL7 Error Code', since: '2.5' },
      { field: 4, name: 'Severity', since: '2.5' },
    ],
  },
};

/** Beyond this many, further missing fields are counted in one issue (a hostile message of 100k OBX must not give 100k issues). */
const MAX_ISSUES = 50;

/** `2.5.1` → [2, 5, 1]; undefined unless it is an HL7 v2 version id. */
function versionParts(v: string | undefined): number[] | undefined {
  if (v === undefined || !/^2\.\d{1,2}(\.\d{1,2})?$/.test(v)) return undefined;
  return v.split('.').map(Number);
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The table's since/until versions, parsed once (not per field of every message). */
const bounds = new Map<string, number[]>();
const parsedBound = (v: string): number[] => {
  let p = bounds.get(v);
  if (!p) bounds.set(v, (p = versionParts(v)!));
  return p;
};

/** Whether a rule applies to a message of this version (rules with a range need a known version). */
function applies(f: RequiredField, version: number[] | undefined): boolean {
  if (f.since === undefined && f.until === undefined) return true;
  if (!version) return false;
  if (f.since !== undefined && compare(version, parsedBound(f.since)) < 0) return false;
  if (f.until !== undefined && compare(version, parsedBound(f.until)) > 0) return false;
  return true;
}

/**
 * The state of a field's encoded text: `valued` when any piece between delimiters has content
 * other than spaces and the HL7 null; `null` when the only content is `""`; else `empty`.
 * One pass, no allocation per piece beyond the trimmed slice.
 */
export function fieldState(raw: string | undefined, d: Readonly<Delimiters>): 'valued' | 'null' | 'empty' {
  if (raw === undefined || raw === '') return 'empty';
  let sawNull = false;
  let start = 0;
  for (let i = 0; i <= raw.length; i++) {
    const c = i === raw.length ? undefined : raw[i];
    if (c !== undefined && c !== d.component && c !== d.repetition && c !== d.subcomponent) continue;
    const piece = raw.slice(start, i).trim();
    if (piece === '""') sawNull = true;
    else if (piece !== '') return 'valued';
    start = i + 1;
  }
  return sawNull ? 'null' : 'empty';
}

/**
 * One error issue (`required`, expression = the field's location, message id
 * `HL7_REQUIRED_FIELD`) per required field left empty or null, for every listed segment the
 * message contains; at most 50, then one issue counting the rest.
 */
export function checkRequiredFields(m: Hl7Message): Issue[] {
  const out: Issue[] = [];
  let extra = 0;
  const version = versionParts(m.version);
  const d = m.delimiters;
  for (const s of m.segments()) {
    const rule = REQUIRED_FIELDS[s.name];
    if (!rule) continue;
    for (const f of rule.fields) {
      if (!applies(f, version)) continue;
      if (f.when !== undefined && fieldState(s.getRaw(String(f.when)), d) !== 'valued') continue;
      const state = fieldState(s.getRaw(String(f.field)), d);
      if (state === 'valued') continue;
      if (out.length >= MAX_ISSUES) { extra++; continue; }
      const at = formatPath({ segment: s.name, occurrence: s.occurrence, field: f.field });
      const why = state === 'null' ? 'is the HL7 null ("")' : 'is empty';
      const cond = f.when !== undefined ? ` while ${s.name}-${f.when} is valued` : '';
      out.push(issue('error', 'required', `${at} ${f.name} is required (HL7 v2.5.1 ${rule.section}) and ${why}${cond}`, at, 'HL7_REQUIRED_FIELD'));
    }
  }
  if (extra > 0) out.push(issue('error', 'required', `${extra} further required fields are empty (not listed)`, undefined, 'HL7_REQUIRED_FIELD'));
  return out;
}
