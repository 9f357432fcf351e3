/**
 * `nhs-monitor`: evaluates alert rules (lib/ops/alerts.ts) on an interval over the operations
 * snapshot (stores, listeners, endpoints: nodes/shared/ops.ts) and sends one message when an
 * alert opens and one when it resolves — exactly once each, the state kept in the store so a
 * restart neither repeats nor forgets an open alert. Wire it to the core email, MQTT or HTTP nodes.
 */
import { NhsError } from '../lib/errors';
import { AlertEngine, conditions, readRules, type AlertEvent, type Rule } from '../lib/ops/alerts';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { onClose, onInput } from './shared/input';
import { verifyAuditLog } from '../lib/audit/verify-parallel';
import { activity, deployedStores, snapshot } from './shared/ops';
import { StatusReporter } from './shared/status';
import { resolveStore, storeConfigId } from './shared/store-access';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const MONITOR_CONFIG: ConfigSteps = [VERSION_ADDED];
/** One alert as a message: MQTT-ready topic, a one-line text for email/chat, and msg.alert. */
function toMessage(e: AlertEvent): NodeMessage {
  const text = `${e.event === 'alert' ? 'ALERT' : 'RESOLVED'} [${e.severity}] ${e.kind} ${e.target}: ${e.detail}`;
  return { topic: `nhs/alert/${e.event}/${e.kind}`, payload: text, alert: e };
}

export = function (RED: RED) {
  RED.nodes.registerType('nhs-monitor', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this, upgradeNode(this, raw, MONITOR_CONFIG));
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  const t = catalog(RED, 'monitor');
  const status = new StatusReporter(node);
  const intervalMs = Math.max(1, Number(def.interval) || 60) * 1000;
  const holdMs = Math.max(0, Number(def.hold ?? 120) || 0) * 1000;
  let rules: Rule[] = [];
  try {
    rules = readRules(def.rules);
  } catch (e) {
    node.error(t('monitor.errors.rules', { error: e instanceof Error ? e.message : String(e) }));
    status.error(t('monitor.status.badRules'));
  }
  let engine: Promise<AlertEngine> | undefined;
  const engineOf = (): Promise<AlertEngine> => {
    engine ??= resolveStore(RED, node, storeConfigId(def)).then((store) => {
      if (!store.alertState) throw new NhsError('STORE_INVALID', t('monitor.errors.noState'));
      return new AlertEngine(node.id, store.alertState(), holdMs);
    });
    engine.catch(() => { engine = undefined; });
    return engine;
  };

  // Rule audit-chain (HAZ-017 C6): each store's whole chain verified every `threshold` hours
  // (default 24), the verification itself audited; a broken chain holds the alert open.
  const chainRules = rules.filter((r) => r.kind === 'audit-chain');
  const chainEveryMs = Math.min(...chainRules.map((r) => (r.threshold && r.threshold > 0 ? r.threshold : 24) * 3_600_000));
  const chainChecks = new Map<string, { at: number; problem: string | null }>();
  const verifyChains = async (): Promise<Record<string, string | null>> => {
    for (const s of chainRules.length ? deployedStores(RED) : []) {
      if (Date.now() - (chainChecks.get(s.name)?.at ?? -Infinity) < chainEveryMs) continue;
      const store = await s.open();
      const r = await verifyAuditLog(store);
      const problem = r.problem ? `record ${r.problem.seq}: ${r.problem.reason}` : null;
      await store.appendAudit({ node: node.id, flow: node.z ?? null, action: 'audit.verify', outcome: r.ok ? 'success' : 'failure', actor: 'system', detail: { count: r.count, ...(r.problem ? { problemSeq: r.problem.seq, reason: r.problem.reason } : {}) } });
      chainChecks.set(s.name, { at: Date.now(), problem });
    }
    return Object.fromEntries([...chainChecks].map(([name, c]) => [name, c.problem]));
  };

  let running: Promise<NodeMessage[]> | undefined;
  /** One evaluation at a time: a slow store never lets two overlap (and emit twice). */
  const evaluate = (): Promise<NodeMessage[]> => {
    running ??= (async () => {
      const e = await engineOf();
      const snap = await snapshot(RED);
      const act = { ...activity(snap), chainProblems: await verifyChains() };
      const r = await e.evaluate(conditions(rules, snap, act, new Date()));
      const msgs = r.events.map(toMessage);
      if (msgs.length) node.send([msgs]);
      await r.told();
      const open = (await (await resolveStore(RED, node, storeConfigId(def))).alertState!().listOpen()).filter((a) => a.monitor === node.id).length;
      if (open) status.warn(t('monitor.status.open', { count: open }));
      else status.ok(t('monitor.status.ok'));
      return msgs;
    })().finally(() => { running = undefined; });
    return running;
  };

  const tick = (): void => {
    evaluate().catch((e: unknown) => {
      status.error(t('monitor.status.failed'));
      node.warn(t('monitor.errors.evaluate', { error: e instanceof Error ? e.message : String(e) }));
    });
  };
  const timer = setInterval(tick, intervalMs);
  const first = setTimeout(tick, 1000);

  // Any input: evaluate now (the messages go out on the output, not as this msg).
  onInput(node, async () => { await evaluate(); return null; }, 'MONITOR_FAILED');

  onClose(node, async () => {
    clearInterval(timer);
    clearTimeout(first);
    await running?.catch(() => undefined);
    status.clear();
  });
}
