/**
 * People and places: PID → UK Core Patient, XCN → UK Core Practitioner, HD/XON → UK Core
 * Organization (ODS codes), PL → UK Core Location, NK1 → UK Core RelatedPerson, MRG → the
 * replaced Patient of a merge. Mappings follow the HL7 V2-to-FHIR IG segment maps (PID[Patient],
 * NK1[RelatedPerson], PV1 participants → Practitioner) with the UK Core identifier systems.
 */
import { checkNhsNumber, NHS_NUMBER_SYSTEM, normaliseNhsNumber } from '../nhs/nhs-number';
import { isValidOdsCode, normaliseOdsCode, ODS_ORGANIZATION_SYSTEM } from '../nhs/ods';
import type { Hl7Segment } from '../hl7';
import { addresses, at, clean, coding, date, dateTime, lookup, names, ref, reps, telecoms, UK, val, type Ctx, type Reference, type Resource } from './context';
import type { MappedCoding } from './tables';

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/** True when a CX names an NHS number: assigning authority `NHS` or identifier type `NH`. */
function isNhs(authority: string | undefined, type: string | undefined): boolean {
  return authority?.toUpperCase() === 'NHS' || type?.toUpperCase() === 'NH';
}

/** PID-3 repetitions → Identifier[]; the NHS number (checked with Modulus 11) first found. */
function patientIdentifiers(ctx: Ctx, pid: Hl7Segment): { identifiers: Record<string, unknown>[]; nhs?: string; key?: string } {
  const identifiers: Record<string, unknown>[] = [];
  let nhs: string | undefined;
  let key: string | undefined;
  for (let r = 1, n = reps(ctx, pid, 3); r <= n; r++) {
    const p = `3[${r}]`;
    const value = val(pid, `${p}.1`);
    const authority = val(pid, `${p}.4.1`);
    const type = val(pid, `${p}.5`);
    if (!value) continue;
    const typeCc = type ? { coding: [{ system: V2_0203, code: type }] } : undefined;
    const assigner = authority ? { display: authority } : undefined;
    // CX.4 = `&<uri>&URI`: the identifier system itself (what FHIR → HL7 writes for a system with no assigner).
    const uri = !authority && val(pid, `${p}.4.3`) === 'URI' ? val(pid, `${p}.4.2`) : undefined;
    if (isNhs(authority, type)) {
      const n = normaliseNhsNumber(value);
      const problem = checkNhsNumber(n);
      if (problem) {
        ctx.error(`${at(pid, p)}: NHS number ${problem === 'format' ? 'is not 10 digits' : 'fails the Modulus 11 check'}`, at(pid, `${p}.1`), 'value');
        continue;
      }
      if (nhs) { ctx.warn(`${at(pid, p)}: a second NHS number is ignored`, at(pid, p), 'business-rule'); continue; }
      nhs = n;
      // PID-32 repeats (other 0445 codes such as AL, ED may sit beside the NHS number status).
      let mapped: MappedCoding | undefined;
      for (let k = 1, n = reps(ctx, pid, 32); k <= n && !mapped; k++) {
        const status = val(pid, `32[${k}]`);
        if (status) mapped = lookup<MappedCoding>(ctx, 'nhsNumberStatus', status, at(pid, `32[${k}]`));
      }
      identifiers.push(clean({
        extension: mapped ? [{ url: `${UK}Extension-UKCore-NHSNumberVerificationStatus`, valueCodeableConcept: { coding: [coding(mapped)] } }] : undefined,
        system: NHS_NUMBER_SYSTEM, value: n, type: typeCc, assigner,
      }));
    } else {
      identifiers.push(clean({ system: uri, type: typeCc, value, assigner }));
      key ??= `${authority ?? uri ?? ctx.facility}|${value}`;
    }
  }
  return { identifiers, nhs, key: nhs ? `nhs|${nhs}` : key };
}

/** PID (+ PD1) → UK Core Patient. Undefined (with an error) when the PID has no usable identifier. */
export function patient(ctx: Ctx, pid: Hl7Segment | undefined, pd1?: Hl7Segment): Reference | undefined {
  if (!pid) { ctx.error('PID segment is missing', 'PID'); return undefined; }
  const { identifiers, key } = patientIdentifiers(ctx, pid);
  if (!key) { ctx.error('PID-3 has no patient identifier', at(pid, '3')); return undefined; }
  const name = names(ctx, pid, 5);
  if (!name.length) ctx.error('PID-5 patient name is missing', at(pid, '5'));
  const sexCode = val(pid, '8');
  const ethnic = val(pid, '22[1].1');
  const ethnicMapped = ethnic ? lookup<MappedCoding>(ctx, 'ethnicCategory', ethnic, at(pid, '22')) : undefined;
  const marital = val(pid, '16.1');
  const maritalMapped = marital ? lookup<MappedCoding>(ctx, 'maritalStatus', marital, at(pid, '16')) : undefined;
  const deathTime = dateTime(ctx, pid, '29');
  const deathFlag = val(pid, '30');
  const gp: Reference[] = [];
  if (pd1) {
    const org = xonOrganization(ctx, pd1, '3[1]');
    if (org) gp.push(org);
  }
  const r: Resource = clean({
    resourceType: 'Patient',
    id: ctx.id('Patient', key),
    extension: ethnicMapped ? [{ url: `${UK}Extension-UKCore-EthnicCategory`, valueCodeableConcept: { coding: [coding(ethnicMapped)] } }]
      : ethnic ? [{ url: `${UK}Extension-UKCore-EthnicCategory`, valueCodeableConcept: { text: ethnic } }] : undefined,
    identifier: identifiers,
    name,
    telecom: [...telecoms(ctx, pid, 13, 'home'), ...telecoms(ctx, pid, 14, 'work')],
    gender: sexCode ? lookup<string>(ctx, 'sex', sexCode, at(pid, '8')) : undefined,
    birthDate: date(ctx, pid, '7'),
    deceasedDateTime: deathTime,
    deceasedBoolean: deathTime ? undefined : deathFlag === 'Y' ? true : deathFlag === 'N' ? false : undefined,
    address: addresses(ctx, pid, 11),
    maritalStatus: maritalMapped ? { coding: [coding(maritalMapped)] } : marital ? { text: marital } : undefined,
    generalPractitioner: gp,
  });
  return ctx.put(r, 'UKCore-Patient');
}

/** MRG (A40) → the replaced Patient, linked both ways with the surviving one (Patient.link). */
export function mergedPatient(ctx: Ctx, mrg: Hl7Segment | undefined, surviving: Reference): void {
  if (!mrg) { ctx.error('MRG segment is missing (required for a merge)', 'MRG'); return; }
  const value = val(mrg, '1[1].1');
  if (!value) { ctx.error('MRG-1 prior patient identifier is missing', at(mrg, '1')); return; }
  const authority = val(mrg, '1[1].4.1');
  const type = val(mrg, '1[1].5');
  const nhs = isNhs(authority, type) ? normaliseNhsNumber(value) : undefined;
  if (nhs && checkNhsNumber(nhs)) { ctx.error('MRG-1: prior NHS number is not valid', at(mrg, '1.1'), 'value'); return; }
  const id = ctx.id('Patient', nhs ? `nhs|${nhs}` : `${authority ?? ctx.facility}|${value}`);
  const typeCc = type ? { coding: [{ system: V2_0203, code: type }] } : undefined;
  const old: Resource = clean({
    resourceType: 'Patient', id,
    identifier: [nhs ? { system: NHS_NUMBER_SYSTEM, value: nhs, type: typeCc } : { type: typeCc, value, assigner: authority ? { display: authority } : undefined }],
    active: false,
    link: [{ other: surviving, type: 'replaced-by' }],
  });
  const survivor = ctx.entries.get(surviving.reference.slice('urn:uuid:'.length));
  if (survivor?.id === id) { ctx.error('MRG-1 names the surviving patient itself', at(mrg, '1'), 'business-rule'); return; }
  if (survivor) survivor.link = [{ other: ref(id), type: 'replaces' }];
  ctx.put(old, 'UKCore-Patient');
}

/** XCN (id^family^given^middle^suffix^prefix^degree^source^authority) → UK Core Practitioner. */
export function practitioner(ctx: Ctx, s: Hl7Segment, rel: string): Reference | undefined {
  const idv = val(s, `${rel}.1`);
  const family = val(s, `${rel}.2.1`);
  if (!idv && !family) return undefined;
  const authority = val(s, `${rel}.9.1`);
  const system = authority ? ctx.tables.practitionerSystem[authority] : undefined;
  if (authority && !system) ctx.info(`${at(s, rel)}: practitioner identifier authority '${authority.slice(0, 20)}' has no system in table 'practitionerSystem'`, at(s, `${rel}.9`));
  const r: Resource = clean({
    resourceType: 'Practitioner',
    id: ctx.id('Practitioner', idv ? `${authority ?? ctx.facility}|${idv}` : `${ctx.facility}|${family}|${val(s, `${rel}.3`)}`),
    identifier: idv ? [{ system, value: idv, assigner: authority && !system ? { display: authority } : undefined }] : undefined,
    name: family ? [{ family, given: [val(s, `${rel}.3`), val(s, `${rel}.4`)], prefix: [val(s, `${rel}.6`)] }] : undefined,
  });
  return ctx.put(r, 'UKCore-Practitioner');
}

/**
 * ODS format (lib/nhs/ods) and at least one letter and one digit: every allocated ODS code mixes
 * both (RR8, RR801, G3472185), while application and facility names (PAS, EPR, LAB) do not.
 */
export function looksLikeOds(code: string): boolean {
  return isValidOdsCode(code) && /[A-Z]/.test(code) && /\d/.test(code);
}

/** An organisation known by an ODS code (HD namespace, XON.10 / XON.3). */
export function odsOrganization(ctx: Ctx, code: string | undefined, name?: string): Reference | undefined {
  if (!code) return undefined;
  const ods = normaliseOdsCode(code);
  if (!looksLikeOds(ods)) return undefined;
  const r: Resource = clean({ resourceType: 'Organization', id: ctx.id('Organization', ods), identifier: [{ system: ODS_ORGANIZATION_SYSTEM, value: ods }], name });
  const out = ctx.put(r, 'UKCore-Organization');
  return clean({ ...out, identifier: { system: ODS_ORGANIZATION_SYSTEM, value: ods }, display: name });
}

/** HD (MSH-4, MSH-6): an Organization when the namespace id is an ODS code, else noted. */
export function facilityOrganization(ctx: Ctx, s: Hl7Segment, rel: string): Reference | undefined {
  const code = val(s, `${rel}.1`) ?? val(s, `${rel}.2`);
  const org = odsOrganization(ctx, code);
  if (code && !org) ctx.info(`${at(s, rel)}: facility is not an ODS code; no Organization made for it`, at(s, rel));
  return org;
}

/** XON (name^^id^^^^^^^org identifier) → Organization by its ODS code. */
export function xonOrganization(ctx: Ctx, s: Hl7Segment, rel: string): Reference | undefined {
  const code = val(s, `${rel}.10`) ?? val(s, `${rel}.3`);
  const name = val(s, `${rel}.1`);
  if (!code) return undefined;
  const org = odsOrganization(ctx, code, name);
  if (!org) ctx.warn(`${at(s, rel)}: organisation code is not an ODS code; not mapped`, at(s, rel), 'value');
  return org;
}

/** PL (point of care^room^bed^facility^status^type^building^floor^description) → UK Core Location. */
export function location(ctx: Ctx, s: Hl7Segment, rel: string): Reference | undefined {
  const parts = [1, 2, 3, 4].map((c) => val(s, `${rel}.${c}${c === 4 ? '.1' : ''}`));
  if (!parts.some(Boolean)) return undefined;
  const facility = parts[3];
  const r: Resource = clean({
    resourceType: 'Location',
    id: ctx.id('Location', parts.join('^')),
    status: 'active',
    name: val(s, `${rel}.9`) ?? parts.filter(Boolean).join(' '),
    identifier: [{ value: parts.join('^').replace(/\^+$/, '') }],
    managingOrganization: facility && looksLikeOds(normaliseOdsCode(facility)) ? odsOrganization(ctx, facility) : undefined,
  });
  return ctx.put(r, 'UKCore-Location');
}

/** NK1 → UK Core RelatedPerson (V2-to-FHIR NK1[RelatedPerson]). */
export function relatedPerson(ctx: Ctx, nk1: Hl7Segment, patientRef: Reference): void {
  const rel = val(nk1, '3.1');
  const mapped = rel ? lookup<MappedCoding>(ctx, 'relationship', rel, at(nk1, '3')) : undefined;
  const role = val(nk1, '7.1');
  const relationship = [
    // An unmapped table 0063 code is kept as text (the warning above says so): its v2 coding is
    // outside UK Core PersonRelationshipType.
    mapped ? { coding: [coding(mapped)] } : rel ? { text: val(nk1, '3.2') ?? rel } : undefined,
    role ? { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: role, display: val(nk1, '7.2') }] } : undefined,
  ];
  const r: Resource = clean({
    resourceType: 'RelatedPerson',
    id: ctx.id('RelatedPerson', patientRef.reference, val(nk1, '1') ?? nk1.occurrence),
    active: true,
    patient: patientRef,
    relationship,
    name: names(ctx, nk1, 2),
    telecom: [...telecoms(ctx, nk1, 5, 'home'), ...telecoms(ctx, nk1, 6, 'work')],
    address: addresses(ctx, nk1, 4),
  });
  ctx.put(r, 'UKCore-RelatedPerson');
}
