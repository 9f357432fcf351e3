/**
 * HL7 v2 message delimiters (HL7 v2.5.1 Chapter 2, 2.5.4 "Message delimiters"; v2.7 adds the
 * truncation character as the fifth MSH-2 character). A message names its own delimiters in
 * MSH-1 (field separator) and MSH-2 (encoding characters), so nothing here is hard-coded except
 * the defaults used when we compose a message from nothing (a NAK for unparseable input).
 *
 * Real-world deviation accepted when asked (`short`): an MSH-2 of fewer than 4 characters, as
 * several lab and public-health senders ship (`^~&`, `^~\`, `^`). The delimiters it leaves out
 * do not exist in that message, so their characters are plain data there; those fields of
 * {@link Delimiters} are then absent, and every reader and writer in lib/hl7 copes with that.
 */
export interface Delimiters {
  /** MSH-1, usually `|`. */
  field: string;
  /** MSH-2 position 1, usually `^`. */
  component: string;
  /** MSH-2 position 2, usually `~`; absent when MSH-2 has 1 character. */
  repetition?: string;
  /** MSH-2 position 3, usually `\`; absent when MSH-2 is shorter than 4 (see {@link delimitersFrom}). */
  escape?: string;
  /** MSH-2 position 4, usually `&`; absent when MSH-2 is shorter than 4, unless it is `XY&`. */
  subcomponent?: string;
  /** MSH-2 position 5 (HL7 v2.7+), usually `#`; absent before v2.7. */
  truncation?: string;
}

/** The HL7-recommended delimiters `|^~\&`. */
export const DEFAULT_DELIMITERS: Readonly<Delimiters> = Object.freeze({
  field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&',
});

/** Characters that can never be delimiters: letters, digits, whitespace, segment terminators. */
function unusable(c: string): boolean {
  return /[A-Za-z0-9\s]/.test(c) || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f;
}

/**
 * Delimiters from MSH-1 (`fieldSep`) and MSH-2 (`encoding`), or a reason they are unusable.
 * The standard requires 4 distinct characters in MSH-2 (5 from v2.7, the fifth being the
 * truncation character). With `short`, 1 to 3 are accepted too: 1 is the component separator
 * only; 2 adds the repetition separator; with 3 the third is the sub-component separator when it
 * is `&` (the sender left out the escape character, the form seen in the wild) and otherwise the
 * escape character (the standard's order).
 */
export function delimitersFrom(fieldSep: string, encoding: string, opts?: { short?: boolean }): Delimiters | string {
  if (fieldSep.length !== 1 || unusable(fieldSep)) return 'MSH-1 field separator is missing or not a usable character';
  const n = encoding.length;
  if (n !== 4 && n !== 5 && !(opts?.short === true && n >= 1 && n <= 3)) {
    return n === 0 ? 'MSH-2 encoding characters are missing' : `MSH-2 must hold 4 encoding characters (5 from v2.7), found ${n}`;
  }
  const all = fieldSep + encoding;
  for (let i = 0; i < all.length; i++) {
    const c = all[i] as string;
    if (unusable(c)) return 'MSH-2 contains a character that cannot be a delimiter';
    if (all.indexOf(c) !== i) return 'MSH-1/MSH-2 delimiters are not distinct';
  }
  const d: Delimiters = { field: fieldSep, component: encoding[0] as string };
  if (n >= 2) d.repetition = encoding[1];
  if (n === 3) {
    if (encoding[2] === '&') d.subcomponent = '&';
    else d.escape = encoding[2];
  }
  if (n >= 4) {
    d.escape = encoding[2];
    d.subcomponent = encoding[3];
  }
  if (n === 5) d.truncation = encoding[4];
  return d;
}

/**
 * Delimiters an MSH line declares (MSH-1 is the character after `MSH`, MSH-2 runs to the next
 * MSH-1), or a reason they are unusable (as {@link delimitersFrom}). A short MSH-2 is accepted
 * unless `strict`.
 */
export function mshDelimiters(msh: string, opts?: { strict?: boolean }): Delimiters | string {
  const fs = msh.charAt(3);
  const encEnd = msh.indexOf(fs, 4);
  return delimitersFrom(fs, msh.slice(4, encEnd < 0 ? undefined : encEnd), { short: opts?.strict !== true });
}

/** MSH-2 text for a delimiter set (as the message declared it, short forms included). */
export function encodingCharacters(d: Readonly<Delimiters>): string {
  return d.component + (d.repetition ?? '') + (d.escape ?? '') + (d.subcomponent ?? '') + (d.truncation ?? '');
}

/** The delimiters a short MSH-2 leaves out, by name (empty for a full MSH-2). */
export function missingDelimiters(d: Readonly<Delimiters>): string[] {
  const out: string[] = [];
  if (d.repetition === undefined) out.push('repetition separator');
  if (d.escape === undefined) out.push('escape character');
  if (d.subcomponent === undefined) out.push('sub-component separator');
  return out;
}
