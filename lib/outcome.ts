/**
 * The one OperationOutcome builder (FHIR R4 OperationOutcome). Every checker in the suite — HL7
 * structure, FHIR validation, NHS number, ESR row — reports issues in this shape
 * (DESIGN.md §3): `{ severity, code, expression, diagnostics }`.
 */

/** FHIR R4 `IssueSeverity` (http://hl7.org/fhir/issue-severity). */
export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';

/** A subset of FHIR R4 `IssueType` (http://hl7.org/fhir/issue-type) used by the suite. */
export type IssueType =
  | 'invalid' | 'structure' | 'required' | 'value' | 'invariant' | 'security' | 'login' | 'unknown'
  | 'expired' | 'forbidden' | 'suppressed' | 'processing' | 'not-supported' | 'duplicate'
  | 'multiple-matches' | 'not-found' | 'deleted' | 'too-long' | 'code-invalid' | 'extension'
  | 'too-costly' | 'business-rule' | 'conflict' | 'transient' | 'lock-error' | 'no-store'
  | 'exception' | 'timeout' | 'incomplete' | 'throttled' | 'informational';

/** One issue: FHIR R4 `OperationOutcome.issue`. */
export interface Issue {
  severity: IssueSeverity;
  code: IssueType;
  /** Human-readable text (OperationOutcome.issue.diagnostics). No patient data. */
  diagnostics?: string;
  /** FHIRPath or HL7 path(s) of the element at fault (OperationOutcome.issue.expression). */
  expression?: string[];
  /** Optional coded detail (OperationOutcome.issue.details). */
  details?: { coding?: { system?: string; code?: string; display?: string }[]; text?: string };
  extension?: { url: string; valueString?: string; valueInteger?: number }[];
}

/** FHIR R4 OperationOutcome resource. */
export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Issue[];
}

/** Extension URL the reference validator uses to carry its message id. */
export const MESSAGE_ID_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id';

/** Build an issue; `expression` may be one path or several. */
export function issue(
  severity: IssueSeverity,
  code: IssueType,
  diagnostics: string,
  expression?: string | string[],
  messageId?: string,
): Issue {
  const out: Issue = { severity, code, diagnostics };
  if (expression !== undefined) out.expression = Array.isArray(expression) ? expression : [expression];
  if (messageId) out.extension = [{ url: MESSAGE_ID_EXTENSION, valueString: messageId }];
  return out;
}

/**
 * Wrap issues into an OperationOutcome. A clean result gets a single `information` issue, as the
 * reference validator does ("All OK"), so downstream code never sees an empty `issue` array
 * (OperationOutcome.issue is 1..*).
 */
export function operationOutcome(issues: Issue[]): OperationOutcome {
  if (issues.length === 0) {
    return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'All OK' }] };
  }
  return { resourceType: 'OperationOutcome', issue: issues };
}

/** True when the issue fails the content: severity `error` or `fatal`. */
export function isError(i: Issue): boolean {
  return i.severity === 'error' || i.severity === 'fatal';
}

/** True when any issue is `error` or `fatal`. */
export function hasErrors(o: OperationOutcome | Issue[]): boolean {
  const list = Array.isArray(o) ? o : o.issue;
  return list.some(isError);
}
