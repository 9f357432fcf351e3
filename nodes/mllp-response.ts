/**
 * `nhs-mllp-response`: sends the application acknowledgment (HL7 v2.5.1 2.14.1 ACK: MSA-1
 * AA/AE/AR, MSA-3 text, one ERR per issue) for a message received by `nhs-mllp-in`, on the
 * connection it came in on (found through `msg._mllp.session`), or a custom reply payload; and
 * marks the stored message `processed` (AA) or `errored`.
 */
import { NhsError } from '../lib/errors';
import { hasErrors, type Issue, type OperationOutcome } from '../lib/outcome';
import { buildAck, encodeHl7Text, type AckCode } from '../lib/hl7';
import { isSessionOpen, pendingReply } from '../lib/mllp/replies';
import type { Store } from '../lib/store/types';
import { appendAudit, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

interface MllpRef { session?: unknown; seq?: unknown; storeId?: unknown; node?: unknown; policy?: unknown }
const CODES = new Set(['AA', 'AE', 'AR']);

/** The store of the `nhs-mllp-in` node that received the message (undefined for `immediate`). */
function listenerStore(n: Node | null): Promise<Store> | undefined {
  const f = (n as { mllpStore?: unknown } | null)?.mllpStore;
  return typeof f === 'function' ? (f as () => Promise<Store> | undefined).call(n) : undefined;
}

export = function (RED: RED) {
  RED.nodes.registerType('nhs-mllp-response', function (this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    setup(RED, this, def);
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  {
    const status = new StatusReporter(node);
    const cfgCode = typeof def.code === 'string' && CODES.has(def.code) ? (def.code as AckCode) : 'auto';
    const reply = def.reply === 'payload' ? 'payload' : 'ack';
    const cfgText = typeof def.text === 'string' && def.text ? def.text : undefined;
    let sent = 0;
    let failed = 0;

    onInput(node, async (msg: NodeMessage) => {
      const ref = msg._mllp as MllpRef | undefined;
      if (!ref || typeof ref.session !== 'string' || typeof ref.seq !== 'number') {
        throw new NhsError('MLLP_NO_SESSION', 'msg._mllp is missing: this message did not come from an nhs-mllp-in node');
      }
      const outcome = msg.outcome as OperationOutcome | undefined;
      const override = (msg.ack ?? {}) as { code?: unknown; text?: unknown };
      let code: AckCode = typeof override.code === 'string' && CODES.has(override.code) ? (override.code as AckCode) : cfgCode === 'auto' ? (outcome && Array.isArray(outcome.issue) && hasErrors(outcome) ? 'AE' : 'AA') : cfgCode;
      const text = typeof override.text === 'string' ? override.text : cfgText;
      const issues: Issue[] = code !== 'AA' && outcome && Array.isArray(outcome.issue) ? outcome.issue : [];
      const wait = pendingReply(ref.session, ref.seq);
      let error: NhsError | undefined;
      let replied = false;
      if (wait) {
        let bytes: Buffer;
        if (reply === 'payload') {
          const p = msg.payload;
          if (!Buffer.isBuffer(p) && typeof p !== 'string') throw new NhsError('MLLP_BAD_REPLY', 'msg.payload must be text or a Buffer to send as the reply');
          bytes = Buffer.isBuffer(p) ? p : encodeHl7Text(p, wait.charset);
          code = 'AA';
        } else {
          bytes = encodeHl7Text(buildAck(wait.message, code, { ...(text !== undefined ? { text } : {}), issues }), wait.charset);
        }
        wait.resolve(bytes);
        replied = true;
      } else if (ref.policy === 'flow') {
        error = isSessionOpen(ref.session)
          ? new NhsError('MLLP_REPLY_LATE', 'no reply is awaited for this message (already answered or timed out with AE)')
          : new NhsError('MLLP_SESSION_GONE', 'the connection this message arrived on is closed; the sender will resend');
      }
      if (typeof ref.storeId === 'string' && typeof ref.node === 'string' && !(error?.code === 'MLLP_SESSION_GONE')) {
        const store = await listenerStore(RED.nodes.getNode(ref.node));
        await store?.setMessageStatus(ref.storeId, code === 'AA' ? 'processed' : 'errored', text ?? `application acknowledgment ${code}`);
      }
      if (error) {
        failed++;
        status.error(`${sent} sent, ${failed} failed`);
        throw error;
      }
      sent++;
      status.ok(`${sent} sent${failed ? `, ${failed} failed` : ''}`);
      msg.ack = { code, sent: replied };
      const cid = (msg.hl7 as { controlId?: unknown } | undefined)?.controlId;
      appendAudit(msg, { node: 'nhs-mllp-response', action: 'acknowledge', outcome: code, ...(typeof cid === 'string' ? { ref: cid } : {}) });
      return msg;
    }, 'MLLP_RESPONSE_FAILED');
  }
}
