/**
 * HL7 v2 message delimiters (HL7 v2.5.1 Chapter 2, 2.5.4 "Message delimiters"; v2.7 adds the
 * truncation character as the fifth MSH-2 character). A message names its own delimiters in
 * MSH-1 (field separator) and MSH-2 (encoding characters), so nothing here is hard-coded except
 * the defaults used when we compose a message from nothing (a NAK for unparseable input).
 */
export interface Delimiters {
  /** MSH-1, usually `|`. */
  field: string;
  /** MSH-2 position 1, usually `^`. */
  component: string;
  /** MSH-2 position 2, usually `~`. */
  repetition: string;
  /** MSH-2 position 3, usually `\`. */
  escape: string;
  /** MSH-2 position 4, usually `&`. */
  subcomponent: string;
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
 * MSH-2 must hold 4 distinct characters (5 from v2.7, the fifth being the truncation character).
 */
export function delimitersFrom(fieldSep: string, encoding: string): Delimiters | string {
  if (fieldSep.length !== 1 || unusable(fieldSep)) return 'MSH-1 field separator is missing or not a usable character';
  if (encoding.length !== 4 && encoding.length !== 5) return `MSH-2 must hold 4 encoding characters (5 from v2.7), found ${encoding.length}`;
  const all = fieldSep + encoding;
  for (let i = 0; i < all.length; i++) {
    const c = all[i] as string;
    if (unusable(c)) return 'MSH-2 contains a character that cannot be a delimiter';
    if (all.indexOf(c) !== i) return 'MSH-1/MSH-2 delimiters are not distinct';
  }
  const d: Delimiters = {
    field: fieldSep,
    component: encoding[0] as string,
    repetition: encoding[1] as string,
    escape: encoding[2] as string,
    subcomponent: encoding[3] as string,
  };
  if (encoding.length === 5) d.truncation = encoding[4];
  return d;
}

/**
 * Delimiters an MSH line declares (MSH-1 is the character after `MSH`, MSH-2 runs to the next
 * MSH-1), or a reason they are unusable (as {@link delimitersFrom}).
 */
export function mshDelimiters(msh: string): Delimiters | string {
  const fs = msh.charAt(3);
  const encEnd = msh.indexOf(fs, 4);
  return delimitersFrom(fs, msh.slice(4, encEnd < 0 ? undefined : encEnd));
}

/** MSH-2 text for a delimiter set. */
export function encodingCharacters(d: Delimiters): string {
  return d.component + d.repetition + d.escape + d.subcomponent + (d.truncation ?? '');
}
