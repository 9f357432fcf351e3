import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseHl7, splitBatch } from '../../../lib/hl7';
import { hasErrors } from '../../../lib/outcome';

const m = (id: string, eol = '\r'): string => `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|${id}|P|2.5.1${eol}PID|1||9990000018^^^NHS^NH${eol}`;

describe('splitBatch (HL7 v2.5.1 2.10.3)', () => {
  const rows: [string, string, string[], string | undefined][] = [
    // [name, text, control ids, issue fragment (undefined = clean)]
    ['file with one batch', `FHS|^~\\&|A\rBHS|^~\\&|A\r${m('1')}${m('2')}BTS|2\rFTS|1\r`, ['1', '2'], undefined],
    ['batch without file header', `BHS|^~\\&\r${m('1')}BTS|1\r`, ['1'], undefined],
    ['two batches', `FHS|^~\\&\rBHS|^~\\&\r${m('1')}BTS|1\rBHS|^~\\&\r${m('2')}${m('3')}BTS|2\rFTS|2\r`, ['1', '2', '3'], undefined],
    ['bare concatenated messages', m('1') + m('2') + m('3'), ['1', '2', '3'], undefined],
    ['trailer counts absent are accepted', `BHS|^~\\&\r${m('1')}BTS\r`, ['1'], undefined],
    ['empty batch', 'BHS|^~\\&\rBTS|0\r', [], undefined],
    ['LF terminators', `BHS|^~\\&\n${m('1', '\n')}BTS|1\n`, ['1'], undefined],
    ['BTS count mismatch (a message lost)', `BHS|^~\\&\r${m('1')}BTS|2\r`, ['1'], 'BTS-1'],
    ['FTS count mismatch', `FHS|^~\\&\rBHS|^~\\&\r${m('1')}BTS|1\rFTS|3\r`, ['1'], 'FTS-1'],
    ['truncated: no BTS', `BHS|^~\\&\r${m('1')}${m('2')}`, ['1', '2'], 'truncated'],
    ['truncated: no FTS', `FHS|^~\\&\rBHS|^~\\&\r${m('1')}BTS|1\r`, ['1'], 'truncated'],
    ['junk before first message', `garbage line\r${m('1')}`, ['1'], 'outside'],
    ['empty', '', [], 'empty'],
    ['no MSH at all', 'PID|1\r', [], 'outside'],
  ];
  for (const [name, text, ids, frag] of rows) {
    it(name, () => {
      const r = splitBatch(text);
      assert.deepEqual(r.messages.map((t) => parseHl7(t).message?.controlId), ids);
      if (frag === undefined) assert.deepEqual(r.issues, []);
      else {
        assert.ok(hasErrors(r.issues));
        assert.ok(r.issues.some((i) => (i.expression ?? []).includes(frag) || (i.diagnostics ?? '').includes(frag)), JSON.stringify(r.issues));
      }
    });
  }
  it('each message keeps its original bytes, terminators included', () => {
    const a = m('1', '\r\n');
    const b = m('2', '\n');
    const r = splitBatch(`BHS|^~\\&\r${a}${b}BTS|2\r`);
    assert.deepEqual(r.messages, [a, b]);
  });
  it('custom delimiters in the header are used for trailer counts', () => {
    const msg = 'MSH!$*@%!A!B!C!D!2024!!ADT$A01!Q1!P!2.5.1\r';
    const r = splitBatch(`BHS!$*@%\r${msg}BTS!1\r`);
    assert.deepEqual(r.issues, []);
    assert.equal(r.messages.length, 1);
  });
  it('10k-message batch splits quickly', () => {
    const t0 = Date.now();
    const r = splitBatch(`BHS|^~\\&\r${m('x').repeat(10000)}BTS|10000\r`);
    assert.equal(r.messages.length, 10000);
    assert.deepEqual(r.issues, []);
    assert.ok(Date.now() - t0 < 3000);
  });
});
