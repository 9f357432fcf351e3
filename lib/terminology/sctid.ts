/**
 * SNOMED CT identifier syntax (SNOMED CT Technical Implementation Guide §6.7 "SCTID"): 6–18
 * digits, no leading zero, a partition identifier in the two digits before the check digit, and
 * a Verhoeff check digit. Lets a local validator reject codes like `1` or `276885007x` without a
 * terminology server; whether a syntactically valid concept exists still needs one.
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

function verhoeffValid(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    c = D[c]![P[i % 8]![digits.charCodeAt(digits.length - 1 - i) - 48]!]!;
  }
  return c === 0;
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
