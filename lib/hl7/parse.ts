/**
 * Parsing HL7 v2 text, and rebuilding a message from its JSON form (`msg.hl7`).
 */
import { issue, type Issue } from '../outcome';
import { mshDelimiters } from './delimiters';
import { Hl7Message, type Hl7Json } from './message';
import { cutSegments, isSegmentId, type Seg } from './text';

const MAX_ISSUES = 50;
// Control characters other than TAB/LF/CR, written as "not allowed" because V8 scans a negated
// class of wide ranges faster than the narrow positive one.
const CONTROL = /[^\t\n\r\x20-\x7E\x80-\uFFFF]/;

/**
 * Parse HL7 v2 text (HL7 v2.5.1 Chapter 2, 2.5–2.6). Never throws: structural problems (empty
 * input, no MSH, unusable MSH-1/MSH-2 delimiters, missing MSH-9/10/12, bad segment IDs, control
 * characters) come back as OperationOutcome issues. `message` is present whenever the MSH and
 * its delimiters could be read, even if other issues are errors, so an AR/AE can still be built.
 * Segments may end in CR (the standard), LF or CRLF; each keeps its own terminator.
 */
export function parseHl7(text: string): { message?: Hl7Message; issues: Issue[] } {
  const issues: Issue[] = [];
  if (typeof text !== 'string' || text.trim() === '') {
    issues.push(issue('error', 'required', 'empty message: no HL7 content'));
    return { issues };
  }
  const segs = cutSegments(text);
  let first = segs[0] as Seg;
  for (const s of segs) if (s.raw.trim() !== '') { first = s; break; }
  if (first.name !== 'MSH') {
    const batch = first.name === 'FHS' || first.name === 'BHS';
    issues.push(issue('error', 'structure', batch
      ? 'batch (FHS/BHS) given where one message was expected: split it into messages first'
      : 'message does not start with an MSH segment', 'MSH'));
    return { issues };
  }
  const d = mshDelimiters(first.raw);
  if (typeof d === 'string') {
    issues.push(issue('error', 'structure', d, 'MSH-2'));
    return { issues };
  }
  const fs = d.field;
  let extra = 0;
  if (CONTROL.test(text)) issues.push(issue('error', 'invalid', 'control characters (binary data or MLLP framing bytes) inside the message'));
  let mshCount = 0;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i] as Seg;
    if (s.raw === '') { s.name = ''; continue; }
    if (!isSegmentId(s.raw, fs)) {
      if (issues.length < MAX_ISSUES) issues.push(issue('error', 'structure', `segment ${i + 1} does not start with a valid segment ID`, `segment[${i + 1}]`));
      else extra++;
      s.name = '';
      continue;
    }
    if (s.name === 'MSH' && ++mshCount === 2) issues.push(issue('error', 'structure', 'more than one MSH: this is several messages (split them first)', `segment[${i + 1}]`));
  }
  if (extra > 0) issues.push(issue('error', 'structure', `${extra} further issues not listed`));
  // A junk line keeps its text (lossless) but gets no name; note a segment-ID-less line could
  // still be the result of a bare LF inside a field, which is why it is an error, not a split.
  const message = new Hl7Message(segs, d, text);
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

/**
 * Rebuild a message from its JSON form (`msg.hl7`), e.g. after a function node edited
 * `segments`. Shape errors come back as issues, never thrown.
 */
export function fromJSON(json: unknown): { message?: Hl7Message; issues: Issue[] } {
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
  let text = '';
  rows.forEach((s, i) => {
    text += s[0] === 'MSH' ? `MSH${fs}${s.slice(2).join(fs)}` : s.join(fs);
    text += typeof eol === 'string' ? eol : (eol[i] ?? '');
  });
  return parseHl7(text);
}
