/**
 * Reading HL7 v2 input as a node receives it: text or bytes (charset from MSH-18) and a size
 * limit (whether it is a batch to split: `looksLikeBatch` in batch.ts). Problems are
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

