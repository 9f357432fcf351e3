/**
 * The one NHS number check in the codebase (NHS Data Dictionary "NHS NUMBER": 10 digits, the
 * 10th a Modulus 11 check digit over the first nine with weights 10..2; a remainder giving 10
 * means the number is invalid). Every node and the FHIR validator call this.
 */

/** Identifier system for NHS numbers in FHIR (UK Core). */
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

export type NhsNumberProblem = 'format' | 'checksum';

/** Strip the spaces/hyphens people type (`943 476 5919`); anything else is kept so it fails. */
export function normaliseNhsNumber(value: string): string {
  return value.replace(/[\s-]/g, '');
}

/** Modulus 11 check digit for nine digits, or undefined when the remainder gives 10 (invalid). */
export function nhsCheckDigit(first9: string): number | undefined {
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (first9.charCodeAt(i) - 48) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 11) return 0;
  if (check === 10) return undefined;
  return check;
}

/** Undefined when `value` is a valid NHS number, else what is wrong with it. */
export function checkNhsNumber(value: string): NhsNumberProblem | undefined {
  if (!/^\d{10}$/.test(value)) return 'format';
  const expected = nhsCheckDigit(value.slice(0, 9));
  return expected !== undefined && expected === value.charCodeAt(9) - 48 ? undefined : 'checksum';
}

export function isValidNhsNumber(value: string): boolean {
  return checkNhsNumber(value) === undefined;
}

/** Display form `999 123 4567`; masked form for the sidebar `999 *** **67`. */
export function formatNhsNumber(value: string, masked = false): string {
  if (!/^\d{10}$/.test(value)) return masked ? '***' : value;
  return masked ? `${value.slice(0, 3)} *** **${value.slice(8)}` : `${value.slice(0, 3)} ${value.slice(3, 6)} ${value.slice(6)}`;
}
