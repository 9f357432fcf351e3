/**
 * Message-structure check (hazard HAZ-008 C8): the segments an HL7 v2 abstract message syntax
 * requires for the message's structure (MSH-9.3, HL7 table 0354; when absent, from MSH-9.1 and the
 * trigger event MSH-9.2). Only segments that are required at the top level of the structure, or
 * in a group the structure itself requires, are checked, and only their presence — so a message
 * a receiving system would accept is never refused here for an optional group or segment order.
 * Structures are those of HL7 v2.3.1–2.5.1, where the requirements below are the same.
 */
import { issue, type Issue } from '../outcome';
import type { Hl7Message } from './message';

/**
 * Required segments per message structure (HL7 v2.5.1 chapters 2–3, 4, 7, 9, 10 abstract
 * message syntax; v2.3.1 and v2.4 agree for these).
 */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  ACK: ['MSA'],
  ADT_A01: ['EVN', 'PID', 'PV1'],
  ADT_A02: ['EVN', 'PID', 'PV1'],
  ADT_A03: ['EVN', 'PID', 'PV1'],
  ADT_A05: ['EVN', 'PID', 'PV1'],
  ADT_A06: ['EVN', 'PID', 'PV1'],
  ADT_A09: ['EVN', 'PID', 'PV1'],
  ADT_A12: ['EVN', 'PID', 'PV1'],
  ADT_A15: ['EVN', 'PID', 'PV1'],
  ADT_A16: ['EVN', 'PID', 'PV1'],
  ADT_A17: ['EVN', 'PID', 'PV1'],
  ADT_A18: ['EVN', 'PID', 'MRG'],
  ADT_A21: ['EVN', 'PID', 'PV1'],
  ADT_A30: ['EVN', 'PID', 'MRG'],
  ADT_A38: ['EVN', 'PID', 'PV1'],
  ADT_A39: ['EVN', 'PID', 'MRG'],
  ADT_A43: ['EVN', 'PID', 'MRG'],
  ADT_A45: ['EVN', 'PID', 'MRG', 'PV1'],
  ADT_A50: ['EVN', 'PID', 'MRG', 'PV1'],
  ADT_A52: ['EVN', 'PID', 'PV1'],
  ADT_A54: ['EVN', 'PID', 'PV1'],
  MDM_T01: ['EVN', 'PID', 'PV1', 'TXA'],
  MDM_T02: ['EVN', 'PID', 'PV1', 'TXA', 'OBX'],
  OML_O21: ['ORC'],
  ORM_O01: ['ORC'],
  ORU_R01: ['OBR'],
  SIU_S12: ['SCH', 'RGS'],
};

/** Trigger events → structure (HL7 table 0354), for messages that leave MSH-9.3 empty. */
const BY_EVENT: Readonly<Record<string, string>> = {
  ...Object.fromEntries(['A01', 'A04', 'A08', 'A13'].map((e) => [`ADT^${e}`, 'ADT_A01'])),
  'ADT^A02': 'ADT_A02',
  'ADT^A03': 'ADT_A03',
  ...Object.fromEntries(['A05', 'A14', 'A28', 'A31'].map((e) => [`ADT^${e}`, 'ADT_A05'])),
  ...Object.fromEntries(['A06', 'A07'].map((e) => [`ADT^${e}`, 'ADT_A06'])),
  ...Object.fromEntries(['A09', 'A10', 'A11'].map((e) => [`ADT^${e}`, 'ADT_A09'])),
  'ADT^A12': 'ADT_A12',
  'ADT^A15': 'ADT_A15',
  'ADT^A16': 'ADT_A16',
  'ADT^A17': 'ADT_A17',
  'ADT^A18': 'ADT_A18',
  ...Object.fromEntries(['A21', 'A22', 'A23', 'A25', 'A26', 'A27', 'A29', 'A32', 'A33'].map((e) => [`ADT^${e}`, 'ADT_A21'])),
  ...Object.fromEntries(['A30', 'A34', 'A35', 'A36', 'A46', 'A47', 'A48', 'A49'].map((e) => [`ADT^${e}`, 'ADT_A30'])),
  'ADT^A38': 'ADT_A38',
  ...Object.fromEntries(['A39', 'A40', 'A41', 'A42'].map((e) => [`ADT^${e}`, 'ADT_A39'])),
  ...Object.fromEntries(['A43', 'A44'].map((e) => [`ADT^${e}`, 'ADT_A43'])),
  'ADT^A45': 'ADT_A45',
  ...Object.fromEntries(['A50', 'A51'].map((e) => [`ADT^${e}`, 'ADT_A50'])),
  ...Object.fromEntries(['A52', 'A53', 'A55'].map((e) => [`ADT^${e}`, 'ADT_A52'])),
  'ADT^A54': 'ADT_A54',
  ...Object.fromEntries(['T01', 'T03', 'T05', 'T07', 'T09', 'T11'].map((e) => [`MDM^${e}`, 'MDM_T01'])),
  ...Object.fromEntries(['T02', 'T04', 'T06', 'T08', 'T10'].map((e) => [`MDM^${e}`, 'MDM_T02'])),
  'OML^O21': 'OML_O21',
  'ORM^O01': 'ORM_O01',
  'ORU^R01': 'ORU_R01',
  ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => `S${12 + i}`).filter((e) => e !== 'S25').map((e) => [`SIU^${e}`, 'SIU_S12'])),
};

/** The structure a message declares (MSH-9.3) or implies (MSH-9.1^MSH-9.2), if this module knows it. */
export function messageStructure(m: Hl7Message): string | undefined {
  const declared = m.get('MSH-9.3');
  if (declared && REQUIRED[declared]) return declared;
  const code = m.get('MSH-9.1');
  if (code === 'ACK') return 'ACK';
  return BY_EVENT[m.type ?? ''];
}

/**
 * One error issue (`required`, expression = the segment ID) per required segment the message
 * lacks; none for a structure this module does not know.
 */
export function checkStructure(m: Hl7Message): Issue[] {
  const structure = messageStructure(m);
  if (!structure) return [];
  const present = new Set(m.segments().map((s) => s.name));
  return REQUIRED[structure]!
    .filter((seg) => !present.has(seg))
    .map((seg) => issue('error', 'required', `${m.type ?? structure} (${structure}) requires a ${seg} segment`, seg, 'HL7_SEGMENT_MISSING'));
}
