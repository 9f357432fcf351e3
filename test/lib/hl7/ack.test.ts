import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ackMode, buildAck, buildNak, parseHl7, type Hl7Message } from '../../../lib/hl7';
import { issue } from '../../../lib/outcome';
import { ADT_A01, ROUND_TRIP } from './fixtures/samples';

const now = new Date(Date.UTC(2024, 2, 15, 14, 30, 5));
const msg = (t: string): Hl7Message => parseHl7(t).message as Hl7Message;
const ack = (t: string): Hl7Message => {
  const r = parseHl7(t);
  assert.ok(r.message, JSON.stringify(r.issues));
  assert.deepEqual(r.issues, [], 'our ACK must parse cleanly');
  return r.message;
};
const ORIGINAL = 'MSH|^~\\&|PAS|RXX01|EPR|RXX02|20240315143000||ADT^A08^ADT_A01|CTRL-1|P|2.4\rPID|1||9990000026^^^NHS^NH\r';

describe('buildAck: original mode (HL7 v2.5.1 2.9.2)', () => {
  for (const code of ['AA', 'AE', 'AR'] as const) {
    it(`${code}: MSA-2 = MSH-10, sender/receiver swapped, version echoed, injected clock and id`, () => {
      const a = ack(buildAck(msg(ADT_A01), code, { now, controlId: 'ACK0001' }));
      assert.equal(a.get('MSA-1'), code);
      assert.equal(a.get('MSA-2'), 'MSG00001');
      assert.equal(a.get('MSH-3'), 'EPR');
      assert.equal(a.get('MSH-4'), 'RXX01');
      assert.equal(a.get('MSH-5'), 'PAS');
      assert.equal(a.get('MSH-6'), 'RXX01');
      assert.equal(a.get('MSH-7'), '20240315143005+0000');
      assert.equal(a.getRaw('MSH-9'), 'ACK^A01^ACK');
      assert.equal(a.get('MSH-10'), 'ACK0001');
      assert.equal(a.get('MSH-11'), 'P');
      assert.equal(a.get('MSH-12'), '2.5.1');
      assert.equal(a.get('MSH-18'), 'UNICODE UTF-8');
    });
  }
  it('exact text for a v2.4 original', () => {
    assert.equal(buildAck(msg(ORIGINAL), 'AA', { now, controlId: 'A1' }),
      'MSH|^~\\&|EPR|RXX02|PAS|RXX01|20240315143005+0000||ACK^A08^ACK|A1|P|2.4\rMSA|AA|CTRL-1\r');
  });
  it('a default control id is new each time and fits MSH-10 (ST, 20)', () => {
    const a = ack(buildAck(msg(ORIGINAL), 'AA')).controlId as string;
    const b = ack(buildAck(msg(ORIGINAL), 'AA')).controlId as string;
    assert.notEqual(a, b);
    assert.ok(a.length <= 20 && a.length > 8);
  });
  it('uses the original\'s delimiters', () => {
    const t = buildAck(msg(ROUND_TRIP['custom delimiters MSH!$*@%'] as string), 'AE', { now, controlId: 'A!1', text: 'bad $ thing', issues: [issue('error', 'required', 'PID-3 missing', 'PID-3')] });
    assert.ok(t.startsWith('MSH!$*@%!RECV!FAC!SEND!FAC!'));
    const a = ack(t);
    assert.equal(a.get('MSH-10'), 'A!1');
    assert.equal(a.getRaw('MSH-9'), 'ACK$R01$ACK');
    assert.equal(a.get('MSA-3'), 'bad $ thing');
    assert.equal(a.get('ERR-3.1'), '101');
  });
});

describe('buildAck: ERR segments from issues', () => {
  it('v2.5+: ERR-2 location (ERL), ERR-3 HL7 table 0357, ERR-4 severity, ERR-8 text', () => {
    const issues = [
      issue('error', 'required', 'PID-3 is required', 'PID-3[2].1'),
      issue('warning', 'code-invalid', 'unknown sex code', 'PID-8'),
      issue('error', 'exception', 'store failed'),
      { ...issue('error', 'business-rule', 'duplicate'), details: { coding: [{ system: 'HL70357', code: '205', display: 'Duplicate key identifier' }] } },
    ];
    const a = ack(buildAck(msg(ADT_A01), 'AE', { now, controlId: 'X', issues }));
    const errs = a.segments('ERR');
    assert.equal(errs.length, 4);
    assert.equal(errs[0]?.getRaw('2'), 'PID^1^3^2^1');
    assert.equal(errs[0]?.getRaw('3'), '101^Required field missing^HL70357');
    assert.equal(errs[0]?.get('4'), 'E');
    assert.equal(errs[0]?.get('8'), 'PID-3 is required');
    assert.equal(errs[1]?.getRaw('2'), 'PID^1^8^1');
    assert.equal(errs[1]?.get('3.1'), '103');
    assert.equal(errs[1]?.get('4'), 'W');
    assert.equal(errs[2]?.get('2'), undefined);
    assert.equal(errs[2]?.get('3.1'), '207');
    assert.equal(errs[3]?.get('3.1'), '205');
  });
  it('before v2.5: ERR-1 (ELD) segment^sequence^field^code&text&table', () => {
    const a = ack(buildAck(msg(ORIGINAL), 'AE', { now, controlId: 'X', issues: [issue('error', 'required', 'missing', 'PID-3')] }));
    assert.equal(a.getRaw('ERR-1'), 'PID^1^3^101&Required field missing&HL70357');
  });
  it('AE with only text still carries an ERR (ERR-3/4 are required in v2.5)', () => {
    const a = ack(buildAck(msg(ADT_A01), 'AR', { now, controlId: 'X', text: 'store unavailable' }));
    assert.equal(a.get('ERR-3.1'), '207');
    assert.equal(a.get('ERR-8'), 'store unavailable');
    assert.equal(a.get('MSA-3'), 'store unavailable');
  });
  it('v2.7+: no MSA-3 (withdrawn)', () => {
    const a = ack(buildAck(msg(ROUND_TRIP['v2.7 truncation char'] as string), 'AE', { now, controlId: 'X', text: 'nope' }));
    assert.equal(a.get('MSA-3'), undefined);
    assert.equal(a.get('ERR-8'), 'nope');
    assert.equal(a.get('MSH-2'), '^~\\&#');
  });
  it('diagnostics with delimiters are escaped; ERR count is capped', () => {
    const many = Array.from({ length: 500 }, (_, i) => issue('error', 'value', `bad|value^${i}`, 'OBX-5'));
    const a = ack(buildAck(msg(ADT_A01), 'AE', { now, controlId: 'X', issues: many }));
    assert.equal(a.segments('ERR').length, 50);
    assert.equal(a.get('ERR-8'), 'bad|value^0');
  });
});

describe('buildAck: enhanced mode (HL7 v2.5.1 2.9.3)', () => {
  const enhanced = 'MSH|^~\\&|PAS|RXX01|EPR|RXX02|20240315143000||ADT^A01^ADT_A01|E-1|P|2.5.1|||AL|NE\rPID|1\r';
  it('ackMode reads MSH-15/16', () => {
    assert.equal(ackMode(msg(enhanced)), 'enhanced');
    assert.equal(ackMode(msg(ORIGINAL)), 'original');
    assert.equal(ackMode(msg(enhanced.replace('|AL|NE', '||AL'))), 'enhanced');
  });
  for (const code of ['CA', 'CE', 'CR'] as const) {
    it(`${code} commit acknowledgment`, () => {
      const a = ack(buildAck(msg(enhanced), code, { now, controlId: 'C1' }));
      assert.equal(a.get('MSA-1'), code);
      assert.equal(a.get('MSA-2'), 'E-1');
      assert.equal(a.getRaw('MSH-9'), 'ACK^A01^ACK');
      assert.equal(a.get('MSH-15'), undefined, 'an acknowledgment asks for no acknowledgment');
    });
  }
});

describe('buildNak: unparseable input', () => {
  const issues = [issue('error', 'structure', 'cannot parse')];
  const rows: [string, string, Record<string, string | undefined>][] = [
    ['recoverable MSH, broken body', 'MSH|^~\\&|PAS|RXX01|EPR|RXX02|2024||ADT^A01|C9|P|2.3\rPID|\x00\x01junk',
      { 'MSH-3': 'EPR', 'MSH-5': 'PAS', 'MSA-2': 'C9', 'MSH-12': '2.3', 'MSH-9': 'ACK^A01^ACK' }],
    ['bad MSH-2: default delimiters, nothing recovered', 'MSH|^^|PAS|RXX01', { 'MSH-3': undefined, 'MSA-2': undefined, 'MSH-12': '2.5.1' }],
    ['empty input', '', { 'MSA-2': undefined, 'MSH-12': '2.5.1', 'MSH-9': 'ACK' }],
    ['binary junk', '\x00\xff\x0b\x1c\x0d', { 'MSA-2': undefined }],
    ['custom delimiters recovered', 'MSH!$*@%!A!B!C!D!!!ADT$A01!Z1!P!2.5.1', { 'MSH-3': 'C', 'MSA-2': 'Z1', 'MSH-1': '!' }],
    ['MLLP start byte before MSH', '\x0bMSH|^~\\&|PAS|RXX01|||||ADT^A01|C7|P|2.4', { 'MSA-2': 'C7', 'MSH-5': 'PAS' }],
  ];
  for (const [name, raw, want] of rows) {
    it(name, () => {
      const a = ack(buildNak(raw, 'AR', issues, { now, controlId: 'N1' }));
      assert.equal(a.get('MSA-1'), 'AR');
      assert.equal(a.get('MSH-10'), 'N1');
      for (const [p, v] of Object.entries(want)) assert.equal(a.get(p), v, p);
      assert.ok(a.segments('ERR').length >= 1);
    });
  }
  it('never echoes control characters or an overlong field', () => {
    const t = buildNak(`MSH|^~\\&|${'A'.repeat(100000)}|B\x00C|||||ADT^A01|X|P|2.5`, 'AE', issues, { now, controlId: 'N2' });
    assert.ok(t.length < 1000);
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\x00-\x0c\x0e-\x1f]/.test(t));
  });
});
