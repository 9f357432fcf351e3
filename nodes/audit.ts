/**
 * `nhs-audit`: write the message's outcome (read from its verdict `msg.outcome`, DESIGN.md §2)
 * and the `msg.audit` steps earlier nodes appended into the store's hash-chained audit log, then
 * pass the message on. Optionally forwards each record as a FHIR AuditEvent (IHE BALP shape) over
 * RFC 5425 syslog/TLS (IHE ATNA) and/or MQTT QoS 1 (lib/audit/forward.ts).
 */
import { hostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { AuditForwarder, type ForwardOptions } from '../lib/audit/forward';
import { messageOutcome, trailRecords } from '../lib/audit/trail';
import { asNhsNumber, findNhsNumber } from '../lib/nhs/find-nhs-number';
import type { AuditRecord, NewAuditRecord } from '../lib/store/types';
import { configText } from './shared/config';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { confirmHandoff } from './shared/handoff';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import { resolveStore, storeConfigId } from './shared/store-access';
import { coreTlsOptions } from './shared/tls';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const AUDIT_CONFIG: ConfigSteps = [VERSION_ADDED];

/** Marker on msg: how many `msg.audit` steps are already in the store (plain JSON number). */
const SEEN = '_nhsAuditRecorded';

export = function (RED: RED) {
  RED.nodes.registerType('nhs-audit', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this, upgradeNode(this, raw, AUDIT_CONFIG));
  });
};

/** Where records are forwarded to, from the node's config (the core tls-config node for syslog). */
function forwardOptions(RED: RED, def: NodeDef): ForwardOptions {
  const syslogHost = configText(def.syslogHost);
  const mqttUrl = configText(def.mqttBroker);
  const site = configText(def.site);
  const tls = syslogHost ? coreTlsOptions(RED, { ...def, usetls: true }) : undefined;
  return {
    observer: configText(def.observer) || hostname(),
    ...(site ? { site } : {}),
    ...(syslogHost ? { syslog: { ...(typeof tls === 'object' ? (tls as ConnectionOptions) : {}), host: syslogHost, port: Number(def.syslogPort) || 6514 } } : {}),
    ...(mqttUrl ? { mqtt: { url: mqttUrl, topic: configText(def.mqttTopic) || 'nhs/audit' } } : {}),
  };
}

function setup(RED: RED, node: Node, def: NodeDef): void {
  const t = catalog(RED, 'audit');
  const status = new StatusReporter(node);
  const storeId = storeConfigId(def);
  const action = configText(def.action, 64) || 'processed';
  const includeTrail = def.trail !== false;
  const forwarder = new AuditForwarder(forwardOptions(RED, def));
  let recorded = 0;

  /** A `msg` typed-input value, else the automatic one. */
  const pick = (type: unknown, path: unknown, msg: NodeMessage, auto: () => unknown): unknown =>
    type === 'msg' ? (typeof path === 'string' && path ? RED.util.getMessageProperty(msg, path) : undefined) : auto();

  onInput(node, async (msg, send) => {
    const store = await resolveStore(RED, node, storeId);
    const subjectRaw = pick(def.subjectType, def.subject, msg, () => findNhsNumber(msg));
    const subject = (def.subjectType === 'msg' ? asNhsNumber(subjectRaw) : (subjectRaw as string | undefined)) ?? null;
    const corrRaw = pick(def.correlationType, def.correlation, msg, () => (msg.hl7 as { controlId?: unknown } | undefined)?.controlId ?? msg._msgid);
    const correlationId = typeof corrRaw === 'string' || typeof corrRaw === 'number' ? String(corrRaw).slice(0, 200) : null;
    const outRaw = def.outcomeType === 'str' ? def.outcome : pick(def.outcomeType, def.outcome, msg, () => messageOutcome(msg));
    const outcome = typeof outRaw === 'string' && outRaw ? outRaw.slice(0, 64) : messageOutcome(msg);
    const storeRecord = (msg._mllp as { storeId?: unknown } | undefined)?.storeId;
    const common = { flow: node.z ?? null, correlationId, subject, messageId: typeof storeRecord === 'string' ? storeRecord : null, actor: 'system' };

    const seen = typeof msg[SEEN] === 'number' ? msg[SEEN] : 0;
    const records: NewAuditRecord[] = includeTrail ? trailRecords(msg.audit, seen, common) : [];
    records.push({ ...common, node: node.id, action, outcome });
    const saved: AuditRecord[] = [];
    for (const r of records) saved.push(await store.appendAudit(r));
    // Recorded (each append committed): the listener's hand-off of this message is safe (HAZ-005 C8).
    confirmHandoff(RED, msg);
    appendAudit(msg, { node: node.id, action, outcome, ...(correlationId ? { ref: correlationId } : {}) });
    msg[SEEN] = (msg.audit as unknown[]).length;
    recorded += saved.length;
    status.ok(() => t('audit.status.recorded', { recorded }));
    send(msg);
    if (forwarder.active) await forwarder.forward(saved);
    return null;
  }, 'AUDIT_FAILED');

  onClose(node, async () => {
    status.clear();
    await forwarder.close();
  });
}
