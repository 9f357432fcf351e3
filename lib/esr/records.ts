/**
 * ESR Generic Outbound (GO) interface record schemas: one per record type, keyed by the
 * three-letter code that opens every `~`-delimited row. The first two letters name the record
 * (`PR` person, `AS` assignment, …) and the third the action the file carries it with: `A`
 * (add or update: the whole current row) or `D` (delete: the row's key only). `HDR`/`TRL` frame the
 * file and `LOV` (lists of values) has no action letter.
 *
 * Field positions follow the layout of the public ESR GO sample extracts (the synthetic files in
 * `../shared/data/esr-go-samples`, from the esr_api project) — 1-based after the record type, so
 * `fields[0]` is the type and a schema's `at` numbers match the interface spec's column numbers.
 * Only the fields the validator and the joiner/mover/leaver diff read are named; the rest are
 * carried through positionally in `msg.payload.fields`.
 */

export type FieldKind =
  | 'id' // ESR internal id: letters and digits
  | 'date' // YYYYMMDD
  | 'datetime' // YYYYMMDD HHMMSS
  | 'ni' // National Insurance number
  | 'staffNumber' // ESR employee number
  | 'assignmentNumber' // ESR assignment number, optional -N suffix
  | 'nhsNumber' // Modulus 11
  | 'decimal'
  | 'code' // one of `codes`
  | 'text';

export interface FieldSpec {
  /** Column number (1-based after the record type). */
  at: number;
  /** Name used in msg.outcome expressions and msg.payload.named. Never a value. */
  name: string;
  kind: FieldKind;
  required?: boolean;
  codes?: readonly string[];
  /** Personal data: kept out of events, status and logs. */
  personal?: boolean;
}

export interface RecordSchema {
  /** Two-letter record code (`PR`) or the whole type for HDR/TRL/LOV. */
  code: string;
  /** Readable name (`person`). */
  name: string;
  /** Columns of an add/update row, record type included (as the sample extracts carry them). */
  columns: number;
  /** Column of the record's own key (the id a delete row carries). */
  key: number;
  fields: readonly FieldSpec[];
}

const lastUpdate = (at: number): FieldSpec => ({ at, name: 'lastUpdateDate', kind: 'datetime' });

/** The GO record types (ESR Generic Outbound interface, current file layout). */
export const GO_SCHEMAS: Readonly<Record<string, RecordSchema>> = {
  PR: {
    code: 'PR', name: 'person', columns: 44, key: 1,
    fields: [
      { at: 1, name: 'personId', kind: 'id', required: true },
      { at: 2, name: 'effectiveStartDate', kind: 'date', required: true },
      { at: 3, name: 'effectiveEndDate', kind: 'date' },
      { at: 4, name: 'employeeNumber', kind: 'staffNumber', personal: true },
      { at: 6, name: 'lastName', kind: 'text', personal: true },
      { at: 7, name: 'firstName', kind: 'text', personal: true },
      { at: 12, name: 'gender', kind: 'code', codes: ['Male', 'Female', 'Unknown', 'Not Specified', 'Not Known', 'Indeterminate', ''], personal: true },
      { at: 13, name: 'dateOfBirth', kind: 'date', personal: true },
      { at: 14, name: 'niNumber', kind: 'ni', personal: true },
      { at: 16, name: 'hireDate', kind: 'date' },
      { at: 17, name: 'actualTerminationDate', kind: 'date' },
      { at: 19, name: 'employeeStatusFlag', kind: 'code', codes: ['E', 'X', 'C', 'A', ''] },
    ],
  },
  AS: {
    code: 'AS', name: 'assignment', columns: 51, key: 2,
    fields: [
      { at: 1, name: 'personId', kind: 'id', required: true },
      { at: 2, name: 'assignmentId', kind: 'id', required: true },
      { at: 3, name: 'effectiveStartDate', kind: 'date', required: true },
      { at: 4, name: 'effectiveEndDate', kind: 'date' },
      { at: 5, name: 'earliestAssignmentStartDate', kind: 'date' },
      { at: 6, name: 'assignmentType', kind: 'code', codes: ['E', 'A', 'C', 'O', ''] },
      { at: 7, name: 'assignmentNumber', kind: 'assignmentNumber', required: true },
      { at: 8, name: 'systemAssignmentStatus', kind: 'code', codes: ['ACTIVE_ASSIGN', 'SUSP_ASSIGN', 'TERM_ASSIGN', 'END', 'ACTIVE_APL', 'ACCEPTED', 'OFFER', 'INTERVIEW1', 'INTERVIEW2', 'ACTIVE_CWK', ''] },
      { at: 13, name: 'locationId', kind: 'text' },
      { at: 15, name: 'supervisorPersonId', kind: 'text' },
      { at: 25, name: 'fte', kind: 'decimal' },
      { at: 27, name: 'organisationId', kind: 'text' },
      { at: 28, name: 'positionId', kind: 'text' },
      { at: 44, name: 'lastUpdateDate', kind: 'datetime' },
      { at: 48, name: 'assignmentEndDate', kind: 'date' },
    ],
  },
  LC: { code: 'LC', name: 'location', columns: 22, key: 1, fields: [{ at: 1, name: 'locationId', kind: 'id', required: true }, lastUpdate(21)] },
  OR: { code: 'OR', name: 'organisation', columns: 16, key: 1, fields: [{ at: 1, name: 'organisationId', kind: 'id', required: true }, { at: 4, name: 'effectiveFrom', kind: 'date' }, lastUpdate(13)] },
  PO: { code: 'PO', name: 'position', columns: 24, key: 1, fields: [{ at: 1, name: 'positionId', kind: 'id', required: true }, { at: 2, name: 'effectiveStartDate', kind: 'date', required: true }, { at: 3, name: 'effectiveEndDate', kind: 'date' }, { at: 6, name: 'fte', kind: 'decimal' }, lastUpdate(22)] },
  AB: { code: 'AB', name: 'absence', columns: 48, key: 2, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'absenceAttendanceId', kind: 'id', required: true }, { at: 6, name: 'notificationDate', kind: 'date' }, { at: 7, name: 'startDate', kind: 'date' }, lastUpdate(29)] },
  QL: { code: 'QL', name: 'qualification', columns: 13, key: 2, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'qualificationId', kind: 'id', required: true }, { at: 7, name: 'awardedDate', kind: 'date' }, lastUpdate(12)] },
  CM: { code: 'CM', name: 'competency', columns: 27, key: 2, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'competencyId', kind: 'id', required: true }, { at: 6, name: 'effectiveFrom', kind: 'date' }, { at: 7, name: 'effectiveTo', kind: 'date' }, lastUpdate(22)] },
  CO: { code: 'CO', name: 'costing', columns: 16, key: 3, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'assignmentId', kind: 'id', required: true }, { at: 3, name: 'costingAllocationId', kind: 'id', required: true }, { at: 4, name: 'effectiveStartDate', kind: 'date' }, { at: 5, name: 'effectiveEndDate', kind: 'date' }, lastUpdate(15)] },
  CD: { code: 'CD', name: 'competenceDefinition', columns: 16, key: 1, fields: [{ at: 1, name: 'competenceId', kind: 'id', required: true }, { at: 4, name: 'dateFrom', kind: 'date' }, lastUpdate(15)] },
  DT: { code: 'DT', name: 'disability', columns: 15, key: 2, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'disabilityId', kind: 'id', required: true }] },
  EL: { code: 'EL', name: 'element', columns: 26, key: 2, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'elementEntryId', kind: 'id', required: true }, { at: 3, name: 'effectiveStartDate', kind: 'date' }, { at: 4, name: 'effectiveEndDate', kind: 'date' }, lastUpdate(25)] },
  ST: { code: 'ST', name: 'specialInformation', columns: 58, key: 2, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'analysisCriteriaId', kind: 'id', required: true }, { at: 3, name: 'dateFrom', kind: 'date' }, lastUpdate(57)] },
  TR: { code: 'TR', name: 'trainingAbsence', columns: 30, key: 2, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'trainingAbsenceId', kind: 'id', required: true }, { at: 7, name: 'startDate', kind: 'date' }, lastUpdate(29)] },
  ET: { code: 'ET', name: 'personEit', columns: 57, key: 2, fields: [{ at: 1, name: 'personId', kind: 'id', required: true }, { at: 2, name: 'personExtraInfoId', kind: 'id', required: true }, lastUpdate(56)] },
  PI: { code: 'PI', name: 'positionEit', columns: 57, key: 2, fields: [{ at: 1, name: 'positionId', kind: 'id', required: true }, { at: 2, name: 'positionExtraInfoId', kind: 'id', required: true }, lastUpdate(56)] },
  LOV: { code: 'LOV', name: 'listOfValues', columns: 13, key: 3, fields: [{ at: 1, name: 'lovType', kind: 'text', required: true }, { at: 2, name: 'lookupType', kind: 'text', required: true }, { at: 3, name: 'lookupCode', kind: 'text', required: true }, lastUpdate(12)] },
};

/** Record type (`PRA`) → schema and action; undefined for an unknown type. */
export function schemaOf(recordType: string): { schema: RecordSchema; action: 'A' | 'D' | null } | undefined {
  if (recordType === 'LOV') return { schema: GO_SCHEMAS.LOV!, action: null };
  if (recordType.length !== 3) return undefined;
  const s = GO_SCHEMAS[recordType.slice(0, 2)];
  const a = recordType[2];
  if (!s || (a !== 'A' && a !== 'D')) return undefined;
  return { schema: s, action: a };
}

/** Named, non-personal fields of a row (for msg.payload.named and events). */
export function namedFields(schema: RecordSchema, fields: readonly string[], includePersonal = true): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of schema.fields) {
    if (!includePersonal && f.personal) continue;
    const v = fields[f.at];
    if (v !== undefined && v !== '') out[f.name] = v;
  }
  return out;
}
