/**
 * Parsing HL7 v2 text, and rebuilding a message from its JSON form (`msg.hl7`).
 */
import { issue, type Issue, type IssueSeverity } from '../outcome';
import { encodingCharacters, missingDelimiters, mshDelimiters } from './delimiters';
import { Hl7Message, type Hl7Json } from './message';
import { cutSegments, isSegmentId, type Seg } from './text';

const MAX_ISSUES = 50;
// Control characters other than TAB/LF/CR, written as "not allowed" because V8 scans a negated
// class of wide ranges faster than the narrow positive one.
const CONTROL = /[^\t\n\r\x20-\x7E\x80-\uFFFF]/;
const BOM = 0xfeff;
const VT = 0x0b;
const FS = 0x1c;

/** Options of {@link parseHl7} and {@link fromJSON}. */
export interface ParseOptions {
  /**
   * Reject the real-world deviations a lenient parse accepts (short MSH-2, blank lines, BOM,
   * MLLP framing bytes around the message, trailing whitespace): each is an error, not a warning.
   * Default false.
   */
  strict?: boolean;
}

/** Lead: BOM, MLLP start block, blank lines (and the spaces on them) before the MSH. */
function isLeadChar(c: number): boolean {
  return c === BOM || c === VT || c === 0x0d || c === 0x0a || c === 0x20 || c === 0x09;
}
/** Trail: MLLP end block, blank lines, whitespace after the last segment. */
function isTrailChar(c: number): boolean {
  return c === FS || c === 0x20 || c === 0x09;
}
function isBlank(raw: string): boolean {
  // Nearly every line starts with a segment ID: answer on the first character.
  const c0 = raw.charCodeAt(0);
  if (raw.length > 0 && c0 !== 0x20 && c0 !== 0x09) return false;
  for (let k = 0; k < raw.length; k++) {
    const c = raw.charCodeAt(k);
    if (c !== 0x20 && c !== 0x09) return false;
  }
  return true;
}
function allTrail(raw: string): boolean {
  for (let k = 0; k < raw.length; k++) if (!isTrailChar(raw.charCodeAt(k))) return false;
  return true;
}

/** One deviation: a warning naming it, or with `strict` an error giving the reason. */
function deviationIssue(strict: boolean, what: string, expression?: string): Issue {
  const sev: IssueSeverity = strict ? 'error' : 'warning';
  return issue(sev, 'structure', `${what}${strict ? ' (rejected: strict parsing)' : ' (accepted)'}`, expression);
}

/**
 * Cut the trail off the segments (in place): trailing lines of only blanks and 0x1C, and a 0x1C
 * run glued to the end of the last segment (an end block without the segment's own CR).
 */
function cutTrail(segs: Seg[]): string {
  let k = segs.length - 1;
  while (k > 0 && allTrail((segs[k] as Seg).raw)) k--;
  let trail = '';
  for (let i = k + 1; i < segs.length; i++) trail += (segs[i] as Seg).raw + (segs[i] as Seg).eol;
  // Setting `length` takes V8's slow path even when unchanged: only cut when there is a trail.
  if (k + 1 < segs.length) segs.length = k + 1;
  const last = segs[k] as Seg;
  const raw = last.raw;
  let j = raw.length;
  while (j > 0 && isTrailChar(raw.charCodeAt(j - 1))) j--;
  const cut = raw.indexOf('\u001c', j);
  if (cut >= 0) {
    trail = raw.slice(cut) + last.eol + trail;
    last.raw = raw.slice(0, cut);
    last.name = last.raw.slice(0, 3);
    last.eol = '';
  }
  return trail;
}

/**
 * Parse HL7 v2 text (HL7 v2.5.1 Chapter 2, 2.5–2.6). Never throws: structural problems (empty
 * input, no MSH, unusable MSH-1/MSH-2 delimiters, missing MSH-9/10/12, bad segment IDs, control
 * characters) come back as OperationOutcome issues. `message` is present whenever the MSH and
 * its delimiters could be read, even if other issues are errors, so an AR/AE can still be built.
 * Segments may end in CR (the standard), LF or CRLF; each keeps its own terminator.
 *
 * Real-world deviations other engines accept are accepted too, each reported as one `warning`
 * issue (or, with `strict`, an `error`) naming the deviation, and each kept so that
 * `toString()` and `fromJSON(toJSON())` give back the input byte for byte: an MSH-2 of 1–3
 * characters (the missing delimiters do not exist in that message; with `strict` there is then
 * no message, as for any unusable MSH-2), blank lines before, between or after segments, a
 * byte-order mark, MLLP framing bytes (0x0B before the MSH, 0x1C after the last segment), and
 * whitespace after the last segment.
 */
export function parseHl7(text: string, opts?: ParseOptions): { message?: Hl7Message; issues: Issue[] } {
  const issues: Issue[] = [];
  if (typeof text !== 'string' || text.trim() === '') {
    issues.push(issue('error', 'required', 'empty message: no HL7 content'));
    return { issues };
  }
  const strict = opts?.strict === true;
  let leadLen = 0;
  while (leadLen < text.length && isLeadChar(text.charCodeAt(leadLen))) leadLen++;
  const lead = leadLen === 0 ? '' : text.slice(0, leadLen);
  const head = text.slice(leadLen, leadLen + 3);
  if (head !== 'MSH') {
    const batch = head === 'FHS' || head === 'BHS';
    issues.push(issue('error', 'structure', batch
      ? 'batch (FHS/BHS) given where one message was expected: split it into messages first'
      : 'message does not start with an MSH segment', 'MSH'));
    return { issues };
  }
  const segs = cutSegments(leadLen === 0 ? text : text.slice(leadLen));
  const trail = cutTrail(segs);
  const first = segs[0] as Seg;
  const d = mshDelimiters(first.raw, { strict });
  if (typeof d === 'string') {
    const shortForm = strict && typeof mshDelimiters(first.raw) !== 'string';
    issues.push(issue('error', 'structure', shortForm ? `${d} (rejected: strict parsing)` : d, 'MSH-2'));
    return { issues };
  }
  if (d.repetition === undefined || d.escape === undefined || d.subcomponent === undefined) {
    const enc = encodingCharacters(d);
    issues.push(deviationIssue(strict, `MSH-2 declares ${enc.length} encoding character${enc.length === 1 ? '' : 's'}, not 4: this message has no ${missingDelimiters(d).join(', no ')}`, 'MSH-2'));
  }
  if (lead !== '') {
    if (lead.includes('\ufeff')) issues.push(deviationIssue(strict, 'byte-order mark (U+FEFF) before the MSH segment'));
    if (/[\r\n \t]/.test(lead)) issues.push(deviationIssue(strict, 'blank lines or whitespace before the MSH segment'));
  }
  if (lead !== '' || trail !== '') {
    if (lead.includes('\u000b') || trail.includes('\u001c')) issues.push(deviationIssue(strict, 'MLLP framing bytes (0x0B start block before the MSH, 0x1C end block after the last segment) around the message'));
    // eslint-disable-next-line no-control-regex -- the end block is FS with its CR
    if (trail.replace(/\u001c\r?/g, '') !== '') issues.push(deviationIssue(strict, 'blank lines or whitespace after the last segment'));
  }
  const fs = d.field;
  let extra = 0;
  const body = lead === '' && trail === '' ? text : text.slice(leadLen, text.length - trail.length);
  if (CONTROL.test(body)) issues.push(issue('error', 'invalid', 'control characters (binary data or MLLP framing bytes) inside the message'));
  let mshCount = 0;
  let blank = 0;
  let firstBlank = 0;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i] as Seg;
    if (isBlank(s.raw)) {
      s.name = '';
      if (blank++ === 0) firstBlank = i + 1;
      continue;
    }
    if (!isSegmentId(s.raw, fs)) {
      if (issues.length < MAX_ISSUES) issues.push(issue('error', 'structure', `segment ${i + 1} does not start with a valid segment ID`, `segment[${i + 1}]`));
      else extra++;
      s.name = '';
      continue;
    }
    if (s.name === 'MSH' && ++mshCount === 2) issues.push(issue('error', 'structure', 'more than one MSH: this is several messages (split them first)', `segment[${i + 1}]`));
  }
  if (blank > 0) issues.push(deviationIssue(strict, `${blank} blank line${blank === 1 ? '' : 's'} between segments`, `segment[${firstBlank}]`));
  if (extra > 0) issues.push(issue('error', 'structure', `${extra} further issues not listed`));
  // A junk line keeps its text (lossless) but gets no name; note a segment-ID-less line could
  // still be the result of a bare LF inside a field, which is why it is an error, not a split.
  const message = new Hl7Message(segs, d, text, lead, trail);
  // Split the MSH once: the checks below, the ACK and msg.hl7 all read a dozen of its fields.
  message.mshFields();
  const code = message.get('MSH-9.1');
  if (code === undefined) issues.push(issue('error', 'required', 'MSH-9 message type is missing', 'MSH-9'));
  else if (code !== 'ACK' && message.get('MSH-9.2') === undefined) {
    issues.push(issue('warning', 'required', 'MSH-9.2 trigger event is missing', 'MSH-9.2'));
  }
  if (message.get('MSH-10') === undefined) issues.push(issue('error', 'required', 'MSH-10 message control id is missing', 'MSH-10'));
  const v = message.get('MSH-12.1');
  if (v === undefined) issues.push(issue('error', 'required', 'MSH-12 version id is missing', 'MSH-12'));
  else if (!/^2\.\d+(\.\d+)?$/.test(v)) issues.push(issue('warning', 'value', 'MSH-12 is not an HL7 v2 version id', 'MSH-12'));
  return { message, issues };
}

// What a JSON lead/trail may hold: exactly what parseHl7 puts there, nothing that could smuggle
// in a segment.
// eslint-disable-next-line no-control-regex
const LEAD = /^[\ufeff\u000b\r\n \t]*$/;
// eslint-disable-next-line no-control-regex
const TRAIL = /^[\u001c\r\n \t]*$/;

/**
 * Rebuild a message from its JSON form (`msg.hl7`), e.g. after a function node edited
 * `segments`. Shape errors come back as issues, never thrown. The text is parsed again with
 * `opts`, so its issues (deviations included) are those of the rebuilt text.
 */
export function fromJSON(json: unknown, opts?: ParseOptions): { message?: Hl7Message; issues: Issue[] } {
  const j = json as Partial<Hl7Json> | null;
  const bad = (why: string): { issues: Issue[] } => ({ issues: [issue('error', 'structure', `msg.hl7 is not an HL7 message: ${why}`)] });
  if (typeof j !== 'object' || j === null || !Array.isArray(j.segments)) return bad('no segments array');
  const segments = j.segments as unknown[];
  if (!segments.every((s) => Array.isArray(s) && s.every((f) => typeof f === 'string'))) return bad('segments must be arrays of strings');
  const rows = segments;
  const msh = rows.find((s) => s[0] === 'MSH');
  const fs = msh?.[1];
  if (!fs || fs.length !== 1) return bad('no MSH with MSH-1');
  const eol = j.eol ?? '\r';
  if (typeof eol !== 'string' && !(Array.isArray(eol) && eol.every((e) => e === '' || e === '\r' || e === '\n' || e === '\r\n'))) return bad('eol must be a segment terminator');
  if (typeof eol === 'string' && eol !== '\r' && eol !== '\n' && eol !== '\r\n') return bad('eol must be a segment terminator');
  const lead: unknown = j.lead ?? '';
  const trail: unknown = j.trail ?? '';
  if (typeof lead !== 'string' || !LEAD.test(lead)) return bad('lead may only hold a byte-order mark, 0x0B and blank lines');
  if (typeof trail !== 'string' || !TRAIL.test(trail)) return bad('trail may only hold 0x1C and blank lines');
  let text = lead;
  rows.forEach((s, i) => {
    text += s[0] === 'MSH' && s.length > 1 ? `MSH${fs}${s.slice(2).join(fs)}` : s.join(fs);
    text += typeof eol === 'string' ? eol : (eol[i] ?? '');
  });
  return parseHl7(text + trail, opts);
}
