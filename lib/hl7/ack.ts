/**
 * General acknowledgment (HL7 v2.5.1 Chapter 2, 2.9 "Message processing rules", 2.14.1 ACK,
 * 2.15.8 MSA, 2.15.5 ERR; ERR layout before v2.5 per v2.4 2.16.5 ELD).
 *
 * Original mode answers AA/AE/AR; enhanced mode (either MSH-15 or MSH-16 valued) answers the
 * accept acknowledgment CA/CE/CR. The ACK swaps sender and receiver, echoes MSH-10 in MSA-2 and
 * the version in MSH-12, and uses the original's delimiters. Clock and control id are injected
 * so ACKs are deterministic in tests.
 */
import { randomBytes } from 'node:crypto';
import { issue, type Issue } from '../outcome';
import { DEFAULT_DELIMITERS, encodingCharacters, mshDelimiters, type Delimiters } from './delimiters';
import { escapeHl7 } from './escape';
import { formatHl7DateTime } from './datetime';
import type { Hl7Message } from './message';
import { parseHl7 } from './parse';
import { decodeHl7Bytes } from './charset';
import { parsePath } from './path';

export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** `enhanced` when the original asks for it through MSH-15 or MSH-16 (v2.5.1 2.9.3), else `original`. */
export function ackMode(original: Hl7Message): 'original' | 'enhanced' {
  return original.get('MSH-15') !== undefined || original.get('MSH-16') !== undefined ? 'enhanced' : 'original';
}

/** HL7 table 0357 (message error condition codes) for an OperationOutcome issue type. */
function errorCode(i: Issue): [string, string] {
  const coded = i.details?.coding?.find((c) => c.system?.includes('0357') && c.code);
  if (coded?.code) return [coded.code, coded.display ?? ''];
  switch (i.code) {
    case 'required': return ['101', 'Required field missing'];
    case 'value': case 'invalid': case 'too-long': return ['102', 'Data type error'];
    case 'code-invalid': return ['103', 'Table value not found'];
    case 'structure': return ['100', 'Segment sequence error'];
    case 'not-supported': return ['200', 'Unsupported message type'];
    case 'duplicate': return ['205', 'Duplicate key identifier'];
    case 'conflict': case 'lock-error': return ['206', 'Application record locked'];
    default: return ['207', 'Application internal error'];
  }
}

function minorVersion(v: string | undefined): number {
  const m = /^2\.(\d+)/.exec(v ?? '');
  return m ? Number(m[1]) : 5;
}

const MAX_ERR = 50;

/** ERR segments for issues; v2.5+ uses ERR-2/3/4/8, older versions ERR-1 (ELD). */
function errSegments(issues: Issue[], d: Delimiters, version: string | undefined, text: string | undefined, code: AckCode): string[] {
  const fs = d.field;
  const c = d.component;
  const sc = d.subcomponent;
  const esc = (s: string): string => escapeHl7(s, d);
  const v = minorVersion(version);
  const list = issues.filter((i) => i.severity !== 'information' || issues.length === 1).slice(0, MAX_ERR);
  if (list.length === 0 && text !== undefined && code !== 'AA' && code !== 'CA') {
    list.push(issue('error', 'exception', text));
  }
  return list.map((i) => {
    const [ec, et] = errorCode(i);
    const p = i.expression?.[0] !== undefined ? parsePath(i.expression[0]) : undefined;
    const segOnly = i.expression?.[0] !== undefined && /^[A-Z][A-Z0-9]{2}$/.test(i.expression[0]) ? i.expression[0] : undefined;
    if (v < 5) {
      const loc = p ? [p.segment, String(p.occurrence), String(p.field)] : segOnly ? [segOnly, '1', ''] : ['', '', ''];
      // ELD's code is a CE in sub-components; a short MSH-2 without `&` can only carry the code.
      return `ERR${fs}${loc.join(c)}${c}${sc !== undefined ? `${[ec, esc(et)].join(sc)}${sc}HL70357` : ec}`;
    }
    const erl = p
      ? [p.segment, String(p.occurrence), String(p.field), String(p.repetition ?? 1), p.component !== undefined ? String(p.component) : '', p.subcomponent !== undefined ? String(p.subcomponent) : ''].join(c).replace(new RegExp(`\\${c}+$`), '')
      : segOnly ?? '';
    const sev = i.severity === 'warning' ? 'W' : i.severity === 'information' ? 'I' : 'E';
    const fields = ['ERR', '', erl, `${ec}${c}${esc(et)}${c}HL70357`, sev, '', '', '', esc((i.diagnostics ?? '').slice(0, 250))];
    return fields.join(fs);
  });
}

/**
 * The one MSH-10 generator for messages we originate (ACKs, NAKs): a random per-process prefix
 * plus a counter — unique, at most 20 characters (MSH-10 is ST 20 in v2.5.1), and without a
 * crypto call per message (one ACK per received message).
 */
const controlIdPrefix = `A${randomBytes(4).toString('hex')}`;
let controlIdCounter = 0;
export function newControlId(): string {
  controlIdCounter = (controlIdCounter + 1) % 1e11;
  return `${controlIdPrefix}${controlIdCounter}`;
}

/**
 * An acknowledgment as it appears on `msg.ack` wherever one is sent or received (DESIGN.md §2):
 * `code` MSA-1 (AA/AE/AR/CA/CE/CR, or '' when absent), `controlId` MSA-2 (the MSH-10 of the
 * message it acknowledges), `text` MSA-3 (or '' when absent), `raw` the whole ACK text.
 */
export interface AckInfo {
  code: string;
  controlId: string;
  text: string;
  raw: string;
}

/** Read MSA-1/2/3 of an ACK (HL7 v2.5.1 2.15.8 MSA) with the one HL7 parser; never throws. */
export function readAck(ack: Buffer | string): AckInfo {
  const raw = typeof ack === 'string' ? ack : decodeHl7Bytes(ack).text;
  const m = parseHl7(raw).message;
  return { code: m?.get('MSA-1') ?? '', controlId: m?.get('MSA-2') ?? '', text: m?.get('MSA-3') ?? '', raw };
}

/**
 * Build an acknowledgment for `original` (HL7 v2.5.1 2.14.1 ACK). MSA-2 is the original MSH-10;
 * MSH-3/4 and MSH-5/6 are swapped; MSH-9 is `ACK^<event>^ACK`; MSH-11, MSH-12 and MSH-18 are
 * echoed. `text` goes in MSA-3 (before v2.7, where it was withdrawn); each issue becomes one ERR
 * (at most 50). `now` and `controlId` are injectable; by default the current time and a random id.
 */
export function buildAck(original: Hl7Message, code: AckCode, opts?: { text?: string; issues?: Issue[]; now?: Date; controlId?: string }): string {
  const d = original.delimiters;
  const fs = d.field;
  // Every MLLP message gets one of these: the MSH is read as one field list (MSH-n is f[n - 1]),
  // not walked once per field.
  const f = original.mshFields();
  const raw = (n: number): string => f[n - 1] ?? '';
  const event = original.event;
  const version = original.version;
  let msh = `MSH${fs}${encodingCharacters(d)}${fs}${raw(5)}${fs}${raw(6)}${fs}${raw(3)}${fs}${raw(4)}${fs}` +
    `${formatHl7DateTime(opts?.now ?? new Date())}${fs}${fs}` +
    `${event !== undefined ? `ACK${d.component}${escapeHl7(event, d)}${d.component}ACK` : 'ACK'}${fs}` +
    `${escapeHl7(opts?.controlId ?? newControlId(), d)}${fs}${raw(11)}${fs}${raw(12)}`;
  const charset = raw(18);
  if (charset !== '') msh += `${fs}${fs}${fs}${fs}${fs}${fs}${charset}`;
  let msa = `MSA${fs}${code}${fs}${raw(10)}`;
  if (opts?.text !== undefined && minorVersion(version) < 7) msa += `${fs}${escapeHl7(opts.text.slice(0, 80), d)}`;
  let out = `${msh}\r${msa}\r`;
  if (opts?.issues?.length || (opts?.text !== undefined && code !== 'AA' && code !== 'CA')) {
    for (const e of errSegments(opts.issues ?? [], d, version, opts.text, code)) out += `${e}\r`;
  }
  return out;
}

/**
 * `readAck(ack)` for an `ack` that {@link buildAck} made from `original` with a positive `code`
 * and no text or issues, without parsing it again (the MLLP listener puts one on every msg it
 * emits): MSA-1 is `code`, MSA-2 the original's MSH-10 field as sent (same field text, same
 * delimiters, so it reads back as `original.get('MSH-10')`), MSA-3 absent. A property test checks
 * it against `readAck` over generated messages with any legal delimiters.
 */
export function positiveAckInfo(original: Hl7Message, code: 'AA' | 'CA', ack: string): AckInfo {
  return { code, controlId: original.get('MSH-10') ?? '', text: '', raw: ack };
}

/** Strip what must never be echoed back: control characters, and anything overlong. */
function clean(v: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  return (v ?? '').replace(/[\x00-\x1F\x7F]/g, '').slice(0, 100);
}

/**
 * Build a negative acknowledgment for input that could not be parsed as a message. Whatever of
 * MSH-3..6, MSH-9.2, MSH-10, MSH-11, MSH-12 and MSH-18 is recoverable from the first line is
 * used (with the message's own delimiters when usable, else `|^~\&`); the rest stays empty,
 * and the version defaults to 2.5.1.
 */
export function buildNak(rawText: string, code: 'AE' | 'AR', issues: Issue[], opts?: { now?: Date; controlId?: string }): string {
  const text = typeof rawText === 'string' ? rawText : '';
  const start = text.indexOf('MSH');
  let d: Delimiters = { ...DEFAULT_DELIMITERS };
  let pieces: string[] = [];
  if (start >= 0 && start < 16) {
    const rest = text.slice(start);
    const eol = rest.search(/[\r\n]/);
    const line = (eol < 0 ? rest : rest.slice(0, eol)).slice(0, 4096);
    const got = mshDelimiters(line);
    if (typeof got !== 'string') {
      d = got;
      pieces = line.split(got.field);
    }
  }
  const f = (n: number): string => clean(pieces[n - 1]);
  const version = f(12) !== '' ? f(12) : '2.5.1';
  const fs = d.field;
  const synthetic = ['MSH', encodingCharacters(d), f(3), f(4), f(5), f(6), '', '', f(9), f(10), f(11), version, '', '', '', '', '', f(18)].join(fs);
  // The fallback is unreachable with the delimiters checked above, but a NAK must always be produced.
  const parsed = parseHl7(synthetic).message ?? parseHl7(`MSH|^~\\&||||||||||2.5.1`).message;
  return buildAck(parsed as Hl7Message, code, { issues, ...(opts ?? {}) });
}
