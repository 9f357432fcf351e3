/**
 * Synthetic patients for the offline demo's PDS stand-in. Invented people with NHS numbers from
 * the 999 000 0000–999 999 9999 test range and the ZZ99 pseudo-postcodes: no real person, no
 * published PDS record. Shapes follow UK Core Patient as PDS returns it.
 */
import type { StandInOptions } from './stand-in';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const CONF = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const verified = [{ url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus', valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus', code: '01', display: 'Number present and verified' }] } }];

function patient(nhs: string, family: string, given: string, gender: string, birthDate: string, postcode: string | null, restricted = false): Record<string, unknown> {
  return {
    resourceType: 'Patient', id: nhs,
    identifier: [{ system: NHS, value: nhs, extension: verified }],
    meta: { versionId: '1', security: [{ system: CONF, code: restricted ? 'R' : 'U', display: restricted ? 'restricted' : 'unrestricted' }] },
    name: [{ use: 'usual', family, given: [given], period: { start: '2020-01-01' } }],
    gender, birthDate,
    ...(postcode ? {
      address: [{ use: 'home', line: ['1 Demo Street', 'Testtown'], postalCode: postcode, period: { start: '2020-01-01' } }],
      generalPractitioner: [{ type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' } }],
    } : {}),
  };
}

/** Stand-in options for the demo: three synthetic patients, one superseded and one invalidated number. */
export function demoStandInOptions(): StandInOptions {
  return {
    patients: [
      patient('9990000018', 'DEMOPATIENT', 'Alice', 'female', '1980-02-14', 'ZZ99 3AA'),
      patient('9990000026', 'EXAMPLEPERSON', 'Ben', 'male', '1975-07-01', 'ZZ99 3AB'),
      patient('9990000034', 'SYNTHETIC', 'Carol', 'female', '1990-11-30', null, true),
    ],
    superseded: { '9990000042': '9990000018' },
    invalidated: ['9990000050'],
  };
}
