/**
 * Synthetic UK Core patient used by the validator tests and bench/fhir.ts. Synthetic person,
 * NHS number 9000000009 (sandbox range, passes Modulus 11), ODS code of a test GP practice.
 */
export const UKCORE_PATIENT_URL = 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient';

export function ukPatient(): Record<string, any> {
  return {
    resourceType: 'Patient',
    id: 'example-uk-patient',
    meta: { profile: [UKCORE_PATIENT_URL] },
    extension: [
      {
        url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory',
        valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland', code: 'A', display: 'White - British' }] },
      },
    ],
    identifier: [
      {
        extension: [{
          url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus',
          valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland', code: '01', display: 'Number present and verified' }] },
        }],
        system: 'https://fhir.nhs.uk/Id/nhs-number',
        value: '9000000009',
      },
    ],
    active: true,
    name: [{ use: 'official', family: 'Testperson', given: ['Alex', 'Jordan'], prefix: ['Mx'] }],
    telecom: [
      { system: 'phone', value: '01632 960000', use: 'home' },
      { system: 'email', value: 'alex.testperson@example.com', use: 'home' },
    ],
    gender: 'unknown',
    birthDate: '1980-04-01',
    address: [{ use: 'home', line: ['1 Test Street', 'Testville'], city: 'Leeds', district: 'West Yorkshire', postalCode: 'LS1 4AP', country: 'GB' }],
    generalPractitioner: [{ type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' } }],
    managingOrganization: { reference: 'Organization/example-org', display: 'Example Trust' },
  };
}

/** The shared UK Core package folder (../shared/fhir-packages). */
export const UKCORE_FOLDER_NAME = 'fhir-packages';
