/**
 * HL7 v2 batches (HL7 v2.5.1 Chapter 2, 2.10.3 "HL7 batch protocol"; segments BHS 2.15.2,
 * BTS 2.15.3, FHS 2.15.6, FTS 2.15.7): `[FHS] {[BHS] {MSH...} [BTS]} [FTS]`. Splitting returns
 * each message's original text (its own segment terminators included) and checks the trailer
 * counts BTS-1 and FTS-1 so a half-delivered batch is reported, not silently accepted.
 *
 * Files saved from an MLLP stream are split too: a byte-order mark or 0x0B start block before a
 * header is skipped when recognising it (and stays in that message's text), and lines holding
 * only 0x1C end blocks or blanks belong to the message before them, so `parseHl7` of each part
 * reports them as the deviations they are.
 */
import { issue, type Issue } from '../outcome';
import { cutSegments } from './text';

/** Length of a BOM / 0x0B run at the start of a line. */
function leadLength(raw: string): number {
  let k = 0;
  while (k < raw.length && (raw.charCodeAt(k) === 0xfeff || raw.charCodeAt(k) === 0x0b)) k++;
  return k;
}

// eslint-disable-next-line no-control-regex
const FRAMING_OR_BLANK = /^[\u001c \t]*$/;
// What may stand on its own line before an MSH and still be that message's lead (see parseHl7).
// eslint-disable-next-line no-control-regex
const LEAD_LINE = /^[\ufeff\u000b \t]*$/;

/**
 * Split a batch file (or several concatenated messages without headers) into message texts.
 * Issues: text outside any message, missing BTS/FTS trailers, count mismatches, no message.
 */
export function splitBatch(text: string): { messages: string[]; issues: Issue[] } {
  const messages: string[] = [];
  const issues: Issue[] = [];
  if (typeof text !== 'string' || text.trim() === '') {
    return { messages, issues: [issue('error', 'required', 'empty batch: no HL7 content')] };
  }
  let current: string | undefined;
  let fs = '|';
  let inFile = false;
  let inBatch = false;
  let batchCount = 0; // messages in the current batch
  let batches = 0; // batches in the file
  let stray = 0;
  // Blank lines before a message outside any other message: kept as the start of that message.
  let pending = '';
  const flush = (): void => {
    if (current !== undefined) { messages.push(current); batchCount++; }
    current = undefined;
  };
  const count = (raw: string): number | undefined => {
    const v = raw.split(fs)[1]?.trim();
    return v === undefined || v === '' || !/^\d+$/.test(v) ? undefined : Number(v);
  };
  for (const s of cutSegments(text)) {
    const at = leadLength(s.raw);
    const name = s.raw.slice(at, at + 3);
    const headerLike = name === 'FHS' || name === 'BHS' || name === 'MSH';
    if (headerLike && s.raw.length > at + 3) fs = s.raw.charAt(at + 3);
    if (name === 'MSH') {
      flush();
      current = pending + s.raw + s.eol;
      pending = '';
      continue;
    }
    if (current === undefined && LEAD_LINE.test(s.raw)) {
      pending += s.raw + s.eol;
      continue;
    }
    pending = '';
    if (name === 'FHS') {
      flush();
      if (inFile) issues.push(issue('error', 'structure', 'FHS inside a file batch without FTS', 'FHS'));
      inFile = true;
    } else if (name === 'BHS') {
      flush();
      if (inBatch) issues.push(issue('error', 'incomplete', 'BHS without the previous batch\'s BTS', 'BTS'));
      inBatch = true;
      batchCount = 0;
      batches++;
    } else if (name === 'BTS') {
      flush();
      const n = count(s.raw);
      if (n !== undefined && n !== batchCount) issues.push(issue('error', 'incomplete', `BTS-1 says ${n} messages, batch holds ${batchCount}`, 'BTS-1'));
      if (!inBatch) batches++;
      inBatch = false;
    } else if (name === 'FTS') {
      flush();
      if (inBatch) { issues.push(issue('error', 'incomplete', 'batch has no BTS trailer before FTS', 'BTS')); inBatch = false; }
      const n = count(s.raw);
      if (n !== undefined && n !== batches) issues.push(issue('error', 'incomplete', `FTS-1 says ${n} batches, file holds ${batches}`, 'FTS-1'));
      inFile = false;
    } else if (current !== undefined) {
      current += s.raw + s.eol;
    } else if (s.raw.trim() !== '' && !FRAMING_OR_BLANK.test(s.raw)) {
      stray++;
    }
  }
  flush();
  if (stray > 0) issues.push(issue('error', 'structure', `${stray} segment(s) outside any message`));
  if (inBatch) issues.push(issue('error', 'incomplete', 'batch has no BTS trailer: it may be truncated', 'BTS'));
  if (inFile) issues.push(issue('error', 'incomplete', 'file has no FTS trailer: it may be truncated', 'FTS'));
  if (messages.length === 0 && issues.length === 0 && batches === 0) issues.push(issue('error', 'required', 'no MSH: the batch holds no messages', 'MSH'));
  return { messages, issues };
}

/**
 * True when `text` should go through {@link splitBatch} rather than straight to `parseHl7`: it
 * starts with FHS/BHS, or a second MSH starts a line, also behind a BOM or an MLLP start block
 * (0x0B) as in a file saved from an MLLP stream.
 */
export function looksLikeBatch(text: string): boolean {
  const at = leadLength(text);
  const first = text.slice(at, at + 3);
  if (first === 'FHS' || first === 'BHS') return true;
  // eslint-disable-next-line no-control-regex
  return /[\r\n][\ufeff\u000b]*MSH/.test(text);
}
