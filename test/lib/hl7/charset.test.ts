import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { charsetToEncoding, decodeHl7Bytes, encodeHl7Text, parseHl7 } from '../../../lib/hl7';

const msg = (charset: string, name: string): string =>
  `MSH|^~\\&|PAS|RXX01|EPR|RXX01|20240101||ADT^A01|C1|P|2.5.1|||||GBR|${charset}\rPID|1||9990000018^^^NHS^NH||${name}^TEST\r`;

describe('decodeHl7Bytes / encodeHl7Text (MSH-18, HL7 table 0211)', () => {
  const rows: [string, string, string][] = [
    // [MSH-18, text with characters that need it, expected encoding]
    ['8859/1', 'MÜLLER-GÖTZE ÆØÅ ½', 'iso-8859-1'],
    ['8859/15', 'EURO € ŠŽ', 'iso-8859-15'],
    ['8859/2', 'ŁÓDŹ', 'iso-8859-2'],
    ['windows-1252', 'O’NEILL “QUOTE” – €', 'windows-1252'],
    ['UNICODE UTF-8', 'ZOË 中文 🙂', 'utf-8'],
    ['UNICODE', 'ZOË', 'utf-8'],
    ['ASCII', 'PLAIN', 'ascii'],
  ];
  for (const [charset, name, enc] of rows) {
    it(`${charset}: round trip bytes → text → bytes`, () => {
      const text = msg(charset, name);
      const bytes = encodeHl7Text(text, charset);
      const r = decodeHl7Bytes(bytes);
      assert.equal(r.charset, enc);
      assert.equal(r.text, text);
      assert.ok(encodeHl7Text(r.text, r.charset).equals(bytes));
      assert.equal(parseHl7(r.text).message?.get('PID-5.1'), name);
    });
  }
  it('8859/1 bytes are really single-byte (not UTF-8)', () => {
    const bytes = encodeHl7Text(msg('8859/1', 'É'), '8859/1');
    assert.ok(bytes.includes(0xc9));
    assert.equal(bytes.length, msg('8859/1', 'É').length);
  });
  it('windows-1252 differs from ISO-8859-1 in 0x80–0x9F', () => {
    const bytes = encodeHl7Text(msg('windows-1252', '€’'), 'windows-1252');
    assert.ok(bytes.includes(0x80) && bytes.includes(0x92));
  });
  it('MSH-18 with repetitions and components: first repetition, first component', () => {
    const text = msg('8859/1~UNICODE UTF-8', 'É');
    const r = decodeHl7Bytes(encodeHl7Text(text, '8859/1'));
    assert.equal(r.charset, 'iso-8859-1');
    assert.equal(r.text, text);
  });
  it('custom field separator is honoured when scanning', () => {
    const text = 'MSH!$*@%!A!B!C!D!2024!!ADT$A01!C1!P!2.5.1!!!!!!8859/1\rPID!1!!!!É\r';
    assert.equal(decodeHl7Bytes(Buffer.from(text, 'latin1')).charset, 'iso-8859-1');
  });
  it('no MSH-18: UTF-8 when the bytes are valid UTF-8, else windows-1252', () => {
    const base = 'MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|P|2.5.1\rPID|1||X||JOSÉ\r';
    assert.deepEqual(decodeHl7Bytes(Buffer.from(base, 'utf8')), { text: base, charset: 'utf-8' });
    assert.deepEqual(decodeHl7Bytes(Buffer.from(base, 'latin1')), { text: base, charset: 'windows-1252' });
  });
  it('UTF-8 BOM is dropped', () => {
    const base = 'MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|P|2.5.1\r';
    const r = decodeHl7Bytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(base)]));
    assert.equal(r.text, base);
  });
  it('charset in a later MSH of a batch is found (segment start only)', () => {
    const text = `BHS|^~\\&\r${msg('8859/1', 'É')}BTS|1\r`;
    assert.equal(decodeHl7Bytes(encodeHl7Text(text, '8859/1')).charset, 'iso-8859-1');
  });
  it('unknown or non-ASCII-compatible MSH-18 falls back safely', () => {
    assert.equal(decodeHl7Bytes(Buffer.from(msg('KLINGON', 'X'))).charset, 'utf-8');
    assert.equal(decodeHl7Bytes(Buffer.from(msg('UNICODE UTF-16', 'X'))).charset, 'utf-8');
    assert.equal(charsetToEncoding('UNICODE UTF-16'), undefined);
    assert.equal(charsetToEncoding(undefined), undefined);
    assert.equal(charsetToEncoding('  '), undefined);
  });
  it('junk and truncated headers do not throw', () => {
    for (const b of [Buffer.alloc(0), Buffer.from('MSH'), Buffer.from('MSH|'), Buffer.from('MSH|^~\\&|||||||||||||||'), Buffer.from([0xff, 0xfe, 0x00, 0x4d]), Buffer.alloc(100000, 0x7c)]) {
      const r = decodeHl7Bytes(b);
      assert.equal(typeof r.text, 'string');
      assert.equal(typeof r.charset, 'string');
    }
  });
  it('encodeHl7Text: unknown charset is UTF-8; unrepresentable chars become ?', () => {
    assert.ok(encodeHl7Text('é', 'nonsense').equals(Buffer.from('é', 'utf8')));
    assert.equal(encodeHl7Text('中', '8859/1').toString('latin1'), '?');
  });
});
