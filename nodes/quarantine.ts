/**
 * `nhs-quarantine`: park a message that must not go on (bad structure, failed validation, no PDS
 * match) with a reason code, a human-readable reason, an owner and an SLA. Output 1 carries
 * messages released from the editor sidebar (edited or not); output 2 carries one notification per
 * parked item (optionally also published to MQTT) and one more when the item is resolved.
 */
import { asNhsNumber, findNhsNumber } from '../lib/audit/subject';
import { MqttPublisher } from '../lib/audit/mqtt';
import { detectContentType, park } from '../lib/quarantine/service';
import type { QuarantineItem, Store } from '../lib/store/types';
import { registerAdminApi, registerEndpoint } from './shared/admin-api';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import { configText } from './shared/config';
import { resolveStore, storeConfigId } from './shared/store-access';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

type Typed = 'str' | 'msg' | 'num' | 'auto';

/** Notification body: ids and codes only, never patient data (DESIGN.md §3). */
function notice(event: string, item: QuarantineItem): Record<string, unknown> {
  return {
    event, id: item.id, code: item.reasonCode, reason: item.reason, owner: item.owner, dueAt: item.dueAt,
    node: item.node, flow: item.flow, correlationId: item.correlationId, at: item.createdAt,
    ...(event === 'resolved' ? { resolution: item.state, by: item.resolvedBy, resolvedAt: item.resolvedAt } : {}),
  };
}

export = function (RED: RED) {
  registerAdminApi(RED);

  RED.nodes.registerType('nhs-quarantine', function (this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- closures below need the node
    const node = this;
    const status = new StatusReporter(node);
    const storeId = storeConfigId(def);
    const burstLimit = Math.max(0, Math.floor(Number(def.burstLimit ?? 0)) || 0);
    const burstWindowMs = Math.max(1, Number(def.burstWindow ?? 60) || 60) * 1000;
    const mqttTopic = configText(def.mqttTopic);
    const mqttUrl = configText(def.mqttBroker);
    const mqtt = mqttUrl && mqttTopic ? new MqttPublisher(mqttUrl) : null;
    let parked = 0;
    let closed = false;

    const value = (type: unknown, v: unknown, msg: NodeMessage): unknown => {
      const t = (typeof type === 'string' ? type : 'str') as Typed;
      if (t === 'msg') return typeof v === 'string' && v ? RED.util.getMessageProperty(msg, v) : undefined;
      if (t === 'num') return Number(v);
      return v;
    };

    const getStore = (): Promise<Store> => resolveStore(RED, node, storeId);

    // --- notifications: exactly once per item (notifiedAt in the store survives redeploys) ---
    let windowStart = 0;
    let inWindow = 0;
    let pendingSummary: QuarantineItem[] = [];
    let summaryTimer: NodeJS.Timeout | null = null;

    const publish = (body: Record<string, unknown>): void => {
      if (!mqtt) return;
      mqtt.publish(mqttTopic, body).catch((e: unknown) => { node.warn(`MQTT notification not published: ${e instanceof Error ? e.message : String(e)}`); });
    };
    const markNotified = (store: Store, items: QuarantineItem[]): Promise<unknown> =>
      Promise.all(items.map((i) => store.patchQuarantine(i.id, { notifiedAt: new Date().toISOString() })));

    const flushSummary = (store: Store): void => {
      summaryTimer = null;
      const items = pendingSummary;
      pendingSummary = [];
      if (items.length === 0 || closed) return;
      const byCode: Record<string, number> = {};
      for (const i of items) byCode[i.reasonCode] = (byCode[i.reasonCode] ?? 0) + 1;
      const body = { event: 'parked-summary', count: items.length, byCode, ids: items.map((i) => i.id), node: node.id };
      node.send([null, { topic: 'quarantine/parked-summary', payload: body }]);
      publish(body);
      markNotified(store, items).catch((e: unknown) => node.warn(`notifiedAt not saved: ${e instanceof Error ? e.message : String(e)}`));
    };

    /** Individual notice, or folded into the window's summary once the burst limit is reached. */
    // The start-up scan and a fresh park can meet on one item: only the first notifies. Ids are
    // tracked only while the scan runs, so memory does not grow with the number of items.
    const claimed = new Set<string>();
    let scanning = true;
    const notifyParked = async (store: Store, item: QuarantineItem): Promise<NodeMessage | null> => {
      if (scanning) {
        if (claimed.has(item.id)) return null;
        claimed.add(item.id);
      }
      const now = Date.now();
      if (now - windowStart >= burstWindowMs) { windowStart = now; inWindow = 0; }
      inWindow++;
      if (burstLimit > 0 && inWindow > burstLimit) {
        pendingSummary.push(item);
        if (!summaryTimer) {
          summaryTimer = setTimeout(() => flushSummary(store), Math.max(0, windowStart + burstWindowMs - now));
          summaryTimer.unref?.();
        }
        return null;
      }
      const body = notice('parked', item);
      publish(body);
      // The notice is out: a failure to record that must not swallow it (the item may be
      // notified once more after a redeploy, which beats never).
      await markNotified(store, [item]).catch((e: unknown) => node.warn(`notifiedAt not saved: ${e instanceof Error ? e.message : String(e)}`));
      return { topic: 'quarantine/parked', payload: body };
    };

    const unregister = registerEndpoint(node.id, {
      storeId: storeId ?? '',
      deliver(msg, item) {
        appendAudit(msg, { node: node.id, action: 'quarantine.release', outcome: 'released', ...(item.correlationId ? { ref: item.correlationId } : {}), recorded: true });
        const second = item.releaseCount === 1 ? { topic: 'quarantine/resolved', payload: notice('resolved', item) } : null;
        if (second) publish(second.payload);
        node.send([msg, second]);
        status.ok(`${parked} parked, released ${item.id.slice(0, 8)}`);
      },
      resolved(item) {
        const body = notice('resolved', item);
        publish(body);
        node.send([null, { topic: 'quarantine/resolved', payload: body }]);
      },
    });

    // Items parked before a crash/redeploy whose notice never went out: send it now, once.
    getStore()
      .then(async (store) => {
        const missed = (await store.listQuarantine({ node: node.id, state: 'open', limit: 1000 })).filter((i) => i.notifiedAt === null);
        for (const item of missed) {
          if (closed) return;
          const m = await notifyParked(store, item);
          if (m) node.send([null, m]);
        }
      })
      .finally(() => { scanning = false; claimed.clear(); })
      .catch((e: unknown) => { status.error('store unavailable'); node.warn(`quarantine store: ${e instanceof Error ? e.message : String(e)}`); });

    onInput(node, async (msg) => {
      const store = await getStore();
      const reasonCode = configText(value(def.reasonCodeType, def.reasonCode, msg), 64) || (msg.fhir ? 'FHIR_INVALID' : msg.error ? 'ERROR' : 'UNSPECIFIED');
      const reason = configText(value(def.reasonType, def.reason, msg), 500) || reasonCode;
      const owner = configText(value(def.ownerType, def.owner, msg), 200) || 'unassigned';
      const slaHours = Number(value(def.slaType ?? 'num', def.sla, msg));
      const dueAt = Number.isFinite(slaHours) && slaHours > 0 ? new Date(Date.now() + slaHours * 3600_000).toISOString() : null;
      const subject = def.subjectType === 'msg' && typeof def.subject === 'string' && def.subject
        ? asNhsNumber(RED.util.getMessageProperty(msg, def.subject)) ?? null
        : findNhsNumber(msg) ?? null;
      const hl7 = msg.hl7 as { controlId?: unknown } | undefined;
      const correlationId = typeof hl7?.controlId === 'string' ? hl7.controlId : typeof msg._msgid === 'string' ? msg._msgid : null;
      const mllp = msg._mllp as { storeId?: unknown } | undefined;
      const detailSrc = (msg.fhir as { outcome?: unknown } | undefined)?.outcome ?? (msg.outcome);
      // The stored original carries the park step (a release continues its trail), but the live
      // msg gets it only once the park has committed: a failed park must not claim it was audited.
      const stored: NodeMessage = { ...msg, audit: Array.isArray(msg.audit) ? [...(msg.audit as unknown[])] : [] };
      appendAudit(stored, { node: node.id, action: 'quarantine.park', outcome: 'quarantined', ...(correlationId ? { ref: correlationId } : {}), recorded: true });
      const item = await park(store, {
        msg: stored, reasonCode, reason, owner, dueAt, node: node.id, flow: node.z ?? null, correlationId, subject,
        messageId: typeof mllp?.storeId === 'string' ? mllp.storeId : null,
        contentType: detectContentType(msg.payload),
        detail: detailSrc && typeof detailSrc === 'object' ? { outcome: detailSrc } : null,
      });
      msg.audit = stored.audit;
      parked++;
      status.warn(`${parked} parked`);
      // The park is committed: a notification failure is not a failure of this message (done(err)
      // would let a Catch-driven retry park a duplicate). The item stays notifiedAt = null, so
      // the start-up scan sends the notice after the next redeploy.
      try {
        const n = await notifyParked(store, item);
        return n ? [null, n] : null;
      } catch (e) {
        node.warn(`quarantine notification not sent: ${e instanceof Error ? e.message : String(e)}`);
        return null;
      }
    }, 'QUARANTINE_FAILED');

    onClose(node, async () => {
      closed = true;
      unregister();
      if (summaryTimer) {
        clearTimeout(summaryTimer);
        // Items folded into a summary that never went out get their notice after the redeploy
        // (notifiedAt is still null), so nothing is lost and nothing is repeated.
        summaryTimer = null;
      }
      status.clear();
      await mqtt?.close();
    });
  });
};
