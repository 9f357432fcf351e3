/**
 * ODS code format check (NHS England Organisation Data Service, "ODS codes": 1 to 9 alphanumeric
 * characters, e.g. trust `RR8`, site `RR801`, pharmacy `FVR79`, GP `G3472185`, branch surgery
 * `K81003001`; https://digital.nhs.uk/developer/guides-and-documentation/building-healthcare-software/organisations-and-services).
 * Only the format can be checked offline: whether a code is allocated needs the ODS API.
 */

/** UK Core identifier system for ODS organisation codes. */
export const ODS_ORGANIZATION_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
/** UK Core identifier system for ODS site codes. */
export const ODS_SITE_SYSTEM = 'https://fhir.nhs.uk/Id/ods-site-code';

export type OdsCodeProblem = 'format';

const ODS_CODE = /^[A-Z0-9]{1,9}$/;

/** Trim and upper-case what people type (`rr8 ` → `RR8`); the check itself is strict. */
export function normaliseOdsCode(value: string): string {
  return value.trim().toUpperCase();
}

/** Undefined when `value` has the ODS code format (upper-case letters and digits, 1–9 long). */
export function checkOdsCode(value: string): OdsCodeProblem | undefined {
  return ODS_CODE.test(value) ? undefined : 'format';
}

export function isValidOdsCode(value: string): boolean {
  return checkOdsCode(value) === undefined;
}
