/**
 * `nhs-hl7`: parse HL7 v2 text into `msg.hl7` (plain JSON, DESIGN.md §2) with `msg.topic` set
 * to the message type, serialize `msg.hl7` back to text, and read/write fields by path
 * (`PID-3[2].1`). Bad data is a result: it goes to the second output ("invalid") with an
 * OperationOutcome at `msg.outcome` (DESIGN.md §3). Only a misconfigured rule is `done(err)`.
 */
import { NhsError } from '../lib/errors';
import { hasErrors, issue, operationOutcome, type Issue } from '../lib/outcome';
import { decodeHl7Bytes, encodeHl7Text, fromJSON, parseHl7, parsePath, splitBatch, type Hl7Message } from '../lib/hl7';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

type Action = 'parse' | 'serialize' | 'fields';

/** One editor rule: `get` copies a field to a msg property; `set` writes a value into a field. */
interface Rule { t: 'get' | 'set'; path: string; p: string; pt: string }

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

type EvalFn = (value: string, type: string, node: Node, msg: NodeMessage) => unknown;

function readRules(v: unknown): Rule[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
    .map((r) => ({
      t: r.t === 'set' ? 'set' as const : 'get' as const,
      path: typeof r.path === 'string' ? r.path.trim() : '',
      p: typeof r.p === 'string' ? r.p : '',
      pt: typeof r.pt === 'string' ? r.pt : 'msg',
    }))
    .filter((r) => r.path !== '');
}

export = function (RED: RED) {
  RED.nodes.registerType('nhs-hl7', function (this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    setup(RED, this, def);
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  const action: Action = def.action === 'serialize' || def.action === 'fields' ? def.action : 'parse';
  const property = typeof def.property === 'string' && def.property ? def.property : 'payload';
  const maxBytes = Number(def.maxBytes) > 0 ? Number(def.maxBytes) : DEFAULT_MAX_BYTES;
  const batch = def.batch !== false && def.batch !== 'false';
  const output = def.output === 'bytes' ? 'bytes' : 'text';
  const rules = readRules(def.rules);
  const parseOpts = { strict: def.strict === true || def.strict === 'true' };
  const status = new StatusReporter(node);
  let valid = 0;
  let invalid = 0;
  const evaluate = (RED.util as unknown as { evaluateNodeProperty?: EvalFn }).evaluateNodeProperty;

  // A bad path is a configuration error: say so at deploy, and fail messages with a code.
  const badPath = rules.find((r) => !parsePath(r.path));
  if (badPath) {
    node.error(`invalid HL7 path in rules: "${badPath.path.slice(0, 40)}"`);
    status.error('invalid rule path');
  } else status.idle(action);

  /** Apply get/set rules; true when a set changed the message. */
  function applyRules(m: Hl7Message, msg: NodeMessage): boolean {
    let changed = false;
    for (const r of rules) {
      if (r.t === 'get') {
        RED.util.setMessageProperty(msg, r.p || 'payload', m.get(r.path), true);
      } else {
        let v: unknown;
        if (r.pt === 'msg') {
          // A missing parent (`a.b` with no msg.a) means "no value", not a node failure.
          try { v = RED.util.getMessageProperty(msg, r.p); } catch { v = undefined; }
        }
        else if (r.pt === 'str') v = r.p;
        else if (evaluate) v = evaluate(r.p, r.pt, node, msg);
        else v = r.p;
        if (v === undefined || v === null) continue;
        // Objects are written as JSON text; numbers and booleans as their text.
        m.set(r.path, typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? v.toString() : JSON.stringify(v));
        changed = true;
      }
    }
    return changed;
  }

  function count(ok: boolean): void {
    if (ok) valid++;
    else invalid++;
    const text = `valid ${valid} / invalid ${invalid}`;
    if (invalid) status.warn(text);
    else status.ok(text);
  }

  /** Route one message: valid → [msg, null], invalid → [null, msg] with msg.outcome. */
  function result(msg: NodeMessage, issues: Issue[], ref: string | undefined): [NodeMessage | null, NodeMessage | null] {
    const bad = hasErrors(issues);
    if (bad || issues.length) msg.outcome = operationOutcome(issues);
    else delete msg.outcome;
    appendAudit(msg, { node: 'nhs-hl7', action, outcome: bad ? 'invalid' : 'valid', ...(ref ? { ref } : {}) });
    count(!bad);
    return bad ? [null, msg] : [msg, null];
  }

  /** Parse one text onto msg; returns the routing. */
  function parseOnto(msg: NodeMessage, text: string): [NodeMessage | null, NodeMessage | null] {
    const r = parseHl7(text, parseOpts);
    if (!r.message) {
      delete msg.hl7;
      return result(msg, r.issues, undefined);
    }
    const m = r.message;
    const changed = applyRules(m, msg);
    msg.hl7 = m.toJSON();
    if (m.type !== undefined) msg.topic = m.type;
    if (changed) msg.payload = m.toString();
    return result(msg, r.issues, m.controlId);
  }

  function inputText(msg: NodeMessage): { text?: string; issues: Issue[] } {
    let v: unknown;
    try { v = RED.util.getMessageProperty(msg, property); } catch { v = undefined; }
    const where = `msg.${property}`;
    if (typeof v !== 'string' && !Buffer.isBuffer(v)) {
      return { issues: [issue('error', 'structure', `${where} is ${v === undefined || v === null ? 'empty' : `a ${Array.isArray(v) ? 'array' : typeof v}`}, not HL7 text or bytes`)] };
    }
    const size = Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v);
    if (size > maxBytes) return { issues: [issue('error', 'too-long', `${where} is ${size} bytes, over the ${maxBytes}-byte limit`)] };
    return { text: Buffer.isBuffer(v) ? decodeHl7Bytes(v).text : v, issues: [] };
  }

  /** The message a serialize/fields action works on: msg.hl7, else the text input. */
  function current(msg: NodeMessage): { message?: Hl7Message; issues: Issue[] } {
    if (msg.hl7 !== undefined) return fromJSON(msg.hl7, parseOpts);
    const t = inputText(msg);
    return t.text === undefined ? { issues: t.issues } : parseHl7(t.text, parseOpts);
  }

  onInput(node, async (msg: NodeMessage) => {
    if (badPath) throw new NhsError('HL7_BAD_PATH', 'node has an invalid HL7 path in its rules');
    if (action === 'parse') {
      const t = inputText(msg);
      if (t.text === undefined) return result(msg, t.issues, undefined);
      if (batch) {
        const first = t.text.slice(0, 3);
        const several = t.text.includes('\rMSH') || t.text.includes('\nMSH');
        if (first === 'FHS' || first === 'BHS' || several) {
          const split = splitBatch(t.text);
          const ok: NodeMessage[] = [];
          const bad: NodeMessage[] = [];
          const n = split.messages.length;
          split.messages.forEach((text, index) => {
            const part = RED.util.cloneMessage(msg);
            part.payload = text;
            part.parts = { id: msg._msgid, type: 'hl7-batch', index, count: n };
            const [a, b] = parseOnto(part, text);
            if (a) ok.push(a);
            if (b) bad.push(b);
          });
          if (split.issues.length) {
            // The batch as a whole is reported once (e.g. BTS-1 count mismatch: a message lost).
            const whole = RED.util.cloneMessage(msg);
            const [a, b] = result(whole, split.issues, undefined);
            if (a) ok.push(a);
            if (b) bad.push(b);
          }
          return [ok, bad];
        }
      }
      return parseOnto(msg, t.text);
    }

    const cur = current(msg);
    if (!cur.message) return result(msg, cur.issues, undefined);
    const m = cur.message;
    const changed = applyRules(m, msg);
    if (action === 'serialize') {
      const text = m.toString();
      msg.payload = output === 'bytes' ? encodeHl7Text(text, m.charset ?? 'UNICODE UTF-8') : text;
      msg.hl7 = m.toJSON();
    } else if (changed) {
      msg.hl7 = m.toJSON();
      msg.payload = m.toString();
    }
    if (m.type !== undefined) msg.topic = m.type;
    return result(msg, cur.issues, m.controlId);
  }, 'HL7_NODE_FAILED');

  onClose(node, () => status.clear());
}
