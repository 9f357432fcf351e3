import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseHl7, HL7_NULL, Hl7Message } from '../../../lib/hl7';
import { hasErrors } from '../../../lib/outcome';
import { ADT_A01, ROUND_TRIP } from './fixtures/samples';

function parsed(text: string): Hl7Message {
  const r = parseHl7(text);
  assert.ok(r.message, `expected a message, issues: ${JSON.stringify(r.issues)}`);
  return r.message;
}

describe('parseHl7: byte-identical round trip', () => {
  for (const [name, text] of Object.entries(ROUND_TRIP)) {
    it(name, () => {
      const r = parseHl7(text);
      assert.ok(r.message);
      assert.equal(hasErrors(r.issues), false, JSON.stringify(r.issues));
      assert.equal(r.message.toString(), text);
    });
  }
});

describe('parseHl7: delimiters from MSH-1/MSH-2', () => {
  const table: [string, string, string | undefined][] = [
    ['MSH-1', '|', undefined],
    ['MSH-2', '^~\\&', undefined],
    ['MSH-9.1', 'ADT', undefined],
    ['PID-5.1', 'TESTPATIENT', undefined],
  ];
  for (const [path, want] of table) {
    it(`standard ${path}`, () => assert.equal(parsed(ADT_A01).get(path), want));
  }
  const custom = parsed(ROUND_TRIP['custom delimiters MSH!$*@%'] as string);
  const rows: [string, string | undefined][] = [
    ['MSH-1', '!'],
    ['MSH-2', '$*@%'],
    ['MSH-9', 'ORU$R01$ORU_R01'],
    ['MSH-9.2', 'R01'],
    ['MSH-10', 'X3'],
    ['PID-3[1].1', '9000000009'],
    ['PID-3[2].4', 'RXX'],
    ['PID-5.2', 'JOHN'],
    // a component with sub-components comes back encoded (no delimiter meaning lost)
    ['OBX-5.1', 'Value with @F@ and @S@ escapes%and sub'],
    ['OBX-5.1.2', 'and sub'],
    ['OBX-5.1.1', 'Value with ! and $ escapes'],
  ];
  for (const [path, want] of rows) {
    it(`custom MSH!$*@% ${path}`, () => assert.equal(custom.get(path), want));
  }
  it('custom delimiters: type uses the message\'s component separator only internally', () => {
    assert.equal(custom.type, 'ORU^R01');
    assert.deepEqual(custom.delimiters, { field: '!', component: '$', repetition: '*', escape: '@', subcomponent: '%' });
  });
  it('v2.7 five-character MSH-2 has a truncation character', () => {
    const m = parsed(ROUND_TRIP['v2.7 truncation char'] as string);
    assert.equal(m.delimiters.truncation, '#');
    assert.equal(m.get('MSH-2'), '^~\\&#');
    assert.equal(m.get('MSH-3'), 'A');
    assert.equal(m.get('PID-5.1'), 'LONGNAME#');
  });
});

describe('parseHl7: paths get', () => {
  const m = parsed(ADT_A01);
  const rows: [string, string | undefined][] = [
    ['MSH-3', 'PAS'],
    ['MSH-7', '20240315143000+0000'],
    ['MSH-9', 'ADT^A01^ADT_A01'],
    ['MSH-9.3', 'ADT_A01'],
    ['MSH-12', '2.5.1'],
    ['MSH-18', 'UNICODE UTF-8'],
    ['PID-3', '9990000018^^^NHS^NH'],
    ['PID-3[1]', '9990000018^^^NHS^NH'],
    ['PID-3.1', '9990000018'],
    ['PID-3[2].1', 'RXX1234567'],
    ['PID-3[2].5', 'MR'],
    ['PID-3[3].1', undefined],
    ['PID-3[1].9', undefined],
    ['PID-13[2].3', 'CP'],
    ['PID-99', undefined],
    ['PID-2', undefined],
    ['OBX-3.2', 'Body height'],
    ['OBX[2]-3.2', 'Body weight'],
    ['OBX[2]-5', '62.5'],
    ['OBX[3]-5', undefined],
    ['AL1-5', 'Rash & wheeze'],
    ['ZXY-2', 'Local data \\H\\bold\\N\\ \\.br\\ next line'],
    ['ZXY-3', HL7_NULL],
    ['ZZZ-1', undefined],
    ['not a path', undefined],
    ['PID-0', undefined],
    ['pid-3', undefined],
  ];
  for (const [path, want] of rows) it(`${path} → ${String(want)}`, () => assert.equal(m.get(path), want));

  it('getRaw keeps escapes and, for a field, all repetitions', () => {
    assert.equal(m.getRaw('AL1-5'), 'Rash \\T\\ wheeze');
    assert.equal(m.getRaw('PID-3'), '9990000018^^^NHS^NH~RXX1234567^^^RXX01^MR');
    assert.equal(m.getRaw('PID-3[2]'), 'RXX1234567^^^RXX01^MR');
  });
  it('getAll lists repetitions', () => {
    assert.deepEqual(m.getAll('PID-3.1'), ['9990000018', 'RXX1234567']);
    assert.deepEqual(m.getAll('PID-13.2'), ['PRN', 'ORN']);
    assert.deepEqual(m.getAll('PID-99'), []);
  });
  it('type, controlId, version, charset, event', () => {
    assert.equal(m.type, 'ADT^A01');
    assert.equal(m.event, 'A01');
    assert.equal(m.controlId, 'MSG00001');
    assert.equal(m.version, '2.5.1');
    assert.equal(m.charset, 'UNICODE UTF-8');
  });
  it('segments() lists in order, by name, with occurrences', () => {
    assert.deepEqual(m.segments().map((s) => s.name), ['MSH', 'EVN', 'PID', 'PD1', 'NK1', 'PV1', 'PV2', 'OBX', 'OBX', 'AL1', 'DG1', 'GT1', 'IN1', 'ZXY']);
    const obx = m.segments('OBX');
    assert.equal(obx.length, 2);
    assert.equal(obx[1]?.occurrence, 2);
    assert.equal(obx[1]?.get('3.1'), '29463-7');
    assert.equal(obx[1]?.getRaw('3'), '29463-7^Body weight^LN');
    assert.equal(m.segments('PID')[0]?.fieldCount, 29);
    assert.equal(m.get('PID-29'), 'N');
    assert.equal(m.segments('MSH')[0]?.fieldCount, 19);
  });
});

describe('parseHl7: empty vs HL7 null ""', () => {
  const m = parsed(ROUND_TRIP['HL7 null and empty'] as string);
  it('explicit null is "" and distinct from empty', () => {
    assert.equal(m.get('PID-5'), HL7_NULL);
    assert.equal(m.get('PID-8'), HL7_NULL);
    assert.equal(m.get('PID-6'), undefined);
    assert.equal(m.get('PID-2'), undefined);
  });
  it('setting "" writes an HL7 null, setting empty clears', () => {
    m.set('PID-6', HL7_NULL);
    m.set('PID-5', '');
    assert.equal(m.getRaw('PID-6'), '""');
    assert.equal(m.get('PID-5'), undefined);
    assert.equal(m.toString(), 'MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X7|P|2.5\rPID|1||9990000018^^^NHS^NH|||""||""\r');
  });
});

describe('Hl7Message.set', () => {
  const cases: [string, string, string, string][] = [
    // [path, value, segment before, segment after]
    ['PID-5.2', 'JOHN', 'PID|1||X||DOE^JANE', 'PID|1||X||DOE^JOHN'],
    ['PID-5.4', 'JR', 'PID|1||X||DOE^JANE', 'PID|1||X||DOE^JANE^^JR'],
    ['PID-3[2].1', '123', 'PID|1||X', 'PID|1||X~123'],
    ['PID-3[3].4.2', 'ODS', 'PID|1||X', 'PID|1||X~~^^^&ODS'],
    ['PID-3', 'Y', 'PID|1||X~Z', 'PID|1||Y~Z'],
    ['PID-8', 'F', 'PID|1', 'PID|1|||||||F'],
    ['PID-5.1', 'A|B^C~D&E\\F', 'PID|1||X||DOE', 'PID|1||X||A\\F\\B\\S\\C\\R\\D\\T\\E\\E\\F'],
    ['PID-5.1', 'line1\r\nline2', 'PID|1||X||DOE', 'PID|1||X||line1\\X0D\\\\X0A\\line2'],
    ['PID-5.1', 'keep \\.br\\ formatting', 'PID|1||X||DOE', 'PID|1||X||keep \\.br\\ formatting'],
  ];
  for (const [path, value, before, after] of cases) {
    it(`${path} = ${JSON.stringify(value)}`, () => {
      const head = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.5\r';
      const m = parsed(`${head}${before}\rZZZ|untouched\r`);
      m.set(path, value);
      assert.equal(m.toString(), `${head}${after}\rZZZ|untouched\r`);
      assert.equal(m.get(path), value.includes('\\.br\\') ? value : value);
    });
  }

  it('changes only the touched field: every other byte stays identical', () => {
    const text = ROUND_TRIP['mixed terminators'] as string;
    const m = parsed(text);
    m.set('PID-1', '2');
    assert.equal(m.toString(), text.replace('PID|1|', 'PID|2|'));
    m.set('EVN-1', 'A01');
    assert.equal(m.toString(), text.replace('PID|1|', 'PID|2|').replace('EVN|A08', 'EVN|A01'));
  });
  it('set on MSH updates type and control id', () => {
    const m = parsed(ADT_A01);
    m.set('MSH-9.2', 'A08');
    m.set('MSH-10', 'NEW1');
    assert.equal(m.type, 'ADT^A08');
    assert.equal(m.controlId, 'NEW1');
    assert.equal(m.toString(), ADT_A01.replace('ADT^A01^ADT_A01|MSG00001', 'ADT^A08^ADT_A01|NEW1'));
  });
  it('set uses the message\'s own delimiters', () => {
    const m = parsed(ROUND_TRIP['custom delimiters MSH!$*@%'] as string);
    m.set('PID-5.1', 'O!BRIEN$X');
    assert.equal(m.getRaw('PID-5'), 'O@F@BRIEN@S@X$JOHN');
    assert.equal(m.get('PID-5.1'), 'O!BRIEN$X');
  });
  it('appends a missing segment, keeping the trailing-terminator style', () => {
    const m = parsed('MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.5\rPID|1');
    m.set('ZNH-2', 'v');
    assert.equal(m.toString(), 'MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.5\rPID|1\rZNH||v');
    m.set('ZNH[2]-1', 'w');
    assert.equal(m.segments('ZNH').length, 2);
    assert.equal(m.get('ZNH[2]-1'), 'w');
  });
  it('setRaw writes encoded text at the addressed level, whole field without [n]', () => {
    const m = parsed('MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.5\rPID|1||X~Y');
    m.setRaw('PID-3', 'A^^^NHS~B');
    assert.equal(m.getRaw('PID-3'), 'A^^^NHS~B');
    m.setRaw('PID-5', 'DOE^JANE');
    assert.equal(m.get('PID-5.2'), 'JANE');
    assert.throws(() => m.setRaw('PID-5.1', 'A^B'), { code: 'HL7_BAD_VALUE' });
    assert.throws(() => m.setRaw('PID-5', 'A|B'), { code: 'HL7_BAD_VALUE' });
  });
  it('rejects bad paths, MSH-1/MSH-2, non-string values, impossible occurrences', () => {
    const m = parsed(ADT_A01);
    assert.throws(() => m.set('nonsense', 'x'), { code: 'HL7_BAD_PATH' });
    assert.throws(() => m.set('MSH-1', '#'), { code: 'HL7_READ_ONLY' });
    assert.throws(() => m.set('MSH-2', '$*@%'), { code: 'HL7_READ_ONLY' });
    assert.throws(() => m.set('PID-3', 5 as unknown as string), { code: 'HL7_BAD_VALUE' });
    assert.throws(() => m.set('OBX[5]-1', 'x'), { code: 'HL7_BAD_PATH' });
    assert.equal(m.toString(), ADT_A01);
  });
});

describe('parseHl7: structural problems are issues, never throws', () => {
  const cases: [string, unknown, string, boolean][] = [
    // [name, input, expected issue expression or diagnostics fragment, message expected]
    ['empty string', '', 'empty', false],
    ['whitespace only', ' \r\n ', 'empty', false],
    ['not a string', 42, 'empty', false],
    ['no MSH', 'PID|1||X\r', 'MSH', false],
    ['batch header', 'FHS|^~\\&\rMSH|^~\\&|||||||ADT^A01|1|P|2.5\r', 'batch', false],
    ['lone MSH', 'MSH', 'MSH-2', false],
    ['MSH| only', 'MSH|', 'MSH-2', false],
    ['MSH-2 empty', 'MSH||A', 'MSH-2', false],
    ['MSH-2 too short (strict parsing: see lenient.test.ts for the lenient default)', 'MSH|^~|A', 'MSH-2', false],
    ['MSH-2 repeats a delimiter', 'MSH|^^\\&|A', 'MSH-2', false],
    ['alphanumeric separator', 'MSHA^~\\&A', 'MSH-2', false],
    ['MSH-9 missing', 'MSH|^~\\&|A|B|C|D|20240101|||X1|P|2.5\r', 'MSH-9', true],
    ['MSH-10 missing', 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01||P|2.5\r', 'MSH-10', true],
    ['MSH-12 missing', 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P\r', 'MSH-12', true],
    ['bad segment id', 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\rpid|1\r', 'segment[2]', true],
    ['two MSH', 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\rMSH|^~\\&|A|B|C|D|20240101||ADT^A01|X2|P|2.5\r', 'segment[2]', true],
    ['MLLP framing inside', 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\r\x0bPID|1\x1c\r', 'control', true],
  ];
  for (const [name, input, frag, hasMessage] of cases) {
    it(name, () => {
      const r = parseHl7(input as string, { strict: name.includes('strict') });
      assert.equal(r.message !== undefined, hasMessage);
      assert.ok(hasErrors(r.issues), 'expected an error issue');
      const hit = r.issues.some((i) => (i.expression ?? []).includes(frag) || (i.diagnostics ?? '').toLowerCase().includes(frag.toLowerCase()));
      assert.ok(hit, `no issue mentioning ${frag}: ${JSON.stringify(r.issues)}`);
      for (const i of r.issues) assert.ok(i.severity && i.code && i.diagnostics, 'OperationOutcome issue shape');
    });
  }
  it('a missing trigger event is only a warning; an ACK needs none', () => {
    const r = parseHl7('MSH|^~\\&|A|B|C|D|20240101||ADT|X1|P|2.5\r');
    assert.equal(hasErrors(r.issues), false);
    assert.equal(r.issues[0]?.expression?.[0], 'MSH-9.2');
    assert.deepEqual(parseHl7('MSH|^~\\&|A|B|C|D|20240101||ACK|X1|P|2.5\rMSA|AA|1\r').issues, []);
  });
  it('diagnostics never echo field contents', () => {
    const r = parseHl7('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\rSECRETNAME SMITH\r');
    assert.ok(r.issues.length > 0);
    assert.ok(!JSON.stringify(r.issues).includes('SMITH'));
  });
});

describe('parseHl7: hostile and oversized input', () => {
  const head = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5.1\r';
  it('1 MB single field: parses, reads, round-trips', () => {
    const big = 'x'.repeat(1024 * 1024);
    const text = `${head}OBX|1|ED|||${big}\r`;
    const t0 = Date.now();
    const m = parsed(text);
    assert.equal(m.get('OBX-5')?.length, big.length);
    assert.equal(m.toString(), text);
    assert.ok(Date.now() - t0 < 2000);
  });
  it('100k segments: parses in well under a few seconds, issue list capped', () => {
    const text = head + 'NTE|1|x\r'.repeat(100000);
    const t0 = Date.now();
    const m = parsed(text);
    assert.equal(m.segments('NTE').length, 100000);
    assert.equal(m.get('NTE[100000]-2'), 'x');
    assert.equal(m.toString(), text);
    const junk = parseHl7(head + 'bad\r'.repeat(100000));
    assert.ok(junk.issues.length <= 52, `issues capped, got ${junk.issues.length}`);
    assert.match(junk.issues[junk.issues.length - 1]?.diagnostics ?? '', /further issues/);
    assert.ok(Date.now() - t0 < 5000);
  });
  it('binary junk: issues, no crash', () => {
    let seed = 7;
    const bytes = Buffer.alloc(64 * 1024);
    for (let i = 0; i < bytes.length; i++) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; bytes[i] = seed & 0xff; }
    const r1 = parseHl7(bytes.toString('latin1'));
    assert.equal(r1.message, undefined);
    assert.ok(hasErrors(r1.issues));
    const r2 = parseHl7(head + bytes.toString('latin1'));
    assert.ok(hasErrors(r2.issues));
  });
  it('many escape characters and delimiters do not blow up get', () => {
    const text = `${head}OBX|1|ST|||${'\\'.repeat(200000)}^${'~'.repeat(1000)}\r`;
    const m = parsed(text);
    assert.equal(typeof m.get('OBX-5.1'), 'string');
    assert.equal(m.get('OBX-5[1000].1'), undefined);
  });
  it('deep path numbers are bounded', () => {
    const m = parsed(head);
    assert.equal(m.get('PID-3[999999999]'), undefined);
    assert.throws(() => m.set('ZZZ-999999999', 'x'), { code: 'HL7_BAD_PATH' });
  });
});

describe('parseHl7: half-delivered input (every prefix of a real message)', () => {
  it('never throws; any message it returns serializes back to exactly the prefix', () => {
    let withMessage = 0;
    for (let n = 0; n <= ADT_A01.length; n++) {
      const prefix = ADT_A01.slice(0, n);
      const r = parseHl7(prefix);
      if (r.message) {
        withMessage++;
        assert.equal(r.message.toString(), prefix);
      } else {
        assert.ok(hasErrors(r.issues), `prefix ${n}: no message and no error`);
      }
    }
    assert.ok(withMessage > 1000);
  });
  it('a prefix cut before MSH-12 is an error, not a silently accepted message', () => {
    const cut = ADT_A01.slice(0, ADT_A01.indexOf('|P|2.5.1') + 2);
    assert.ok(hasErrors(parseHl7(cut).issues));
  });
});
