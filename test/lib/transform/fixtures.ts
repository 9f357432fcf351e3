/**
 * Synthetic HL7 v2 messages for the transform tests: fictional people, NHS numbers from the
 * 999 000 0000–999 999 9999 test range that pass Modulus 11, made-up ODS-style codes.
 */

/** One segment from a field map, so a fixture names its fields (`{ 5: 'SMITH^ALEX' }`). */
export function seg(name: string, fields: Record<number, string>): string {
  const last = Math.max(0, ...Object.keys(fields).map(Number));
  const out: string[] = [name];
  for (let i = 1; i <= last; i++) out.push(fields[i] ?? '');
  return out.join('|');
}

export const msh = (type: string, id: string, from = 'PAS^RX1', to = 'EPR^RX1', at = '20240315143000+0000'): string => {
  const [app, fac] = from.split('^');
  const [rapp, rfac] = to.split('^');
  return `MSH|^~\\&|${app}|${fac}|${rapp}|${rfac}|${at}||${type}|${id}|P|2.5.1|||AL|NE|GBR|UNICODE UTF-8`;
};

export const PID_FIELDS: Record<number, string> = {
  1: '1',
  3: '9990001006^^^NHS^NH~RX1000001^^^RX1^MR',
  5: 'SMITH^ALEX^JAMES^^MR^^L',
  7: '19800101',
  8: 'M',
  11: '1 TEST STREET^FLAT 2^LEEDS^WEST YORKSHIRE^LS1 4AP^GBR^H',
  13: '01130000001^PRN^PH~07700900001^ORN^CP~^NET^Internet^alex.smith@example.com',
  14: '01130000002^WPN^PH',
  16: 'M',
  22: 'A',
  32: 'NSTS01',
};
export const PID = seg('PID', PID_FIELDS);
export const PD1 = seg('PD1', { 3: 'TEST SURGERY^^^^^^^^^Y12345' });
export const NK1 = seg('NK1', { 1: '1', 2: 'SMITH^SAM^^^MRS^^L', 3: 'SPO^Spouse^HL70063', 4: '1 TEST STREET^FLAT 2^LEEDS^^LS1 4AP^GBR^H', 5: '07700900002^ORN^CP', 7: 'N^Next-of-Kin^HL70131' });
export const pv1 = (extra: Record<number, string> = {}): string => seg('PV1', {
  1: '1', 2: 'I', 3: 'WARD1^BAY1^BED3^RX101^^^^^WARD 1', 4: 'C^Elective^HL70007',
  7: 'C1234567^CONSULTANT^CARL^^^DR^^^GMC', 8: 'G7654321^REFERRER^RITA^^^DR^^^GMP', 10: '300^General Medicine^L',
  17: 'C1234567^CONSULTANT^CARL^^^DR^^^GMC', 19: 'VN00012345^^^RX1^VN', 44: '20240315142500+0000', ...extra,
});

const adt = (event: string, id: string, body: string[]): string => [msh(`ADT^${event}^ADT_A01`, id), `EVN|${event}|20240315143000+0000`, ...body].join('\r') + '\r';

/** One good message per supported type (the table the tests run over). */
export const GOOD: Record<string, string> = {
  'ADT^A01': adt('A01', 'ADT0001', [PID, PD1, NK1, pv1()]),
  'ADT^A02': adt('A02', 'ADT0002', [PID, pv1({ 3: 'WARD2^BAY4^BED1^RX101^^^^^WARD 2', 6: 'WARD1^BAY1^BED3^RX101^^^^^WARD 1' })]),
  'ADT^A03': adt('A03', 'ADT0003', [PID, pv1({ 36: '01^Discharged home^L', 45: '20240320110000+0000' })]),
  'ADT^A04': adt('A04', 'ADT0004', [PID, pv1({ 2: 'O', 3: 'OPD1^^^RX101^^^^^OUTPATIENTS' })]),
  'ADT^A05': adt('A05', 'ADT0005', [PID, pv1({ 2: 'P', 44: '20240401090000+0100' })]),
  'ADT^A08': adt('A08', 'ADT0008', [PID, PD1, NK1, pv1({ 2: 'E', 4: 'E^Emergency^HL70007' })]),
  'ADT^A11': adt('A11', 'ADT0011', [PID, pv1()]),
  'ADT^A13': adt('A13', 'ADT0013', [PID, pv1()]),
  'ADT^A28': adt('A28', 'ADT0028', [PID, PD1, NK1, seg('PV1', { 1: '1', 2: 'N' })]),
  'ADT^A31': adt('A31', 'ADT0031', [PID, PD1, seg('PV1', { 1: '1', 2: 'N' })]),
  'ADT^A40': [msh('ADT^A40^ADT_A39', 'ADT0040'), 'EVN|A40|20240315143000+0000', PID, 'MRG|RX1000099^^^RX1^MR'].join('\r') + '\r',
  'ORU^R01': [
    msh('ORU^R01^ORU_R01', 'LAB0001', 'LIMS^RX1', 'EPR^RX1', '20240316090000+0000'),
    PID,
    'ORC|RE|PL0001^EPR|FL0001^LIMS',
    seg('OBR', { 1: '1', 2: 'PL0001^EPR', 3: 'FL0001^LIMS', 4: '26604007^Full blood count^SCT', 7: '20240316080000+0000', 16: 'C1234567^CONSULTANT^CARL^^^DR^^^GMC', 22: '20240316085900+0000', 24: 'HM', 25: 'F' }),
    'OBX|1|NM|718-7^Haemoglobin^LN||135|g/L^gram per litre^UCUM|130-170|N|||F|||20240316080000+0000',
    'OBX|2|NM|6690-2^White cell count^LN||12.1|10*9/L^^UCUM|4.0-11.0|H|||F',
    'OBX|3|ST|8251-1^Service comment^LN||Sample slightly haemolysed||||||F',
    'OBX|4|TX|8251-1^Service comment^LN||Line one~Line two||||||P',
    'OBX|5|CWE|5778-6^Colour of urine^LN||371244009^Yellow^SCT||||||F',
    'OBX|6|SN|1988-5^C reactive protein^LN||<^0.5|mg/L^^UCUM|<5|N|||F',
    'OBX|7|SN|5130-0^Antibody titre^LN||^1^:^128||||||C',
    'OBX|8|DT|8665-2^Last menstrual period^LN||20240301||||||F',
    'OBX|9|TS|21112-8^Birth date^LN||20240316081500+0000||||||F',
    'OBX|10|ED|11502-2^Laboratory report^LN||^application^pdf^Base64^JVBERi0xLjQKJcfsj6IK||||||F',
  ].join('\r') + '\r',
  'ORM^O01': [
    msh('ORM^O01^ORM_O01', 'ORD0001', 'EPR^RX1', 'LIMS^RX2'),
    PID,
    seg('PV1', { 1: '1', 2: 'O', 19: 'VN00099999^^^RX1^VN' }),
    seg('ORC', { 1: 'NW', 2: 'ORD1001^EPR', 7: '^^^^^R', 9: '20240317100000+0000', 12: 'C1234567^CONSULTANT^CARL^^^DR^^^GMC' }),
    seg('OBR', { 1: '1', 2: 'ORD1001^EPR', 4: '26604007^Full blood count^SCT' }),
  ].join('\r') + '\r',
  'OML^O21': [
    msh('OML^O21^OML_O21', 'ORD0002', 'EPR^RX1', 'LIMS^RX2'),
    PID,
    seg('ORC', { 1: 'NW', 2: 'ORD2001^EPR', 7: '^^^^^S', 9: '20240317101500+0000', 12: 'C1234567^CONSULTANT^CARL^^^DR^^^GMC' }),
    seg('OBR', { 1: '1', 2: 'ORD2001^EPR', 4: '1988-5^C reactive protein^LN' }),
    seg('SPM', { 1: '1', 4: '119297000^Blood specimen^SCT' }),
  ].join('\r') + '\r',
  'REF^I12': [
    msh('REF^I12^REF_I12', 'REF0001', 'GPSYS^Y12345', 'EREF^RX1', '20240318100000+0000'),
    seg('RF1', { 1: 'P^Pending^HL70283', 2: 'R^Routine^HL70280', 3: 'Med^Medical^HL70281', 5: 'O^Outpatient^HL70284', 6: 'REF0001^Y12345', 7: '20240318095500+0000' }),
    seg('PRD', { 1: 'RP^Referring Provider^HL70286', 2: 'REFERRER^RITA^^^DR', 7: 'G7654321^GMP' }),
    seg('PRD', { 1: 'RT^Referred to Provider^HL70286', 2: 'CONSULTANT^CARL^^^DR', 7: 'C1234567^GMC' }),
    PID,
    seg('DG1', { 1: '1', 3: 'R07.4^Chest pain, unspecified^I10' }),
    seg('OBR', { 1: '1', 4: '306206005^Referral to service^SCT' }),
  ].join('\r') + '\r',
};
