/**
 * SNOMED CT identifier checks (SNOMED CT Technical Implementation Guide §6.7 "SCTID", §6.8
 * "Namespace identifier", §6.6 "Partition identifier"; check digit: Verhoeff dihedral-group code).
 * An SCTID is 6–18 digits without a leading zero: [item id][namespace id (7 digits, extension ids
 * only)][partition id (2 digits)][check digit]. Lets a node reject codes such as `1` or a mistyped
 * id without a terminology server; whether a well-formed concept exists still needs one.
 */

const D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** Verhoeff check over a digit string whose last digit is the check digit. */
export function verhoeffValid(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    c = D[c]![P[i % 8]![digits.charCodeAt(digits.length - 1 - i) - 48]!]!;
  }
  return c === 0;
}

/** The Verhoeff check digit for a digit string (without one). */
export function verhoeffDigit(digits: string): number {
  const INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    c = D[c]![P[(i + 1) % 8]![digits.charCodeAt(digits.length - 1 - i) - 48]!]!;
  }
  return INV[c]!;
}

/** Which of the TIG §6.7 rules an id failed. */
export type SctIdCheck = 'syntax' | 'length' | 'leading-zero' | 'partition' | 'namespace' | 'check-digit';

/** Component kinds by partition identifier (TIG §6.6, RF2: 0x core, 1x extension). */
export type SctIdKind = 'concept' | 'description' | 'relationship';

const PARTITIONS: Record<string, { kind: SctIdKind; extension: boolean }> = {
  '00': { kind: 'concept', extension: false },
  '01': { kind: 'description', extension: false },
  '02': { kind: 'relationship', extension: false },
  '10': { kind: 'concept', extension: true },
  '11': { kind: 'description', extension: true },
  '12': { kind: 'relationship', extension: true },
};

/** Result of {@link checkSctId}: `failed` names the first rule that did not hold. */
export interface SctIdResult {
  valid: boolean;
  failed?: SctIdCheck;
  /** Why, in words (no patient data: an SCTID is not patient-identifiable, but it is not echoed either). */
  reason?: string;
  partition?: string;
  kind?: SctIdKind;
  /** Namespace identifier (7 digits) of an extension id, e.g. 1000001 (UK drug extension, dm+d). */
  namespace?: string;
}

function fail(failed: SctIdCheck, reason: string, extra: Partial<SctIdResult> = {}): SctIdResult {
  return { valid: false, failed, reason, ...extra };
}

/**
 * Check one SCTID against TIG §6.7: digits only, 6–18 digits, no leading zero, a known partition
 * identifier, a 7-digit namespace identifier (first digit not 0) for extension partitions, and the
 * Verhoeff check digit. The checks run in that order and the first failure is reported.
 */
export function checkSctId(code: string): SctIdResult {
  if (typeof code !== 'string' || !/^[0-9]+$/.test(code)) return fail('syntax', 'an SCTID has digits only');
  if (code.length < 6 || code.length > 18) return fail('length', `an SCTID has 6–18 digits, not ${code.length}`);
  if (code[0] === '0') return fail('leading-zero', 'an SCTID has no leading zero');
  const partition = code.slice(-3, -1);
  const p = PARTITIONS[partition];
  if (!p) return fail('partition', `partition identifier ${partition} is not one of 00, 01, 02, 10, 11, 12`, { partition });
  const base = { partition, kind: p.kind };
  let namespace: string | undefined;
  if (p.extension) {
    // item id (≥ 1 digit) + namespace (7) + partition (2) + check digit (1)
    if (code.length < 11) return fail('namespace', 'an extension SCTID needs a 7-digit namespace identifier and an item identifier (≥ 11 digits)', base);
    namespace = code.slice(-10, -3);
    if (namespace[0] === '0') return fail('namespace', `namespace identifier ${namespace} is not a 7-digit number from 1000000`, { ...base, namespace });
  }
  if (!verhoeffValid(code)) return fail('check-digit', 'the Verhoeff check digit does not match', { ...base, ...(namespace ? { namespace } : {}) });
  return { valid: true, ...base, ...(namespace ? { namespace } : {}) };
}

/** True when `code` is a well-formed SCTID (every {@link checkSctId} rule holds). */
export function isValidSctId(code: string): boolean {
  return checkSctId(code).valid;
}

/** SNOMED CT post-coordinated expressions are not concept ids: leave them to a terminology server. */
const EXPRESSION = /[\s:=|{}+(),]/;

/** True when `code` could be a SNOMED CT concept/description/relationship id (or is an expression). */
export function plausibleSctId(code: string): boolean {
  if (EXPRESSION.test(code)) return true;
  if (!/^[1-9][0-9]{5,17}$/.test(code)) return false;
  const partition = code.slice(-3, -1);
  if (!['00', '01', '02', '10', '11', '12'].includes(partition)) return false;
  return verhoeffValid(code);
}

/** True when `code` looks like a post-coordinated expression or ECL rather than a single id. */
export function looksLikeExpression(code: string): boolean {
  return EXPRESSION.test(code);
}
