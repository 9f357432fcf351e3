/**
 * `nhs-terminology` config node: the map files (loaded once, reloaded when they change) and the
 * FHIR terminology server (OAuth2 client credentials in Node-RED credentials) that
 * `nhs-snomed-map` nodes share. Behaviour lives in lib/terminology.
 */
import { TerminologyClient } from '../lib/terminology/client';
import { ICD_10, OPCS_4 } from '../lib/terminology/map-loaders';
import { MapSource, type MapFileSpec } from '../lib/terminology/map-source';
import { configNumber, configText } from './shared/config';
import { onClose } from './shared/input';
import { userDirOf } from './shared/store-access';
import { resolveMapPath, type Terminology, type TerminologyConfigNode } from './shared/terminology-access';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import type { Node, NodeDef, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const TERMINOLOGY_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  const t = catalog(RED, 'terminology-config');

  RED.nodes.registerType('nhs-terminology', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    const def = upgradeNode(this, raw, TERMINOLOGY_CONFIG);
    const node = this as TerminologyConfigNode;
    const userDir = userDirOf(RED);
    const watch = def.watch !== false && def.watch !== 'false';
    const events = {
      loaded: (_file: string, table: { provenance: { map: string }; size: number; issues: unknown[] }) =>
        node.log(t('terminology-config.log.loaded', { map: table.provenance.map, size: table.size, issues: table.issues.length })),
      failed: (_file: string, e: Error) => node.warn(t('terminology-config.log.failed', { code: (e as { code?: string }).code ?? 'ERROR', message: e.message })),
    };
    const source = (lines: string[], extra: Partial<MapFileSpec> = {}): MapSource => {
      const specs: MapFileSpec[] = [];
      for (const line of lines) {
        try {
          specs.push({ file: resolveMapPath(line, userDir), ...extra });
        } catch (e) {
          node.warn(e instanceof Error ? e.message : String(e));
        }
      }
      return new MapSource(specs, events, { watch });
    };
    const list = (v: unknown): string[] => (typeof v === 'string' ? v.split(/\r?\n/).map((s) => s.trim()).filter(Boolean) : []);
    const icd10System = configText(def.icd10System) || ICD_10;
    const opcs4System = configText(def.opcs4System) || OPCS_4;
    const server = configText(def.server);
    let client: TerminologyClient | undefined;
    if (server) {
      try {
        const id = node.credentials?.clientId;
        const secret = node.credentials?.clientSecret;
        const tokenUrl = configText(def.tokenUrl);
        client = new TerminologyClient({
          baseUrl: server,
          ...(tokenUrl && id && secret ? { auth: { tokenUrl, clientId: id, clientSecret: secret, ...(configText(def.scope) ? { scope: configText(def.scope) } : {}) } } : {}),
          timeoutMs: configNumber(def.timeout, 10) * 1000,
          retries: Math.floor(configNumber(def.retries, 2)),
          rateLimit: configNumber(def.rateLimit, 20),
          cacheTtlMs: configNumber(def.cacheTtl, 10) * 60_000,
          cacheSize: Math.floor(configNumber(def.cacheSize, 5000)),
        });
      } catch (e) {
        node.error(e instanceof Error ? e.message : String(e));
      }
    }
    const live: Terminology = {
      maps: source(list(def.maps)),
      icd10: source(list(def.icd10Map), { format: 'rf2', targetSystem: icd10System }),
      opcs4: source(list(def.opcs4Map), { format: 'rf2', targetSystem: opcs4System }),
      icd10System, opcs4System,
      ...(client ? { client } : {}),
    };
    node.terminology = () => live;
    onClose(node, () => { live.maps.close(); live.icd10.close(); live.opcs4.close(); });
  }, { credentials: { clientId: { type: 'text' }, clientSecret: { type: 'password' } } });
};
