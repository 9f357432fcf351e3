/**
 * `nhs-esr-source`: where the ESR extracts come from (config node) — a local folder, SFTP (key or
 * password, host key pinned by SHA-256 fingerprint) or FTPS (explicit TLS, certificate checked
 * with the core `tls-config` node's CA) — which files (pattern), when (interval or cron) and
 * where processed files go (archive folder). Secrets are credentials, never in the flow.
 */
import { isAbsolute, resolve } from 'node:path';
import { createFileSource, type FileSource, type FileSourceSettings } from '../lib/remote';
import { parseSchedule, type Schedule } from '../lib/remote/schedule';
import { configNumber, configText } from './shared/config';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import type { EsrSourceNode } from './shared/esr-source';
import { coreTlsOptions } from './shared/tls';
import type { Node, NodeDef, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const ESR_SOURCE_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  const t = catalog(RED, 'esr-source');
  RED.nodes.registerType('nhs-esr-source', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    const def = upgradeNode(this, raw, ESR_SOURCE_CONFIG);
    const node = this as EsrSourceNode & { pattern: string; schedule: Schedule; protocol: FileSourceSettings['protocol'] };
    const protocol = def.protocol === 'sftp' || def.protocol === 'ftps' ? def.protocol : 'folder';
    node.protocol = protocol;
    node.pattern = configText(def.pattern) || 'GO_*_GDW_*.DAT';
    try {
      node.schedule = parseSchedule(configText(def.schedule), 300);
    } catch (e) {
      node.error(t('esr-source.errors.schedule', { message: e instanceof Error ? e.message : String(e) }));
      node.schedule = { kind: 'interval', seconds: 300 };
    }
    const creds = node.credentials ?? {};
    // A relative local folder is relative to where the core file nodes read and write.
    const base = configText(RED.settings.fileWorkingDirectory) || process.cwd();
    const local = (f: string): string => (protocol === 'folder' && f && !isAbsolute(f) ? resolve(base, f) : f);
    node.createSource = (): FileSource => {
      const tls = protocol === 'ftps' ? coreTlsOptions(RED, def) : undefined;
      const settings: FileSourceSettings = {
        protocol,
        folder: local(configText(def.folder) || '.'),
        host: configText(def.host),
        username: configText(def.username),
        hostKeys: configText(def.hostKey).split(/[\s,]+/).filter(Boolean),
        allowUnknownHostKey: def.allowUnknownHostKey === true,
        timeoutMs: configNumber(def.timeout, 10) * 1000,
        ...(configNumber(def.port, 0) > 0 ? { port: configNumber(def.port, 0) } : {}),
        ...(configText(def.archiveFolder) ? { archiveFolder: local(configText(def.archiveFolder)) } : {}),
        ...(creds.password ? { password: creds.password } : {}),
        ...(creds.privateKey ? { privateKey: creds.privateKey } : {}),
        ...(creds.passphrase ? { passphrase: creds.passphrase } : {}),
        ...(tls && tls !== 'missing' && tls.ca ? { ca: tls.ca } : {}),
        ...(configText(def.servername) ? { servername: configText(def.servername) } : {}),
      };
      return createFileSource(settings);
    };
  }, {
    credentials: { password: { type: 'password' }, privateKey: { type: 'password' }, passphrase: { type: 'password' } },
  });
};
