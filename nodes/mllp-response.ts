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
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { appendAudit, onInput } from './shared/input';
import { confirmHandoff } from './shared/handoff';
import { listenerNode, parseSessionHandle } from './shared/mllp';
import { StatusReporter } from './shared/status';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

const CODES = new Set(['AA', 'AE', 'AR']);
const isCode = (v: unknown): v is AckCode => typeof v === 'string' && CODES.has(v);

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const MLLP_RESPONSE_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  RED.nodes.registerType('nhs-mllp-response', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this, upgradeNode(this, raw, MLLP_RESPONSE_CONFIG));
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  const status = new StatusReporter(node);
  const t = catalog(RED, 'mllp-response');
  const counts = (): string => t('mllp-response.status.sent', { sent }) + (failed ? t('mllp-response.status.failed', { failed }) : '');
  const cfgCode = isCode(def.code) ? def.code : 'auto';
  const replyPayload = def.reply === 'payload';
  const cfgText = typeof def.text === 'string' && def.text ? def.text : undefined;
  let sent = 0;
  let failed = 0;

  onInput(node, async (msg: NodeMessage) => {
    const ref = msg._mllp as { session?: unknown; storeId?: unknown } | undefined;
    const h = parseSessionHandle(ref?.session);
    if (!ref || !h) throw new NhsError('MLLP_NO_SESSION', t('mllp-response.errors.noMllp'));
    const listener = listenerNode(RED, h.listener);
    if (!listener) throw new NhsError('MLLP_NO_SESSION', t('mllp-response.errors.noListener'));
    const outcome = msg.outcome as OperationOutcome | undefined;
    const override = (msg.reply ?? {}) as { code?: unknown; text?: unknown };
    const code: AckCode = isCode(override.code) ? override.code : cfgCode === 'auto' ? (outcome && Array.isArray(outcome.issue) && hasErrors(outcome) ? 'AE' : 'AA') : cfgCode;
    const text = typeof override.text === 'string' ? override.text : cfgText;
    const issues: Issue[] = code !== 'AA' && outcome && Array.isArray(outcome.issue) ? outcome.issue : [];
    let req: ReplyRequest = { code, issues, ...(text !== undefined ? { text } : {}) };
    if (replyPayload) {
      const p = msg.payload;
      if (!Buffer.isBuffer(p) && typeof p !== 'string') throw new NhsError('MLLP_BAD_REPLY', t('mllp-response.errors.badReply'));
      req = { payload: p };
    }
    try {
      const ack = await listener.mllpRespond(ref.session as string, typeof ref.storeId === 'string' ? ref.storeId : undefined, req);
      if (ack) msg.ack = ack;
    } catch (e) {
      failed++;
      status.error(counts());
      throw e;
    }
    // The stored message is marked processed or errored (committed): in `commit` mode the
    // listener's hand-off of it is safe (HAZ-005 C8).
    confirmHandoff(RED, msg);
    sent++;
    status.ok(counts());
    const cid = (msg.hl7 as { controlId?: unknown } | undefined)?.controlId;
    appendAudit(msg, { node: node.id, action: 'acknowledge', outcome: replyPayload ? 'reply' : code, ...(typeof cid === 'string' ? { ref: cid } : {}) });
    return msg;
  }, 'MLLP_RESPONSE_FAILED');
}
