/**
 * HL7 v2 escape sequences (HL7 v2.5.1 Chapter 2, 2.7 "Use of escape sequences in text fields";
 * `\P\` truncation from v2.7). Decoding turns the delimiter escapes `\F\ \S\ \T\ \R\ \E\` (and
 * `\P\` when the message declares a truncation character) and hex data `\Xhh..\` into text.
 * Formatting and character-set escapes (`\H\ \N\ \.br\ \.sp\ \Cxxyy\ \Mxxyyzz\ \Zxx\` …) mean
 * something to a display, not to text, so they are kept as-is; encoding leaves them intact too,
 * so `encode(decode(x)) === x` for well-formed field text.
 */
import type { Delimiters } from './delimiters';

/** Recognised escapes that are not delimiters: kept verbatim by decode and encode. */
const KEPT = /^(H|N|\.(br|sp\d*|fi|nf|in[+-]?\d*|ti[+-]?\d*|sk[+-]?\d*|ce)|C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4}([0-9A-Fa-f]{2})?|Z[^\\]*)$/;

/** Bytes of `\Xhh..\`: UTF-8 when they form valid UTF-8, else ISO-8859-1 (one char per byte). */
function hexText(hex: string): string | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  const bytes = Buffer.from(hex, 'hex');
  const utf8 = bytes.toString('utf8');
  return utf8.includes('\uFFFD') ? bytes.toString('latin1') : utf8;
}

/** Decode escape sequences in one leaf value. Unterminated or unknown escapes stay literal. */
export function unescapeHl7(value: string, d: Readonly<Delimiters>): string {
  const e = d.escape;
  // A short MSH-2 without an escape character: nothing is an escape sequence in this message.
  if (e === undefined) return value;
  let i = value.indexOf(e);
  if (i < 0) return value;
  let out = '';
  let from = 0;
  while (i >= 0) {
    const end = value.indexOf(e, i + 1);
    if (end < 0) break;
    const body = value.slice(i + 1, end);
    let rep: string | undefined;
    switch (body) {
      case 'F': rep = d.field; break;
      case 'S': rep = d.component; break;
      case 'T': rep = d.subcomponent; break;
      case 'R': rep = d.repetition; break;
      case 'E': rep = d.escape; break;
      case 'P': rep = d.truncation; break;
      default:
        if (body.charCodeAt(0) === 88 /* X */) rep = hexText(body.slice(1));
    }
    if (rep === undefined) {
      // Not ours to decode (formatting escape, or junk): keep text up to the closing escape char
      // as-is, and resume after it only if it was a recognised sequence; otherwise resume at it so
      // a stray escape char does not swallow the next real sequence.
      if (KEPT.test(body)) {
        out += value.slice(from, end + 1);
        from = end + 1;
        i = value.indexOf(e, from);
      } else {
        out += value.slice(from, i + 1);
        from = i + 1;
        i = end;
      }
      continue;
    }
    out += value.slice(from, i) + rep;
    from = end + 1;
    i = value.indexOf(e, from);
  }
  return out + value.slice(from);
}

/** True when `c` would change the structure if written raw: a declared delimiter, CR or LF. */
function structural(c: string, d: Readonly<Delimiters>): boolean {
  return c === d.field || c === d.component || c === d.repetition || c === d.subcomponent || c === d.truncation || c === d.escape || c === '\r' || c === '\n';
}

/**
 * True when `value` can be written into a leaf of a message with these delimiters without loss:
 * always when the message declares an escape character; otherwise only when the value holds no
 * declared delimiter and no CR/LF (there is no way to escape them).
 */
export function canEncodeHl7(value: string, d: Readonly<Delimiters>): boolean {
  if (d.escape !== undefined) return true;
  for (let k = 0; k < value.length; k++) if (structural(value[k] as string, d)) return false;
  return true;
}

/**
 * Encode text for one leaf value: delimiters become escapes, CR/LF become `\X0D\`/`\X0A\` (a raw
 * CR would end the segment). Recognised formatting escapes already in the text are kept, unless
 * they contain a delimiter (kept raw, it would shift the structure). The result never contains
 * a declared delimiter except as part of an escape sequence. When the message declares no escape
 * character (a short MSH-2), a delimiter or CR/LF cannot be written: each becomes a space, so
 * the structure can never shift (`Hl7Message.set` refuses such a value instead, see
 * {@link canEncodeHl7}).
 */
export function escapeHl7(value: string, d: Readonly<Delimiters>): string {
  let plain = true;
  for (let k = 0; k < value.length; k++) {
    if (structural(value[k] as string, d)) { plain = false; break; }
  }
  if (plain) return value;
  const e = d.escape;
  let out = '';
  if (e === undefined) {
    for (let k = 0; k < value.length; k++) {
      const c = value[k] as string;
      out += structural(c, d) ? ' ' : c;
    }
    return out;
  }
  for (let k = 0; k < value.length; k++) {
    const c = value[k] as string;
    if (c === e) {
      const end = value.indexOf(e, k + 1);
      if (end > k && KEPT.test(value.slice(k + 1, end)) && !hasStructural(value, k + 1, end, d)) {
        out += value.slice(k, end + 1);
        k = end;
        continue;
      }
      out += `${e}E${e}`;
    } else if (c === d.field) out += `${e}F${e}`;
    else if (c === d.component) out += `${e}S${e}`;
    else if (c === d.subcomponent) out += `${e}T${e}`;
    else if (c === d.repetition) out += `${e}R${e}`;
    else if (d.truncation !== undefined && c === d.truncation) out += `${e}P${e}`;
    else if (c === '\r') out += `${e}X0D${e}`;
    else if (c === '\n') out += `${e}X0A${e}`;
    else out += c;
  }
  return out;
}

function hasStructural(value: string, from: number, to: number, d: Readonly<Delimiters>): boolean {
  for (let k = from; k < to; k++) if (structural(value[k] as string, d)) return true;
  return false;
}
