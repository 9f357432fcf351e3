/**
 * FHIR R4 UK Core Patient → HL7 v2.5.1 ADT^A28 (add person) / ADT^A31 (update person) for legacy
 * receivers: the inverse of the PID/PD1 maps in people.ts (HL7 V2-to-FHIR IG PID[Patient]), so
 * A28 → Patient → A28 gives back every field both sides hold (PID-3, 5, 7, 8, 11, 13, 14, 16,
 * 22, 29, 30, 32 and PD1-3). Whatever the Patient holds that has no PID home is reported.
 */
import { DEFAULT_DELIMITERS, escapeHl7 } from '../hl7';
import { NHS_NUMBER_SYSTEM } from '../nhs/nhs-number';
import { ODS_ORGANIZATION_SYSTEM } from '../nhs/ods';
import { issue, operationOutcome, hasErrors, type Issue, type OperationOutcome } from '../outcome';
import { UK } from './context';
import { stableId } from './ids';
import { DEFAULT_TABLES, type MappedCoding, type MappingTables } from './tables';

export interface PatientToAdtOptions {
  event?: 'A28' | 'A31';
  /** MSH-10; default a stable id derived from the Patient, so the same Patient gives the same message. */
  controlId?: string;
  /** MSH-7 and EVN-2 as HL7 DTM (default: derived from `now`). */
  timestamp?: string;
  /** Clock for the default timestamp (injected for deterministic tests). */
  now?: () => Date;
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
  tables?: MappingTables;
}

export interface PatientToAdtResult {
  /** The ADT message text (`\r` segment terminators), only when there are no errors. */
  message?: string;
  outcome: OperationOutcome;
}

type J = Record<string, unknown>;
const esc = (v: unknown): string => (typeof v === 'string' ? escapeHl7(v, DEFAULT_DELIMITERS) : typeof v === 'number' ? String(v) : '');
const arr = (v: unknown): J[] => (Array.isArray(v) ? v.filter((x): x is J => !!x && typeof x === 'object') : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** Components joined with `^`, trailing empties dropped. */
const comp = (...c: string[]): string => c.join('^').replace(/\^+$/, '');

/** First table key whose value equals `want` (tables are ordered, so the choice is stable). */
function reverse(table: Record<string, string | MappedCoding>, want: { system?: string; code?: string } | string | undefined): string | undefined {
  if (want === undefined) return undefined;
  for (const [k, v] of Object.entries(table)) {
    if (typeof v === 'string' ? v === want : typeof want === 'object' && v.code === want.code && (v.system ?? '') === (want.system ?? '')) return k;
  }
  return undefined;
}

const ISO = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** FHIR date/dateTime → HL7 DTM (`2024-03-15T14:30:00+00:00` → `20240315143000+0000`). */
export function isoToHl7(v: string): string | undefined {
  const m = ISO.exec(v);
  if (!m) return undefined;
  const tz = m[8] === undefined ? '' : m[8] === 'Z' ? '+0000' : m[8].replace(':', '');
  return `${m.slice(1, 8).map((x) => x ?? '').join('')}${m[4] ? tz : ''}`;
}

const firstCoding = (cc: unknown): { system?: string; code?: string } | undefined => arr((cc as J | undefined)?.coding)[0];

/** Patient → ADT^A28 / ADT^A31 text. Never throws for bad data. */
export function patientToAdt(patient: unknown, opts: PatientToAdtOptions = {}): PatientToAdtResult {
  const issues: Issue[] = [];
  const add = (sev: 'error' | 'warning', text: string, at?: string): void => { issues.push(issue(sev, sev === 'error' ? 'invalid' : 'not-supported', text, at, 'NHS_TRANSFORM_FHIR_TO_HL7')); };
  if (!patient || typeof patient !== 'object' || (patient as J).resourceType !== 'Patient') {
    return { outcome: operationOutcome([issue('error', 'invalid', 'Input is not a FHIR Patient resource', undefined, 'NHS_TRANSFORM_NOT_PATIENT')]) };
  }
  const p = patient as J;
  const t = opts.tables ?? DEFAULT_TABLES;
  const event = opts.event ?? 'A28';

  const cx = arr(p.identifier).map((id, i) => {
    const value = str(id.value);
    if (!value) { add('warning', `Patient.identifier[${i}] has no value; not sent`, `Patient.identifier[${i}]`); return ''; }
    const type = firstCoding(id.type)?.code;
    const authority = str((id.assigner as J | undefined)?.display);
    if (id.system === NHS_NUMBER_SYSTEM) return comp(esc(value), '', '', esc(authority ?? 'NHS'), esc(type ?? 'NH'));
    const system = str(id.system);
    return comp(esc(value), '', '', authority ? esc(authority) : system ? `&${esc(system)}&URI` : '', esc(type ?? ''));
  }).filter(Boolean);
  if (!cx.length) add('error', 'Patient has no identifier (PID-3 is required)', 'Patient.identifier');
  const nhsId = arr(p.identifier).find((id) => id.system === NHS_NUMBER_SYSTEM);
  const status = firstCoding(arr(nhsId?.extension).find((e) => e.url === `${UK}Extension-UKCore-NHSNumberVerificationStatus`)?.valueCodeableConcept);

  const xpn = arr(p.name).map((n) => {
    const given = Array.isArray(n.given) ? n.given : [];
    const use = str(n.use) ? reverse(t.nameUse, n.use as string) : undefined;
    if (str(n.use) && !use) add('warning', `name use '${String(n.use)}' has no HL7 name type`, 'Patient.name.use');
    return comp(esc(n.family), esc(given[0]), esc(given.slice(1).join(' ')), esc((n.suffix as unknown[] | undefined)?.[0]), esc((n.prefix as unknown[] | undefined)?.[0]), '', use ?? '');
  });
  const xad = arr(p.address).map((a) => {
    const line = Array.isArray(a.line) ? a.line : [];
    const use = str(a.use) ? reverse(t.addressUse, a.use as string) : undefined;
    return comp(esc(line[0]), esc(line.slice(1).join(', ')), esc(a.city), esc(a.district), esc(a.postalCode), esc(a.country), use ?? '');
  });
  const home: string[] = [];
  const work: string[] = [];
  for (const c of arr(p.telecom)) {
    const v = esc(c.value);
    if (!v) continue;
    if (c.system === 'email') { (c.use === 'work' ? work : home).push(comp('', c.use === 'work' ? 'WPN' : 'NET', 'Internet', v)); continue; }
    const equip = c.system === 'fax' ? 'FX' : c.system === 'pager' ? 'BP' : c.use === 'mobile' ? 'CP' : 'PH';
    if (c.use === 'work') work.push(comp(v, 'WPN', equip));
    else home.push(comp(v, c.use === 'mobile' ? 'ORN' : 'PRN', equip));
  }
  const sex = str(p.gender) ? reverse(t.sex, p.gender as string) : undefined;
  const marital = firstCoding(p.maritalStatus);
  const maritalCode = marital ? reverse(t.maritalStatus, marital) : undefined;
  if (marital && !maritalCode) add('warning', 'marital status has no HL7 table 0002 code', 'Patient.maritalStatus');
  const ethnic = firstCoding(arr(p.extension).find((e) => e.url === `${UK}Extension-UKCore-EthnicCategory`)?.valueCodeableConcept);
  const ethnicCode = ethnic ? reverse(t.ethnicCategory, ethnic) : undefined;
  if (ethnic && !ethnicCode) add('warning', 'ethnic category has no NHS Data Dictionary code', 'Patient.extension');
  const statusCode = status ? reverse(t.nhsNumberStatus, status) : undefined;
  const birth = str(p.birthDate) ? isoToHl7(p.birthDate as string) : undefined;
  if (str(p.birthDate) && !birth) add('error', 'birthDate is not a FHIR date', 'Patient.birthDate');
  const death = str(p.deceasedDateTime) ? isoToHl7(p.deceasedDateTime as string) : undefined;
  const gpOrg = arr(p.generalPractitioner).find((g) => (g.identifier as J | undefined)?.system === ODS_ORGANIZATION_SYSTEM);
  for (const k of ['photo', 'communication', 'contact', 'link', 'multipleBirthBoolean', 'multipleBirthInteger']) if (p[k] !== undefined) add('warning', `Patient.${k} has no home in PID/PD1; not sent`, `Patient.${k}`);
  if (hasErrors(issues)) return { outcome: operationOutcome(issues) };

  const fields: Record<number, string> = {
    1: '1', 3: cx.join('~'), 5: xpn.join('~'), 7: birth ?? '', 8: sex ?? '', 11: xad.join('~'), 13: home.join('~'), 14: work.join('~'),
    16: maritalCode ?? '', 22: ethnicCode ?? '', 29: death ?? '', 30: p.deceasedBoolean === true ? 'Y' : p.deceasedBoolean === false ? 'N' : '', 32: statusCode ?? '',
  };
  const pid = ['PID', ...Array.from({ length: 32 }, (_, k) => fields[k + 1] ?? '')];
  const ts = opts.timestamp ?? isoToHl7((opts.now ?? (() => new Date()))().toISOString().replace(/\.\d+Z$/, 'Z'))!;
  const controlId = opts.controlId ?? stableId(JSON.stringify(patient)).replace(/-/g, '').slice(0, 20);
  const segs = [
    `MSH|^~\\&|${esc(opts.sendingApplication ?? 'NODERED')}|${esc(opts.sendingFacility ?? '')}|${esc(opts.receivingApplication ?? '')}|${esc(opts.receivingFacility ?? '')}|${ts}||ADT^${event}^ADT_A05|${esc(controlId)}|P|2.5.1`,
    `EVN|${event}|${ts}`,
    pid.join('|').replace(/\|+$/, ''),
  ];
  if (gpOrg) segs.push(`PD1|||${comp(esc(gpOrg.display), '', '', '', '', '', '', '', '', esc((gpOrg.identifier as J).value))}`);
  segs.push('PV1|1|N');
  return { message: `${segs.join('\r')}\r`, outcome: operationOutcome(issues) };
}
