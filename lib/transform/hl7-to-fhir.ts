/**
 * HL7 v2 → FHIR R4 UK Core (STU2 profiles) as a transaction Bundle, following the HL7 V2-to-FHIR
 * IG message maps: ADT_A01 family (A01–A05, A08, A11, A13, A28, A31), ADT_A39 (A40 merge),
 * ORU_R01, ORM_O01, OML_O21, REF_I12. Every resource gets a stable id (ids.ts) and a PUT entry,
 * so the same message always gives the byte-identical Bundle and replaying it is idempotent.
 * Anything wrong gives errors and no Bundle; anything not mapped is a warning or information
 * issue in the outcome, never dropped silently.
 */
import { parseHl7, type Hl7Message, type Hl7Segment } from '../hl7';
import { hasErrors, issue, operationOutcome, type Issue, type OperationOutcome } from '../outcome';
import { encounter, order, referral, report } from './clinical';
import { at, cwe, Ctx, instant, val, type CodeableConcept, type Reference, type Resource } from './context';
import { facilityOrganization, mergedPatient, patient, relatedPerson } from './people';
import { DEFAULT_TABLES, type MappingTables } from './tables';

/** ADT events this transform maps (HL7 v2.5.1 Chapter 3). */
export const ADT_EVENTS = ['A01', 'A02', 'A03', 'A04', 'A05', 'A08', 'A11', 'A13', 'A28', 'A31', 'A40'] as const;
/** Message types this transform maps, `MSH-9.1^MSH-9.2`. */
export const SUPPORTED_TYPES = [...ADT_EVENTS.map((e) => `ADT^${e}`), 'ORU^R01', 'ORM^O01', 'OML^O21', 'REF^I12'];

/** A FHIR transaction Bundle. */
export interface Bundle {
  resourceType: 'Bundle';
  id: string;
  type: 'transaction';
  timestamp?: string;
  entry: { fullUrl: string; resource: Resource; request: { method: 'PUT'; url: string } }[];
}

export interface TransformResult {
  /** The Bundle, only when the outcome has no errors (never a partial Bundle). */
  bundle?: Bundle;
  outcome: OperationOutcome;
  /** `MSH-9.1^MSH-9.2` when the message could be read. */
  type?: string;
  controlId?: string;
}

export interface Hl7ToFhirOptions {
  tables?: MappingTables;
  /** IANA zone for HL7 times without an offset (default Europe/London). */
  zone?: string;
  /** Largest message accepted, in characters (default 10 MiB). */
  maxLength?: number;
}

/** Segments each message structure maps; any other segment is reported as not transformed. */
const MAPPED: Record<string, string[]> = {
  ADT: ['MSH', 'EVN', 'PID', 'PD1', 'NK1', 'PV1', 'MRG'],
  ORU: ['MSH', 'PID', 'PD1', 'PV1', 'ORC', 'OBR', 'OBX'],
  ORM: ['MSH', 'PID', 'PD1', 'PV1', 'ORC', 'OBR'],
  OML: ['MSH', 'PID', 'PD1', 'PV1', 'ORC', 'OBR'],
  REF: ['MSH', 'RF1', 'PRD', 'PID', 'PD1', 'PV1', 'DG1', 'OBR'],
};

/** Zones already accepted: building an Intl.DateTimeFormat to test one costs more than a whole ADT transform. */
const knownZones = new Set<string>();

function isZone(zone: string): boolean {
  if (knownZones.has(zone)) return true;
  try { new Intl.DateTimeFormat('en', { timeZone: zone }); } catch { return false; }
  if (knownZones.size < 100) knownZones.add(zone);
  return true;
}

/** Transform one HL7 v2 message (text or parsed). Never throws for bad data. */
export function hl7ToFhir(input: string | Hl7Message, opts: Hl7ToFhirOptions = {}): TransformResult {
  let msg: Hl7Message;
  let parseIssues: Issue[] = [];
  if (typeof input === 'string') {
    const max = opts.maxLength ?? 10 * 1024 * 1024;
    if (input.length > max) return fail([issue('error', 'too-long', `Message is longer than ${max} characters`, undefined, 'NHS_TRANSFORM_TOO_LONG')]);
    const parsed = parseHl7(input);
    if (!parsed.message || hasErrors(parsed.issues)) {
      return fail(parsed.issues.length ? parsed.issues.filter((i) => i.severity !== 'information') : [issue('error', 'structure', 'Input is not an HL7 v2 message', undefined, 'NHS_TRANSFORM_NOT_HL7')]);
    }
    msg = parsed.message;
    parseIssues = parsed.issues;
  } else msg = input;

  if (opts.zone !== undefined && !isZone(opts.zone)) {
    return fail([issue('error', 'invalid', `Time zone '${String(opts.zone).slice(0, 40)}' is not an IANA zone`, undefined, 'NHS_TRANSFORM_ZONE')]);
  }
  const ctx = new Ctx(msg, opts.tables ?? DEFAULT_TABLES, opts.zone);
  ctx.issues.push(...parseIssues);
  const code = msg.get('MSH-9.1');
  const event = msg.get('MSH-9.2') ?? '';
  const type = code === undefined ? undefined : `${code}^${event}`;
  const base = { type, controlId: msg.controlId };
  if (!ctx.controlId) ctx.error('MSH-10 message control id is missing', 'MSH-10');
  if (!type || !SUPPORTED_TYPES.includes(type)) {
    ctx.add('error', 'not-supported', `Message type ${type ? `'${type.slice(0, 20)}' ` : '(MSH-9) '}is not transformed; supported: ${SUPPORTED_TYPES.join(', ')}`, 'MSH-9');
    return { ...fail(ctx.issues), ...base };
  }
  const mapped = MAPPED[code!]!;
  const skipped = new Set<string>();
  for (const s of msg.segments()) if (!mapped.includes(s.name)) skipped.add(s.name);
  if (skipped.size) ctx.info(`Segments not transformed: ${[...skipped].sort().join(', ')}`);

  try {
    const one = (name: string): Hl7Segment | undefined => msg.segments(name)[0];
    const sender = facilityOrganization(ctx, one('MSH')!, '4');
    if (type === 'ADT^A40') merges(ctx);
    const pat = type === 'ADT^A40' ? undefined : patient(ctx, one('PID'), one('PD1'));
    if (pat) {
      if (code === 'ADT') adt(ctx, event, pat, sender);
      else if (code === 'ORU') oru(ctx, pat, sender);
      else if (code === 'REF') ref(ctx, pat);
      else orders(ctx, pat);
    }
  } catch (e) {
    // A mapping bug must not take the flow down: the message goes to the invalid output.
    ctx.add('fatal', 'exception', `Transform failed: ${e instanceof Error ? e.message.slice(0, 200) : 'unknown error'}`);
  }
  // Read before the error check: a malformed MSH-7 is an error, never a Bundle beside one.
  const timestamp = instant(ctx, msg.segments('MSH')[0]!, '7');
  if (hasErrors(ctx.issues)) return { ...fail(ctx.issues), ...base };
  const bundle: Bundle = {
    resourceType: 'Bundle',
    id: ctx.id('Bundle', ctx.facility, ctx.controlId),
    type: 'transaction',
    ...(timestamp ? { timestamp } : {}),
    entry: [...ctx.entries.values()].map((resource) => ({
      fullUrl: `urn:uuid:${resource.id}`,
      resource,
      request: { method: 'PUT' as const, url: `${resource.resourceType}/${resource.id}` },
    })),
  };
  return { bundle, outcome: operationOutcome(ctx.issues), ...base };
}

function fail(issues: Issue[]): TransformResult {
  return { outcome: operationOutcome(issues.length ? issues : [issue('error', 'processing', 'Message could not be transformed')]) };
}

const PERSON_LEVEL = new Set(['A28', 'A31', 'A40']);

function adt(ctx: Ctx, event: string, pat: Reference, sender?: Reference): void {
  const one = (name: string): Hl7Segment | undefined => ctx.msg.segments(name)[0];
  for (const nk1 of ctx.msg.segments('NK1')) relatedPerson(ctx, nk1, pat);
  const pv1 = one('PV1');
  // A28/A31 carry person data; their PV1 is a placeholder (often class N) with no visit.
  if (PERSON_LEVEL.has(event)) {
    if (pv1 && val(pv1, '2') && val(pv1, '2') !== 'N') encounter(ctx, pv1, pat, event, sender);
    return;
  }
  encounter(ctx, pv1, pat, event, sender);
}

/**
 * ADT^A40 (ADT_A39 structure): one merge per PATIENT group `PID [PD1] MRG [PV1]`; each group
 * links its surviving Patient (PID) and the replaced one (MRG-1) both ways.
 */
function merges(ctx: Ctx): void {
  let pid: Hl7Segment | undefined;
  let pd1: Hl7Segment | undefined;
  let groups = 0;
  for (const s of ctx.msg.segments()) {
    if (s.name === 'PID') {
      if (pid) ctx.error('MRG segment is missing after a PID', at(pid, '3'), 'structure');
      pid = s;
      pd1 = undefined;
    } else if (s.name === 'PD1') pd1 = s;
    else if (s.name === 'MRG') {
      if (!pid) { ctx.error('PID segment is missing before MRG', at(s, '1'), 'structure'); continue; }
      const survivor = patient(ctx, pid, pd1);
      if (survivor) mergedPatient(ctx, s, survivor);
      pid = undefined;
      groups++;
    }
  }
  if (pid) {
    patient(ctx, pid, pd1);
    ctx.error('MRG segment is missing (required for a merge)', 'MRG');
  } else if (groups === 0) ctx.error('PID segment is missing', 'PID');
}

/** ORU^R01: each OBR with the OBX segments that follow it. */
function oru(ctx: Ctx, pat: Reference, sender?: Reference): void {
  const pv1 = ctx.msg.segments('PV1')[0];
  const enc = pv1 ? encounter(ctx, pv1, pat, '', sender) : undefined;
  let obr: Hl7Segment | undefined;
  let obxs: Hl7Segment[] = [];
  let reports = 0;
  const flush = (): void => {
    if (obr) { report(ctx, obr, obxs, pat, enc, sender); reports++; }
  };
  for (const s of ctx.msg.segments()) {
    if (s.name === 'OBR') { flush(); obr = s; obxs = []; } else if (s.name === 'OBX') {
      if (!obr) ctx.error('OBX before any OBR', at(s, '1'), 'structure');
      else obxs.push(s);
    }
  }
  flush();
  if (reports === 0) ctx.error('OBR segment is missing', 'OBR');
}

/** ORM^O01 / OML^O21: each ORC with the OBR that follows it. */
function orders(ctx: Ctx, pat: Reference): void {
  const pv1 = ctx.msg.segments('PV1')[0];
  const enc = pv1 ? encounter(ctx, pv1, pat, '') : undefined;
  const performer = facilityOrganization(ctx, ctx.msg.segments('MSH')[0]!, '6');
  let orc: Hl7Segment | undefined;
  let count = 0;
  let pending = false;
  for (const s of ctx.msg.segments()) {
    if (s.name === 'ORC') {
      if (pending) { order(ctx, orc, undefined, pat, enc, performer); count++; }
      orc = s; pending = true;
    } else if (s.name === 'OBR') {
      order(ctx, orc, s, pat, enc, performer); count++; pending = false;
    }
  }
  if (pending) { order(ctx, orc, undefined, pat, enc, performer); count++; }
  if (count === 0) ctx.error('ORC/OBR order segments are missing', 'ORC');
}

/** REF^I12: one referral; DG1 diagnoses become reasons. */
function ref(ctx: Ctx, pat: Reference): void {
  const pv1 = ctx.msg.segments('PV1')[0];
  const enc = pv1 && val(pv1, '2') !== 'N' ? encounter(ctx, pv1, pat, '') : undefined;
  const reasons: CodeableConcept[] = [];
  for (const dg1 of ctx.msg.segments('DG1')) {
    const c = cwe(ctx, dg1, '3');
    if (c) reasons.push(c);
  }
  const performer = facilityOrganization(ctx, ctx.msg.segments('MSH')[0]!, '6');
  referral(ctx, ctx.msg.segments('RF1')[0], ctx.msg.segments('PRD'), ctx.msg.segments('OBR')[0], reasons, pat, enc, performer);
}
