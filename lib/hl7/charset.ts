/**
 * Character sets of HL7 v2 messages (HL7 v2.5.1 Chapter 2, 2.15.9.18 MSH-18 "Character Set",
 * HL7 table 0211). The charset is declared inside the message it governs, so the raw bytes are
 * scanned for MSH-18 first (every table-0211 single-byte and multibyte set we support is
 * ASCII-compatible in the MSH) and only then decoded.
 */
import { isUtf8 } from 'node:buffer';
import * as iconv from 'iconv-lite';

/** HL7 table 0211 value → encoding name (Node Buffer or iconv-lite). */
const TABLE_0211: Record<string, string> = {
  'ASCII': 'ascii',
  '8859/1': 'iso-8859-1', '8859/2': 'iso-8859-2', '8859/3': 'iso-8859-3', '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5', '8859/6': 'iso-8859-6', '8859/7': 'iso-8859-7', '8859/8': 'iso-8859-8',
  '8859/9': 'iso-8859-9', '8859/15': 'iso-8859-15',
  'UNICODE UTF-8': 'utf-8',
  // "UNICODE" (v2.3–2.5) names no encoding form; in an ASCII-compatible MLLP stream it can only be UTF-8.
  'UNICODE': 'utf-8',
  'GB 18030-2000': 'gb18030', 'KS X 1001': 'euc-kr', 'BIG-5': 'big5', 'ISO IR14': 'shift_jis',
};

/**
 * Encoding name for an MSH-18 value (table 0211 or any name iconv-lite knows, e.g. `windows-1252`
 * which UK systems often declare), or undefined when unknown. Absent → undefined.
 */
export function charsetToEncoding(charset: string | undefined): string | undefined {
  if (charset === undefined) return undefined;
  const c = charset.trim();
  if (c === '') return undefined;
  const mapped = TABLE_0211[c.toUpperCase()];
  if (mapped) return mapped;
  const lower = c.toLowerCase();
  if (lower === 'utf8' || lower === 'utf-8') return 'utf-8';
  if (lower === 'latin1' || lower === 'iso-8859-1') return 'iso-8859-1';
  // UTF-16/32 are not ASCII-compatible, so an MLLP byte stream cannot carry them as declared.
  if (/^(unicode )?utf-?(16|32)/i.test(c)) return undefined;
  return iconv.encodingExists(c) ? lower : undefined;
}

function isSep(b: number | undefined): boolean { return b === 0x0d || b === 0x0a; }

/** MSH-18 first repetition read from raw bytes, or undefined. */
function scanCharset(raw: Buffer, from: number): string | undefined {
  let at = from;
  for (;;) {
    const i = raw.indexOf('MSH', at, 'latin1');
    if (i < 0) return undefined;
    // An MLLP start block (0x0B) may sit before the MSH in a file saved from a stream.
    if (i === from || isSep(raw[i - 1]) || raw[i - 1] === 0x0b) { at = i; break; }
    at = i + 3;
  }
  const fs = raw[at + 3];
  if (fs === undefined || isSep(fs)) return undefined;
  const comp = raw[at + 4];
  const rep = raw[at + 5];
  // MSH-1 is the separator after "MSH", so the 17th separator opens MSH-18.
  let seen = 0;
  let k = at + 3;
  for (; k < raw.length && seen < 17; k++) {
    const b = raw[k];
    if (isSep(b)) return undefined;
    if (b === fs) seen++;
  }
  if (seen < 17) return undefined;
  let end = k;
  while (end < raw.length) {
    const b = raw[end];
    if (b === fs || isSep(b) || b === comp || b === rep) break;
    end++;
  }
  const v = raw.toString('latin1', k, end).trim();
  return v === '' ? undefined : v;
}

/**
 * Decode raw HL7 bytes by the charset the message declares in MSH-18. Returns the text and the
 * encoding used. Without MSH-18 the standard's default is ASCII; we decode UTF-8 when the bytes
 * are valid UTF-8 (a superset of ASCII) and windows-1252 otherwise, the commonest undeclared
 * legacy set. A UTF-8 byte-order mark is dropped. Unknown MSH-18 values fall back the same way.
 */
export function decodeHl7Bytes(raw: Buffer): { text: string; charset: string } {
  let start = 0;
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) start = 3;
  const declared = charsetToEncoding(scanCharset(raw, start));
  const body = start ? raw.subarray(start) : raw;
  const enc = declared ?? (isUtf8(body) ? 'utf-8' : 'windows-1252');
  return { text: decodeAs(body, enc), charset: enc };
}

function decodeAs(b: Buffer, enc: string): string {
  if (enc === 'utf-8') return b.toString('utf8');
  // ASCII declared but 8-bit bytes present: keep each byte as one char rather than mangle it.
  if (enc === 'ascii' || enc === 'iso-8859-1') return b.toString('latin1');
  return iconv.decode(b, enc);
}

/**
 * Encode text for the wire in an MSH-18 charset or encoding name (as returned by
 * `decodeHl7Bytes`); unknown or absent means UTF-8. Characters the charset cannot represent
 * become `?` (iconv-lite's substitution), so declare a charset that fits the data.
 */
export function encodeHl7Text(text: string, charset: string): Buffer {
  // What decodeHl7Bytes returns for nearly every message: skip the table lookup.
  if (charset === 'utf-8') return Buffer.from(text, 'utf8');
  const enc = charsetToEncoding(charset) ?? 'utf-8';
  if (enc === 'utf-8') return Buffer.from(text, 'utf8');
  if (enc === 'ascii' || enc === 'iso-8859-1') return iconv.encode(text, 'iso-8859-1');
  return iconv.encode(text, enc);
}
