/**
 * `nhs-quarantine`: park a message that must not go on (bad structure, failed validation, no PDS
 * match) with a reason code, a human-readable reason, an owner and an SLA; the verdict it keeps is
 * `msg.outcome` (DESIGN.md §2). Output 1 carries messages released from the editor sidebar
 * (edited or not); output 2 one notification per parked item (lib/quarantine/notify.ts,
 * optionally also published to MQTT) and one more when the item is resolved. With *Two-person
 * release* (`twoPersonRelease`, HAZ-014 C7; on for new nodes, off for flows saved without it) an
 * edited item is released only by a user other than its last editor (lib/quarantine/service.ts
 * `releaseRefusal`; the admin API asks this node's setting through its endpoint).
 */
import { notice, ParkNotifier } from '../lib/quarantine/notify';
import { park } from '../lib/quarantine/service';
import { MqttPublisher } from '../lib/remote/mqtt';
import type { Store } from '../lib/store/types';
import { configText } from './shared/config';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { confirmHandoff } from './shared/handoff';
import { appendAudit, onClose, onInput } from './shared/input';
import { registerEndpoint } from './shared/quarantine-endpoints';
import { ownerOf, parkFields } from './shared/quarantine-park';
import { StatusReporter } from './shared/status';
import { resolveStore, storeConfigId } from './shared/store-access';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const QUARANTINE_CONFIG: ConfigSteps = [VERSION_ADDED];

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export = function (RED: RED) {
  RED.nodes.registerType('nhs-quarantine', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this, upgradeNode(this, raw, QUARANTINE_CONFIG));
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  const t = catalog(RED, 'quarantine');
  const status = new StatusReporter(node);
  const storeId = storeConfigId(def);
  const mqttTopic = configText(def.mqttTopic);
  const mqttUrl = configText(def.mqttBroker);
  const mqtt = mqttUrl && mqttTopic ? new MqttPublisher(mqttUrl) : null;
  const getStore = (): Promise<Store> => resolveStore(RED, node, storeId);
  let parked = 0;
  let closed = false;
  // HAZ-015 C7: refused in the editor; deployed anyway, items still park (as `unassigned`), warned.
  const noOwner = (def.ownerType ?? 'str') === 'str' && !configText(def.owner);
  if (noOwner) { node.warn(t('quarantine.errors.noOwner')); status.warn(t('quarantine.status.noOwner')); }
  // HAZ-014 C7. Like nhs-hl7's structure check: only an explicit true turns it on, so a flow saved
  // before the option (no field) keeps releasing as it did (HAZ-025); the editor's default is on.
  const twoPersonRelease = def.twoPersonRelease === true || def.twoPersonRelease === 'true';
  // Without adminAuth every editor is "anonymous": the rule then refuses every edited release.
  if (twoPersonRelease && !RED.settings.adminAuth) node.warn(t('quarantine.errors.twoPersonNoAuth'));

  const publish = (body: Record<string, unknown>): void => {
    mqtt?.publish(mqttTopic, body).catch((e: unknown) => { node.warn(t('quarantine.errors.mqtt', { error: errText(e) })); });
  };
  const notifier = new ParkNotifier({
    node: node.id,
    burstLimit: Math.max(0, Math.floor(Number(def.burstLimit ?? 0)) || 0),
    burstWindowMs: Math.max(1, Number(def.burstWindow ?? 60) || 60) * 1000,
    publish,
    sendSummary: (body) => { node.send([null, { topic: 'quarantine/parked-summary', payload: body }]); },
    markNotified: async (items) => {
      const store = await getStore();
      return Promise.all(items.map((i) => store.patchQuarantine(i.id, { notifiedAt: new Date().toISOString() })));
    },
    warn: (m) => node.warn(m),
  });
  const parkedNotice = async (item: Parameters<ParkNotifier['parked']>[0]): Promise<NodeMessage | null> => {
    const body = await notifier.parked(item);
    return body ? { topic: 'quarantine/parked', payload: body } : null;
  };

  const unregister = registerEndpoint(node.id, {
    storeId: storeId ?? '',
    twoPersonRelease,
    deliver(msg, item) {
      appendAudit(msg, { node: node.id, action: 'quarantine.release', outcome: 'released', ...(item.correlationId ? { ref: item.correlationId } : {}), recorded: true });
      const second = item.releaseCount === 1 ? { topic: 'quarantine/resolved', payload: notice('resolved', item) } : null;
      if (second) publish(second.payload);
      node.send([msg, second]);
      status.ok(() => t('quarantine.status.released', { parked, id: item.id.slice(0, 8) }));
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
        const m = await parkedNotice(item);
        if (m) node.send([null, m]);
      }
    })
    .finally(() => notifier.scanned())
    .catch((e: unknown) => { status.error(t('quarantine.status.storeUnavailable')); node.warn(t('quarantine.errors.store', { error: errText(e) })); });

  const owner = (msg: NodeMessage): string => ownerOf(RED, def, msg) || (noOwner || node.warn(t('quarantine.errors.noOwnerMsg')), 'unassigned');

  onInput(node, async (msg) => {
    const store = await getStore();
    const fields = parkFields(RED, def, msg);
    const correlationId = fields.correlationId;
    // The stored original carries the park step (a release continues its trail), but the live
    // msg gets it only once the park has committed: a failed park must not claim it was audited.
    const stored: NodeMessage = { ...msg, audit: Array.isArray(msg.audit) ? [...(msg.audit as unknown[])] : [] };
    appendAudit(stored, { node: node.id, action: 'quarantine.park', outcome: 'quarantined', ...(correlationId ? { ref: correlationId } : {}), recorded: true });
    const item = await park(store, { ...fields, msg: stored, node: node.id, flow: node.z ?? null, owner: owner(msg) });
    msg.audit = stored.audit;
    // Parked (committed): the listener's hand-off of this message is safe (HAZ-005 C8).
    confirmHandoff(RED, msg);
    parked++;
    status.warn(() => t('quarantine.status.parked', { parked }));
    // The park is committed: a notification failure is not a failure of this message (done(err)
    // would let a Catch-driven retry park a duplicate). The item stays notifiedAt = null, so
    // the start-up scan sends the notice after the next redeploy.
    try {
      const n = await parkedNotice(item);
      return n ? [null, n] : null;
    } catch (e) {
      node.warn(t('quarantine.errors.notify', { error: errText(e) }));
      return null;
    }
  }, 'QUARANTINE_FAILED');

  onClose(node, async () => {
    closed = true;
    unregister();
    notifier.close();
    status.clear();
    await mqtt?.close();
  });
}
