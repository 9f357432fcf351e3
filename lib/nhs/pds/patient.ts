/**
 * What the suite reads from a PDS Patient (PDS FHIR API R4, UK Core Patient): restriction
 * (`meta.security` v3-Confidentiality `R` — "restricted": PDS withholds address, telecom and GP),
 * and the demographic comparison behind verify mode.
 */
import { fromJSON } from '../../hl7';

export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

/** Demographics to compare (verify) or to search with (trace); each optional. */
export interface Demographics {
  family?: string | undefined;
  given?: string | undefined;
  /** YYYY-MM-DD (or HL7 YYYYMMDD; normalised). For trace also `eq|ge|le` + date. */
  birthDate?: string | undefined;
  gender?: string | undefined;
  postcode?: string | undefined;
}

export type DemographicField = keyof Demographics;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** True when the Patient is flagged restricted (sensitive) by PDS. */
export function isRestricted(patient: unknown): boolean {
  const sec = arr(obj(obj(patient)?.meta)?.security);
  return sec.some((c) => { const o = obj(c); return o?.code === 'R' && (o.system === undefined || o.system === CONFIDENTIALITY_SYSTEM); });
}

/** Extension URLs PDS withholds for restricted patients alongside address/telecom/GP. */
const WITHHELD_EXTENSION = /Pharmacy|ContactPreference/i;

/**
 * A restricted Patient with address, telecom, GP and pharmacy details removed, whatever the
 * response held: PDS already withholds them, and this is the guarantee that nothing leaves the
 * node, reaches a cache or a store even if a response ever carried them.
 */
export function withoutRestrictedFields(patient: Json): Json {
  const out: Json = { ...patient };
  delete out.address;
  delete out.telecom;
  delete out.generalPractitioner;
  delete out.contact;
  if (Array.isArray(out.extension)) out.extension = (out.extension as unknown[]).filter((e) => !WITHHELD_EXTENSION.test(str(obj(e)?.url) ?? ''));
  return out;
}

/** Upper-case, accents and punctuation folded: how names are compared. */
export function foldName(v: string): string {
  return v.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^A-Za-z]/g, '').toUpperCase();
}

export function normalisePostcode(v: string): string {
  return v.replace(/\s+/g, '').toUpperCase();
}

/** HL7 v2 administrative sex (table 0001) or free text → FHIR gender. */
export function normaliseGender(v: string): string | undefined {
  const g = v.trim().toLowerCase();
  if (g === 'm' || g === 'male' || g === '1') return 'male';
  if (g === 'f' || g === 'female' || g === '2') return 'female';
  if (g === 'u' || g === 'unknown' || g === '0' || g === '9') return 'unknown';
  if (g === 'o' || g === 'a' || g === 'other') return 'other';
  return undefined;
}

/** YYYY-MM-DD from `YYYY-MM-DD`, HL7 `YYYYMMDD[hhmm…]`; undefined when neither. */
export function normaliseDate(v: string): string | undefined {
  const t = v.trim();
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (!m) m = /^(\d{4})(\d{2})(\d{2})(\d{0,10}([.+-]\d+)*)?$/.exec(t);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

/**
 * Which of the given demographics differ from the Patient (field names only: the values are the
 * patient's own data and stay out of outcomes and logs). A field the Patient does not hold is
 * listed in `unverified` (e.g. the postcode of a restricted patient), not as a difference.
 */
export function compareDemographics(expected: Demographics, patient: unknown): { differences: DemographicField[]; unverified: DemographicField[] } {
  const p = obj(patient) ?? {};
  const differences: DemographicField[] = [];
  const unverified: DemographicField[] = [];
  const names = arr(p.name).map(obj).filter((n): n is Json => !!n);
  const check = (field: DemographicField, have: string[], want: string | undefined, eq: (a: string, b: string) => boolean): void => {
    if (want === undefined || want.trim() === '') return;
    if (have.length === 0) unverified.push(field);
    else if (!have.some((h) => eq(h, want))) differences.push(field);
  };
  check('family', names.map((n) => str(n.family)).filter((x): x is string => !!x), expected.family, (a, b) => foldName(a) === foldName(b));
  check('given', names.flatMap((n) => arr(n.given).map(str)).filter((x): x is string => !!x), expected.given, (a, b) => {
    const first = foldName(b.split(/[\s^]+/)[0] ?? '');
    return foldName(a) === first || foldName(a.split(/\s+/)[0] ?? '') === first;
  });
  check('birthDate', str(p.birthDate) ? [str(p.birthDate)!] : [], expected.birthDate, (a, b) => normaliseDate(a) === normaliseDate(b));
  check('gender', str(p.gender) ? [str(p.gender)!] : [], expected.gender, (a, b) => a === normaliseGender(b));
  check('postcode', arr(p.address).map((a) => str(obj(a)?.postalCode)).filter((x): x is string => !!x), expected.postcode, (a, b) => normalisePostcode(a) === normalisePostcode(b));
  return { differences, unverified };
}

/**
 * NHS number and demographics from an HL7 v2 message held as `msg.hl7` plain JSON: PID-3 (the
 * repetition whose assigning authority CX.4 or identifier type CX.5 says NHS, as the audit
 * subject finder reads it), PID-5.1 family, PID-5.2 given, PID-7 birth date, PID-8 sex, PID-11.5
 * postcode. The NHS number is returned as written, so an invalid one can be reported.
 */
export function demographicsFromHl7(hl7: unknown): { nhsNumber?: string; demographics: Demographics } {
  const { message } = fromJSON(hl7);
  if (!message) return { demographics: {} };
  const ids = message.getAll('PID-3.1');
  const auth = message.getAll('PID-3.4');
  const types = message.getAll('PID-3.5');
  let nhsNumber: string | undefined;
  for (let i = 0; i < ids.length && nhsNumber === undefined; i++) {
    const a = (auth[i] ?? '').toUpperCase();
    if (a.includes('NHS') || (types[i] ?? '').toUpperCase() === 'NH' || a.includes('2.16.840.1.113883.2.1.4.1')) nhsNumber = ids[i];
  }
  const d: Demographics = {
    family: message.get('PID-5.1'),
    given: message.get('PID-5.2'),
    birthDate: message.get('PID-7.1') ?? message.get('PID-7'),
    gender: message.get('PID-8'),
    postcode: message.get('PID-11.5'),
  };
  return { ...(nhsNumber !== undefined ? { nhsNumber } : {}), demographics: d };
}

/** Demographics of a FHIR Patient (e.g. a local record to verify against PDS): the first name, home address. */
export function demographicsFromPatient(p: unknown): { nhsNumber?: string; demographics: Demographics } {
  const o = obj(p);
  if (!o || o.resourceType !== 'Patient') return { demographics: {} };
  const id = arr(o.identifier).map(obj).find((i) => i?.system === 'https://fhir.nhs.uk/Id/nhs-number');
  const name = obj(arr(o.name).map(obj).find((n) => n?.use === 'official' || n?.use === 'usual') ?? arr(o.name)[0]);
  const addr = obj(arr(o.address).map(obj).find((a) => a?.use === 'home') ?? arr(o.address)[0]);
  const nhsNumber = str(id?.value);
  return {
    ...(nhsNumber !== undefined ? { nhsNumber } : {}),
    demographics: { family: str(name?.family), given: str(arr(name?.given)[0]), birthDate: str(o.birthDate), gender: str(o.gender), postcode: str(addr?.postalCode) },
  };
}
