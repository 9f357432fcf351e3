/**
 * `nhs-pds-config`: one connection to the PDS FHIR API — environment, signed-JWT credentials,
 * ODS code, rate limit, retry budget and optional cache — shared by every `nhs-pds-lookup` that
 * names it, so all of them draw on one bearer token and one rate limiter.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { NhsError } from '../lib/errors';
import { isPdsEnvironment, type PdsEnvironment } from '../lib/nhs/pds/environments';
import { normalisePem } from '../lib/nhs/pds/jwt';
import { PdsService } from '../lib/nhs/pds/lookup';
import { demoStandInOptions } from '../lib/nhs/pds/demo';
import { PdsStandIn } from '../lib/nhs/pds/stand-in';
import { configNumber, configText } from './shared/config';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { onClose } from './shared/input';
import type { PdsConfigNode } from './shared/pds';
import { userDirOf } from './shared/store-access';
import type { Node, NodeDef, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const PDS_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  const t = catalog(RED, 'pds-config');
  RED.nodes.registerType('nhs-pds-config', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    const def = upgradeNode(this, raw, PDS_CONFIG);
    const node = this as PdsConfigNode;
    const environment: PdsEnvironment = isPdsEnvironment(def.environment) ? def.environment : 'sandbox';
    node.environment = environment;
    const listeners = new Set<(q: number) => void>();
    let service: PdsService | undefined;
    let failure: NhsError | undefined;
    let standIn: Promise<PdsStandIn> | undefined;
    // HAZ-003 C5: a Node-RED marked live (settings.js `nhsInterop.live: true`) never asks a
    // non-production PDS: every lookup is *unavailable* (message intact), and deploy says why.
    if ((RED.settings.nhsInterop as { live?: unknown } | undefined)?.live === true && environment !== 'production') {
      failure = new NhsError('PDS_NOT_LIVE', t('pds-config.errors.notLive', { environment }));
      node.warn(failure.message);
    }

    const privateKey = (): string => {
      const cred = node.credentials?.privateKey;
      if (cred) return normalisePem(cred);
      const file = configText(def.privateKeyFile);
      if (!file) return '';
      try {
        return readFileSync(isAbsolute(file) ? file : resolve(userDirOf(RED), file), 'utf8');
      } catch (e) {
        throw new NhsError('PDS_KEY_INVALID', t('pds-config.errors.keyFile'), { cause: e });
      }
    };

    /**
     * `stand-in`: a local PDS STAND-IN with synthetic patients, started in this process on a free
     * loopback port, so the examples run offline. It is not PDS and says so in msg.pds.environment.
     */
    const startStandIn = (): Promise<PdsStandIn> => {
      standIn ??= (async () => {
        const s = new PdsStandIn(demoStandInOptions());
        await s.start(Math.floor(configNumber(def.standInPort, 0)));
        node.log(t('pds-config.log.standIn', { url: s.baseUrl }));
        return s;
      })();
      return standIn;
    };

    node.service = async () => {
      if (service) return service;
      if (failure) throw failure;
      const localUrl = environment === 'stand-in' ? (await startStandIn()).baseUrl : undefined;
      if (service) return service;
      try {
        const apiKey = node.credentials?.apiKey ?? '';
        const kid = node.credentials?.kid ?? '';
        const useAuth = environment === 'integration' || environment === 'production' || (environment === 'custom' && def.customAuth === true);
        const key = useAuth ? privateKey() : '';
        service = new PdsService({
          environment,
          baseUrl: localUrl ?? configText(def.baseUrl),
          tokenUrl: configText(def.tokenUrl),
          auth: useAuth && apiKey && kid && key ? { apiKey, kid, privateKey: key } : undefined,
          odsCode: configText(def.ods, 10) || undefined,
          ratePerSecond: configNumber(def.rate, 5) || 5,
          maxQueue: configNumber(def.maxQueue, 1000) || 1000,
          cacheTtlS: configNumber(def.cacheTtl, 0),
          timeoutMs: (configNumber(def.timeout, 15) || 15) * 1000,
          retry: { maxAttempts: Math.max(1, Math.floor(configNumber(def.attempts, 4))), budgetMs: configNumber(def.budget, 30) * 1000 },
          onQueue: (q) => { for (const l of listeners) l(q); },
        });
        return service;
      } catch (e) {
        // A TypeError from a bad custom URL, an NhsError from missing credentials: kept, not retried per message.
        failure = e instanceof NhsError ? e : new NhsError('PDS_CONFIG_INVALID', e instanceof Error ? e.message : String(e));
        node.warn(t('pds-config.errors.unusable', { code: failure.code, message: failure.message }));
        throw failure;
      }
    };
    node.onQueue = (cb) => { listeners.add(cb); return () => listeners.delete(cb); };

    onClose(node, async () => {
      listeners.clear();
      service?.close();
      service = undefined;
      const s = await standIn?.catch(() => undefined);
      await s?.stop();
    });
  }, { credentials: { apiKey: { type: 'password' }, privateKey: { type: 'password' }, kid: { type: 'text' } } });
};
