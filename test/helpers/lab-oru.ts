/** A synthetic lab result (ORU^R01, test-range NHS number) with local OBX-3 codes HB and NA, for the SNOMED mapping tests. */
export const LAB_ORU_SEGMENTS: readonly string[] = [
  'MSH|^~\\&|LAB|RXX01|EPR|RXX01|20240315143000||ORU^R01^ORU_R01|LAB0001|P|2.5.1',
  'PID|1||9990000018^^^NHS^NH||TESTPATIENT^JANE||19800101|F',
  'OBR|1||ACC1|CBC^Full blood count^L',
  'OBX|1|NM|HB^Haemoglobin^L||135|g/L',
  'OBX|2|NM|NA^Sodium^L||140|mmol/L',
];

/** The lab result as HL7 text, with any further segments appended. */
export function labOru(...more: string[]): string {
  return [...LAB_ORU_SEGMENTS, ...more].join('\r');
}
