/**
 * `nhs-mllp-endpoint` (config): one MLLP destination — address, TLS (core `tls-config`),
 * timeouts, keep-alive, retry back-off, attempt budget and AE/AR policy — and the one outbox
 * sender that delivers to it in order (DESIGN.md §4). Every `nhs-mllp-out` naming it shares it.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type * as tls from 'node:tls';
import { NhsError } from '../lib/errors';
import { MllpClient, OutboxSender, type DeliveryListener, type NegativeAckPolicy } from '../lib/mllp';
import type { NewOutboxItem, OutboxItem, Store } from '../lib/store/types';
import { onClose } from './shared/input';
import { configNumber } from './shared/config';
import { resolveStore, storeConfigId } from './shared/store-access';
import { coreTlsOptions } from './shared/tls';
import type { Node, NodeDef, RED } from './shared/types';


export = function (RED: RED) {
  RED.nodes.registerType('nhs-mllp-endpoint', function (this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this as Node & Record<string, unknown>;
    const host = typeof def.host === 'string' && def.host.trim() ? def.host.trim() : '127.0.0.1';
    const port = configNumber(def.port, 2575);
    const policy: NegativeAckPolicy = def.nakPolicy === 'park' || def.nakPolicy === 'fail' ? def.nakPolicy : 'retry';
    let tlsOpts: tls.ConnectionOptions | undefined;
    let configError: NhsError | undefined;
    const tlsFound = coreTlsOptions(RED, def);
    if (tlsFound === 'missing') configError = new NhsError('MLLP_CONFIG', 'TLS configuration node not found');
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
    const listeners = new Map<string, DeliveryListener>();
    const storeId = storeConfigId(def);
    let sender: OutboxSender | undefined;
    let starting: Promise<OutboxSender> | undefined;
    /** The sender inside `start` (still recovering its outbox), so a close can stop it. */
    let startingSender: OutboxSender | undefined;
    let closed = false;

    const listenerFor = (item: OutboxItem): DeliveryListener | undefined => {
      const owner = typeof item.meta.node === 'string' ? listeners.get(item.meta.node) : undefined;
      return owner ?? listeners.values().next().value;
    };

    const start = (): Promise<OutboxSender> => {
      starting ??= (async () => {
        if (configError) throw configError;
        const store: Store = await resolveStore(RED, node, storeId);
        const s = new OutboxSender({
          store,
          destination: node.id,
          send: (payload, accept) => client.send(payload, accept),
          policy,
          maxAttempts: Math.max(1, configNumber(def.maxAttempts, 10)),
          backoff: { baseMs: configNumber(def.retryBase, 1) * 1000, maxMs: configNumber(def.retryMax, 60) * 1000 },
          leaseMs: connectTimeoutMs + ackTimeoutMs + 10_000,
          // This endpoint in this Node-RED instance, the same after a restart: it takes back its
          // own in-flight item at once, and leaves alone one that another instance sharing the
          // store (same flow, other host or user directory) is sending.
          owner: createHash('sha256').update(`${hostname()}\0${RED.settings.userDir ?? process.cwd()}\0${node.id}`).digest('hex').slice(0, 32),
          onDelivered: (item, ack) => listenerFor(item)?.delivered(item, ack),
          onParked: (item, reason, ack, err) => {
            const l = listenerFor(item);
            if (l) l.parked(item, reason, ack, err);
            else node.warn(`outbox item ${item.id} parked: ${reason}`);
          },
          onRetry: (item, reason, at) => listenerFor(item)?.retrying(item, reason, at),
          onError: (e) => node.warn(`outbox: ${e.code}: ${e.message}`),
        });
        if (closed) throw new NhsError('MLLP_CLOSED', 'endpoint closed');
        startingSender = s;
        try {
          await s.start();
        } finally {
          startingSender = undefined;
        }
        // Closed while recovering: a sender kept now would be a zombie sending on a closed client.
        if (closed) {
          await s.stop();
          throw new NhsError('MLLP_CLOSED', 'endpoint closed');
        }
        sender = s;
        return s;
      })();
      starting.catch(() => { starting = undefined; });
      return starting;
    };

    /** An out node attaches; the first one starts delivery (so no result is reported to nobody). */
    node.register = (id: string, l: DeliveryListener): Promise<void> => {
      listeners.set(id, l);
      return start().then(() => undefined);
    };
    node.unregister = (id: string): void => { listeners.delete(id); };
    /** Durably enqueue; resolves once committed. */
    node.enqueue = async (item: Omit<NewOutboxItem, 'destination'>): Promise<OutboxItem> => {
      const s = await start();
      const store = await resolveStore(RED, node, storeId);
      const out = await store.enqueue({ ...item, destination: node.id });
      s.wake();
      return out;
    };
    node.describe = (): string => `${host}:${port}`;

    onClose(node, async () => {
      closed = true;
      const stopping = Promise.all([sender?.stop(), startingSender?.stop()]);
      const pending = starting;
      await client.close();
      await stopping;
      await pending?.catch(() => undefined);
    });
  });
};
