/**
 * Message-structure check (lib/hl7/structure.ts, hazard HAZ-008 C8): required segments per HL7 v2
 * abstract message syntax, by MSH-9.3 or by message type and trigger event.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseHl7 } from '../../../lib/hl7';
import { checkStructure, messageStructure } from '../../../lib/hl7/structure';
import { ADT_A01 } from './fixtures/samples';

const msg = (text: string) => parseHl7(text).message!;
const without = (text: string, seg: string): string => text.split('\r').filter((s) => !s.startsWith(`${seg}|`)).join('\r');
const missing = (text: string): string[] => checkStructure(msg(text)).map((i) => i.expression![0]!);

describe('HL7 v2 message structure: required segments', () => {
  it('a complete ADT^A01 passes; each of EVN, PID and PV1 missing is one error naming the segment', () => {
    assert.deepEqual(checkStructure(msg(ADT_A01)), []);
    for (const seg of ['EVN', 'PID', 'PV1']) {
      const issues = checkStructure(msg(without(ADT_A01, seg)));
      assert.equal(issues.length, 1, seg);
      assert.equal(issues[0]!.severity, 'error');
      assert.equal(issues[0]!.code, 'required');
      assert.deepEqual(issues[0]!.expression, [seg]);
      assert.match(issues[0]!.diagnostics!, new RegExp(`ADT\\^A01 \\(ADT_A01\\) requires a ${seg} segment`));
    }
    assert.deepEqual(missing(without(without(ADT_A01, 'PID'), 'PV1')), ['PID', 'PV1']);
  });

  it('the structure comes from MSH-9.3, else from the trigger event (A04 → ADT_A01, A40 → ADT_A39 needs MRG)', () => {
    const a04 = ADT_A01.replace('ADT^A01^ADT_A01', 'ADT^A04');
    assert.equal(messageStructure(msg(a04)), 'ADT_A01');
    assert.deepEqual(missing(without(a04, 'PID')), ['PID']);
    const a40 = 'MSH|^~\\&|PAS|RXX01|EPR|RXX01|20240315143000||ADT^A40|M40|P|2.4\rEVN|A40|20240315143000\rPID|1||9990000018^^^NHS^NH';
    assert.equal(messageStructure(msg(a40)), 'ADT_A39');
    assert.deepEqual(missing(a40), ['MRG']);
    assert.deepEqual(missing(`${a40}\rMRG|RXX999^^^RXX01^MR`), []);
  });

  it('ORU^R01 needs an OBR (PID and OBX are optional there); ORM^O01 an ORC; ACK an MSA', () => {
    const oru = 'MSH|^~\\&|LAB|RXX01|EPR|RXX01|20240315||ORU^R01^ORU_R01|L1|P|2.4\rPID|1||9990000018^^^NHS^NH\rOBX|1|NM|HB^Haemoglobin^L||130|g/L';
    assert.deepEqual(missing(oru), ['OBR']);
    assert.deepEqual(missing(oru.replace('\rOBX', '\rOBR|1|||FBC^Full blood count^L\rOBX')), []);
    assert.deepEqual(missing('MSH|^~\\&|A|B|C|D|20240315||ORM^O01|O1|P|2.4\rPID|1'), ['ORC']);
    assert.deepEqual(missing('MSH|^~\\&|A|B|C|D|20240315||ACK^A01^ACK|K1|P|2.4'), ['MSA']);
  });

  it('a message type it does not know is not checked (nothing refused on a guess)', () => {
    assert.equal(messageStructure(msg('MSH|^~\\&|A|B|C|D|20240315||ZZZ^Z01|Z1|P|2.4')), undefined);
    assert.deepEqual(checkStructure(msg('MSH|^~\\&|A|B|C|D|20240315||ZZZ^Z01|Z1|P|2.4')), []);
    assert.deepEqual(checkStructure(msg('MSH|^~\\&|A|B|C|D|20240315||ADT|Z1|P|2.4')), [], 'no trigger event, no structure');
  });
});
