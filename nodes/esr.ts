/**
 * `nhs-esr`: the ESR nightly intake (lib/esr/intake.ts) on a schedule or on any input message.
 * Four outputs: records (one msg per valid row), events (joiner/mover/leaver), invalid rows
 * (also quarantined for the workforce team) and alerts (also to MQTT when configured). Status
 * shows file progress — rows and rows/s — never personal data.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttPublisher } from '../lib/remote/mqtt';
import type { EsrAlert } from '../lib/esr/alerts';
import { checkCsvFormat } from '../lib/esr/csv';
import { EsrIntake, type EsrProgress, type FileResult } from '../lib/esr/intake';
import type { JmlEvent } from '../lib/esr/jml';
import { NhsError } from '../lib/errors';
import { delayAfter } from '../lib/remote/schedule';
import { configNumber, configText } from './shared/config';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import type { EsrSourceNode } from './shared/esr-source';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import { resolveStore, storeConfigId } from './shared/store-access';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const ESR_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  const tr = catalog(RED, 'esr');
  const t = (key: string, subs?: Record<string, unknown>): string => tr(`esr.${key}`, subs);

  RED.nodes.registerType('nhs-esr', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    const def = upgradeNode(this, raw, ESR_CONFIG);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- closures below need the node
    const node = this;
    const status = new StatusReporter(node);
    const cfg = (typeof def.source === 'string' ? RED.nodes.getNode(def.source) : null) as EsrSourceNode | null;
    const mqttUrl = configText(def.mqttBroker);
    const mqtt = mqttUrl ? new MqttPublisher(mqttUrl) : null;
    const mqttTopic = configText(def.mqttTopic) || 'nhs/esr/alerts';
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<FileResult[]> = Promise.resolve([]);
    let closed = false;
    let intake: EsrIntake | undefined;

    const out = (i: 0 | 1 | 2 | 3, msg: NodeMessage): void => {
      const arr: (NodeMessage | null)[] = [null, null, null, null];
      arr[i] = msg;
      node.send(arr);
    };
    const sink = {
      record: (m: NodeMessage & { esr: { file: string; line: number } }) => {
        appendAudit(m, { node: node.id, action: 'esr.record', outcome: 'valid', ref: `${m.esr.file}:${m.esr.line}` });
        out(0, m);
      },
      event: (e: JmlEvent) => {
        const m: NodeMessage = { topic: e.type, payload: e, esr: { file: e.file, line: e.line, recordType: e.entity === 'person' ? 'PR' : 'AS', action: null } };
        appendAudit(m, { node: node.id, action: `esr.${e.type}`, outcome: 'success', ref: `${e.file}:${e.line}`, recorded: true });
        out(1, m);
      },
      invalid: (m: NodeMessage & { esr: { file: string; line: number } }) => {
        appendAudit(m, { node: node.id, action: 'quarantine.park', outcome: 'quarantined', ref: `${m.esr.file}:${m.esr.line}`, recorded: true });
        out(2, m);
      },
      alert: (a: EsrAlert) => {
        out(3, { topic: a.type, payload: a });
        if (mqtt) mqtt.publish(`${mqttTopic}/${a.type}`, a).catch((e: unknown) => node.warn(t('errors.mqtt', { code: (e as { code?: string }).code ?? 'error' })));
      },
      progress: (p: EsrProgress) => {
        status.set({ fill: p.done ? 'green' : 'blue', shape: 'dot', text: t(p.done ? 'status.done' : 'status.progress', { file: p.file, rows: p.rows, rate: p.rowsPerSecond }) });
      },
    };

    const ready: Promise<EsrIntake> = (async () => {
      if (!cfg || typeof cfg.createSource !== 'function') throw new NhsError('ESR_SOURCE_MISSING', t('errors.noSource'));
      const store = await resolveStore(RED, node, storeConfigId(def));
      const csv = def.format === 'csv' ? checkCsvFormat(JSON.parse(configText(def.csvFormat) || 'null')) : undefined;
      intake = new EsrIntake({
        source: cfg.id, node: node.id, ...(node.z ? { flow: node.z } : {}), store, pattern: cfg.pattern,
        tempDir: join(tmpdir(), `nhs-esr-${node.id}`),
        leaversFromFullExtract: def.leaversFromFull === true, reprocessDuplicates: def.reprocessDuplicates === true,
        allowOutOfSequence: def.allowOutOfSequence === true, stableMs: configNumber(def.stableSeconds, 5) * 1000,
        owner: configText(def.owner) || 'workforce team', ...(configText(def.expectBy) ? { expectBy: configText(def.expectBy) } : {}), ...(csv ? { csv } : {}),
      }, sink as never);
      return intake;
    })();

    const poll = (): Promise<FileResult[]> => {
      running = running.catch(() => []).then(async () => {
        const i = await ready;
        status.set({ fill: 'blue', shape: 'ring', text: t('status.polling') });
        const res = await i.poll(cfg!.createSource());
        const n = res.filter((r) => r.outcome === 'processed').length;
        if (n === 0) status.idle(t('status.idle', { at: new Date().toISOString().slice(11, 16) }));
        return res;
      });
      return running;
    };
    const fail = (e: unknown): void => {
      const code = (e as { code?: string }).code ?? 'ESR_FAILED';
      status.error(code);
      node.error(new NhsError(code, e instanceof Error ? e.message : String(e)));
    };
    const schedule = (): void => {
      if (closed || !cfg?.schedule) return;
      timer = setTimeout(() => {
        poll().catch(fail).finally(schedule);
      }, Math.min(2_147_000_000, delayAfter(cfg.schedule, new Date())));
    };
    ready.then(() => {
      if (def.pollOnStart !== false) poll().catch(fail);
      schedule();
    }, fail);
    const watch = setInterval(() => { void ready.then((i) => i.checkMissing()).catch(() => undefined); }, 60_000);
    watch.unref();

    // Any input polls now (an inject node, or a flow that knows the file has landed).
    onInput(node, async () => {
      await poll();
      return null;
    }, 'ESR_FAILED');

    onClose(node, async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      clearInterval(watch);
      intake?.stop();
      await running.catch(() => undefined);
      status.clear();
      await mqtt?.close();
    });
  });
};
