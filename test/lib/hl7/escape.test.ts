import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DELIMITERS, delimitersFrom, escapeHl7, unescapeHl7, type Delimiters } from '../../../lib/hl7';

const d = DEFAULT_DELIMITERS;
const custom = delimitersFrom('!', '$*@%#') as Delimiters;

describe('unescapeHl7 (HL7 v2.5.1 2.7)', () => {
  const rows: [string, string, Delimiters][] = [
    ['a\\F\\b', 'a|b', d],
    ['a\\S\\b', 'a^b', d],
    ['a\\T\\b', 'a&b', d],
    ['a\\R\\b', 'a~b', d],
    ['a\\E\\b', 'a\\b', d],
    ['\\F\\\\S\\\\T\\\\R\\\\E\\', '|^&~\\', d],
    ['\\X0D\\', '\r', d],
    ['\\X0D0A\\', '\r\n', d],
    ['\\X41\\', 'A', d],
    ['\\XC3A9\\', 'é', d], // valid UTF-8 bytes
    ['\\XE9\\', 'é', d], // not UTF-8: one ISO-8859-1 char per byte
    ['\\X4\\', '\\X4\\', d], // odd hex: kept literally
    ['\\XZZ\\', '\\XZZ\\', d],
    ['\\H\\bold\\N\\', '\\H\\bold\\N\\', d],
    ['a\\.br\\b', 'a\\.br\\b', d],
    ['\\.sp2\\ \\.in+4\\ \\.ti-2\\ \\.sk3\\ \\.ce\\ \\.fi\\ \\.nf\\', '\\.sp2\\ \\.in+4\\ \\.ti-2\\ \\.sk3\\ \\.ce\\ \\.fi\\ \\.nf\\', d],
    ['\\C2842\\ \\M2442\\ \\Zlocal\\', '\\C2842\\ \\M2442\\ \\Zlocal\\', d],
    ['unterminated \\F', 'unterminated \\F', d],
    ['stray \\ then \\F\\', 'stray \\ then |', d],
    ['\\P\\', '\\P\\', d], // no truncation character declared (pre-2.7)
    ['no escapes at all', 'no escapes at all', d],
    ['', '', d],
    ['a@F@b@S@c@T@d@R@e@E@f@P@g', 'a!b$c%d*e@f#g', custom],
    ['@X41@', 'A', custom],
  ];
  for (const [input, want, delims] of rows) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(unescapeHl7(input, delims), want));
  }
});

describe('escapeHl7', () => {
  const rows: [string, string, Delimiters][] = [
    ['a|b', 'a\\F\\b', d],
    ['a^b&c~d\\e', 'a\\S\\b\\T\\c\\R\\d\\E\\e', d],
    ['A&B', 'A\\T\\B', d], // hl7-standard rebuilds this as A~B
    ['x\ry\nz', 'x\\X0D\\y\\X0A\\z', d],
    ['keep \\.br\\ and \\H\\', 'keep \\.br\\ and \\H\\', d],
    ['C:\\temp', 'C:\\E\\temp', d],
    ['plain', 'plain', d],
    ['a!b$c%d*e@f#g', 'a@F@b@S@c@T@d@R@e@E@f@P@g', custom],
  ];
  for (const [input, want, delims] of rows) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(escapeHl7(input, delims), want));
  }
  it('unescape(escape(x)) === x for text with every delimiter, CR/LF and non-ASCII', () => {
    for (const x of ['|^~\\&', 'a\r\nb', 'MARÍA ØRN 中文', '\\\\', '\\F\\ literal', '#truncated#', '']) {
      assert.equal(unescapeHl7(escapeHl7(x, d), d), x);
      assert.equal(unescapeHl7(escapeHl7(x, custom), custom), x);
    }
  });
});

describe('delimitersFrom', () => {
  const bad: [string, string][] = [['', '^~\\&'], ['|', '^~\\'], ['|', '^~\\&#!'], ['|', '^~^&'], ['|', '^~|&'], ['A', '^~\\&'], ['|', '^~ &'], ['\r', '^~\\&']];
  for (const [fs, enc] of bad) it(`rejects ${JSON.stringify(fs + enc)}`, () => assert.equal(typeof delimitersFrom(fs, enc), 'string'));
  it('accepts 4 and 5 characters', () => {
    assert.deepEqual(delimitersFrom('|', '^~\\&'), { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' });
    assert.equal((delimitersFrom('|', '^~\\&#') as Delimiters).truncation, '#');
  });
});

describe('escapeHl7: a kept formatting escape never carries a raw delimiter (regression)', () => {
  // Found while writing the escape property (which now catches it too): `\Z…\` was kept verbatim even when its
  // body held a delimiter or CR, so set() could shift every following field or segment.
  it('\\Zx|y^z\\ is escaped, not kept', () => {
    const out = escapeHl7('\\Zx|y^z\\', d);
    assert.ok(!/[|^~&]/.test(out), out);
    assert.equal(unescapeHl7(out, d), '\\Zx|y^z\\');
  });
  it('set() of such a value leaves the next field in place', async () => {
    const { parseHl7 } = await import('../../../lib/hl7');
    const m = parseHl7('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\rPID|1|a|b\r').message!;
    m.set('PID-2', '\\Zx|y^z\\');
    const back = parseHl7(m.toString()).message!;
    assert.equal(back.get('PID-2'), '\\Zx|y^z\\');
    assert.equal(back.get('PID-3'), 'b');
  });
});
