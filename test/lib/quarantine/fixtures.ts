/** Synthetic HL7 v2 ADT with NHS number 9000000009 (test range) and a made-up person. */
export const ADT = [
  'MSH|^~\\&|PAS|RX1|EPR|RX1|20260101120000||ADT^A01|MSG0001|P|2.4',
  'EVN|A01|20260101120000',
  'PID|1||9000000009^^^NHS^NH~123456^^^RX1^MR||SMITH^JANE^ANN^^MS||19800101|F|||1 HIGH STREET^^LEEDS^^LS1 1AA||0113 000 0000',
  'PV1|1|I|WARD1',
].join('\r');

export const PATIENT = {
  resourceType: 'Patient',
  identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' }],
  name: [{ family: 'Jones', given: ['Alex', 'Sam'] }],
  birthDate: '1990-02-03',
  address: [{ line: ['2 Low Road'], postalCode: 'LS2 2BB' }],
};
