/**
 * Encounters, results and orders: PV1 → UK Core Encounter (V2-to-FHIR PV1[Encounter]),
 * OBR → UK Core DiagnosticReport, OBX → UK Core Observation (V2-to-FHIR OBX[Observation] by
 * OBX-2 value type; ED → DiagnosticReport.presentedForm), ORC/OBR and RF1/PRD → UK Core
 * ServiceRequest (V2-to-FHIR ORC[ServiceRequest], OBR[ServiceRequest]).
 */
import type { Hl7Segment } from '../hl7';
import { at, clean, coding, cwe, dateTime, instant, lookup, val, type CodeableConcept, type Ctx, type Reference, type Resource } from './context';
import { location, practitioner } from './people';

import type { MappedCoding } from './tables';

/** Encounter.status for an ADT trigger event (the event says where the stay is). */
const EVENT_STATUS: Record<string, string> = { A01: 'in-progress', A02: 'in-progress', A03: 'finished', A04: 'arrived', A05: 'planned', A11: 'cancelled', A13: 'in-progress' };

export function encounter(ctx: Ctx, pv1: Hl7Segment | undefined, subject: Reference, event: string, provider?: Reference): Reference | undefined {
  if (!pv1) { ctx.error('PV1 segment is missing', 'PV1'); return undefined; }
  const cls = val(pv1, '2');
  if (!cls) { ctx.error('PV1-2 patient class is missing', at(pv1, '2')); return undefined; }
  const mappedClass = lookup<MappedCoding>(ctx, 'patientClass', cls, at(pv1, '2'), 'error');
  if (!mappedClass) return undefined;
  const visit = val(pv1, '19.1');
  const admitType = val(pv1, '4.1');
  const mappedType = admitType ? lookup<MappedCoding>(ctx, 'admissionType', admitType, at(pv1, '4')) : undefined;
  const start = dateTime(ctx, pv1, '44');
  const end = dateTime(ctx, pv1, '45');
  const status = EVENT_STATUS[event] ?? (end ? 'finished' : 'in-progress');
  const participants: Record<string, unknown>[] = [];
  for (const [field, code, display] of [[7, 'ATND', 'attender'], [8, 'REF', 'referrer'], [9, 'CON', 'consultant'], [17, 'ADM', 'admitter']] as const) {
    const who = practitioner(ctx, pv1, `${field}[1]`);
    if (who) participants.push({ type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code, display }] }], individual: who });
  }
  const locations: Record<string, unknown>[] = [];
  const here = location(ctx, pv1, '3');
  if (here) locations.push({ location: here, status: status === 'finished' ? 'completed' : 'active' });
  const prior = location(ctx, pv1, '6');
  if (prior) locations.push({ location: prior, status: 'completed' });
  const r: Resource = clean({
    resourceType: 'Encounter',
    id: ctx.id('Encounter', ctx.facility, visit ?? `${ctx.controlId}|PV1|${pv1.occurrence}`),
    identifier: visit ? [{ value: visit, assigner: val(pv1, '19.4.1') ? { display: val(pv1, '19.4.1') } : undefined }] : undefined,
    status,
    class: coding(mappedClass),
    type: mappedType ? [{ coding: [coding(mappedType)] }] : admitType ? [{ text: val(pv1, '4.2') ?? admitType }] : undefined,
    serviceType: cwe(ctx, pv1, '10'),
    subject,
    participant: participants,
    period: start || end ? { start, end } : undefined,
    hospitalization: clean({ admitSource: cwe(ctx, pv1, '14'), dischargeDisposition: cwe(ctx, pv1, '36') }),
    location: locations,
    serviceProvider: provider ? { reference: provider.reference } : undefined,
  });
  return ctx.put(r, 'UKCore-Encounter');
}

/** OBX-7 reference range text (`3.5-5.0`, `<5`, `>2`) → Observation.referenceRange. */
function referenceRange(text: string | undefined, unit: Record<string, unknown>): Record<string, unknown>[] | undefined {
  if (!text) return undefined;
  const q = (v: string): Record<string, unknown> => ({ value: Number(v), ...unit });
  const num = '([+-]?\\d+(?:\\.\\d+)?)';
  let m = new RegExp(`^${num}\\s*-\\s*${num}$`).exec(text);
  if (m) return [{ low: q(m[1]!), high: q(m[2]!) }];
  m = new RegExp(`^<=?\\s*${num}$`).exec(text);
  if (m) return [{ high: q(m[1]!), text }];
  m = new RegExp(`^>=?\\s*${num}$`).exec(text);
  if (m) return [{ low: q(m[1]!), text }];
  return [{ text }];
}

const DECIMAL = /^[+-]?\d+(\.\d+)?$/;

/** OBX-6 → Quantity unit fields; UCUM when OBX-6.3 says so or the unit is in table `ucumUnits`. */
function unitOf(ctx: Ctx, obx: Hl7Segment): Record<string, unknown> {
  const code = val(obx, '6.1');
  if (!code) return {};
  const ucum = val(obx, '6.3')?.toUpperCase() === 'UCUM' || Object.prototype.hasOwnProperty.call(ctx.tables.ucumUnits, code);
  if (ucum) return { unit: val(obx, '6.2') ?? code, system: 'http://unitsofmeasure.org', code: ctx.tables.ucumUnits[code] ?? code };
  ctx.info(`${at(obx, '6')}: unit is not UCUM; kept as text`, at(obx, '6'));
  return { unit: val(obx, '6.2') ?? code };
}

/** OBX-5 by OBX-2 value type → Observation.value[x] (or an attachment for ED). */
function obxValue(ctx: Ctx, obx: Hl7Segment, unit: Record<string, unknown>): { key?: string; value?: unknown; attachment?: Record<string, unknown> } {
  const type = val(obx, '2');
  const v = val(obx, '5[1]');
  const where = at(obx, '5');
  if (v === undefined) return {};
  const num = (s: string | undefined): number | undefined => (s !== undefined && DECIMAL.test(s) ? Number(s) : undefined);
  switch (type) {
    case 'NM': {
      const n = num(v);
      if (n === undefined) { ctx.error(`${where}: value of type NM is not a number`, where, 'value'); return {}; }
      return { key: 'valueQuantity', value: clean({ value: n, ...unit }) };
    }
    case 'ST': case 'TX': case 'FT': {
      const all = ctx.msg.getAll(`OBX[${obx.occurrence}]-5`).filter((x) => x !== '');
      return { key: 'valueString', value: all.join('\n') };
    }
    case 'CE': case 'CWE': case 'CNE': return { key: 'valueCodeableConcept', value: cwe(ctx, obx, '5[1]') };
    case 'DT': case 'TS': case 'DTM': {
      const d = dateTime(ctx, obx, '5[1]');
      return d ? { key: 'valueDateTime', value: type === 'DT' ? d.slice(0, 10) : d } : {};
    }
    case 'SN': {
      const cmp = val(obx, '5[1].1');
      const n1 = num(val(obx, '5[1].2'));
      const sep = val(obx, '5[1].3');
      const n2 = num(val(obx, '5[1].4'));
      if (n1 === undefined) { ctx.error(`${where}: structured numeric has no number`, where, 'value'); return {}; }
      if (sep === ':' || sep === '/') {
        if (n2 === undefined) { ctx.error(`${where}: structured numeric ratio has no second number`, where, 'value'); return {}; }
        return { key: 'valueRatio', value: { numerator: { value: n1 }, denominator: { value: n2 } } };
      }
      if (sep === '-') {
        if (n2 === undefined) { ctx.error(`${where}: structured numeric range has no upper number`, where, 'value'); return {}; }
        return { key: 'valueRange', value: { low: clean({ value: n1, ...unit }), high: clean({ value: n2, ...unit }) } };
      }
      const comparator = cmp === '<' || cmp === '<=' || cmp === '>' || cmp === '>=' ? cmp : undefined;
      if (cmp && !comparator) { ctx.error(`${where}: structured numeric comparator '${cmp.slice(0, 4)}' is not <, <=, > or >=`, where, 'value'); return {}; }
      return { key: 'valueQuantity', value: clean({ value: n1, comparator, ...unit }) };
    }
    case 'ED': {
      const mime = [val(obx, '5[1].2'), val(obx, '5[1].3')];
      const enc = val(obx, '5[1].4');
      const data = val(obx, '5[1].5');
      if (!data) { ctx.error(`${where}: encapsulated data is empty`, where, 'value'); return {}; }
      let b64: string;
      if (enc === 'Base64') {
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) { ctx.error(`${where}: encapsulated data is not Base64`, where, 'value'); return {}; }
        b64 = data;
      } else if (enc === 'A' || enc === undefined) b64 = Buffer.from(data, 'utf8').toString('base64');
      else { ctx.error(`${where}: encapsulated data encoding '${enc.slice(0, 10)}' is not supported (Base64 or A)`, where, 'not-supported'); return {}; }
      const contentType = mime[0] && mime[1] ? `${mime[0]}/${mime[1]}`.toLowerCase() : 'application/octet-stream';
      return { attachment: { contentType, data: b64, title: val(obx, '3.2') } };
    }
    default:
      ctx.error(`${at(obx, '2')}: value type '${(type ?? '').slice(0, 10)}' is ${type ? 'not supported' : 'missing'}`, at(obx, '2'), type ? 'not-supported' : 'required');
      return {};
  }
}

/**
 * HL7 table 0074 diagnostic service sections that are pathology / laboratory medicine: their
 * reports claim UKCore-DiagnosticReport-Lab and UKCore-Observation-Lab (category LAB/laboratory).
 * A report without OBR-24 is taken as a laboratory report (ORU^R01's main use).
 */
const LAB_SECTIONS = new Set(['LAB', 'HM', 'CH', 'MB', 'MCB', 'MYC', 'BLB', 'BG', 'SP', 'CP', 'SR', 'TX', 'VR', 'OSL', 'IMM', 'CG']);
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';

/** One OBR and its OBX group → UK Core DiagnosticReport(-Lab) + Observations(-Lab). */
export function report(ctx: Ctx, obr: Hl7Segment, obxs: Hl7Segment[], subject: Reference, enc?: Reference, performer?: Reference): void {
  const section = val(obr, '24');
  const lab = section === undefined || LAB_SECTIONS.has(section);
  const code = cwe(ctx, obr, '4');
  if (!code) { ctx.error('OBR-4 universal service identifier is missing', at(obr, '4')); return; }
  const filler = val(obr, '3.1') ?? val(obr, '2.1');
  const key = filler ? `${ctx.facility}|${filler}` : `${ctx.facility}|${ctx.controlId}|OBR|${obr.occurrence}`;
  const results: Reference[] = [];
  const presentedForm: Record<string, unknown>[] = [];
  const effective = dateTime(ctx, obr, '7');
  for (const obx of obxs) {
    const obsCode = cwe(ctx, obx, '3');
    if (!obsCode) { ctx.error('OBX-3 observation identifier is missing', at(obx, '3')); continue; }
    const unit = unitOf(ctx, obx);
    const value = obxValue(ctx, obx, unit);
    if (value.attachment) { presentedForm.push(clean(value.attachment)); continue; }
    const statusCode = val(obx, '11');
    let status = statusCode ? lookup<string>(ctx, 'observationStatus', statusCode, at(obx, '11'), 'error') : undefined;
    if (!statusCode) { ctx.warn('OBX-11 result status is missing; Observation.status is unknown', at(obx, '11'), 'required'); status = 'unknown'; }
    if (!status) continue;
    const flags: CodeableConcept[] = [];
    for (const f of ctx.msg.getAll(`OBX[${obx.occurrence}]-8`).filter(Boolean)) {
      const m = lookup<MappedCoding>(ctx, 'abnormalFlag', f, at(obx, '8'));
      flags.push(m ? { coding: [coding(m)!] } : { text: f });
    }
    const r: Resource = clean({
      resourceType: 'Observation',
      id: ctx.id('Observation', key, val(obx, '1') ?? '', obx.occurrence),
      status,
      category: lab ? [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }] }] : undefined,
      code: obsCode,
      subject,
      encounter: enc,
      effectiveDateTime: dateTime(ctx, obx, '14') ?? effective,
      performer: performer ? [performer] : undefined,
      [value.key ?? 'x']: value.value,
      interpretation: flags,
      referenceRange: referenceRange(val(obx, '7'), unit),
    });
    delete r.x;
    results.push(ctx.put(r, lab ? 'UKCore-Observation-Lab' : 'UKCore-Observation'));
  }
  const statusCode = val(obr, '25');
  const status = statusCode ? lookup<string>(ctx, 'reportStatus', statusCode, at(obr, '25'), 'error') : 'unknown';
  if (!statusCode) ctx.warn('OBR-25 result status is missing; DiagnosticReport.status is unknown', at(obr, '25'), 'required');
  if (!status) return;
  const r: Resource = clean({
    resourceType: 'DiagnosticReport',
    id: ctx.id('DiagnosticReport', key),
    identifier: filler ? [{ value: filler }] : undefined,
    status,
    category: [
      lab ? { coding: [{ system: V2_0074, code: 'LAB', display: 'Laboratory' }] } : undefined,
      section && section !== 'LAB' ? { coding: [{ system: V2_0074, code: section }] } : undefined,
    ],
    code,
    subject,
    encounter: enc,
    effectiveDateTime: effective,
    issued: instant(ctx, obr, '22'),
    performer: performer ? [performer] : undefined,
    result: results,
    presentedForm,
  });
  ctx.put(r, lab ? 'UKCore-DiagnosticReport-Lab' : 'UKCore-DiagnosticReport');
}

/** ORC (+ its OBR) → UK Core ServiceRequest. */
export function order(ctx: Ctx, orc: Hl7Segment | undefined, obr: Hl7Segment | undefined, subject: Reference, enc?: Reference, performer?: Reference): void {
  if (!obr) { ctx.error('OBR segment is missing for the order', orc ? at(orc, '1') : 'OBR'); return; }
  const code = cwe(ctx, obr, '4');
  if (!code) { ctx.error('OBR-4 universal service identifier is missing', at(obr, '4')); return; }
  const control = orc ? val(orc, '1') : undefined;
  if (orc && !control) { ctx.error('ORC-1 order control is missing', at(orc, '1')); return; }
  const status = control ? lookup<string>(ctx, 'orderControl', control, at(orc!, '1'), 'error') : 'active';
  if (!status) return;
  const placer = (orc && val(orc, '2.1')) ?? val(obr, '2.1');
  const filler = (orc && val(orc, '3.1')) ?? val(obr, '3.1');
  const prio = (orc && val(orc, '7.6')) ?? val(obr, '27.6') ?? val(obr, '5');
  const requester = (orc && practitioner(ctx, orc, '12[1]')) ?? practitioner(ctx, obr, '16[1]');
  const id = placer ?? filler;
  const r: Resource = clean({
    resourceType: 'ServiceRequest',
    id: ctx.id('ServiceRequest', ctx.facility, id ?? `${ctx.controlId}|OBR|${obr.occurrence}`),
    identifier: [
      placer ? { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }] }, value: placer } : undefined,
      filler ? { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL' }] }, value: filler } : undefined,
    ],
    status,
    intent: 'order',
    priority: prio ? lookup<string>(ctx, 'priority', prio, orc ? at(orc, '7.6') : at(obr, '27.6')) : undefined,
    code,
    subject,
    encounter: enc,
    authoredOn: (orc && dateTime(ctx, orc, '9')) ?? dateTime(ctx, obr, '6'),
    requester,
    performer: performer ? [performer] : undefined,
    reasonCode: [cwe(ctx, obr, '31[1]')],
  });
  // OML^O21 is the laboratory order message: its requests claim UKCore-ServiceRequest-Lab.
  ctx.put(r, ctx.msg.get('MSH-9.1') === 'OML' ? 'UKCore-ServiceRequest-Lab' : 'UKCore-ServiceRequest');
}

/** RF1 + PRD (REF^I12) → UK Core ServiceRequest: PRD role RP is the requester, RT the performer. */
export function referral(ctx: Ctx, rf1: Hl7Segment | undefined, prds: Hl7Segment[], obr: Hl7Segment | undefined, reasons: CodeableConcept[], subject: Reference, enc?: Reference, facility?: Reference): void {
  if (!rf1) { ctx.error('RF1 segment is missing', 'RF1'); return; }
  const statusCode = val(rf1, '1.1');
  if (!statusCode) { ctx.error('RF1-1 referral status is missing', at(rf1, '1')); return; }
  const status = lookup<string>(ctx, 'referralStatus', statusCode, at(rf1, '1'), 'error');
  if (!status) return;
  const refId = val(rf1, '6.1');
  let requester: Reference | undefined;
  const performers: Reference[] = [];
  for (const prd of prds) {
    const role = val(prd, '1[1].1');
    const who = practitionerFromPrd(ctx, prd);
    if (!who) continue;
    if (role === 'RP' && !requester) requester = who;
    else if (role === 'RT' || role === 'CP') performers.push(who);
    else ctx.warn(`${at(prd, '1')}: provider role '${(role ?? '').slice(0, 10)}' is not mapped (RP, RT, CP)`, at(prd, '1'));
  }
  if (facility) performers.push(facility);
  const prio = val(rf1, '2.1');
  const r: Resource = clean({
    resourceType: 'ServiceRequest',
    id: ctx.id('ServiceRequest', ctx.facility, refId ?? `${ctx.controlId}|RF1`),
    identifier: refId ? [{ value: refId, assigner: val(rf1, '6.2') ? { display: val(rf1, '6.2') } : undefined }] : undefined,
    status,
    intent: 'order',
    category: [cwe(ctx, rf1, '3'), cwe(ctx, rf1, '5')],
    priority: prio ? lookup<string>(ctx, 'priority', prio, at(rf1, '2')) : undefined,
    code: obr ? cwe(ctx, obr, '4') : undefined,
    subject,
    encounter: enc,
    authoredOn: dateTime(ctx, rf1, '7'),
    requester,
    performer: performers,
    reasonCode: [...reasons, cwe(ctx, rf1, '10[1]')],
  });
  ctx.put(r, 'UKCore-ServiceRequest');
}

/** PRD (role^name^address^location^phone^^identifiers) → Practitioner. */
function practitionerFromPrd(ctx: Ctx, prd: Hl7Segment): Reference | undefined {
  const family = val(prd, '2[1].1.1');
  const idv = val(prd, '7[1].1');
  if (!family && !idv) { ctx.warn(`${at(prd, '2')}: provider has no name or identifier`, at(prd, '2'), 'required'); return undefined; }
  const authority = val(prd, '7[1].2');
  const system = authority ? ctx.tables.practitionerSystem[authority] : undefined;
  const r: Resource = clean({
    resourceType: 'Practitioner',
    id: ctx.id('Practitioner', idv ? `${authority ?? ctx.facility}|${idv}` : `${ctx.facility}|${family}|${val(prd, '2[1].2')}`),
    identifier: idv ? [{ system, value: idv, assigner: authority && !system ? { display: authority } : undefined }] : undefined,
    name: family ? [{ family, given: [val(prd, '2[1].2'), val(prd, '2[1].3')], prefix: [val(prd, '2[1].5')] }] : undefined,
  });
  return ctx.put(r, 'UKCore-Practitioner');
}
