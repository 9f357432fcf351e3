/**
 * Mapping tables for the HL7 v2 → FHIR UK Core transform. Each table maps an HL7 v2 code (the
 * HL7 table named) to a FHIR coding or code. Users override or extend any table from the node
 * editor (JSON) or a file (`loadTables`); a code missing from its table is reported in the
 * outcome, never dropped silently.
 */
import { readFileSync } from 'node:fs';
import { NhsError } from '../errors';

export const V3_MARITAL = 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus';
export const V3_ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const V3_ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
export const V3_INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const V2_0004 = 'http://terminology.hl7.org/CodeSystem/v2-0004';
export const V3_NULL_FLAVOR = 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor';
export const ETHNIC_ENGLAND = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland';
export const NHS_VERIFICATION_ENGLAND = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland';

/** A FHIR coding a table entry maps to. */
export interface MappedCoding { system?: string; code: string; display?: string }

/** Every overridable table. Keys are HL7 v2 codes; values are FHIR codes or codings. */
export interface MappingTables {
  /** HL7 table 0001 administrative sex → Patient.gender. */
  sex: Record<string, string>;
  /** HL7 table 0004 patient class → Encounter.class (v3 ActCode). */
  patientClass: Record<string, MappedCoding>;
  /** HL7 table 0007 admission type → Encounter.type. */
  admissionType: Record<string, MappedCoding>;
  /** HL7 table 0002 marital status → Patient.maritalStatus (UK Core PersonMaritalStatusCode). */
  maritalStatus: Record<string, MappedCoding>;
  /** NHS Data Dictionary ethnic category (PID-22) → Extension-UKCore-EthnicCategory. */
  ethnicCategory: Record<string, MappedCoding>;
  /** NHS number status indicator (PID-32, table 0445 `NSTSnn` or `nn`) → Extension-UKCore-NHSNumberVerificationStatus. */
  nhsNumberStatus: Record<string, MappedCoding>;
  /** HL7 table 0063 relationship (NK1-3) → RelatedPerson.relationship (v3 RoleCode). */
  relationship: Record<string, MappedCoding>;
  /** HL7 table 0078 abnormal flags (OBX-8) → Observation.interpretation. */
  abnormalFlag: Record<string, MappedCoding>;
  /** HL7 table 0085 observation result status (OBX-11) → Observation.status. */
  observationStatus: Record<string, string>;
  /** HL7 table 0123 result status (OBR-25) → DiagnosticReport.status. */
  reportStatus: Record<string, string>;
  /** HL7 table 0119 order control (ORC-1) → ServiceRequest.status. */
  orderControl: Record<string, string>;
  /** HL7 table 0283 referral status (RF1-1) → ServiceRequest.status. */
  referralStatus: Record<string, string>;
  /** HL7 table 0280 / TQ priority (RF1-2, ORC-7.6, OBR-27.6) → ServiceRequest.priority. */
  priority: Record<string, string>;
  /** HL7 table 0396 coding system names (CWE.3) → FHIR code system URIs. */
  codingSystem: Record<string, string>;
  /** Units (OBX-6.1) that are UCUM codes even when OBX-6.3 does not say UCUM. */
  ucumUnits: Record<string, string>;
  /** XCN.9 assigning authority → practitioner identifier system. */
  practitionerSystem: Record<string, string>;
  /** HL7 table 0200 name type (XPN.7) → HumanName.use. */
  nameUse: Record<string, string>;
  /** HL7 table 0190 address type (XAD.7) → Address.use. */
  addressUse: Record<string, string>;
}

const c = (system: string, code: string, display?: string): MappedCoding => (display ? { system, code, display } : { system, code });

/** The defaults (HL7 V2-to-FHIR IG concept maps where it has them, UK Core value sets). */
export const DEFAULT_TABLES: MappingTables = {
  sex: { M: 'male', F: 'female', O: 'other', U: 'unknown', A: 'other', N: 'unknown' },
  patientClass: {
    E: c(V3_ACT_CODE, 'EMER', 'emergency'),
    I: c(V3_ACT_CODE, 'IMP', 'inpatient encounter'),
    O: c(V3_ACT_CODE, 'AMB', 'ambulatory'),
    P: c(V3_ACT_CODE, 'PRENC', 'pre-admission'),
    // The IG keeps the codes with no ActCode equivalent in the v2 table's own code system.
    R: c(V2_0004, 'R', 'Recurring patient'),
    B: c(V2_0004, 'B', 'Obstetrics'),
    C: c(V2_0004, 'C', 'Commercial Account'),
    N: c(V2_0004, 'N', 'Not Applicable'),
    U: c(V2_0004, 'U', 'Unknown'),
  },
  admissionType: Object.fromEntries(
    [['A', 'Accident'], ['C', 'Elective'], ['E', 'Emergency'], ['L', 'Labor and Delivery'], ['N', 'Newborn'], ['R', 'Routine'], ['U', 'Urgent']]
      .map(([k, d]) => [k!, c('http://terminology.hl7.org/CodeSystem/v2-0007', k!, d)]),
  ),
  maritalStatus: {
    S: c(V3_MARITAL, 'S', 'Never Married'),
    M: c(V3_MARITAL, 'M', 'Married'),
    D: c(V3_MARITAL, 'D', 'Divorced'),
    W: c(V3_MARITAL, 'W', 'Widowed'),
    A: c(V3_MARITAL, 'L', 'Legally Separated'),
    P: c(V3_MARITAL, 'T', 'Domestic partner'),
    I: c(V3_MARITAL, 'I', 'Interlocutory'),
    U: c(V3_NULL_FLAVOR, 'UNK', 'unknown'),
  },
  ethnicCategory: Object.fromEntries(
    [['A', 'White - British'], ['B', 'White - Irish'], ['C', 'White - Any other White background'], ['D', 'Mixed - White and Black Caribbean'],
      ['E', 'Mixed - White and Black African'], ['F', 'Mixed - White and Asian'], ['G', 'Mixed - Any other mixed background'],
      ['H', 'Asian or Asian British - Indian'], ['J', 'Asian or Asian British - Pakistani'], ['K', 'Asian or Asian British - Bangladeshi'],
      ['L', 'Asian or Asian British - Any other Asian background'], ['M', 'Black or Black British - Caribbean'], ['N', 'Black or Black British - African'],
      ['P', 'Black or Black British - Any other Black background'], ['R', 'Other Ethnic Groups - Chinese'], ['S', 'Other Ethnic Groups - Any other ethnic group'],
      ['Z', 'Not stated'], ['99', 'Not known']].map(([k, d]) => [k!, c(ETHNIC_ENGLAND, k!, d)]),
  ),
  // PID-32 (HL7 table 0445) as the HL7 UK ADT specification sends it (NSTS01–NSTS08), or the
  // bare NHS Data Dictionary code (01–08); the NSTS form is written back in FHIR → HL7.
  nhsNumberStatus: Object.fromEntries(
    [['01', 'Number present and verified'], ['02', 'Number present but not traced'], ['03', 'Trace required'],
      ['04', 'Trace attempted - No match or multiple match found'], ['05', 'Trace needs to be resolved - (NHS number or patient detail conflict)'],
      ['06', 'Trace in progress'], ['07', 'Number not present and trace not required'], ['08', 'Trace postponed (baby under six weeks old)']]
      .flatMap(([k, d]) => [[`NSTS${k!}`, c(NHS_VERIFICATION_ENGLAND, k!, d)], [k!, c(NHS_VERIFICATION_ENGLAND, k!, d)]]),
  ),
  relationship: {
    SPO: c(V3_ROLE_CODE, 'SPS', 'spouse'), DOM: c(V3_ROLE_CODE, 'DOMPART', 'domestic partner'), CHD: c(V3_ROLE_CODE, 'CHILD', 'child'),
    MTH: c(V3_ROLE_CODE, 'MTH', 'mother'), FTH: c(V3_ROLE_CODE, 'FTH', 'father'), PAR: c(V3_ROLE_CODE, 'PRN', 'parent'),
    SIB: c(V3_ROLE_CODE, 'SIB', 'sibling'), BRO: c(V3_ROLE_CODE, 'BRO', 'brother'), SIS: c(V3_ROLE_CODE, 'SIS', 'sister'),
    SON: c(V3_ROLE_CODE, 'SONC', 'son'), DAU: c(V3_ROLE_CODE, 'DAUC', 'daughter'), GRP: c(V3_ROLE_CODE, 'GRPRN', 'grandparent'),
    GRD: c(V3_ROLE_CODE, 'GUARD', 'guardian'), FND: c(V3_ROLE_CODE, 'FRND', 'unrelated friend'), NBR: c(V3_ROLE_CODE, 'NBOR', 'neighbor'),
    EXF: c(V3_ROLE_CODE, 'FAMMEMB', 'family member'), OTH: c(V3_ROLE_CODE, 'FAMMEMB', 'family member'),
  },
  abnormalFlag: Object.fromEntries(
    [['L', 'Low'], ['H', 'High'], ['LL', 'Critical low'], ['HH', 'Critical high'], ['N', 'Normal'], ['A', 'Abnormal'], ['AA', 'Critical abnormal'],
      ['<', 'Off scale low'], ['>', 'Off scale high'], ['S', 'Susceptible'], ['R', 'Resistant'], ['I', 'Intermediate'], ['U', 'Significant change up'],
      ['D', 'Significant change down'], ['B', 'Better'], ['W', 'Worse']].map(([k, d]) => [k!, c(V3_INTERPRETATION, k!, d)]),
  ),
  observationStatus: { F: 'final', P: 'preliminary', C: 'corrected', X: 'cancelled', D: 'entered-in-error', W: 'entered-in-error', R: 'preliminary', I: 'registered', S: 'preliminary', U: 'final' },
  reportStatus: { F: 'final', P: 'preliminary', C: 'corrected', X: 'cancelled', R: 'partial', I: 'registered', O: 'registered', S: 'partial', A: 'partial' },
  orderControl: { NW: 'active', OK: 'active', SC: 'active', XO: 'active', RP: 'active', CA: 'revoked', OC: 'revoked', DC: 'revoked', OD: 'revoked', HD: 'on-hold', OH: 'on-hold', RL: 'active' },
  referralStatus: { A: 'active', P: 'draft', R: 'revoked', E: 'completed' },
  priority: { S: 'stat', A: 'asap', R: 'routine', P: 'urgent', C: 'urgent', T: 'urgent' },
  codingSystem: {
    LN: 'http://loinc.org', SCT: 'http://snomed.info/sct', SNM: 'http://snomed.info/sct', UCUM: 'http://unitsofmeasure.org',
    I10: 'http://hl7.org/fhir/sid/icd-10', I10C: 'http://hl7.org/fhir/sid/icd-10', OPCS4: 'http://www.datadictionary.nhs.uk/opcs4',
    HL70063: 'http://terminology.hl7.org/CodeSystem/v2-0063', HL70131: 'http://terminology.hl7.org/CodeSystem/v2-0131',
    HL70007: 'http://terminology.hl7.org/CodeSystem/v2-0007', HL70128: 'http://terminology.hl7.org/CodeSystem/v2-0128',
  },
  ucumUnits: Object.fromEntries(['mmol/L', 'umol/L', 'g/L', 'mg/L', 'g/dL', 'mg/dL', 'U/L', 'IU/L', '%', '10*9/L', '10*12/L', 'fL', 'pg', 'mL/min', 'kg', 'g', 'cm', 'm', 'mm[Hg]', 's', 'mL', 'L', 'ng/mL', 'mU/L', 'pmol/L', 'nmol/L', '/min', 'Cel', 'kg/m2'].map((u) => [u, u])),
  practitionerSystem: { GMC: 'https://fhir.hl7.org.uk/Id/gmc-number', GMP: 'https://fhir.hl7.org.uk/Id/gmp-number', NMC: 'https://fhir.hl7.org.uk/Id/nmc-number', HCPC: 'https://fhir.hl7.org.uk/Id/hcpc-number', SDS: 'https://fhir.nhs.uk/Id/sds-user-id' },
  nameUse: { L: 'official', D: 'usual', M: 'maiden', N: 'nickname', C: 'old', A: 'anonymous', T: 'temp' },
  addressUse: { H: 'home', B: 'work', O: 'work', C: 'temp', BA: 'old' },
};

/**
 * Merge user overrides over the defaults, table by table and code by code. An unknown table name
 * or a value of the wrong shape is an error (a typo must not silently fall back to the default).
 * @throws NhsError `TRANSFORM_TABLES`
 */
export function mergeTables(overrides: unknown, base: MappingTables = DEFAULT_TABLES): MappingTables {
  const out = JSON.parse(JSON.stringify(base)) as Record<string, Record<string, unknown>>;
  if (overrides === undefined || overrides === null || overrides === '') return out as unknown as MappingTables;
  if (typeof overrides !== 'object' || Array.isArray(overrides)) throw new NhsError('TRANSFORM_TABLES', 'mapping tables must be a JSON object of tables');
  for (const [name, table] of Object.entries(overrides as Record<string, unknown>)) {
    const target = out[name];
    if (!target) throw new NhsError('TRANSFORM_TABLES', `unknown mapping table '${name}'`);
    if (typeof table !== 'object' || table === null || Array.isArray(table)) throw new NhsError('TRANSFORM_TABLES', `mapping table '${name}' must be an object`);
    const stringValued = typeof Object.values(DEFAULT_TABLES[name as keyof MappingTables])[0] === 'string';
    for (const [k, v] of Object.entries(table as Record<string, unknown>)) {
      const ok = stringValued ? typeof v === 'string' : typeof v === 'object' && v !== null && typeof (v as MappedCoding).code === 'string';
      if (!ok) throw new NhsError('TRANSFORM_TABLES', `mapping table '${name}' entry '${k}' must be ${stringValued ? 'a string' : 'an object with a code'}`);
      target[k] = v;
    }
  }
  return out as unknown as MappingTables;
}

/** Read overrides from a JSON file and merge them. @throws NhsError `TRANSFORM_TABLES` */
export function loadTables(file: string): MappingTables {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new NhsError('TRANSFORM_TABLES', 'mapping table file cannot be read as JSON', { cause: e });
  }
  return mergeTables(json);
}
