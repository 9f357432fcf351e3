/**
 * `nhs-hl7`: parse HL7 v2 text into `msg.hl7` (plain JSON, DESIGN.md §2) with `msg.topic` set to
 * the message type, serialize `msg.hl7` back to text, and read/write fields by path
 * (`PID-3[2].1`, lib/hl7/rules.ts). `msg.outcome` carries the verdict on both outputs; bad data
 * goes to the second output ("invalid", DESIGN.md §3). Only a misconfigured rule is `done(err)`.
 */
import { NhsError } from '../lib/errors';
import { hasErrors, operationOutcome, type Issue } from '../lib/outcome';
import { encodeHl7Text, fromJSON, looksLikeBatch, parseHl7, splitBatch, type Hl7Message } from '../lib/hl7';
import { hl7Text } from '../lib/hl7/input';
import { applyRules, badRule, readRules, type RuleHost } from '../lib/hl7/rules';
import { checkRequiredFields } from '../lib/hl7/required-fields';
import { checkStructure } from '../lib/hl7/structure';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const HL7_CONFIG: ConfigSteps = [VERSION_ADDED];

type Action = 'parse' | 'serialize' | 'fields';
type Routed = [NodeMessage | null, NodeMessage | null];
type EvalFn = (value: string, type: string, node: Node, msg: NodeMessage) => unknown;

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

export = function (RED: RED) {
  RED.nodes.registerType('nhs-hl7', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this, upgradeNode(this, raw, HL7_CONFIG));
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  const t = catalog(RED, 'hl7');
  const action: Action = def.action === 'serialize' || def.action === 'fields' ? def.action : 'parse';
  const property = typeof def.property === 'string' && def.property ? def.property : 'payload';
  const maxBytes = Number(def.maxBytes) > 0 ? Number(def.maxBytes) : DEFAULT_MAX_BYTES;
  const batch = def.batch !== false && def.batch !== 'false';
  const bytes = def.output === 'bytes';
  const parseOpts = { strict: def.strict === true || def.strict === 'true' };
  // A flow saved before an option lacks it and keeps not checking (HAZ-025); new nodes have both on.
  const structure = def.structure === true || def.structure === 'true';
  const fields = def.fields === true || def.fields === 'true';
  const rules = readRules(def.rules);
  const status = new StatusReporter(node);
  const counts = { valid: 0, invalid: 0 };
  const evaluate = (RED.util as unknown as { evaluateNodeProperty?: EvalFn }).evaluateNodeProperty;

  // A bad path is a configuration error: say so at deploy, and fail messages with a code.
  const bad = badRule(rules);
  if (bad) {
    node.error(t('hl7.errors.badPath', { path: bad.path.slice(0, 40) }));
    status.error(t('hl7.status.badPath'));
  } else status.idle(t(`hl7.status.${action}`));

  const host = (msg: NodeMessage): RuleHost => ({
    put: (p, v) => { RED.util.setMessageProperty(msg, p, v, true); },
    value: (r) => {
      // A missing parent (`a.b` with no msg.a) means "no value", not a node failure.
      if (r.pt === 'msg') { try { return RED.util.getMessageProperty(msg, r.p); } catch { return undefined; } }
      if (r.pt === 'str' || !evaluate) return r.p;
      return evaluate(r.p, r.pt, node, msg);
    },
  });

  /** Route one message: valid → [msg, null], invalid → [null, msg]; msg.outcome on both. */
  function result(msg: NodeMessage, issues: Issue[], ref: string | undefined): Routed {
    const invalid = hasErrors(issues);
    msg.outcome = operationOutcome(issues);
    appendAudit(msg, { node: node.id, action, outcome: invalid ? 'invalid' : 'valid', ...(ref ? { ref } : {}) });
    if (invalid) counts.invalid++;
    else counts.valid++;
    const text = (): string => t('hl7.status.counts', counts);
    if (counts.invalid) status.warn(text);
    else status.ok(text);
    return invalid ? [null, msg] : [msg, null];
  }

  function parseOnto(msg: NodeMessage, text: string): Routed {
    const r = parseHl7(text, parseOpts);
    if (!r.message) {
      delete msg.hl7;
      return result(msg, r.issues, undefined);
    }
    const m = r.message;
    const changed = applyRules(m, rules, host(msg));
    msg.hl7 = m.toJSON();
    if (m.type !== undefined) msg.topic = m.type;
    if (changed) msg.payload = m.toString();
    return result(msg, [...r.issues, ...(structure ? checkStructure(m) : []), ...(fields ? checkRequiredFields(m) : [])], m.controlId);
  }

  const input = (msg: NodeMessage): { text?: string; issues: Issue[] } => {
    let v: unknown;
    try { v = RED.util.getMessageProperty(msg, property); } catch { v = undefined; }
    return hl7Text(v, `msg.${property}`, maxBytes);
  };

  /** One message per batch member (msg.parts), plus one for issues of the batch as a whole. */
  function parseBatch(msg: NodeMessage, text: string): [NodeMessage[], NodeMessage[]] {
    const split = splitBatch(text);
    const out: [NodeMessage[], NodeMessage[]] = [[], []];
    const add = ([a, b]: Routed): void => { if (a) out[0].push(a); if (b) out[1].push(b); };
    split.messages.forEach((part, index) => {
      const m = RED.util.cloneMessage(msg);
      m.payload = part;
      m.parts = { id: msg._msgid, type: 'hl7-batch', index, count: split.messages.length };
      add(parseOnto(m, part));
    });
    // The batch as a whole is reported once (e.g. BTS-1 count mismatch: a message lost).
    if (split.issues.length) add(result(RED.util.cloneMessage(msg), split.issues, undefined));
    return out;
  }

  function rework(msg: NodeMessage, m: Hl7Message, issues: Issue[]): Routed {
    const changed = applyRules(m, rules, host(msg));
    if (action === 'serialize') {
      const text = m.toString();
      msg.payload = bytes ? encodeHl7Text(text, m.charset ?? 'UNICODE UTF-8') : text;
      msg.hl7 = m.toJSON();
    } else if (changed) {
      msg.hl7 = m.toJSON();
      msg.payload = m.toString();
    }
    if (m.type !== undefined) msg.topic = m.type;
    return result(msg, issues, m.controlId);
  }

  onInput(node, async (msg: NodeMessage) => {
    if (bad) throw new NhsError('HL7_BAD_PATH', t('hl7.errors.badPathMessage'));
    if (action === 'parse') {
      const i = input(msg);
      if (i.text === undefined) return result(msg, i.issues, undefined);
      return batch && looksLikeBatch(i.text) ? parseBatch(msg, i.text) : parseOnto(msg, i.text);
    }
    // serialize / fields work on msg.hl7, else on the text input.
    let cur: { message?: Hl7Message; issues: Issue[] };
    if (msg.hl7 !== undefined) cur = fromJSON(msg.hl7, parseOpts);
    else {
      const i = input(msg);
      cur = i.text === undefined ? { issues: i.issues } : parseHl7(i.text, parseOpts);
    }
    return cur.message ? rework(msg, cur.message, cur.issues) : result(msg, cur.issues, undefined);
  }, 'HL7_NODE_FAILED');

  onClose(node, () => status.clear());
}
