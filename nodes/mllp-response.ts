/**
 * `nhs-mllp-response`: sends the application acknowledgment (HL7 v2.5.1 2.14.1 ACK: MSA-1
 * AA/AE/AR, MSA-3 text, one ERR per issue) for a message received by `nhs-mllp-in`, on the
 * connection it came in on (found through `msg._mllp.session`), or a custom reply payload; and
 * marks the stored message `processed` (AA) or `errored`. The verdict comes from `msg.outcome`
 * or the node's setting; `msg.reply = { code, text }` overrides it for one message.
 */
import { NhsError } from '../lib/errors';
import { hasErrors, type Issue, type OperationOutcome } from '../lib/outcome';
import type { AckCode } from '../lib/hl7';
import type { ReplyRequest } from '../lib/channel';
import { appendAudit, onInput } from './shared/input';
import { listenerNode, parseSessionHandle } from './shared/mllp';
import { StatusReporter } from './shared/status';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

const CODES = new Set(['AA', 'AE', 'AR']);
const isCode = (v: unknown): v is AckCode => typeof v === 'string' && CODES.has(v);

export = function (RED: RED) {
  RED.nodes.registerType('nhs-mllp-response', function (this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    setup(RED, this, def);
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  const status = new StatusReporter(node);
  const cfgCode = isCode(def.code) ? def.code : 'auto';
  const replyPayload = def.reply === 'payload';
  const cfgText = typeof def.text === 'string' && def.text ? def.text : undefined;
  let sent = 0;
  let failed = 0;

  onInput(node, async (msg: NodeMessage) => {
    const ref = msg._mllp as { session?: unknown; storeId?: unknown } | undefined;
    const h = parseSessionHandle(ref?.session);
    if (!ref || !h) throw new NhsError('MLLP_NO_SESSION', 'msg._mllp is missing: this message did not come from an nhs-mllp-in node');
    const listener = listenerNode(RED, h.listener);
    if (!listener) throw new NhsError('MLLP_NO_SESSION', 'the nhs-mllp-in node that received this message is not deployed');
    const outcome = msg.outcome as OperationOutcome | undefined;
    const override = (msg.reply ?? {}) as { code?: unknown; text?: unknown };
    const code: AckCode = isCode(override.code) ? override.code : cfgCode === 'auto' ? (outcome && Array.isArray(outcome.issue) && hasErrors(outcome) ? 'AE' : 'AA') : cfgCode;
    const text = typeof override.text === 'string' ? override.text : cfgText;
    const issues: Issue[] = code !== 'AA' && outcome && Array.isArray(outcome.issue) ? outcome.issue : [];
    let req: ReplyRequest = { code, issues, ...(text !== undefined ? { text } : {}) };
    if (replyPayload) {
      const p = msg.payload;
      if (!Buffer.isBuffer(p) && typeof p !== 'string') throw new NhsError('MLLP_BAD_REPLY', 'msg.payload must be text or a Buffer to send as the reply');
      req = { payload: p };
    }
    try {
      const ack = await listener.mllpRespond(ref.session as string, typeof ref.storeId === 'string' ? ref.storeId : undefined, req);
      if (ack) msg.ack = ack;
    } catch (e) {
      failed++;
      status.error(`${sent} sent, ${failed} failed`);
      throw e;
    }
    sent++;
    status.ok(`${sent} sent${failed ? `, ${failed} failed` : ''}`);
    const cid = (msg.hl7 as { controlId?: unknown } | undefined)?.controlId;
    appendAudit(msg, { node: node.id, action: 'acknowledge', outcome: replyPayload ? 'reply' : code, ...(typeof cid === 'string' ? { ref: cid } : {}) });
    return msg;
  }, 'MLLP_RESPONSE_FAILED');
}
