/**
 * `nhs-mllp-out`: queue an HL7 v2 message in the persistent outbox for an `nhs-mllp-endpoint`,
 * which delivers it in order and checks MSA-2 = MSH-10 (HL7 v2.5.1 2.14.1; DESIGN.md §4).
 * The input completes once the message is durably queued. Output 1: the AA (or CA) for each
 * delivered message; output 2: what was parked after its retry budget or a negative ACK, and
 * input that is not an HL7 message (with `msg.outcome`; not queued).
 */
import { NhsError } from '../lib/errors';
import { hasErrors, issue, operationOutcome, type Issue } from '../lib/outcome';
import { decodeHl7Bytes, encodeHl7Text, parseHl7 } from '../lib/hl7';
import type { OutboxItem } from '../lib/store';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { appendAudit, onClose, onInput } from './shared/input';
import { confirmHandoff } from './shared/handoff';
import { endpointNode } from './shared/mllp';
import { metrics } from './shared/ops';
import { StatusReporter } from './shared/status';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

const MAX_BYTES = 16 * 1024 * 1024;

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const MLLP_OUT_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  RED.nodes.registerType('nhs-mllp-out', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this, upgradeNode(this, raw, MLLP_OUT_CONFIG));
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  {
    const status = new StatusReporter(node);
    const t = catalog(RED, 'mllp-out');
    const endpoint = endpointNode(RED, def.endpoint);
    let queued = 0;
    let delivered = 0;
    let parked = 0;
    let retrying = false;
    // Per message (queued, delivered): the text is built only when the status throttle shows it.
    const text = (): string => t('mllp-out.status.counts', { delivered, queued: queued - delivered - parked }) + (parked ? t('mllp-out.status.parked', { n: parked }) : '') + (retrying ? t('mllp-out.status.retryingSuffix') : '');
    const show = (): void => {
      if (parked || retrying) status.warn(text);
      else status.ok(text);
    };
    const itemInfo = (item: OutboxItem): Record<string, unknown> => ({
      id: item.id, controlId: item.controlId, attempts: item.attempts, destination: endpoint?.describe(),
    });

    if (!endpoint) {
      status.error(t('mllp-out.status.noEndpoint'));
      node.error(t('mllp-out.errors.noEndpoint'));
    } else {
      status.idle(t('mllp-out.status.to', { destination: endpoint.describe() }));
      endpoint.register(node.id, {
        delivered(item, ack) {
          delivered++;
          retrying = false;
          show();
          const msg: NodeMessage = { payload: ack.raw, ack, outbox: itemInfo(item) };
          if (typeof item.meta.topic === 'string') msg.topic = item.meta.topic;
          appendAudit(msg, { node: node.id, action: 'deliver', outcome: ack.code, ...(item.controlId ? { ref: item.controlId } : {}), to: endpoint?.describe() });
          node.send([msg, null]);
        },
        parked(item, reason, ack, err) {
          parked++;
          show();
          const msg: NodeMessage = {
            payload: decodeHl7Bytes(item.payload).text,
            outbox: { ...itemInfo(item), reason },
            outcome: operationOutcome([issue('error', 'transient', t('mllp-out.errors.notDelivered', { reason }))]),
          };
          if (ack !== undefined) msg.ack = ack;
          if (typeof item.meta.topic === 'string') msg.topic = item.meta.topic;
          appendAudit(msg, { node: node.id, action: 'deliver', outcome: 'parked', ...(item.controlId ? { ref: item.controlId } : {}), to: endpoint?.describe() });
          node.send([null, msg]);
          if (err) node.error(err, msg);
        },
        retrying(_item, reason) {
          retrying = true;
          metrics.retry(node.id, typeof def.endpoint === 'string' ? def.endpoint : '');
          status.warn(t('mllp-out.status.retrying', { reason }));
        },
      }).catch((e: unknown) => {
        status.error(t('mllp-out.status.outboxUnavailable'));
        node.error(e instanceof Error ? e : String(e));
      });
    }

    onInput(node, async (msg: NodeMessage, send) => {
      if (!endpoint) throw new NhsError('MLLP_NO_ENDPOINT', t('mllp-out.errors.noEndpoint'));
      const p = msg.payload;
      const invalid = (issues: Issue[]): null => {
        msg.outcome = operationOutcome(issues);
        appendAudit(msg, { node: node.id, action: 'enqueue', outcome: 'invalid' });
        send([null, msg]);
        return null;
      };
      if (typeof p !== 'string' && !Buffer.isBuffer(p)) return invalid([issue('error', 'structure', t('mllp-out.errors.notHl7'))]);
      const size = Buffer.isBuffer(p) ? p.length : Buffer.byteLength(p);
      if (size > MAX_BYTES) return invalid([issue('error', 'too-long', t('mllp-out.errors.tooLong', { size, max: MAX_BYTES }))]);
      const text = Buffer.isBuffer(p) ? decodeHl7Bytes(p).text : p;
      const { message, issues } = parseHl7(text);
      if (!message || hasErrors(issues)) return invalid(issues);
      // Bytes as given are sent untouched; text is encoded in the charset MSH-18 declares.
      const bytes = Buffer.isBuffer(p) ? p : encodeHl7Text(text, message.charset ?? '');
      await endpoint.enqueue({
        payload: bytes,
        ...(message.controlId !== undefined ? { controlId: message.controlId } : {}),
        // A replayed message (mllp in's at-least-once hand-off) is marked, so a duplicate in the outbox is explained.
        meta: { node: node.id, ...(message.type !== undefined ? { topic: message.type } : {}), ...((msg._mllp as { replayed?: unknown } | undefined)?.replayed === true ? { replayed: true } : {}) },
      });
      // Committed in the outbox: the listener's hand-off of this message is safe (HAZ-005 C8).
      confirmHandoff(RED, msg);
      queued++;
      show();
      return null;
    }, 'MLLP_ENQUEUE_FAILED');

    onClose(node, () => {
      endpoint?.unregister(node.id);
      status.clear();
    });
  }
}
