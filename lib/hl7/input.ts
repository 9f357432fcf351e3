/**
 * Reading HL7 v2 input as a node receives it: text or bytes (charset from MSH-18), a size limit,
 * and whether the text is a batch (FHS/BHS, or several MSH segments) to split. Problems are
 * issues, not exceptions (DESIGN.md §3).
 */
import { issue, type Issue } from '../outcome';
import { decodeHl7Bytes } from './charset';

/** The text of `v` (decoded when bytes), or the issue saying why there is none. */
export function hl7Text(v: unknown, where: string, maxBytes: number): { text?: string; issues: Issue[] } {
  if (typeof v !== 'string' && !Buffer.isBuffer(v)) {
    const kind = v === undefined || v === null ? 'empty' : `a ${Array.isArray(v) ? 'array' : typeof v}`;
    return { issues: [issue('error', 'structure', `${where} is ${kind}, not HL7 text or bytes`)] };
  }
  const size = Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v);
  if (size > maxBytes) return { issues: [issue('error', 'too-long', `${where} is ${size} bytes, over the ${maxBytes}-byte limit`)] };
  return { text: Buffer.isBuffer(v) ? decodeHl7Bytes(v).text : v, issues: [] };
}

/** A batch file (FHS/BHS header) or several messages in one text (HL7 v2.5.1 §2.10.3). */
export function isBatchText(text: string): boolean {
  const first = text.slice(0, 3);
  return first === 'FHS' || first === 'BHS' || text.includes('\rMSH') || text.includes('\nMSH');
}
