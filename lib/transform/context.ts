/**
 * The working state of one HL7 v2 → FHIR transform: the message, the issues found, and the
 * Bundle entries built so far (in a fixed order, de-duplicated by id, so output is deterministic).
 * Also the HL7 v2 data type → FHIR data type conversions (HL7 V2-to-FHIR IG data type maps:
 * CX → Identifier, XPN → HumanName, XAD → Address, XTN → ContactPoint, CWE → CodeableConcept,
 * DTM → dateTime/instant).
 */
import { hl7DateTimeToIso, HL7_NULL, type Hl7Message, type Hl7Segment } from '../hl7';
import { issue, type Issue, type IssueSeverity, type IssueType } from '../outcome';
import { stableId } from './ids';
import type { MappedCoding, MappingTables } from './tables';

/** A FHIR resource as plain JSON. */
export type Resource = { resourceType: string; id: string } & Record<string, unknown>;
export interface Reference { reference: string; display?: string; identifier?: Record<string, unknown> }
export type Coding = { system?: string; code?: string; display?: string };
export interface CodeableConcept { coding?: Coding[]; text?: string }

export const UK = 'https://fhir.hl7.org.uk/StructureDefinition/';

/** Options shared by the transform entry points. */
export interface TransformOptions {
  tables: MappingTables;
  /** IANA zone assumed for HL7 times sent without an offset (default Europe/London). */
  zone?: string;
}

export class Ctx {
  readonly issues: Issue[] = [];
  readonly entries = new Map<string, Resource>();
  readonly facility: string;
  readonly controlId: string;
  readonly zone: string;

  constructor(readonly msg: Hl7Message, readonly tables: MappingTables, zone?: string) {
    this.facility = [msg.get('MSH-4.1'), msg.get('MSH-4.2')].filter(Boolean).join('^');
    this.controlId = msg.controlId ?? '';
    this.zone = zone ?? 'Europe/London';
  }

  add(severity: IssueSeverity, code: IssueType, text: string, path?: string): void {
    this.issues.push(issue(severity, code, text, path, `NHS_TRANSFORM_${code.toUpperCase().replace(/-/g, '_')}`));
  }
  error(text: string, path?: string, code: IssueType = 'required'): void { this.add('error', code, text, path); }
  warn(text: string, path?: string, code: IssueType = 'code-invalid'): void { this.add('warning', code, text, path); }
  info(text: string, path?: string): void { this.add('information', 'informational', text, path); }

  /** Stable id from a business key (see ids.ts). */
  id(...key: (string | number | undefined)[]): string { return stableId(key.map((k) => k ?? '').join('|')); }

  /** Put a resource in the Bundle (the first one with an id wins) and return a reference to it. */
  put(r: Resource, profile?: string): Reference {
    if (!this.entries.has(r.id)) {
      const { resourceType, id, ...rest } = r;
      this.entries.set(r.id, profile ? { resourceType, id, meta: { profile: [`${UK}${profile}`] }, ...rest } : r);
    }
    return ref(r.id);
  }
}

export const ref = (id: string): Reference => ({ reference: `urn:uuid:${id}` });

/** A field value, undefined for empty and for the HL7 null `""`. */
export function val(s: Hl7Segment | undefined, path: string): string | undefined {
  const v = s?.get(path);
  if (v === undefined || v === HL7_NULL) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/**
 * Number of repetitions present in a field: its repetition separators + 1 (what
 * `getAll(...).length` gives, without unescaping every repetition). Loops take it once.
 */
export function reps(ctx: Ctx, s: Hl7Segment, field: number): number {
  const raw = s.getRaw(String(field));
  if (raw === undefined) return 0;
  const sep = ctx.msg.delimiters.repetition;
  if (sep === undefined) return 1;
  let n = 1;
  for (let i = raw.indexOf(sep); i >= 0; i = raw.indexOf(sep, i + 1)) n++;
  return n;
}

/** Path of a field for an outcome expression, e.g. `PID[1]-7`. */
export const at = (s: Hl7Segment, rel: string): string => `${s.name}[${s.occurrence}]-${rel}`;

/** Drop undefined, empty strings, empty arrays and empty objects, so JSON has no empty elements. */
export function clean<T>(v: T): T {
  if (Array.isArray(v)) {
    const a = v.map(clean).filter((x) => !isEmpty(x));
    return a as T;
  }
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    const src = v as Record<string, unknown>;
    for (const k of Object.keys(src)) {
      const c = clean(src[k]);
      if (!isEmpty(c)) o[k] = c;
    }
    return o as T;
  }
  return v;
}
function isEmpty(x: unknown): boolean {
  return x === undefined || x === null || x === '' || (Array.isArray(x) && x.length === 0) || (typeof x === 'object' && x !== null && !Array.isArray(x) && Object.keys(x).length === 0);
}

const ISO = /^(\d{4}(?:-\d{2}(?:-\d{2})?)?)(?:T(\d{2})(?::(\d{2}))?(?::(\d{2}))?(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * HL7 DTM → FHIR dateTime: a time gets seconds and an offset (FHIR requires both when a time is
 * given); a time without an offset is read in the configured zone. Undefined (and an error) when
 * the value is not a DTM.
 */
export function dateTime(ctx: Ctx, s: Hl7Segment, rel: string): string | undefined {
  const raw = val(s, rel);
  if (raw === undefined) return undefined;
  const iso = hl7DateTimeToIso(raw, { assumeZone: ctx.zone });
  const m = iso === undefined ? null : ISO.exec(iso);
  if (!m) {
    ctx.error(`${at(s, rel)} is not a valid HL7 date/time`, at(s, rel), 'value');
    return undefined;
  }
  if (m[2] === undefined) return m[1];
  return `${m[1]}T${m[2]}:${m[3] ?? '00'}:${m[4] ?? '00'}${m[5] ?? ''}${m[6] ?? 'Z'}`;
}

/** HL7 DT / DTM → FHIR date (the date part). */
export function date(ctx: Ctx, s: Hl7Segment, rel: string): string | undefined {
  return dateTime(ctx, s, rel)?.slice(0, 10);
}

/** FHIR instant (full time) or undefined when the HL7 value has no time. */
export function instant(ctx: Ctx, s: Hl7Segment, rel: string): string | undefined {
  const d = dateTime(ctx, s, rel);
  return d && d.length > 10 ? d : undefined;
}

/** A table lookup that reports a code the table does not hold. */
export function lookup<T>(ctx: Ctx, table: keyof MappingTables, code: string | undefined, path: string, severity: 'warning' | 'error' = 'warning'): T | undefined {
  if (code === undefined) return undefined;
  const t = ctx.tables[table] as unknown as Record<string, T>;
  const hit = Object.prototype.hasOwnProperty.call(t, code) ? t[code] : undefined;
  if (hit === undefined) ctx.add(severity, 'code-invalid', `${path}: code '${code.slice(0, 20)}' is not in mapping table '${table}'`, path);
  return hit;
}

export function coding(m: MappedCoding | undefined): Coding | undefined {
  return m ? { ...m } : undefined;
}

/** HL7 table 0396 name → FHIR system: the table first, then `HL7nnnn` → the v2 table's code system. */
function systemUri(ctx: Ctx, name: string): string | undefined {
  const mapped = ctx.tables.codingSystem[name];
  if (mapped) return mapped;
  const v2 = /^HL7(\d{4})$/.exec(name);
  if (v2) return `http://terminology.hl7.org/CodeSystem/v2-${v2[1]!}`;
  return /^(https?:|urn:)/.test(name) ? name : undefined;
}

/** CWE/CE (identifier^text^system^alt id^alt text^alt system) → CodeableConcept. */
export function cwe(ctx: Ctx, s: Hl7Segment, rel: string): CodeableConcept | undefined {
  const one = (o: number): Coding | undefined => {
    const code = val(s, `${rel}.${o + 1}`);
    const display = val(s, `${rel}.${o + 2}`);
    const sysName = val(s, `${rel}.${o + 3}`);
    if (!code) return undefined;
    const system = sysName ? systemUri(ctx, sysName) : undefined;
    if (sysName && !system) ctx.info(`${at(s, rel)}: coding system '${sysName.slice(0, 20)}' has no FHIR URI in table 'codingSystem'; code kept without a system`, at(s, rel));
    return clean({ system, code, display });
  };
  const first = one(0);
  const alt = one(3);
  const text = val(s, `${rel}.2`);
  if (!first && !alt) return text ? { text } : undefined;
  return clean({ coding: [first, alt].filter((x): x is Coding => !!x), text: first ? undefined : text });
}

/** XPN repetitions → HumanName[] (family^given^middle^suffix^prefix^degree^type). */
export function names(ctx: Ctx, s: Hl7Segment, field: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let r = 1, n = reps(ctx, s, field); r <= n; r++) {
    const p = `${field}[${r}]`;
    const typeCode = val(s, `${p}.7`);
    const use = typeCode ? lookup<string>(ctx, 'nameUse', typeCode, at(s, `${p}.7`)) : undefined;
    const n = clean({
      use,
      family: val(s, `${p}.1.1`),
      given: [val(s, `${p}.2`), val(s, `${p}.3`)],
      prefix: [val(s, `${p}.5`)],
      suffix: [val(s, `${p}.4`)],
    });
    if (Object.keys(n).length) out.push(n);
  }
  return out;
}

/** XAD repetitions → Address[] (street^other^city^state^zip^country^type). */
export function addresses(ctx: Ctx, s: Hl7Segment, field: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let r = 1, n = reps(ctx, s, field); r <= n; r++) {
    const p = `${field}[${r}]`;
    const typeCode = val(s, `${p}.7`);
    const a = clean({
      use: typeCode ? lookup<string>(ctx, 'addressUse', typeCode, at(s, `${p}.7`)) : undefined,
      line: [val(s, `${p}.1.1`), val(s, `${p}.2`)],
      city: val(s, `${p}.3`),
      district: val(s, `${p}.4`),
      postalCode: val(s, `${p}.5`),
      country: val(s, `${p}.6`),
    });
    if (Object.keys(a).length) out.push(a);
  }
  return out;
}

const EQUIPMENT: Record<string, string> = { PH: 'phone', CP: 'phone', FX: 'fax', Internet: 'email', X400: 'email', BP: 'pager' };
const USE: Record<string, string> = { PRN: 'home', ORN: 'home', WPN: 'work', VHN: 'temp', ASN: 'temp', EMR: 'home', NET: 'home' };

/** XTN repetitions → ContactPoint[] (number^use^equipment^email). `defaultUse` from the field (PID-13 home, PID-14 work). */
export function telecoms(ctx: Ctx, s: Hl7Segment, field: number, defaultUse?: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let r = 1, n = reps(ctx, s, field); r <= n; r++) {
    const p = `${field}[${r}]`;
    const equip = val(s, `${p}.3`);
    const useCode = val(s, `${p}.2`);
    const email = val(s, `${p}.4`);
    const value = equip === 'Internet' || equip === 'X400' ? email ?? val(s, `${p}.1`) : val(s, `${p}.1`) ?? val(s, `${p}.12`) ?? email;
    if (!value) continue;
    const system = equip ? EQUIPMENT[equip] : email && !val(s, `${p}.1`) ? 'email' : 'phone';
    if (equip && !system) ctx.warn(`${at(s, `${p}.3`)}: telecom equipment type '${equip.slice(0, 20)}' is not mapped; sent as 'other'`, at(s, `${p}.3`));
    let use = useCode ? USE[useCode] : defaultUse;
    if (useCode && !use) ctx.warn(`${at(s, `${p}.2`)}: telecom use '${useCode.slice(0, 20)}' is not mapped`, at(s, `${p}.2`));
    if (equip === 'CP') use = 'mobile';
    out.push(clean({ system: system ?? 'other', value, use }));
  }
  return out;
}
