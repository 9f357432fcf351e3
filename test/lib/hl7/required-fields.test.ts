/**
 * Required-field check (lib/hl7/required-fields.ts, hazard HAZ-008 C9): each field HL7 v2.5.1
 * marks R, per segment, with the version differences 2.3–2.5.1, the HL7 null, repeated
 * segments, and bad input. Expected rows are written out here, not read from the module, so a
 * changed table fails a test.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePath, parseHl7, type Hl7Segment } from '../../../lib/hl7';
import { checkRequiredFields, fieldState, REQUIRED_FIELDS } from '../../../lib/hl7/required-fields';
import { ADT_A01 } from './fixtures/samples';
import { message } from './fixtures/arbitraries';

const msg = (text: string) => {
  const r = parseHl7(text);
  assert.ok(r.message, 'parses');
  return r.message;
};
const at = (text: string): string[] => checkRequiredFields(msg(text)).map((i) => i.expression?.[0] ?? '(count)');

/**
 * `text` with field `field` of the `occurrence`-th `seg` segment replaced by `raw` (encoded), or
 * with the segment cut just before that field when `raw` is null. MSH-n is piece n-1.
 */
function withField(text: string, seg: string, field: number, raw: string | null, occurrence = 1): string {
  let k = 0;
  const lines = text.split('\r').map((line) => {
    if (!line.startsWith(`${seg}|`) || ++k !== occurrence) return line;
    const parts = line.split('|');
    const i = seg === 'MSH' ? field - 1 : field;
    if (raw === null) return parts.slice(0, i).join('|');
    while (parts.length <= i) parts.push('');
    parts[i] = raw;
    return parts.join('|');
  });
  assert.equal(k >= occurrence, true, `${seg}[${occurrence}] is in the base message`);
  return lines.join('\r');
}

// Synthetic messages (fictional people, NHS numbers from the 999 test range), each complete.
const ORU_R01 = [
  'MSH|^~\\&|LIMS|RXX01|EPR|RXX01|20260115093000+0000||ORU^R01^ORU_R01|LAB1|P|2.5.1',
  'PID|1||9990000018^^^NHS^NH||TESTPATIENT^JANE',
  'ORC|RE|PL1|FL1',
  'OBR|1|PL1|FL1|U&E^Urea and electrolytes^L|||20260115090000+0000',
  'OBX|1|NM|K^Potassium^L||4.2|mmol/L|3.5-5.3|N|||F',
  'OBX|2|NM|NA^Sodium^L||140|mmol/L|133-146|N|||F',
].join('\r');
const REF_I12 = [
  'MSH|^~\\&|GPSYS|Y12345|EPR|RXX01|20260115093000+0000||REF^I12^REF_I12|REF1|P|2.5.1',
  'RF1|P^Pending^HL70283|R^Routine^HL70280|Med^Medical^HL70281||O^Outpatient^HL70284|REF1^Y12345',
  'PRD|RP^Referring Provider^HL70286|REFERRER^RITA^^^DR',
  'PID|1||9990000018^^^NHS^NH||TESTPATIENT^JANE',
].join('\r');
const ADT_A40 = [
  'MSH|^~\\&|PAS|RXX01|EPR|RXX01|20240315143000+0000||ADT^A40^ADT_A39|M40|P|2.5.1',
  'EVN|A40|20240315143000+0000',
  'PID|1||9990000018^^^NHS^NH||TESTPATIENT^JANE',
  'MRG|RXX999^^^RXX01^MR',
].join('\r');
const ACK_251 = [
  'MSH|^~\\&|EPR|RXX01|PAS|RXX01|20240315143001+0000||ACK^A01^ACK|K1|P|2.5.1',
  'MSA|AE|MSG00001',
  'ERR||PID^1^3|101^Required field missing^HL70357|E',
].join('\r');
const ACK_24 = [
  'MSH|^~\\&|EPR|RXX01|PAS|RXX01|20240315143001||ACK^A01|K2|P|2.4',
  'MSA|AE|MSG00001',
  'ERR|PID^1^3^101',
].join('\r');

describe('HL7 v2 required fields (HAZ-008 C9)', () => {
  it('complete synthetic messages pass: ADT^A01 (with NK1), ORU^R01, REF^I12, ADT^A40, ACK in v2.5.1 and v2.4', () => {
    for (const [name, text] of Object.entries({ ADT_A01, ORU_R01, REF_I12, ADT_A40, ACK_251, ACK_24 })) {
      assert.deepEqual(checkRequiredFields(msg(text)), [], name);
    }
  });

  it('the table covers the segments the suite reads, each naming its HL7 v2.5.1 section', () => {
    assert.deepEqual(Object.keys(REQUIRED_FIELDS).sort(), ['ERR', 'EVN', 'MRG', 'MSA', 'MSH', 'NK1', 'OBR', 'OBX', 'ORC', 'PID', 'PRD', 'PV1', 'RF1']);
    for (const [seg, rule] of Object.entries(REQUIRED_FIELDS)) assert.match(rule.section, /^\d{1,2}\.\d+\.\d+$/, seg);
  });

  // One row per required field: the complete message it is taken out of.
  const ROWS: [string, number, string][] = [
    ['MSH', 7, ADT_A01], ['MSH', 11, ADT_A01],
    ['EVN', 2, ADT_A01],
    ['PID', 3, ADT_A01], ['PID', 5, ADT_A01],
    ['NK1', 1, ADT_A01],
    ['PV1', 2, ADT_A01],
    ['MRG', 1, ADT_A40],
    ['ORC', 1, ORU_R01],
    ['OBR', 4, ORU_R01],
    ['OBX', 3, ORU_R01], ['OBX', 11, ORU_R01],
    ['RF1', 6, REF_I12],
    ['PRD', 1, REF_I12],
    ['MSA', 1, ACK_251], ['MSA', 2, ACK_251],
    ['ERR', 3, ACK_251], ['ERR', 4, ACK_251],
    ['ERR', 1, ACK_24],
  ];
  // How a field can be left without a value; each is one error naming the field, never its value.
  const EMPTY: [string, string | null, 'empty' | 'null'][] = [
    ['absent (the segment ends before it)', null, 'empty'],
    ['empty', '', 'empty'],
    ['only component separators', '^^^', 'empty'],
    ['only repetition and sub-component separators', '~&~', 'empty'],
    ['only spaces', '   ', 'empty'],
    ['the HL7 null ""', '""', 'null'],
    ['the HL7 null in every repetition and component', '""~""^""', 'null'],
  ];

  for (const [seg, field, base] of ROWS) {
    it(`${seg}-${field}: absent, empty, only delimiters, spaces or "" is one HL7_REQUIRED_FIELD error; any component valued passes`, () => {
      for (const [how, raw, state] of EMPTY) {
        if (raw === null && seg === 'MSH') continue; // cutting MSH before MSH-7/11 also cuts MSH-9..12 (a parse error instead)
        const issues = checkRequiredFields(msg(withField(base, seg, field, raw)));
        const mine = issues.filter((x) => x.expression?.[0] === `${seg}-${field}`);
        assert.equal(mine.length, 1, `${seg}-${field} ${how}: ${JSON.stringify(issues)}`);
        // Cutting the segment short also leaves its later required fields absent; nothing else.
        const others = issues.filter((x) => x !== mine[0]).map((x) => x.expression?.[0] ?? '');
        assert.ok(others.every((e) => raw === null && e.startsWith(`${seg}-`) && Number(e.slice(4)) > field), `${how}: ${others.join(', ')}`);
        const i = mine[0]!;
        assert.equal(i.severity, 'error');
        assert.equal(i.code, 'required');
        assert.deepEqual(i.expression, [`${seg}-${field}`]);
        assert.equal(i.extension?.[0]?.valueString, 'HL7_REQUIRED_FIELD');
        assert.match(i.diagnostics!, new RegExp(`^${seg}-${field} .+ is required \\(HL7 v2\\.5\\.1 ${REQUIRED_FIELDS[seg]!.section.replace(/\./g, '\\.')}\\) and ${state === 'null' ? 'is the HL7 null' : 'is empty'}`), how);
      }
      for (const raw of ['X', '^X', '""^X', '~X', 'A&B']) {
        assert.deepEqual(at(withField(base, seg, field, raw)), [], `${seg}-${field} = ${raw} is valued`);
      }
    });
  }

  it('repeated segments are located by occurrence (OBX[2]-11); an absent optional segment (NK1) is not an error', () => {
    assert.deepEqual(at(withField(ORU_R01, 'OBX', 11, '', 2)), ['OBX[2]-11']);
    assert.deepEqual(at(withField(withField(ORU_R01, 'OBX', 11, '', 2), 'OBX', 3, '""', 1)), ['OBX-3', 'OBX[2]-11']);
    const noNk1 = ADT_A01.split('\r').filter((s) => !s.startsWith('NK1|')).join('\r');
    assert.deepEqual(at(noNk1), []);
    const twoNk1 = ADT_A01.replace(/(NK1\|[^\r]*\r)/, '$1NK1||TESTPATIENT^SAM\r');
    assert.deepEqual(at(twoNk1), ['NK1[2]-1']);
  });

  it('OBX-2 (conditional) is required only while OBX-5 carries a value', () => {
    const noType = withField(ORU_R01, 'OBX', 2, '');
    assert.deepEqual(at(noType), ['OBX-2']);
    assert.match(checkRequiredFields(msg(noType))[0]!.diagnostics!, /OBX-2 Value Type is required .* while OBX-5 is valued/);
    assert.deepEqual(at(withField(noType, 'OBX', 5, '')), [], 'no value, no value type needed');
    assert.deepEqual(at(withField(noType, 'OBX', 5, '""')), [], 'a null value needs no type either');
  });

  it('version differences follow MSH-12: MSH-7 from 2.4, EVN-2 from 2.3.1, ERR-1 until 2.4, ERR-3/4 from 2.5', () => {
    const v = (text: string, version: string): string => withField(text, 'MSH', 12, version);
    const noMsh7 = withField(ADT_A01, 'MSH', 7, '');
    assert.deepEqual(at(v(noMsh7, '2.3')), [], 'MSH-7 is O in v2.3');
    assert.deepEqual(at(v(noMsh7, '2.3.1')), [], 'and in v2.3.1 (not R before v2.4)');
    for (const version of ['2.4', '2.5', '2.5.1', '2.6']) assert.deepEqual(at(v(noMsh7, version)), ['MSH-7'], version);
    const noEvn2 = withField(ADT_A01, 'EVN', 2, '');
    assert.deepEqual(at(v(noEvn2, '2.3')), [], 'EVN-2 is O in v2.3');
    assert.deepEqual(at(v(noEvn2, '2.3.1')), ['EVN-2']);
    assert.deepEqual(at(v(withField(ACK_251, 'ERR', 1, ''), '2.5.1')), [], 'ERR-1 is B from v2.5');
    assert.deepEqual(at(v(withField(ACK_24, 'ERR', 1, ''), '2.3')), ['ERR-1']);
    assert.deepEqual(at(v(ACK_24, '2.5')), ['ERR-3', 'ERR-4'], 'a v2.5 ERR needs the v2.5 fields');
  });

  it('an unknown MSH-12 checks only the fields R in every version 2.3–2.5.1', () => {
    const odd = withField(withField(withField(ADT_A01, 'MSH', 7, ''), 'EVN', 2, ''), 'PID', 3, '');
    assert.deepEqual(at(withField(odd, 'MSH', 12, '9.9')), ['PID-3']);
    assert.deepEqual(at(withField(odd, 'MSH', 12, '2.5.1^GBR')), ['MSH-7', 'EVN-2', 'PID-3'], 'MSH-12.1 is the version');
  });

  it('diagnostics carry the location and the field name, never a value from the message', () => {
    const text = withField(withField(ADT_A01, 'PID', 3, '""'), 'PV1', 2, '');
    const issues = checkRequiredFields(msg(text));
    assert.deepEqual(issues.map((i) => i.expression?.[0]), ['PID-3', 'PV1-2']);
    for (const i of issues) {
      for (const secret of ['TESTPATIENT', 'JANE', '9990000018', '19800101', 'LS1 4AP', 'RXX01']) assert.ok(!i.diagnostics!.includes(secret), `${i.diagnostics} holds ${secret}`);
    }
  });

  it("the message's own delimiters count: custom MSH-1/MSH-2 and a short MSH-2", () => {
    const custom = 'MSH!$*@%!A!B!C!D!20240101!!ADT$A08!X3!P!2.5.1\rEVN!A08!20240101\rPID!1!!$$$!!DOE$JOHN';
    assert.deepEqual(at(custom), ['PID-3'], 'PID-3 of only `$` is empty with `$` as the component separator');
    assert.deepEqual(at(custom.replace('PID!1!!$$$', 'PID!1!!^^^')), [], '`^` is data in this message');
    // `^~&` declares no escape character; `&` is the sub-component separator there.
    const short = 'MSH|^~&|A|B|C|D|20240101||ADT^A08|X4|P|2.5.1\rEVN|A08|20240101\rPID|1||&&~&||DOE^JOHN';
    assert.deepEqual(at(short), ['PID-3']);
  });

  it('bad input: junk lines and Z segments are skipped; 100,000 OBX without OBX-11 give 50 issues and a count, in linear time', () => {
    assert.deepEqual(at(`${ORU_R01}\rZXY|1||\r\rnot a segment|||`), []);
    const head = ORU_R01.split('\r').slice(0, 4).join('\r');
    const many = `${head}\r${Array.from({ length: 100_000 }, (_, i) => `OBX|${i + 1}|NM|K^Potassium^L||4.2|mmol/L|||||`).join('\r')}`;
    const m = msg(many);
    const t0 = performance.now();
    const issues = checkRequiredFields(m);
    // A generous bound on a shared 2-core machine: linear is ~100 ms, quadratic would be minutes.
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(issues.length, 51);
    assert.deepEqual(issues[0]!.expression, ['OBX-11']);
    assert.deepEqual(issues[49]!.expression, ['OBX[50]-11']);
    assert.equal(issues[50]!.diagnostics, '99950 further required fields are empty (not listed)');
    assert.equal(issues[50]!.severity, 'error');
    // One hostile field of a million delimiters is scanned once.
    const wide = withField(ADT_A01, 'PID', 3, '^'.repeat(1_000_000));
    const t1 = performance.now();
    assert.deepEqual(at(wide), ['PID-3']);
    assert.ok(performance.now() - t1 < 5000);
  });

  it('fieldState: valued, null, empty', () => {
    const d = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };
    const rows: [string | undefined, string][] = [
      [undefined, 'empty'], ['', 'empty'], ['^~&', 'empty'], [' ^ ', 'empty'], ['""', 'null'], [' "" ~""', 'null'],
      ['x', 'valued'], ['""^x', 'valued'], ['\\F\\', 'valued'], ['"', 'valued'], ['""""', 'valued'],
    ];
    for (const [raw, want] of rows) assert.equal(fieldState(raw, d), want, JSON.stringify(raw));
  });
});

describe('HL7 v2 required fields: the shipped examples', () => {
  it('every sample message in examples/** that parses without errors has its required fields', () => {
    const root = join(__dirname, '..', '..', '..', 'examples');
    let checked = 0;
    for (const dir of readdirSync(root)) {
      for (const file of readdirSync(join(root, dir)).filter((f) => f.endsWith('.json'))) {
        const nodes = JSON.parse(readFileSync(join(root, dir, file), 'utf8')) as Record<string, unknown>[];
        for (const n of nodes) {
          const texts = [n.payload, ...((n.props as { v?: unknown }[] | undefined) ?? []).map((p) => p.v)]
            .filter((v): v is string => typeof v === 'string' && v.startsWith('MSH'));
          for (const text of texts) {
            const r = parseHl7(text);
            // The deliberately broken samples (e.g. no MSH-10) are refused by the parser already.
            if (!r.message || r.issues.some((i) => i.severity === 'error')) continue;
            assert.deepEqual(checkRequiredFields(r.message), [], `${dir}/${file} ${String(n.id)}`);
            checked++;
          }
        }
      }
    }
    assert.ok(checked >= 10, `found the samples (${checked})`);
  });
});

describe('HL7 v2 required fields: generated messages', () => {
  it('any delimiters, any PID/PV1/OBX content: never throws; reports exactly the listed fields without a value', () => {
    fc.assert(fc.property(message({ withDeviations: true }), (g) => {
      const m = parseHl7(g.text).message;
      if (!m) return;
      const issues = checkRequiredFields(m);
      const reported = new Set(issues.map((i) => i.expression?.[0]));
      for (const i of issues) {
        assert.equal(i.severity, 'error');
        assert.equal(i.extension?.[0]?.valueString, 'HL7_REQUIRED_FIELD');
        const p = parsePath(i.expression![0]!);
        assert.ok(p && REQUIRED_FIELDS[p.segment]?.fields.some((f) => f.field === p.field), i.expression![0]);
        assert.notEqual(fieldState(m.getRaw(i.expression![0]!), m.delimiters), 'valued', `${i.expression![0]} is reported but valued`);
      }
      // Oracle for the fields required in every version and without a condition.
      for (const [seg, field] of [['PID', 3], ['PID', 5], ['PV1', 2], ['OBX', 3], ['OBX', 11]] as const) {
        const segs: Hl7Segment[] = m.segments(seg);
        for (const s of segs) {
          const at = `${seg}${s.occurrence === 1 ? '' : `[${s.occurrence}]`}-${field}`;
          const valued: boolean = fieldState(s.getRaw(String(field)), m.delimiters) === 'valued';
          if (issues.length <= 50) assert.equal(reported.has(at), !valued, at);
        }
      }
    }), { numRuns: Number(process.env.HL7_PROPERTY_RUNS ?? 300) });
  });
});
