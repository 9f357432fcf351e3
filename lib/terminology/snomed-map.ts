/**
 * The behaviour of the `nhs-snomed-map` node, free of Node-RED: find the codes at a path in an
 * HL7 v2 message (a CE/CWE field such as `OBX-3`, `DG1-3`: HL7 v2.5.1 §2A.8 CWE, identifier .1,
 * text .2, coding system .3, alternate identifier .4–.6) or a FHIR resource (a CodeableConcept
 * such as `Observation.code`), then map them (local maps, else ConceptMap/$translate), translate
 * SNOMED CT to ICD-10 / OPCS-4 (RF2 maps with their rules, else the server), validate SCTIDs
 * (TIG §6.7, then CodeSystem/$validate-code when a server is configured), or check ValueSet
 * membership (ValueSet/$validate-code). A mapped coding is added beside the original (CWE
 * alternate identifier; a new `CodeableConcept.coding`), never in its place.
 */
import { NhsError } from '../errors';
import { fromJSON, hl7DateTimeToIso, parseHl7, parsePath, type Hl7Message, type Hl7Segment } from '../hl7';
import { issue, operationOutcome, type Issue, type OperationOutcome } from '../outcome';
import type { TerminologyClient } from './client';
import { ICD_10, OPCS_4, SNOMED_CT } from './map-loaders';
import type { PatientContext } from './map-rules';
import { isNegative, type MapSet, type MapTarget, type Provenance, type SourceCode } from './maps';
import { parseEcl, parseScg } from './ecl';
import { checkSctId, looksLikeExpression } from './sctid';

export type SnomedMapMode = 'map' | 'translate' | 'validate' | 'valueset';

export interface SnomedMapOptions {
  mode: SnomedMapMode;
  /** HL7 path (`OBX-3`: every OBX; `OBX[2]-3`: that one) or FHIR element path (`Observation.code`). */
  path: string;
  /** Local maps for `map` (source → SNOMED CT); read at each message (they reload). */
  maps?: () => MapSet | undefined;
  /** RF2 maps for `translate`. */
  translateMaps?: () => MapSet | undefined;
  /** `translate` target: ICD-10 or OPCS-4 code system URI. */
  translateTo?: string;
  /** `map` target system for the server's $translate (default SNOMED CT). */
  targetSystem?: string;
  /** Source code system when the message does not name one (HL7 local codes). */
  sourceSystem?: string;
  /** ValueSet canonical URL for `valueset`. */
  valueSet?: string;
  client?: TerminologyClient;
  /** Add the mapped coding beside the original (default true). */
  write?: boolean;
  /**
   * Where a result with only rule candidates (map rules needing patient context the message does
   * not give) goes: `mapped` (default; a warning `incomplete`, nothing written) or `unmapped` (the
   * same issue as an error, so the message leaves on the second output for coder review).
   * Hazard HAZ-011 C4.
   */
  candidates?: 'mapped' | 'unmapped';
  /**
   * Syntax check for post-coordinated expressions / ECL before they go to the server: returns a
   * syntax error text, or undefined. Default `expressionSyntax` below (SCG 2.4 and ECL 2.2).
   */
  expressionSyntax?: (text: string) => string | undefined;
}

/** Text that starts like an ECL constraint (`<<`, `>`, `^`, `*`, `!!>`) rather than an SCTID. */
const ECL_START = /^\s*[<>^*!(]/;

/**
 * The syntax check of a code that is not a single SCTID: a SNOMED CT post-coordinated expression
 * (Compositional Grammar 2.4) or an expression constraint (ECL 2.2), both by lib/terminology/ecl.
 * Accepted when either grammar accepts it (and its SCTIDs are plausible); otherwise the error of
 * the grammar that read further, with its 1-based position, so the user sees where it broke.
 */
export function expressionSyntax(text: string): string | undefined {
  const scg = parseScg(text);
  if (scg.ok) return undefined;
  const ecl = parseEcl(text);
  if (ecl.ok) return undefined;
  const first = (r: typeof scg): string => r.issues[0]?.diagnostics ?? 'syntax error';
  const reached = (r: typeof scg): number => Number(/position (\d+)/.exec(first(r))?.[1] ?? 0);
  const pick = reached(ecl) > reached(scg) || (reached(ecl) === reached(scg) && ECL_START.test(text)) ? ecl : scg;
  return pick.issues.map((i) => i.diagnostics).filter(Boolean).join('; ').slice(0, 500) || 'syntax error';
}

/**
 * One code found and what was found for it (`msg.snomed.codes[n]`). The verdict per code is in
 * `msg.outcome` (an issue with the code's path in `expression`), never here (DESIGN.md §2).
 */
export interface SnomedCode {
  path: string;
  source: SourceCode;
  targets: MapTarget[];
  provenance?: Pick<Provenance, 'map' | 'version'> & { effectiveTime?: string };
  written?: boolean;
}

/** Internal: a code's result plus how it was judged (turned into issues, then dropped). */
type CodeResult = SnomedCode & { status: 'mapped' | 'unmapped' | 'valid' | 'invalid' };

/** `msg.snomed`: the first code's result at the top, every code in `codes`. */
export interface SnomedResult {
  source: SourceCode | null;
  targets: MapTarget[];
  provenance: SnomedCode['provenance'] | null;
  codes: SnomedCode[];
}

export interface SnomedMapOutput {
  ok: boolean;
  outcome: OperationOutcome;
  snomed: SnomedResult;
  /** Set when a coding was added: the new HL7 JSON / text or FHIR resource. */
  hl7?: unknown;
  payload?: unknown;
}

/** HL7 table 0396 coding system names we translate to and from FHIR system URIs. */
const HL7_SYSTEMS: Record<string, string> = { SCT: SNOMED_CT, SNOMEDCT: SNOMED_CT, LN: 'http://loinc.org', I10: ICD_10, OPCS4: OPCS_4 };
function hl7Name(system: string): string {
  for (const [k, v] of Object.entries(HL7_SYSTEMS)) if (v === system) return k;
  return system;
}

interface Slot {
  path: string;
  codings: SourceCode[];
  /** Add a target beside the original: 'added', 'present' (already there) or 'occupied'. */
  add(t: MapTarget): 'added' | 'present' | 'occupied';
}

const HL7_PATH = /^[A-Z][A-Z0-9]{2}(\[\d+\])?-\d+/;

/** True when `path` is an HL7 v2 path rather than a FHIR element path. */
export function isHl7Path(path: string): boolean { return HL7_PATH.test(path); }

/** Check the configuration; throws `SNOMED_MAP_CONFIG` naming what is wrong. */
export function checkOptions(o: SnomedMapOptions): void {
  const bad = (m: string): never => { throw new NhsError('SNOMED_MAP_CONFIG', m); };
  if (isHl7Path(o.path)) { if (!parsePath(o.path)) bad(`not an HL7 path: ${o.path.slice(0, 40)}`); }
  else if (!/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$/.test(o.path)) bad(`not an HL7 path (OBX-3) or FHIR element path (Observation.code): ${o.path.slice(0, 40)}`);
  if (o.mode === 'valueset' && (!o.valueSet || !o.client)) bad('ValueSet membership needs a ValueSet URL and a terminology server');
  if (o.mode === 'translate' && !o.translateTo) bad('translate needs a target (ICD-10 or OPCS-4)');
  if (!['map', 'translate', 'validate', 'valueset'].includes(o.mode)) bad(`unknown mode ${String(o.mode)}`);
}

function hl7Slots(m: Hl7Message, pathText: string, sourceSystem: string | undefined): Slot[] {
  const p = parsePath(pathText)!;
  const every = !/^[A-Z][A-Z0-9]{2}\[/.test(pathText);
  const segs = m.segments(p.segment).filter((s) => every || s.occurrence === p.occurrence);
  const rel = `${p.field}${p.repetition !== undefined ? `[${p.repetition}]` : ''}`;
  const out: Slot[] = [];
  for (const seg of segs) {
    const whole = p.component !== undefined;
    const code = seg.get(whole ? `${rel}.${p.component}${p.subcomponent !== undefined ? `.${p.subcomponent}` : ''}` : `${rel}.1`);
    if (code === undefined || code === '""') continue;
    const name = whole ? undefined : seg.get(`${rel}.3`);
    const system = (name && HL7_SYSTEMS[name.toUpperCase().replace(/\s/g, '')]) ?? sourceSystem;
    const display = whole ? undefined : seg.get(`${rel}.2`);
    out.push({
      path: `${seg.name}[${seg.occurrence}]-${rel}${whole ? `.${p.component}` : ''}`,
      codings: [{ code, ...(system ? { system } : {}), ...(display ? { display } : {}) }],
      add: (t) => (whole ? 'occupied' : addHl7(seg, rel, t)),
    });
  }
  return out;
}

function addHl7(seg: Hl7Segment, rel: string, t: MapTarget): 'added' | 'present' | 'occupied' {
  const alt = seg.get(`${rel}.4`);
  const name = hl7Name(t.system);
  if (alt === t.code && seg.get(`${rel}.6`) === name) return 'present';
  if (alt) return 'occupied';
  seg.set(`${rel}.4`, t.code);
  if (t.display) seg.set(`${rel}.5`, t.display);
  seg.set(`${rel}.6`, name);
  return 'added';
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fhirSlots(resource: unknown, pathText: string): Slot[] {
  const [type, ...steps] = pathText.split('.');
  const roots: { r: Obj; at: string }[] = [];
  if (isObj(resource) && resource.resourceType === type) roots.push({ r: resource, at: type! });
  else if (isObj(resource) && resource.resourceType === 'Bundle' && Array.isArray(resource.entry)) {
    resource.entry.forEach((e, i) => { if (isObj(e) && isObj(e.resource) && e.resource.resourceType === type) roots.push({ r: e.resource, at: `Bundle.entry[${i}].resource` }); });
  }
  const out: Slot[] = [];
  for (const root of roots) {
    let level: { v: unknown; at: string }[] = [{ v: root.r, at: root.at }];
    for (const step of steps) {
      const next: { v: unknown; at: string }[] = [];
      for (const { v, at } of level) {
        if (!isObj(v)) continue;
        const x = v[step];
        if (Array.isArray(x)) x.forEach((y, i) => next.push({ v: y, at: `${at}.${step}[${i}]` }));
        else if (x !== undefined) next.push({ v: x, at: `${at}.${step}` });
      }
      level = next;
    }
    for (const { v, at } of level) {
      if (!isObj(v)) continue;
      if (Array.isArray(v.coding)) {
        const coding = v.coding as unknown[];
        const codings = coding.filter(isObj).filter((c) => typeof c.code === 'string' && c.code).map((c) => ({ code: c.code as string, ...(typeof c.system === 'string' ? { system: c.system } : {}), ...(typeof c.display === 'string' ? { display: c.display } : {}) }));
        if (codings.length === 0) continue;
        out.push({
          path: `${at}.coding`, codings,
          add: (t) => {
            if (coding.some((c) => isObj(c) && c.system === t.system && c.code === t.code)) return 'present';
            coding.push({ system: t.system, code: t.code, ...(t.display ? { display: t.display } : {}), userSelected: false });
            return 'added';
          },
        });
      } else if (typeof v.code === 'string' && v.code) {
        out.push({ path: at, codings: [{ code: v.code, ...(typeof v.system === 'string' ? { system: v.system } : {}), ...(typeof v.display === 'string' ? { display: v.display } : {}) }], add: () => 'occupied' });
      }
    }
  }
  return out;
}

/** Age in years at `at` from an HL7 / FHIR date of birth (patient context for map rules). */
function ageAt(birth: string | undefined, at: Date): number | undefined {
  if (!birth) return undefined;
  const b = Date.parse(birth.length === 10 ? `${birth}T00:00:00Z` : birth);
  if (!Number.isFinite(b)) return undefined;
  const years = (at.getTime() - b) / (365.25 * 86_400_000);
  return years >= 0 && years < 150 ? years : undefined;
}

/** Patient context from PID-7 / PID-8 (age at MSH-7) or a FHIR Patient in a Bundle; `given` wins. */
export function patientContext(hl7: Hl7Message | undefined, resource: unknown, given: unknown, now = new Date()): PatientContext {
  const ctx: PatientContext = {};
  if (hl7) {
    const at = hl7DateTimeToIso(hl7.get('MSH-7') ?? '');
    const dob = hl7DateTimeToIso(hl7.get('PID-7.1') ?? '');
    const age = ageAt(dob, at ? new Date(at) : now);
    if (age !== undefined) ctx.age = age;
    const sex = hl7.get('PID-8.1');
    if (sex === 'M') ctx.sex = 'male';
    else if (sex === 'F') ctx.sex = 'female';
  } else if (isObj(resource) && resource.resourceType === 'Bundle' && Array.isArray(resource.entry)) {
    const pt = resource.entry.map((e) => (isObj(e) ? e.resource : undefined)).find((r) => isObj(r) && r.resourceType === 'Patient') as Obj | undefined;
    const age = ageAt(typeof pt?.birthDate === 'string' ? pt.birthDate : undefined, now);
    if (age !== undefined) ctx.age = age;
    if (pt?.gender === 'male' || pt?.gender === 'female') ctx.sex = pt.gender;
  }
  if (isObj(given)) {
    if (typeof given.age === 'number' && Number.isFinite(given.age)) ctx.age = given.age;
    if (given.sex === 'male' || given.sex === 'female' || given.sex === 'other' || given.sex === 'unknown') ctx.sex = given.sex;
  }
  return ctx;
}

interface Input { hl7?: unknown; payload?: unknown; context?: unknown }

/** Largest HL7 / JSON text read (the HL7 node's default limit). */
const MAX_TEXT = 10 * 1048576;

/**
 * Run one message. Bad input (no HL7/FHIR content, no code at the path) is a result with
 * `ok: false`; only server failures throw (NhsError with a TERMINOLOGY_* code).
 */
export async function snomedMap(input: Input, o: SnomedMapOptions): Promise<SnomedMapOutput> {
  const issues: Issue[] = [];
  let hl7: Hl7Message | undefined;
  let resource: unknown;
  let payloadWasText = false;
  const fail = (i: Issue): SnomedMapOutput => ({ ok: false, outcome: operationOutcome([i]), snomed: { source: null, targets: [], provenance: null, codes: [] } });
  const p = input.payload;
  if ((typeof p === 'string' || Buffer.isBuffer(p)) && p.length > MAX_TEXT) return fail(issue('error', 'too-long', `msg.payload is over ${MAX_TEXT / 1048576} MiB`));
  if (isHl7Path(o.path)) {
    const parsed = input.hl7 !== undefined ? fromJSON(input.hl7)
      : typeof input.payload === 'string' || Buffer.isBuffer(input.payload) ? parseHl7(String(input.payload)) : { issues: [issue('error', 'structure', 'no HL7 message: msg.hl7 and msg.payload are both absent or not HL7')] };
    if (!parsed.message) return fail(parsed.issues[0] ?? issue('error', 'structure', 'not an HL7 message'));
    hl7 = parsed.message;
  } else {
    resource = input.payload;
    if (typeof resource === 'string') {
      try { resource = JSON.parse(resource); payloadWasText = true; } catch { return fail(issue('error', 'structure', 'msg.payload is text but not JSON (expected a FHIR resource)')); }
    }
    if (!isObj(resource)) return fail(issue('error', 'structure', 'msg.payload is not a FHIR resource'));
  }
  const slots = hl7 ? hl7Slots(hl7, o.path, o.sourceSystem) : fhirSlots(resource, o.path);
  if (slots.length === 0) return fail(issue('error', 'required', `no code at ${o.path}`, o.path));
  const ctx = patientContext(hl7, resource, input.context);
  const codes: SnomedCode[] = [];
  let written = false;
  for (const slot of slots) {
    const { status: _judged, ...r } = await one(slot, o, ctx, issues);
    if (r.written) written = true;
    codes.push(r);
  }
  const first = codes[0]!;
  const ok = !issues.some((i) => i.severity === 'error');
  const out: SnomedMapOutput = { ok, outcome: operationOutcome(issues), snomed: { source: first.source, targets: first.targets, provenance: first.provenance ?? null, codes } };
  if (written && hl7) { out.hl7 = hl7.toJSON(); out.payload = hl7.toString(); }
  if (written && resource !== undefined) out.payload = payloadWasText ? JSON.stringify(resource) : resource;
  return out;
}

function serverProvenance(o: SnomedMapOptions): { map: string } {
  return { map: o.client ? 'terminology server' : 'none' };
}

async function one(slot: Slot, o: SnomedMapOptions, ctx: PatientContext, issues: Issue[]): Promise<CodeResult> {
  const src = slot.codings[0]!;
  const base = { path: slot.path, source: src };
  const where = slot.path;
  if (o.mode === 'validate' || o.mode === 'valueset') {
    const c = o.mode === 'validate' ? slot.codings.find((x) => x.system === SNOMED_CT) ?? (slot.codings.length === 1 && !slot.codings[0]!.system ? slot.codings[0] : undefined) : src;
    if (!c) { issues.push(issue('error', 'code-invalid', 'no SNOMED CT coding to validate', where)); return { ...base, status: 'invalid', targets: [] }; }
    if (o.mode === 'validate') {
      if (looksLikeExpression(c.code) || ECL_START.test(c.code)) {
        const syntax = (o.expressionSyntax ?? expressionSyntax)(c.code);
        if (syntax) { issues.push(issue('error', 'code-invalid', `SNOMED CT expression syntax: ${syntax}`, where)); return { ...base, source: c, status: 'invalid', targets: [] }; }
        if (!o.client) { issues.push(issue('error', 'not-supported', 'a SNOMED CT expression can only be checked by a terminology server (none configured)', where)); return { ...base, source: c, status: 'invalid', targets: [] }; }
      } else {
        const chk = checkSctId(c.code);
        if (!chk.valid) { issues.push(issue('error', 'code-invalid', `not a valid SCTID (${chk.failed}): ${chk.reason}`, where, `SCTID_${chk.failed!.toUpperCase().replace('-', '_')}`)); return { ...base, source: c, status: 'invalid', targets: [] }; }
        if (!o.client) return { ...base, source: c, status: 'valid', targets: [], provenance: { map: 'SCTID check (TIG §6.7)' } };
      }
      const v = await o.client.validateCode({ system: SNOMED_CT, code: c.code });
      if (!v.result) issues.push(issue('error', 'code-invalid', `terminology server: not a SNOMED CT code${v.message ? ` (${v.message.slice(0, 200)})` : ''}`, where));
      return { ...base, source: { ...c, ...(v.display && !c.display ? { display: v.display } : {}) }, status: v.result ? 'valid' : 'invalid', targets: [], provenance: serverProvenance(o) };
    }
    const v = await o.client!.validateInValueSet(o.valueSet!, { system: c.system ?? SNOMED_CT, code: c.code });
    if (!v.result) issues.push(issue('error', 'code-invalid', `not in ValueSet ${o.valueSet}${v.message ? ` (${v.message.slice(0, 200)})` : ''}`, where));
    return { ...base, source: c, status: v.result ? 'valid' : 'invalid', targets: [], provenance: serverProvenance(o) };
  }

  // map / translate: local tables first, the server after.
  const tables = o.mode === 'map' ? o.maps?.() : o.translateMaps?.();
  const target = o.mode === 'map' ? o.targetSystem ?? SNOMED_CT : o.translateTo!;
  const tried = o.mode === 'translate' ? slot.codings.filter((c) => !c.system || c.system === SNOMED_CT) : slot.codings;
  let result: CodeResult | undefined;
  for (const c of tried) {
    const r = tables?.lookup(c.code, c.system ?? (o.mode === 'translate' ? SNOMED_CT : o.sourceSystem), ctx);
    if (!r) continue;
    // Copies: lookup results are shared by the table, and msg is the flow's to change.
    const targets = r.targets.filter((t) => o.mode === 'map' || t.system === target).map((t) => ({ ...t }));
    result = { ...base, source: { ...c, ...(r.source.display && !c.display ? { display: r.source.display } : {}) }, status: r.mapped ? 'mapped' : 'unmapped', targets, provenance: { map: r.provenance.map, ...(r.provenance.version ? { version: r.provenance.version } : {}), ...(r.provenance.effectiveTime ? { effectiveTime: r.provenance.effectiveTime } : {}) } };
    if (!r.mapped && r.advice?.length) result.targets = [];
    if (r.advice?.length && !r.mapped) issues.push(issue('error', 'not-found', `no ${o.mode === 'map' ? 'mapping' : 'translation'} for ${c.code}: ${r.advice.join('; ').slice(0, 300)}`, where));
    break;
  }
  if (!result && o.client) {
    const c = tried.find((x) => x.system) ?? (o.mode === 'translate' && tried[0] ? { ...tried[0], system: SNOMED_CT } : undefined);
    if (c?.system) {
      const t = await o.client.translate({ system: c.system, code: c.code, targetSystem: target });
      const targets = t.targets.filter((x) => !isNegative(x.equivalence));
      result = { ...base, source: c, status: t.result && targets.length ? 'mapped' : 'unmapped', targets: t.targets, provenance: serverProvenance(o) };
    }
  }
  if (!result) result = { ...base, status: 'unmapped', targets: [], ...(tables ? {} : { provenance: { map: 'none' } }) };
  if (result.status === 'unmapped') {
    if (!issues.some((i) => i.expression?.[0] === where)) issues.push(issue('error', 'not-found', `no ${o.mode === 'map' ? 'mapping' : `translation to ${hl7Name(target)}`} for code ${result.source.code}${result.source.system ? ` (${result.source.system})` : ''}`, where));
    return result;
  }
  const chosen = result.targets.filter((t) => !t.candidate && t.code && !isNegative(t.equivalence));
  const candidates = result.targets.filter((t) => t.candidate);
  if (candidates.length) issues.push(issue(o.candidates === 'unmapped' && chosen.length === 0 ? 'error' : 'warning', 'incomplete', `map rules need patient context the message does not give: ${candidates.length} candidate target(s) with advice, none added`, where));
  if (o.write !== false) {
    for (const t of slot.codings.length && isHl7Path(o.path) ? chosen.slice(0, 1) : chosen) {
      const w = slot.add(t);
      if (w === 'added') result.written = true;
      else if (w === 'occupied') issues.push(issue('warning', 'conflict', 'mapped coding not added: the place beside the original is taken (HL7 alternate identifier set, or a bare Coding)', where));
    }
  }
  return result;
}
