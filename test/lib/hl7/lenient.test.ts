/**
 * Lenient parsing of real-world deviations (issue 9 item 4): each is accepted with a warning
 * naming it, round-trips byte for byte (text and msg.hl7 JSON), and is an error with `strict`.
 * Synthetic people only (test-range NHS number 9990000018).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAck, buildNak, canEncodeHl7, decodeHl7Bytes, encodeHl7Text, escapeHl7, fromJSON, looksLikeBatch, parseHl7, splitBatch, unescapeHl7, type Delimiters } from '../../../lib/hl7';
import { hasErrors, type Issue } from '../../../lib/outcome';

const NHS = '9990000018';
const FAMILY = 'TESTPATIENT';
const msh = (enc: string, id: string, v = '2.5.1'): string => `MSH|${enc}|LAB|RXX01|EPR|RXX01|20240315143000||ORU^R01^ORU_R01|${id}|P|${v}`;
const pid = `PID|1||${NHS}^^^NHS^NH||${FAMILY}^JANE`;
const obx = (value: string): string => `OBX|1|ST|CODE^Text||${value}`;

interface Row {
  name: string;
  text: string;
  /** Fragment every lenient warning / strict error for this deviation contains. */
  want: string[];
  /** Reads that must work on the lenient parse. */
  reads: [string, string | undefined][];
  /** Strict parse still returns a message (the MSH is usable), else none. */
  strictMessage: boolean;
}

const rows: Row[] = [
  {
    name: 'MSH-2 `^~&` (no escape character: `\\` is data)',
    text: `${msh('^~&', 'L1')}\r${pid}\r${obx('C:\\temp\\F\\x&sub')}\r`,
    want: ['MSH-2 declares 3 encoding characters', 'no escape character'],
    reads: [['MSH-2', '^~&'], ['MSH-10', 'L1'], ['PID-3.1', NHS], ['OBX-5.1.1', 'C:\\temp\\F\\x'], ['OBX-5.1.2', 'sub']],
    strictMessage: false,
  },
  {
    name: 'MSH-2 `^~\\` (no sub-component separator: `&` is data)',
    text: `${msh('^~\\', 'L2')}\r${pid}\r${obx('SMITH & SONS \\F\\ done')}\r`,
    want: ['MSH-2 declares 3 encoding characters', 'no sub-component separator'],
    reads: [['MSH-2', '^~\\'], ['PID-3.1', NHS], ['OBX-5', 'SMITH & SONS | done'], ['OBX-5.1.2', undefined]],
    strictMessage: false,
  },
  {
    name: 'MSH-2 `^` (component separator only: `~ \\ &` are data)',
    text: `${msh('^', 'L3')}\r${pid}~X\r${obx('a~b\\c&d')}\r`,
    want: ['MSH-2 declares 1 encoding character', 'no repetition separator, no escape character, no sub-component separator'],
    reads: [['MSH-2', '^'], ['PID-3[1].1', NHS], ['PID-5.2', 'JANE~X'], ['PID-3[2].1', undefined], ['OBX-5', 'a~b\\c&d']],
    strictMessage: false,
  },
  {
    name: 'MSH-2 `^~` (two characters)',
    text: `${msh('^~', 'L4')}\r${pid}\r`,
    want: ['MSH-2 declares 2 encoding characters'],
    reads: [['MSH-10', 'L4'], ['PID-3.1', NHS]],
    strictMessage: false,
  },
  {
    name: 'blank lines between segments',
    text: `${msh('^~\\&', 'L5')}\r\r${pid}\r\r\r${obx('x')}\r`,
    want: ['3 blank lines between segments'],
    reads: [['PID-3.1', NHS], ['OBX-5', 'x']],
    strictMessage: true,
  },
  {
    name: 'whitespace-only line between segments',
    text: `${msh('^~\\&', 'L6')}\r\n  \t\r\n${pid}\r\n`,
    want: ['1 blank line between segments'],
    reads: [['PID-3.1', NHS]],
    strictMessage: true,
  },
  {
    name: 'byte-order mark at the start',
    text: `\ufeff${msh('^~\\&', 'L7')}\r${pid}\r`,
    want: ['byte-order mark'],
    reads: [['MSH-10', 'L7'], ['PID-3.1', NHS]],
    strictMessage: true,
  },
  {
    name: 'MLLP start and end block around the message (a frame saved to a file)',
    text: `\u000b${msh('^~\\&', 'L8')}\r${pid}\r\u001c\r`,
    want: ['MLLP framing bytes'],
    reads: [['MSH-10', 'L8'], ['PID-3.1', NHS], ['PID-5.2', 'JANE']],
    strictMessage: true,
  },
  {
    name: 'MLLP end block glued to the last segment',
    text: `${msh('^~\\&', 'L9')}\r${pid}\u001c\r`,
    want: ['MLLP framing bytes'],
    reads: [['PID-5.2', 'JANE']],
    strictMessage: true,
  },
  {
    name: 'trailing whitespace after the last segment',
    text: `${msh('^~\\&', 'L10')}\r${pid}\r  \t\r\n\n`,
    want: ['whitespace after the last segment'],
    reads: [['PID-5.2', 'JANE']],
    strictMessage: true,
  },
  {
    name: 'blank lines before the MSH',
    text: `\r\n\r\n${msh('^~\\&', 'L11')}\r${pid}\r`,
    want: ['blank lines or whitespace before the MSH'],
    reads: [['MSH-10', 'L11']],
    strictMessage: true,
  },
  {
    name: 'everything at once: BOM, start block, short MSH-2, blank lines, end block, whitespace',
    text: `\ufeff\u000b${msh('^~&', 'L12')}\n\n${pid}\n${obx('C:\\x')}\n\u001c\r \n`,
    want: ['byte-order mark', 'MLLP framing bytes', 'MSH-2 declares 3', '1 blank line', 'whitespace after the last segment'],
    reads: [['MSH-10', 'L12'], ['PID-3.1', NHS], ['OBX-5', 'C:\\x']],
    strictMessage: false,
  },
];

const mentions = (issues: Issue[], frag: string): Issue[] => issues.filter((i) => (i.diagnostics ?? '').includes(frag));

describe('lenient parsing: each deviation accepted with a warning, byte-identical, strict rejects', () => {
  for (const r of rows) {
    describe(r.name, () => {
      it('parses with a warning naming the deviation and no error', () => {
        const p = parseHl7(r.text);
        assert.ok(p.message, JSON.stringify(p.issues));
        assert.equal(hasErrors(p.issues), false, JSON.stringify(p.issues));
        for (const frag of r.want) {
          const hit = mentions(p.issues, frag);
          assert.ok(hit.length > 0, `no warning mentioning "${frag}": ${JSON.stringify(p.issues)}`);
          for (const i of hit) assert.equal(i.severity, 'warning');
        }
        // Issues name the deviation, never the data.
        const all = JSON.stringify(p.issues);
        assert.ok(!all.includes(NHS) && !all.includes(FAMILY), all);
        for (const [path, want] of r.reads) assert.equal(p.message.get(path), want, path);
      });
      it('round-trips byte for byte: text, and msg.hl7 JSON through fromJSON', () => {
        const m = parseHl7(r.text).message!;
        assert.equal(m.toString(), r.text);
        const json = JSON.parse(JSON.stringify(m.toJSON()));
        assert.equal(json.segments[0][0], 'MSH', 'segments[0] stays the MSH');
        const back = fromJSON(json);
        assert.ok(back.message, JSON.stringify(back.issues));
        assert.equal(back.message.toString(), r.text);
        assert.deepEqual(back.issues, parseHl7(r.text).issues);
      });
      it('an edit elsewhere keeps the deviation bytes as they were', () => {
        const m = parseHl7(r.text).message!;
        m.set('PID-5.1', 'TESTPERSON');
        assert.equal(m.toString(), r.text.replace(`||${FAMILY}^`, '||TESTPERSON^'));
      });
      it('strict: an error with the reason, so the message is not accepted', () => {
        const p = parseHl7(r.text, { strict: true });
        assert.ok(hasErrors(p.issues));
        assert.equal(p.message !== undefined, r.strictMessage);
        const frag = r.strictMessage ? (r.want[0] as string) : 'MSH-2';
        const hit = p.issues.filter((i) => i.severity === 'error' && ((i.diagnostics ?? '').includes(frag) || (i.expression ?? []).includes(frag)));
        assert.ok(hit.length > 0, JSON.stringify(p.issues));
        assert.match(hit[0]?.diagnostics ?? '', /strict/);
        // fromJSON passes strict on as well.
        const j = parseHl7(r.text).message!.toJSON();
        assert.ok(hasErrors(fromJSON(j, { strict: true }).issues));
      });
      it('an ACK can be built with the message\'s own delimiters and parses back', () => {
        const m = parseHl7(r.text).message!;
        const ack = buildAck(m, 'AA', { now: new Date(0), controlId: 'A1' });
        const a = parseHl7(ack);
        assert.ok(a.message && !hasErrors(a.issues), JSON.stringify(a.issues));
        assert.deepEqual(a.message.delimiters, m.delimiters);
        assert.equal(a.message.get('MSA-2'), m.controlId);
        // A strict receiver's NAK from the raw text still echoes MSH-10 and the sender's MSH-2.
        const nak = parseHl7(buildNak(r.text, 'AR', parseHl7(r.text, { strict: true }).issues, { now: new Date(0), controlId: 'N1' })).message!;
        assert.equal(nak.get('MSA-1'), 'AR');
        assert.equal(nak.get('MSA-2'), m.controlId);
        assert.equal(nak.get('MSH-2'), m.get('MSH-2'));
      });
    });
  }
});

describe('absent delimiters: every consumer copes', () => {
  const noEscape = parseHl7(`${msh('^~&', 'E1')}\r${pid}\r`).message!;
  const noSub = parseHl7(`${msh('^~\\', 'E2')}\r${pid}\r`).message!;
  const compOnly = parseHl7(`${msh('^', 'E3')}\r${pid}\r`).message!;

  it('delimiters: the missing ones are absent, not guessed', () => {
    assert.deepEqual(noEscape.delimiters, { field: '|', component: '^', repetition: '~', subcomponent: '&' });
    assert.deepEqual(noSub.delimiters, { field: '|', component: '^', repetition: '~', escape: '\\' });
    assert.deepEqual(compOnly.delimiters, { field: '|', component: '^' });
  });
  it('unescape is the identity without an escape character; escape cannot shift the structure', () => {
    const d = noEscape.delimiters as Delimiters;
    assert.equal(unescapeHl7('a\\F\\b', d), 'a\\F\\b');
    assert.equal(escapeHl7('C:\\dir', d), 'C:\\dir');
    assert.equal(escapeHl7('a|b^c~d&e\rf', d), 'a b c d e f');
    assert.equal(canEncodeHl7('C:\\dir', d), true);
    assert.equal(canEncodeHl7('a^b', d), false);
    const s = noSub.delimiters as Delimiters;
    assert.equal(escapeHl7('A&B|C', s), 'A&B\\F\\C');
    assert.equal(unescapeHl7('A&B\\F\\C\\T\\', s), 'A&B|C\\T\\');
  });
  it('set: data that needs an escape is refused without an escape character; literal `\\` is fine', () => {
    const m = parseHl7(noEscape.toString()).message!;
    assert.throws(() => m.set('PID-5.2', 'A^B'), { code: 'HL7_BAD_VALUE' });
    assert.throws(() => m.set('PID-5.2', 'line\rbreak'), { code: 'HL7_BAD_VALUE' });
    m.set('PID-5.2', 'C:\\x');
    assert.equal(m.get('PID-5.2'), 'C:\\x');
    assert.match(m.toString(), /\^C:\\x\r/);
  });
  it('set: `&` is data without a sub-component separator; no sub-component 2 to write', () => {
    const m = parseHl7(noSub.toString()).message!;
    m.set('PID-5.2', 'A&B');
    assert.equal(m.get('PID-5.2'), 'A&B');
    assert.match(m.toString(), /\^A&B\r/);
    assert.throws(() => m.set('PID-5.2.2', 'x'), { code: 'HL7_BAD_PATH' });
    m.set('PID-5.2.1', 'C');
    assert.equal(m.get('PID-5.2'), 'C');
  });
  it('paths without a repetition separator: one repetition only', () => {
    const m = parseHl7(compOnly.toString()).message!;
    assert.deepEqual(m.getAll('PID-3'), [`${NHS}^^^NHS^NH`]);
    assert.equal(m.get('PID-3[2]'), undefined);
    assert.throws(() => m.set('PID-3[2].1', 'x'), { code: 'HL7_BAD_PATH' });
    assert.throws(() => m.setRaw('PID-3[2]', 'x'), { code: 'HL7_BAD_PATH' });
    m.set('PID-3[1].1', '9990000026');
    assert.equal(m.get('PID-3.1'), '9990000026');
  });
  it('ERR segments without a sub-component separator (v2.4 ELD) carry the code only', () => {
    const m = parseHl7(`${msh('^~\\', 'E4', '2.4')}\r${pid}\r`).message!;
    const ack = buildAck(m, 'AE', { now: new Date(0), controlId: 'A2', issues: [{ severity: 'error', code: 'required', diagnostics: 'x', expression: ['PID-3'] }] });
    const a = parseHl7(ack).message!;
    assert.equal(a.get('ERR-1'), 'PID^1^3^101');
    assert.doesNotMatch(ack, /undefined|,/);
  });
  it('an ACK\'s text with a delimiter cannot break a message without an escape character', () => {
    const ack = buildAck(noEscape, 'AE', { now: new Date(0), controlId: 'A3', text: 'bad ^ value | here', issues: [{ severity: 'error', code: 'value', diagnostics: 'PID-3 ^ is bad', expression: ['PID-3'] }] });
    const a = parseHl7(ack).message!;
    assert.equal(a.get('MSA-3'), 'bad   value   here');
    assert.equal(a.get('ERR-8'), 'PID-3   is bad');
    assert.equal(a.get('MSA-2'), 'E1');
  });
  it('msg.hl7 lead/trail are checked: nothing but blanks and framing bytes', () => {
    const j = parseHl7(`\u000b${msh('^~\\&', 'J1')}\r\u001c\r`).message!.toJSON();
    assert.equal(j.lead, '\u000b');
    assert.equal(j.trail, '\u001c\r');
    assert.ok(hasErrors(fromJSON({ ...j, lead: 'PID|1\r' }).issues));
    assert.ok(hasErrors(fromJSON({ ...j, trail: '\rPID|1' }).issues));
    assert.ok(hasErrors(fromJSON({ ...j, trail: 5 }).issues));
  });
  it('a JSON edit that appends a segment keeps the trail after it', () => {
    const m = parseHl7(`${msh('^~\\&', 'J2')}\r${pid}\u001c\r`).message!;
    m.set('NTE-3', 'note');
    assert.equal(m.toString(), `${msh('^~\\&', 'J2')}\r${pid}\rNTE|||note\u001c\r`);
    assert.equal(parseHl7(m.toString()).message?.get('NTE-3'), 'note');
  });
  it('MLLP bytes inside the message (not around it) are still an error', () => {
    const r = parseHl7(`${msh('^~\\&', 'C1')}\r\u000bPID|1\r${obx('x')}\r`);
    assert.ok(hasErrors(r.issues));
    const r2 = parseHl7(`${msh('^~\\&', 'C2')}\r\u001c\r${pid}\r`);
    assert.ok(hasErrors(r2.issues));
  });
});

describe('splitBatch: files saved from an MLLP stream', () => {
  it('framed messages, BOM, short MSH-2: one part each, joined they are the input', () => {
    const a = `\ufeff\u000b${msh('^~&', 'B1')}\r${pid}\r\u001c\r`;
    const b = `\u000b${msh('^~&', 'B2')}\r${pid}\r\u001c\r\n`;
    const r = splitBatch(a + b);
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.messages, [a, b]);
    assert.deepEqual(r.messages.map((t) => parseHl7(t).message?.controlId), ['B1', 'B2']);
    for (const t of r.messages) assert.equal(hasErrors(parseHl7(t).issues), false);
  });
});

describe('looksLikeBatch: what should be split before parsing', () => {
  const one = `${msh('^~\\&', 'K1')}\r${pid}\r`;
  const rows: [string, string, boolean][] = [
    ['one message', one, false],
    ['one framed message', `\u000b${one}\u001c\r`, false],
    ['two messages', one + one, true],
    ['two framed messages (a saved MLLP stream)', `\u000b${one}\u001c\r\u000b${one}\u001c\r`, true],
    ['LF-separated with a BOM on the second', `${one}\n\ufeff${one}`, true],
    ['batch header', `BHS|^~\\&\r${one}BTS|1\r`, true],
    ['file header behind a BOM', `\ufeffFHS|^~\\&\r${one}`, true],
  ];
  for (const [name, text, want] of rows) it(name, () => assert.equal(looksLikeBatch(text), want));
});

describe('decodeHl7Bytes: MSH-18 found behind an MLLP start block', () => {
  it('a saved frame declaring 8859/7 decodes as ISO-8859-7, not the windows-1252 fallback', () => {
    const text = `\u000bMSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5.1|||||GRC|8859/7\rPID|1||${NHS}^^^NHS^NH||ΩΜΕΓΑ^ΑΛΦΑ\r\u001c\r`;
    const r = decodeHl7Bytes(encodeHl7Text(text, '8859/7'));
    assert.equal(r.text, text);
    assert.equal(parseHl7(r.text).message?.get('PID-5.1'), 'ΩΜΕΓΑ');
  });
});
