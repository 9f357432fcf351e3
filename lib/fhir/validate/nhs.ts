/**
 * NHS rules built into the validator: NHS number format + Modulus 11 on identifiers with system
 * `https://fhir.nhs.uk/Id/nhs-number` (UK Core UKCore-Patient identifier:nhsNumber), and an ODS
 * code format check on `https://fhir.nhs.uk/Id/ods-organization-code` and `ods-site-code`. Uses
 * the one NHS number check (lib/nhs/nhs-number.ts) and the one ODS check (lib/nhs/ods.ts).
 * Diagnostics never echo the number.
 */
import { checkNhsNumber, NHS_NUMBER_SYSTEM } from '../../nhs/nhs-number';
import { checkOdsCode, ODS_ORGANIZATION_SYSTEM, ODS_SITE_SYSTEM } from '../../nhs/ods';
import type { Run } from './context';

export function checkIdentifier(run: Run, v: Record<string, unknown>, path: string): void {
  const system = v.system;
  if (system === NHS_NUMBER_SYSTEM) {
    if (typeof v.value !== 'string') {
      run.add('error', 'required', 'An NHS number identifier must have a value', path, 'NHS_NUMBER_MISSING');
      return;
    }
    const problem = checkNhsNumber(v.value);
    if (problem === 'format') run.add('error', 'value', 'NHS number must be 10 digits', `${path}.value`, 'NHS_NUMBER_FORMAT');
    else if (problem === 'checksum') run.add('error', 'value', 'NHS number fails the Modulus 11 check', `${path}.value`, 'NHS_NUMBER_CHECKSUM');
  } else if (system === ODS_ORGANIZATION_SYSTEM || system === ODS_SITE_SYSTEM) {
    if (typeof v.value === 'string' && checkOdsCode(v.value) !== undefined) {
      run.add('error', 'value', 'ODS code must be 1 to 9 upper-case letters or digits', `${path}.value`, 'NHS_ODS_FORMAT');
    }
  }
}
