/**
 * What an MLLP listener does with each frame: decode by MSH-18, parse, keep, acknowledge
 * (HL7 v2.5.1 Chapter 2, 2.9 "Message processing rules"; DESIGN.md §4 durability model).
 *
 * - `commit` (default): the raw bytes are appended to the store and the append has committed
 *   before AA is built; a store failure answers AE ("not kept, send again"), never AA.
 * - `flow`: kept the same way, then the flow's `nhs-mllp-response` supplies the application ACK
 *   through this listener's {@link ReplyRendezvous}; no answer within the timeout → AE.
 * - `immediate`: AA at once, nothing kept (opt-in; a crash loses what was in flight).
 *
 * A message that cannot be parsed is answered AR when its MSH is unusable (HL7 2.9.2: rejected
 * on MSH grounds) or AE otherwise, and is still kept (status `errored`) so nothing is lost.
 * Enhanced-mode senders (MSH-15/16 valued) get the accept codes CA/CE/CR instead.
 */
import type { Hl7Message } from '../hl7';
import { ackMode, buildAck, buildNak, decodeHl7Bytes, encodeHl7Text, newControlId, parseHl7, positiveAckInfo, type AckCode, type AckInfo } from '../hl7';
import { toNhsError } from '../errors';
import { hasErrors, isError, issue, type Issue } from '../outcome';
import type { FrameHandler, LogFn, MllpSession } from '../mllp';
import { indexText, type NewMessage, type Store } from '../store';
import { ReplyRendezvous } from './replies';

export type AckPolicy = 'commit' | 'flow' | 'immediate';

/** One received message, as the node turns it into a msg. Plain data plus the parsed message. */
export interface Received {
  text: string;
  charset: string;
  message?: Hl7Message;
  issues: Issue[];
  valid: boolean;
  storeId?: string;
  /** Store sequence number of the kept record (the hand-off watermark counts these). */
  storeSeq?: number;
  session: string;
  seq: number;
  remoteAddress: string;
  /** The ACK/NAK sent (or, for `flow`, undefined until the flow answers). */
  ack?: string;
  /** `readAck(ack)` when it is known without parsing the ACK again (a positive ACK). */
  ackInfo?: AckInfo;
  /** Emitted again on start because it was kept but not yet handed over (DESIGN.md §4). */
  replayed?: true;
}

export interface ReceiverOptions {
  policy: AckPolicy;
  /** Store channel name (the mllp-in node id). */
  channel: string;
  /** Receiving owner recorded on each kept message (stable per instance; see lib/channel/handoff). */
  owner?: string;
  /** Required for `commit` and `flow`. */
  store?: () => Promise<Store>;
  /** `flow`: how long to wait for the application ACK (default 30 s). */
  flowTimeoutMs?: number;
  /** `flow`: where the application ACK is awaited (one per listener; a new one by default). */
  replies?: ReplyRendezvous;
  /** Reject the real-world deviations the lenient parser accepts with a warning. */
  strict?: boolean;
  now?: () => Date;
  /** Called once the message is kept (or not) and its ACK decided. */
  onMessage(r: Received): void;
  /** A message could not be kept (store error code, e.g. `STORE_FULL`); its sender got AE/AR. */
  onNotKept?(code: string): void;
  /** An append is about to start / has finished (the hand-off watermark must not pass it). */
  onAppend?(phase: 'start' | 'end', token: object): void;
  log?: LogFn;
}

const POSITIVE: Record<'original' | 'enhanced', 'AA' | 'CA'> = { original: 'AA', enhanced: 'CA' };
const ERROR: Record<'original' | 'enhanced', AckCode> = { original: 'AE', enhanced: 'CE' };
const REJECT: Record<'original' | 'enhanced', AckCode> = { original: 'AR', enhanced: 'CR' };

/** True when the issues concern the MSH itself (2.9.2: AR territory) rather than the content. */
function mshProblem(issues: Issue[]): boolean {
  return issues.some((i) => isError(i) && (i.expression ?? []).some((e) => e.startsWith('MSH')));
}

/** Build the frame handler for a listener. */
export function mllpReceiver(o: ReceiverOptions): FrameHandler {
  const now = o.now ?? (() => new Date());
  const log = o.log ?? (() => undefined);
  const flowMs = o.flowTimeoutMs ?? 30_000;
  const replies = o.replies ?? new ReplyRendezvous();
  const parseOpts = { strict: o.strict === true };

  const keep = async (raw: Buffer, m: Hl7Message | undefined, r: Received): Promise<void> => {
    if (!o.store) throw toNhsError(new Error('no store configured'), 'STORE_UNAVAILABLE');
    const store = await o.store();
    // Each header value read once, and no spread objects: this runs for every kept message.
    const row: NewMessage = { channel: o.channel, raw };
    const controlId = m?.controlId;
    if (controlId !== undefined) row.controlId = indexText(controlId);
    const messageType = m?.type;
    if (messageType !== undefined) row.messageType = indexText(messageType);
    if (o.owner !== undefined) row.owner = o.owner;
    row.meta = { remoteAddress: r.remoteAddress, charset: r.charset, session: r.session, valid: r.valid };
    const token = {};
    o.onAppend?.('start', token);
    try {
      const rec = await store.appendMessage(row);
      r.storeId = rec.id;
      r.storeSeq = rec.seq;
    } finally {
      o.onAppend?.('end', token);
    }
    if (!r.valid) {
      await store.setMessageStatus(r.storeId, 'errored', 'rejected: HL7 structure errors').catch(() => undefined);
    }
  };

  // Built once per listener, not as closures per frame: this runs for every message.
  const ackFor = (m: Hl7Message | undefined, text: string, code: AckCode, extra?: { text?: string; issues?: Issue[] }): string =>
    m ? buildAck(m, code, { now: now(), controlId: newControlId(), ...extra }) : buildNak(text, code === 'AR' || code === 'CR' ? 'AR' : 'AE', extra?.issues ?? [], { now: now(), controlId: newControlId() });

  /** `commit`/`flow` after the parse: keep, then AA (commit) or wait for the flow's answer. */
  const keepThenAck = async (raw: Buffer, m: Hl7Message, text: string, mode: 'original' | 'enhanced', r: Received, session: MllpSession, seq: number): Promise<Buffer | undefined> => {
    const charset = r.charset;
    try {
      await keep(raw, m, r);
    } catch (e) {
      const err = toNhsError(e, 'STORE_UNAVAILABLE');
      log('warn', `mllp: message ${m.controlId ?? '?'} not stored (${err.code}); answered AE`);
      o.onNotKept?.(err.code);
      return encodeHl7Text(ackFor(m, text, ERROR[mode], { text: 'Message not stored, please resend', issues: [issue('error', 'transient', 'receiver could not store the message; resend')] }), charset);
    }
    if (o.policy === 'commit') {
      r.ack = ackFor(m, text, POSITIVE[mode]);
      r.ackInfo = positiveAckInfo(m, POSITIVE[mode], r.ack);
      o.onMessage(r);
      return encodeHl7Text(r.ack, charset);
    }
    const storeId = r.storeId as string;
    const reply = replies.expect(session.id, seq, m, charset, flowMs, () => {
      // Record why the sender got AE; a failure here changes nothing for the sender.
      void o.store?.().then((s) => s.setMessageStatus(storeId, 'errored', 'no application acknowledgment in time')).catch(() => undefined);
      return encodeHl7Text(ackFor(m, text, ERROR[mode], { text: 'No application response in time', issues: [issue('error', 'timeout', `no application acknowledgment within ${flowMs} ms`)] }), charset);
    });
    o.onMessage(r);
    return reply;
  };

  /** A rejected message: still kept (status `errored`) unless `immediate`, then AR/AE. */
  const keepRejected = async (raw: Buffer, m: Hl7Message | undefined, r: Received): Promise<Buffer> => {
    try {
      await keep(raw, m, r);
    } catch (e) {
      const code = toNhsError(e, 'STORE_UNAVAILABLE').code;
      log('warn', `mllp: could not keep a rejected message (${code})`);
      o.onNotKept?.(code);
    }
    o.onMessage(r);
    return encodeHl7Text(r.ack as string, r.charset);
  };

  // Not async: in `immediate` the ACK is returned synchronously, so the server writes it in the
  // same turn without a promise per message.
  return (raw: Buffer, session: MllpSession, seq: number): Buffer | Promise<Buffer | undefined> => {
    const { text, charset } = decodeHl7Bytes(raw);
    const parsed = parseHl7(text, parseOpts);
    const m = parsed.message;
    const valid = m !== undefined && !hasErrors(parsed.issues);
    const mode = m ? ackMode(m) : 'original';
    const r: Received = { text, charset, issues: parsed.issues, valid, session: session.id, seq, remoteAddress: session.remoteAddress };
    if (m) r.message = m;
    if (!valid) {
      const code = !m || mshProblem(parsed.issues) ? REJECT[mode] : ERROR[mode];
      r.ack = ackFor(m, text, code, { issues: parsed.issues.filter((i) => i.severity !== 'information') });
      if (o.policy !== 'immediate') return keepRejected(raw, m, r);
      o.onMessage(r);
      return encodeHl7Text(r.ack, charset);
    }
    if (o.policy === 'immediate') {
      r.ack = ackFor(m, text, POSITIVE[mode]);
      r.ackInfo = positiveAckInfo(m, POSITIVE[mode], r.ack);
      o.onMessage(r);
      return encodeHl7Text(r.ack, charset);
    }
    return keepThenAck(raw, m, text, mode, r, session, seq);
  };
}
