/**
 * `nhs-pds-lookup`: verify an NHS number (with demographics), retrieve a Patient or trace one by
 * demographics against the PDS FHIR API through an `nhs-pds-config`. Three outputs — matched,
 * not matched, unavailable — and every message leaves on exactly one of them with `msg.outcome`
 * (the verdict) and `msg.pds` (the result). Each lookup is audited; the NHS number goes only to
 * the audit record's subject, never to status, logs or the audit detail.
 */
import { nhsNumberFromFhir } from '../lib/nhs/find-nhs-number';
import { parseHl7 } from '../lib/hl7';
import { NhsError, toNhsError } from '../lib/errors';
import { demographicsFromHl7, demographicsFromPatient, type Demographics } from '../lib/nhs/pds/patient';
import type { LookupResult, PdsRoute, PdsService } from '../lib/nhs/pds/lookup';
import { operationOutcome, issue } from '../lib/outcome';
import { configNumber } from './shared/config';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { appendAudit, onClose, onInput } from './shared/input';
import { metrics } from './shared/ops';
import type { PdsConfigNode } from './shared/pds';
import { StatusReporter } from './shared/status';
import { resolveStore, storeConfigId } from './shared/store-access';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

type Mode = 'verify' | 'retrieve' | 'trace';
const FIELDS = ['family', 'given', 'birthDate', 'gender', 'postcode'] as const;
const PORT: Record<PdsRoute, number> = { matched: 0, 'not-matched': 1, unavailable: 2 };
/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const PDS_LOOKUP_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  const tr = catalog(RED, 'pds-lookup');
  const t = (key: string, vars?: Record<string, unknown>): string => tr(`pds-lookup.${key}`, vars);

  RED.nodes.registerType('nhs-pds-lookup', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    const def = upgradeNode(this, raw, PDS_LOOKUP_CONFIG);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- closures below need the node
    const node = this;
    const mode: Mode = def.mode === 'retrieve' || def.mode === 'trace' ? def.mode : 'verify';
    const cfg = typeof def.pds === 'string' ? (RED.nodes.getNode(def.pds) as PdsConfigNode | null) : null;
    const storeId = storeConfigId(def);
    const toCatch = def.catchUnavailable === true;
    const status = new StatusReporter(node);
    const counts: Record<PdsRoute, number> = { matched: 0, 'not-matched': 0, unavailable: 0 };
    let queued = 0;
    const show = (): void => {
      const text = t('status.counts', { m: counts.matched, n: counts['not-matched'], u: counts.unavailable })
        + (queued ? t('status.queue', { q: queued }) : '');
      if (counts.unavailable) status.warn(text); else status.ok(text);
    };
    const unsubscribe = cfg?.onQueue((q) => { queued = q; show(); });
    if (!cfg) status.error(t('status.noConfig'));
    else status.idle(`${cfg.environment} · ${mode}`);

    const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, 200) : typeof v === 'number' ? String(v) : undefined);
    // A path whose parent is missing (`referral.family` with no msg.referral) has no value: fall back.
    const read = (msg: NodeMessage, path: string): unknown => { try { return RED.util.getMessageProperty(msg, path); } catch { return undefined; } };
    const at = (path: unknown, msg: NodeMessage): string | undefined => (typeof path === 'string' && path ? text(read(msg, path)) : undefined);

    /** Inputs: configured msg paths first, then HL7 PID (msg.hl7), then a FHIR Patient payload. */
    const inputs = (msg: NodeMessage): { nhsNumber?: string; demographics: Demographics } => {
      const p = msg.payload;
      // msg.hl7 from the hl7 node, else raw HL7 text in the payload.
      const hl7 = msg.hl7 && typeof msg.hl7 === 'object' ? msg.hl7 : typeof p === 'string' && p.startsWith('MSH') ? parseHl7(p).message?.toJSON() : undefined;
      const fromHl7 = hl7 ? demographicsFromHl7(hl7) : undefined;
      const fromFhir = demographicsFromPatient(p);
      const d: Demographics = {};
      for (const f of FIELDS) d[f] = at(def[f], msg) ?? fromHl7?.demographics[f] ?? fromFhir.demographics[f];
      const nhs = at(def.nhsNumber, msg) ?? fromHl7?.nhsNumber ?? fromFhir.nhsNumber ?? nhsNumberFromFhir(p)
        ?? (typeof p === 'number' || (typeof p === 'string' && p.length <= 20) ? String(p) : undefined);
      return { ...(nhs !== undefined ? { nhsNumber: nhs } : {}), demographics: d };
    };

    onInput(node, async (msg, send) => {
      const hl7 = msg.hl7 as { controlId?: unknown } | undefined;
      const correlationId = text(hl7?.controlId) ?? msg._msgid;
      let result: LookupResult;
      let svc: PdsService | undefined;
      try {
        if (!cfg) throw new NhsError('PDS_CONFIG_MISSING', 'no nhs-pds-config selected');
        svc = await cfg.service();
      } catch (e) {
        const err = toNhsError(e, 'PDS_CONFIG_INVALID');
        result = { route: 'unavailable', code: err.code, outcome: operationOutcome([issue('error', 'exception', err.message, undefined, err.code)]), pds: { nhsNumber: null, restricted: false, patient: null, environment: cfg?.environment ?? 'sandbox' }, subject: null, requests: 0 };
      }
      const started = performance.now();
      if (svc) {
        const { nhsNumber, demographics } = inputs(msg);
        if (mode === 'trace') result = await svc.trace({ ...demographics, fuzzy: def.fuzzy === true, minScore: configNumber(def.minScore, 0), ...(configNumber(def.maxResults, 0) ? { maxResults: configNumber(def.maxResults, 1) } : {}) }, correlationId);
        else if (mode === 'retrieve') result = await svc.retrieve(nhsNumber ?? '', correlationId);
        else result = await svc.verify(nhsNumber ?? '', demographics, correlationId);
      }
      result = result!;
      counts[result.route]++;
      metrics.pdsLookup(node.id, result.route, (performance.now() - started) / 1000);
      show();
      msg.outcome = result.outcome;
      msg.pds = result.pds;
      const action = `pds.${mode}`;
      let recorded = false;
      if (storeId) {
        try {
          const store = await resolveStore(RED, node, storeId);
          await store.appendAudit({ node: node.id, flow: node.z ?? null, action, outcome: result.route, correlationId: correlationId ?? null, subject: result.subject, actor: 'system', detail: { code: result.code, environment: result.pds.environment, requests: result.requests } });
          recorded = true;
        } catch (e) {
          const code = toNhsError(e, 'AUDIT_FAILED').code;
          node.warn(t('warn.audit', { code }));
        }
      }
      appendAudit(msg, { node: node.id, action, outcome: result.route, ...(correlationId ? { ref: correlationId } : {}), ...(recorded ? { recorded: true as const } : {}) });
      const out: (NodeMessage | null)[] = [null, null, null];
      out[PORT[result.route]] = msg;
      send(out);
      if (result.route === 'unavailable' && toCatch) throw new NhsError(result.code, `PDS lookup unavailable (${result.code})`);
      return null;
    }, 'PDS_LOOKUP_FAILED');

    onClose(node, () => { unsubscribe?.(); status.clear(); });
  });
};
