/**
 * Profiles implied by content (FHIR R4 §8.1 Vital Signs: "if implementations use this Observation
 * for vital signs, they must conform to the vital signs profiles"). The reference validator's
 * policy advisor picks the profile from the first matching LOINC code, then SNOMED CT code, in
 * Observation.code.coding; the table below is that rule's content.
 */
import { SNOMED_CT } from './binding';

const SD = 'http://hl7.org/fhir/StructureDefinition/';
const LOINC: [string, string[]][] = [
  ['vitalspanel', ['85353-1']],
  ['resprate', ['9279-1', '76170-0', '76172-6', '76171-8', '19840-8', '33438-3', '76270-8', '11291-2']],
  ['heartrate', ['60978-4', '73795-7', '73799-9', '76476-1', '76477-9', '8867-4', '8889-8', '8890-6', '8891-4', '8892-2', '8893-0', '40443-4', '55425-3', '68999-2', '11328-2', '69000-8', '8886-4']],
  ['oxygensat', ['2708-6', '19224-5', '20564-1', '2709-4', '2710-2', '2713-6', '51733-4', '59408-5', '59417-6', '89276-0', '97549-0']],
  ['bodytemp', ['8310-5', '60834-9', '60835-6', '60836-4', '60838-0', '60955-2', '61009-7', '75539-7', '75987-8', '76010-8', '76011-6', '76278-1', '8309-7', '8328-7', '8329-5', '8330-3', '8331-1', '8332-9', '8333-7', '8334-5', '91371-5', '98657-0', '98663-8']],
  ['bodyheight', ['8302-2', '3137-7', '3138-5', '8306-3', '8308-9']],
  ['headcircum', ['9843-4', '8287-5']],
  ['bodyweight', ['29463-7', '3141-9', '3142-7', '75292-3', '79348-9', '8350-1', '8351-9']],
  ['bmi', ['39156-5', '89270-3']],
  ['bp', ['85354-9', '35094-2', '8459-0', '76534-7', '55284-4', '8480-6']],
];
const SNOMED: [string, string[]][] = [
  ['vitalspanel', ['46680005']],
  ['resprate', ['86290005', '271625008', '271306003']],
  ['heartrate', ['271306003', '249043002', '444981005', '399017001', '251670001', '429525003', '429614003']],
  ['oxygensat', ['442476006', '431314004']],
  ['bodytemp', ['386725007', '276885007', '300076005', '1222808002', '364246006', '307047009', '708499008', '431598003', '698831002', '698832009', '415882003', '415974002', '415929009', '415945006']],
  ['bodyheight', ['1153637007', '1162419008', '50373000', '1162418000', '1230278008', '1162392001', '1162417005']],
  ['headcircum', ['363812007', '169876006', '1269262007', '363811000']],
  ['bodyweight', ['735395000', '425024002', '424927000', '784399000', '1162416001', '1162415002']],
  ['bmi', ['60621009']],
  ['bp', ['251076008', '163033001', '163035008', '386534000', '386536003', '271649006', '271650006', '407556006', '407554009', '716579001', '399304008']],
];

function first(codings: { system?: unknown; code?: unknown }[], system: string, table: [string, string[]][]): string | undefined {
  for (const [name, codes] of table) {
    if (codings.some((c) => c.system === system && typeof c.code === 'string' && codes.includes(c.code))) return SD + name;
  }
  return undefined;
}

/** The vital-signs profile an R4 Observation must also meet, if its code implies one. */
export function impliedProfiles(resource: Record<string, unknown>): string[] {
  if (resource.resourceType !== 'Observation') return [];
  const code = resource.code as { coding?: unknown } | undefined;
  if (!code || !Array.isArray(code.coding)) return [];
  const codings = code.coding.filter((c): c is { system?: unknown; code?: unknown } => typeof c === 'object' && c !== null);
  const hit = first(codings, 'http://loinc.org', LOINC) ?? first(codings, SNOMED_CT, SNOMED);
  return hit ? [hit] : [];
}
