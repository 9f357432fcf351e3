/**
 * `nhs-audit`: write the message's outcome (and the `msg.audit` steps earlier nodes appended) into
 * the store's hash-chained audit log, then pass the message on. Optionally forwards each record as
 * a FHIR AuditEvent (IHE BALP shape) over RFC 5425 syslog/TLS (IHE ATNA) and/or MQTT QoS 1.
 */
import { hostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { toAuditEvent } from '../lib/audit/fhir';
import { MqttPublisher } from '../lib/audit/mqtt';
import { asNhsNumber, findNhsNumber } from '../lib/audit/subject';
import { formatSyslog, SyslogTlsClient } from '../lib/audit/syslog';
import { NhsError } from '../lib/errors';
import { hasErrors, type OperationOutcome } from '../lib/outcome';
import type { AuditRecord, NewAuditRecord, Store } from '../lib/store/types';
import { registerAdminApi } from './shared/admin-api';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import { configText } from './shared/config';
import { resolveStore, storeConfigId } from './shared/store-access';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

interface TlsConfigNode extends Node { addTLSOptions?(opts: ConnectionOptions): void }

/** The outcome a message carries, when the node is set to work it out. */
function autoOutcome(msg: NodeMessage): string {
  if (msg.quarantine && typeof msg.quarantine === 'object') return (msg.quarantine as { released?: unknown }).released ? 'released' : 'quarantined';
  if (msg.error) return 'failure';
  const oo = (msg.fhir as { outcome?: OperationOutcome } | undefined)?.outcome;
  if (oo && Array.isArray(oo.issue)) return hasErrors(oo) ? 'invalid' : 'success';
  return 'success';
}

/** Marker on msg: how many `msg.audit` steps are already in the store (plain JSON number). */
const SEEN = '_nhsAuditRecorded';

export = function (RED: RED) {
  registerAdminApi(RED);

  RED.nodes.registerType('nhs-audit', function (this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- closures below need the node
    const node = this;
    const status = new StatusReporter(node);
    const storeId = storeConfigId(def);
    const action = configText(def.action, 64) || 'processed';
    const includeTrail = def.trail !== false;
    let recorded = 0;

    const syslogHost = configText(def.syslogHost);
    let syslog: SyslogTlsClient | null = null;
    if (syslogHost) {
      const tlsOpts: ConnectionOptions = {};
      const tlsNode: TlsConfigNode | null = typeof def.tls === 'string' && def.tls ? RED.nodes.getNode(def.tls) : null;
      tlsNode?.addTLSOptions?.(tlsOpts);
      syslog = new SyslogTlsClient({ ...tlsOpts, host: syslogHost, port: Number(def.syslogPort) || 6514 });
    }
    const mqttUrl = configText(def.mqttBroker);
    const mqttTopic = configText(def.mqttTopic) || 'nhs/audit';
    const mqtt = mqttUrl ? new MqttPublisher(mqttUrl) : null;
    const observer = configText(def.observer) || hostname();
    const site = configText(def.site) || undefined;

    const prop = (type: unknown, path: unknown, msg: NodeMessage): unknown =>
      type === 'msg' && typeof path === 'string' && path ? RED.util.getMessageProperty(msg, path) : undefined;

    const exportRecords = async (records: AuditRecord[]): Promise<void> => {
      const events = records.map((r) => toAuditEvent(r, { observer, ...(site ? { site } : {}) }));
      const jobs: Promise<void>[] = [];
      if (syslog) jobs.push(syslog.send(events.map((e) => formatSyslog({ time: e.recorded, msg: JSON.stringify(e), appName: 'node-red-nhs', host: observer }))));
      if (mqtt) for (const e of events) jobs.push(mqtt.publish(mqttTopic, e));
      const res = await Promise.allSettled(jobs);
      const failed = res.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        const code = (failed.reason as { code?: unknown })?.code;
        throw new NhsError('AUDIT_EXPORT_FAILED', `audit recorded, export failed (${typeof code === 'string' ? code : 'error'})`, { cause: failed.reason });
      }
    };

    onInput(node, async (msg, send) => {
      const store: Store = await resolveStore(RED, node, storeId);
      const subjectRaw = def.subjectType === 'msg' ? prop('msg', def.subject, msg) : undefined;
      const subject = (def.subjectType === 'msg' ? asNhsNumber(subjectRaw) : findNhsNumber(msg)) ?? null;
      const hl7 = msg.hl7 as { controlId?: unknown } | undefined;
      const corrRaw = def.correlationType === 'msg' ? prop('msg', def.correlation, msg) : (hl7?.controlId ?? msg._msgid);
      const correlationId = typeof corrRaw === 'string' || typeof corrRaw === 'number' ? String(corrRaw).slice(0, 200) : null;
      const outRaw = def.outcomeType === 'msg' ? prop('msg', def.outcome, msg) : def.outcomeType === 'str' ? def.outcome : autoOutcome(msg);
      const outcome = typeof outRaw === 'string' && outRaw ? outRaw.slice(0, 64) : autoOutcome(msg);
      const mllp = msg._mllp as { storeId?: unknown } | undefined;
      const messageId = typeof mllp?.storeId === 'string' ? mllp.storeId : null;
      const common = { flow: node.z ?? null, correlationId, subject, messageId, actor: 'system' };

      const records: NewAuditRecord[] = [];
      if (includeTrail && Array.isArray(msg.audit)) {
        const seen = typeof msg[SEEN] === 'number' ? (msg[SEEN]) : 0;
        for (const step of (msg.audit as unknown[]).slice(seen)) {
          const s = step as { at?: unknown; node?: unknown; action?: unknown; outcome?: unknown; ref?: unknown; recorded?: unknown } | null;
          // `recorded: true`: the node that appended the step wrote it to the store itself (quarantine).
          if (!s || typeof s.node !== 'string' || typeof s.action !== 'string' || s.recorded === true) continue;
          records.push({
            ...common, node: s.node.slice(0, 200), action: s.action.slice(0, 64), outcome: typeof s.outcome === 'string' ? s.outcome.slice(0, 64) : 'unknown',
            ...(typeof s.at === 'string' && !Number.isNaN(Date.parse(s.at)) ? { at: new Date(s.at).toISOString() } : {}),
            ...(typeof s.ref === 'string' && !correlationId ? { correlationId: s.ref.slice(0, 200) } : {}),
          });
        }
      }
      records.push({ ...common, node: node.id, action, outcome });
      const saved: AuditRecord[] = [];
      for (const r of records) saved.push(await store.appendAudit(r));
      appendAudit(msg, { node: node.id, action, outcome, ...(correlationId ? { ref: correlationId } : {}) });
      msg[SEEN] = (msg.audit as unknown[]).length;
      recorded += saved.length;
      status.ok(`${recorded} recorded`);
      send(msg);
      if (syslog || mqtt) await exportRecords(saved);
      return null;
    }, 'AUDIT_FAILED');

    onClose(node, async () => {
      status.clear();
      await Promise.all([syslog?.close(), mqtt?.close()]);
    });
  });
};
