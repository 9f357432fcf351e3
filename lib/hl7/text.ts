/**
 * Low-level scanning of HL7 v2 text (HL7 v2.5.1 Chapter 2, 2.5 "Message construction rules"):
 * cutting segments on any terminator and walking to the n-th delimited piece without splitting.
 */

/** One segment as received. */
export interface Seg {
  /** Segment ID, or '' for a blank line. */
  name: string;
  /** Segment text without terminator (kept as received until `set` touches the segment). */
  raw: string;
  /** The terminator that followed it: '\r', '\n', '\r\n' or '' (last segment without one). */
  eol: string;
  /** `raw.split(MSH-1)`, made on first read. For MSH, `fields[n - 1]` is MSH-n (n >= 2). */
  fields?: string[];
}

function isUpper(x: number): boolean { return x >= 65 && x <= 90; }
function isUpperOrDigit(x: number): boolean { return (x >= 65 && x <= 90) || (x >= 48 && x <= 57); }

/** A segment ID: an upper-case letter and two upper-case letters or digits, then MSH-1 or the end. */
export function isSegmentId(raw: string, fs: string): boolean {
  if (raw.length < 3 || (raw.length > 3 && raw[3] !== fs)) return false;
  return isUpper(raw.charCodeAt(0)) && isUpperOrDigit(raw.charCodeAt(1)) && isUpperOrDigit(raw.charCodeAt(2));
}

/** Cut text into segments on any of CR, LF, CRLF, keeping each terminator. */
export function cutSegments(text: string): Seg[] {
  const segs: Seg[] = [];
  const n = text.length;
  let pos = 0;
  let nextR = text.indexOf('\r');
  let nextN = text.indexOf('\n');
  while (pos < n) {
    if (nextR !== -1 && nextR < pos) nextR = text.indexOf('\r', pos);
    if (nextN !== -1 && nextN < pos) nextN = text.indexOf('\n', pos);
    let end: number;
    let eol: string;
    if (nextR === -1 && nextN === -1) { end = n; eol = ''; }
    else if (nextN === -1 || (nextR !== -1 && nextR < nextN)) { end = nextR; eol = nextN === nextR + 1 ? '\r\n' : '\r'; }
    else { end = nextN; eol = '\n'; }
    const raw = text.slice(pos, end);
    segs.push({ name: raw.slice(0, 3), raw, eol });
    pos = end + eol.length;
  }
  return segs;
}

/**
 * n-th (1-based) piece of `text` split on `sep`, without splitting the rest. An absent `sep` (a
 * delimiter the message does not declare) means the whole text is the only piece.
 */
export function nth(text: string, sep: string | undefined, n: number): string | undefined {
  if (sep === undefined) return n === 1 ? text : undefined;
  let start = 0;
  for (let k = 1; k < n; k++) {
    const i = text.indexOf(sep, start);
    if (i < 0) return undefined;
    start = i + 1;
  }
  const end = text.indexOf(sep, start);
  return end < 0 ? text.slice(start) : text.slice(start, end);
}

/**
 * Replace the n-th piece of `text` split on `sep`, padding with empty pieces as needed. With an
 * absent `sep` only piece 1 exists (callers refuse n > 1 before getting here).
 */
export function replaceNth(text: string, sep: string | undefined, n: number, value: string): string {
  if (sep === undefined) return value;
  const parts = text.split(sep);
  while (parts.length < n) parts.push('');
  parts[n - 1] = value;
  return parts.join(sep);
}

