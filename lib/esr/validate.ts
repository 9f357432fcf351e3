/**
 * Row validation for ESR extracts: column count, required fields, ESR dates (`YYYYMMDD`) and
 * date-times (`YYYYMMDD HHMMSS`), code lists, NI number, staff and assignment number formats, and
 * the NHS number (Modulus 11) where a schema has one. Every problem is an OperationOutcome issue
 * (DESIGN.md §3) whose diagnostics name the file, line and column — never the value, since these
 * rows carry personal data.
 */
import { checkNhsNumber } from '../nhs/nhs-number';
import { issue, type Issue } from '../outcome';
import type { FieldSpec } from './records';

/** Where a row came from; `column` is 1-based after the record type (0 = the type itself). */
export interface RowPlace {
  file: string;
  line: number;
}

/** `expression` form of a cell: `PRA-14` (record type, column), as HL7 paths name fields. */
export function cellPath(recordType: string, column: number): string {
  return `${recordType}-${column}`;
}

/** An issue at a row (and column) of a file; `what` says what is wrong, never the value. */
export function rowIssue(place: RowPlace, recordType: string, column: number | undefined, code: Issue['code'], what: string, field?: string): Issue {
  const where = column === undefined ? `${place.file} line ${place.line}` : `${place.file} line ${place.line} column ${column}${field ? ` (${field})` : ''}`;
  return issue('error', code, `${where}: ${what}`, column === undefined ? recordType || 'row' : cellPath(recordType, column));
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `YYYYMMDD` naming a real calendar day. */
export function isEsrDate(v: string): boolean {
  if (v.length !== 8) return false;
  for (let i = 0; i < 8; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  const y = +v.slice(0, 4);
  const m = +v.slice(4, 6);
  const d = +v.slice(6, 8);
  if (m < 1 || m > 12 || d < 1 || d > DAYS[m - 1]!) return false;
  return !(m === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)));
}

const TIME_RE = /^([01]\d|2[0-3])[0-5]\d[0-5]\d$/;

/** `YYYYMMDD HHMMSS`. */
export function isEsrDateTime(v: string): boolean {
  return v.length === 15 && v[8] === ' ' && isEsrDate(v.slice(0, 8)) && TIME_RE.test(v.slice(9));
}

/**
 * National Insurance number (HMRC NIM39110): two prefix letters (not D, F, I, Q, U, V; second not
 * O; not BG, GB, NK, KN, TN, NT, ZZ), six digits, suffix A–D (or blank).
 */
export function isNiNumber(v: string): boolean {
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]?$/.test(v)) return false;
  return !['BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ'].includes(v.slice(0, 2));
}

const ID_RE = /^[A-Za-z0-9]{1,30}$/;
const STAFF_RE = /^\d{6,10}$/;
const ASSIGNMENT_RE = /^\d{6,10}(-\d{1,2})?$/;
const DECIMAL_RE = /^-?\d{1,9}(\.\d{1,6})?$/;

/** Why `v` is not a valid value of `f`, or undefined. Empty values are checked by `required`. */
export function fieldProblem(f: FieldSpec, v: string): string | undefined {
  switch (f.kind) {
    case 'date': return isEsrDate(v) ? undefined : 'not a YYYYMMDD date';
    case 'datetime': return isEsrDateTime(v) ? undefined : 'not a YYYYMMDD HHMMSS date-time';
    case 'ni': return isNiNumber(v) ? undefined : 'not a valid National Insurance number';
    case 'staffNumber': return STAFF_RE.test(v) ? undefined : 'not a valid staff (employee) number';
    case 'assignmentNumber': return ASSIGNMENT_RE.test(v) ? undefined : 'not a valid assignment number';
    case 'id': return ID_RE.test(v) ? undefined : 'not a valid ESR id';
    case 'decimal': return DECIMAL_RE.test(v) ? undefined : 'not a decimal number';
    case 'nhsNumber': {
      const p = checkNhsNumber(v);
      return p === undefined ? undefined : p === 'format' ? 'NHS number is not 10 digits' : 'NHS number fails the Modulus 11 check';
    }
    case 'code': return f.codes && !f.codes.includes(v) ? 'not in the code list' : undefined;
    case 'text': return undefined;
  }
}

/** Check the fields of one row against its field specs; issues are appended to `out`. */
export function checkFields(place: RowPlace, recordType: string, fields: readonly string[], specs: readonly FieldSpec[], out: Issue[]): void {
  for (const f of specs) {
    const v = fields[f.at];
    if (v === undefined || v === '') {
      if (f.required) out.push(rowIssue(place, recordType, f.at, 'required', 'required field is empty', f.name));
      continue;
    }
    const p = fieldProblem(f, v);
    if (p) out.push(rowIssue(place, recordType, f.at, f.kind === 'code' ? 'code-invalid' : 'value', p, f.name));
  }
}
