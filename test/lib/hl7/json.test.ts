import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromJSON, parseHl7 } from '../../../lib/hl7';
import { hasErrors } from '../../../lib/outcome';
import { ADT_A01, ROUND_TRIP } from './fixtures/samples';

describe('toJSON / fromJSON (msg.hl7, DESIGN.md §2)', () => {
  for (const [name, text] of Object.entries(ROUND_TRIP)) {
    it(`fromJSON(toJSON(m)) byte-identical: ${name}`, () => {
      const m = parseHl7(text).message;
      assert.ok(m);
      // Through a JSON string, as Node-RED deep-clones and as it would arrive over HTTP/MQTT.
      const json = JSON.parse(JSON.stringify(m.toJSON()));
      const back = fromJSON(json);
      assert.ok(back.message, JSON.stringify(back.issues));
      assert.equal(back.message.toString(), text);
    });
  }
  it('is readable: segments[i][n] is field n, MSH-n included', () => {
    const j = parseHl7(ADT_A01).message!.toJSON();
    assert.equal(j.type, 'ADT^A01');
    assert.equal(j.controlId, 'MSG00001');
    assert.equal(j.version, '2.5.1');
    assert.equal(j.charset, 'UNICODE UTF-8');
    assert.equal(j.eol, '\r');
    const msh = j.segments[0]!;
    assert.equal(msh[1], '|');
    assert.equal(msh[2], '^~\\&');
    assert.equal(msh[9], 'ADT^A01^ADT_A01');
    assert.equal(msh[10], 'MSG00001');
    const pid = j.segments[2]!;
    assert.equal(pid[0], 'PID');
    assert.equal(pid[3], '9990000018^^^NHS^NH~RXX1234567^^^RXX01^MR');
  });
  it('mixed or missing terminators become a per-segment list', () => {
    const j = parseHl7(ROUND_TRIP['no trailing terminator'] as string).message!.toJSON();
    assert.deepEqual(j.eol, ['\r', '']);
  });
  it('omits absent header values rather than writing undefined', () => {
    const j = parseHl7('MSH|^~\\&|A|B|C|D|20240101||ACK|X1|P|2.5\r').message!.toJSON();
    assert.equal('charset' in j, false);
    assert.equal(j.type, 'ACK');
  });
  it('edits to segments are serialized (a function node may change msg.hl7)', () => {
    const j = parseHl7(ADT_A01).message!.toJSON();
    j.segments[2]![8] = 'M';
    const m = fromJSON(j).message!;
    assert.equal(m.get('PID-8'), 'M');
    assert.equal(m.toString(), ADT_A01.replace('|19800101|F|', '|19800101|M|'));
  });
  const bad: [string, unknown][] = [
    ['null', null],
    ['string', 'MSH|...'],
    ['no segments', { type: 'ADT^A01' }],
    ['segment not an array', { segments: ['MSH|^~\\&'] }],
    ['field not a string', { segments: [['MSH', '|', '^~\\&', 5]] }],
    ['no MSH', { segments: [['PID', '1']] }],
    ['bad eol', { segments: [['MSH', '|', '^~\\&']], eol: 'X' }],
    ['bad eol list', { segments: [['MSH', '|', '^~\\&']], eol: ['\t'] }],
  ];
  for (const [name, value] of bad) {
    it(`rejects ${name} with an issue`, () => {
      const r = fromJSON(value);
      assert.equal(r.message, undefined);
      assert.ok(hasErrors(r.issues));
    });
  }
  it('a JSON MSH with broken delimiters comes back with parse issues', () => {
    const r = fromJSON({ segments: [['MSH', '|', '^^']], eol: '\r' });
    assert.equal(r.message, undefined);
    assert.equal(r.issues[0]?.expression?.[0], 'MSH-2');
  });
});

describe('toJSON / fromJSON: a bare second MSH line (regression)', () => {
  // Found by the property tests: `MSH` alone on a line became `["MSH", "|"]`, serialized `MSH|`.
  for (const tail of ['MSH', 'MSH\r', 'MSH|\r']) {
    it(JSON.stringify(tail), () => {
      const text = `MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\r${tail}`;
      const m = parseHl7(text).message!;
      assert.equal(fromJSON(JSON.parse(JSON.stringify(m.toJSON()))).message?.toString(), text);
    });
  }
});
