/**
 * `nhs-mllp-endpoint` (config): one MLLP destination — address, TLS (core `tls-config`),
 * timeouts, keep-alive, retry back-off, attempt budget and AE/AR policy — and the one outbox
 * sender that delivers to it in order (DESIGN.md §4, lib/channel OutboundChannel). Every
 * `nhs-mllp-out` naming it shares it.
 */
import type * as tls from 'node:tls';
import { NhsError } from '../lib/errors';
import { MllpClient } from '../lib/mllp';
import { OutboundChannel, type NegativeAckPolicy } from '../lib/channel';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { onClose } from './shared/input';
import { configNumber } from './shared/config';
import { instanceOwner, type MllpEndpointNode } from './shared/mllp';
import { resolveStore, storeConfigId } from './shared/store-access';
import { coreTlsOptions } from './shared/tls';
import type { Node, NodeDef, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const MLLP_ENDPOINT_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  RED.nodes.registerType('nhs-mllp-endpoint', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this as MllpEndpointNode, upgradeNode(this, raw, MLLP_ENDPOINT_CONFIG));
  });
};

function setup(RED: RED, node: MllpEndpointNode, def: NodeDef): void {
  const host = typeof def.host === 'string' && def.host.trim() ? def.host.trim() : '127.0.0.1';
  const port = configNumber(def.port, 2575);
  const policy: NegativeAckPolicy = def.nakPolicy === 'park' || def.nakPolicy === 'fail' ? def.nakPolicy : 'retry';
  let tlsOpts: tls.ConnectionOptions | undefined;
  let configError: NhsError | undefined;
  const tlsFound = coreTlsOptions(RED, def);
  if (tlsFound === 'missing') configError = new NhsError('MLLP_CONFIG', catalog(RED, 'mllp-endpoint')('mllp-endpoint.errors.tlsMissing'));
  else if (tlsFound) {
    tlsOpts = tlsFound as tls.ConnectionOptions;
    if (!tlsOpts.servername && !/^[\d.:]+$/.test(host)) tlsOpts.servername = host;
  }
  const connectTimeoutMs = configNumber(def.connectTimeout, 10) * 1000;
  const ackTimeoutMs = configNumber(def.ackTimeout, 30) * 1000;
  const client = new MllpClient({
    host, port, connectTimeoutMs, ackTimeoutMs,
    keepAlive: !(def.keepAlive === false || def.keepAlive === 'false'),
    reconnect: { baseMs: 500, maxMs: configNumber(def.retryMax, 60) * 1000 },
    ...(tlsOpts ? { tls: tlsOpts } : {}),
  });
  const storeId = storeConfigId(def);
  const channel = new OutboundChannel({
    destination: node.id,
    client,
    store: () => resolveStore(RED, node, storeId),
    sender: {
      policy,
      maxAttempts: Math.max(1, configNumber(def.maxAttempts, 10)),
      backoff: { baseMs: configNumber(def.retryBase, 1) * 1000, maxMs: configNumber(def.retryMax, 60) * 1000 },
      leaseMs: connectTimeoutMs + ackTimeoutMs + 10_000,
      // It takes back its own in-flight item at once after a restart, and leaves alone one that
      // another instance sharing the store is sending.
      owner: instanceOwner(RED, node.id),
    },
    warn: (text) => node.warn(text),
    ...(configError ? { configError } : {}),
  });
  node.register = (id, l) => channel.register(id, l);
  node.unregister = (id) => channel.unregister(id);
  node.enqueue = (item) => channel.enqueue(item);
  node.describe = () => `${host}:${port}`;
  onClose(node, () => channel.close());
}
