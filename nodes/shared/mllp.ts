/**
 * The typed interfaces by which MLLP nodes reach each other's live objects (DESIGN.md §1: never
 * by duck typing): `nhs-mllp-response` → the `nhs-mllp-in` listener that received a message,
 * `nhs-mllp-out` → its `nhs-mllp-endpoint`. Each lookup checks the node's type.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { readAck, type AckInfo } from '../../lib/hl7';
import { operationOutcome } from '../../lib/outcome';
import type { DeliveryListener, Received, ReplyRequest } from '../../lib/channel';
import type { NewOutboxItem, OutboxItem, Store, StoreSize } from '../../lib/store';
import type * as tls from 'node:tls';
import { parseAllowList } from '../../lib/mllp';
import { coreTlsOptions } from './tls';
import type { Translate } from './i18n';
import type { Node, NodeDef, NodeMessage, NodeStatus, RED } from './types';
import { appendAudit } from './input';
import { metrics } from './ops';

/** What an `nhs-mllp-in` node offers other nodes. */
export interface MllpListenerNode extends Node {
  type: 'nhs-mllp-in';
  /** The bound port once listening (undefined when it could not listen). */
  mllpPort(): Promise<number | undefined>;
  /** Answer (flow mode) and record the flow's verdict for the message `session` names. */
  mllpRespond(session: string, storeId: string | undefined, req: ReplyRequest): Promise<AckInfo | undefined>;
  /** This listener in this instance: the receiving owner recorded on what it keeps. */
  mllpOwner: string;
  /** The store holding its hand-off watermark (undefined unless `commit` mode). */
  mllpHandoffStore(): Promise<Store> | undefined;
  /**
   * A durable node downstream committed the message kept as `storeSeq` (record `storeId`): in
   * `commit` mode with hand-off *confirm* it counts as handed over. True when this call counted.
   * Called only through {@link confirmHandoff} (nodes/shared/handoff.ts).
   */
  mllpConfirm(storeSeq: number, storeId: string | undefined): boolean;
}

/**
 * `msg._mllp`, set by `nhs-mllp-in` (DESIGN.md §2), plain JSON so it survives Node-RED's
 * cloning: `session` names the connection and frame (for `nhs-mllp-response`), `storeId` and
 * `storeSeq` the stored record and its store sequence number (absent with `immediate`),
 * `listener` the `nhs-mllp-in` node id (whom a durable node confirms the hand-off to).
 */
export interface MllpRef {
  session: string;
  storeId: string | null;
  listener: string;
  storeSeq?: number;
  replayed?: true;
}

/** What an `nhs-mllp-endpoint` config node offers its out nodes. */
export interface MllpEndpointNode extends Node {
  type: 'nhs-mllp-endpoint';
  register(id: string, l: DeliveryListener): Promise<void>;
  unregister(id: string): void;
  enqueue(item: Omit<NewOutboxItem, 'destination'>): Promise<OutboxItem>;
  describe(): string;
  /** Whether its outbox sender is delivering (health: lib/channel/endpoint.ts senderState). */
  senderState(): 'running' | 'idle' | 'stopped';
}

/**
 * `msg._mllp.session`: an opaque handle naming the listener, the connection and the frame a
 * message arrived as — plain text, so it survives Node-RED's message cloning.
 */
export function sessionHandle(listener: string, connection: string, frame: number): string {
  return `${listener}/${connection}/${frame}`;
}

export function parseSessionHandle(h: unknown): { listener: string; connection: string; frame: number } | undefined {
  if (typeof h !== 'string') return undefined;
  const parts = h.split('/');
  if (parts.length !== 3) return undefined;
  const frame = Number(parts[2]);
  if (!parts[0] || !parts[1] || !Number.isInteger(frame)) return undefined;
  return { listener: parts[0], connection: parts[1], frame };
}

export function listenerNode(RED: RED, id: string): MllpListenerNode | undefined {
  const n = RED.nodes.getNode(id);
  return n?.type === 'nhs-mllp-in' ? (n as MllpListenerNode) : undefined;
}

export function endpointNode(RED: RED, id: unknown): MllpEndpointNode | undefined {
  const n = typeof id === 'string' ? RED.nodes.getNode(id) : null;
  return n?.type === 'nhs-mllp-endpoint' ? (n as MllpEndpointNode) : undefined;
}

/**
 * Who owns what a node keeps (outbox leases, received messages): this node in this Node-RED
 * instance, the same after a restart, different in another instance sharing the store (same
 * flow, other host or user directory).
 */
export function instanceOwner(RED: RED, nodeId: string): string {
  return createHash('sha256').update(`${hostname()}\0${RED.settings.userDir ?? process.cwd()}\0${nodeId}`).digest('hex').slice(0, 32);
}

/**
 * A listener's TLS options (core `tls-config`; mutual TLS is its "verify peer certificate"
 * setting) and allow-list. A bad allow-list rule is a configuration error: reported, and the
 * allow-list closes to nobody (fail closed).
 */
export function listenerSecurity(RED: RED, def: NodeDef, node: Node): { tlsOpts?: tls.TlsOptions; tlsFound: ReturnType<typeof coreTlsOptions>; allow: string; configError?: string } {
  let tlsOpts: tls.TlsOptions | undefined;
  const tlsFound = coreTlsOptions(RED, def);
  if (tlsFound === 'missing') node.error('TLS configuration node not found; not listening');
  else if (tlsFound) {
    tlsOpts = tlsFound;
    tlsOpts.requestCert = def.requestCert === true || def.requestCert === 'true' || tlsOpts.rejectUnauthorized === true;
  }
  const allow = typeof def.allow === 'string' ? def.allow : '';
  try {
    parseAllowList(allow);
  } catch (e) {
    return { ...(tlsOpts ? { tlsOpts } : {}), tlsFound, allow: '0.0.0.0/32', configError: e instanceof Error ? e.message : String(e) };
  }
  return { ...(tlsOpts ? { tlsOpts } : {}), tlsFound, allow };
}

/** What an `nhs-mllp-in` status counts (never content). */
export interface ListenerCounts {
  port: number; conns: number; received: number; rejected: number; replayed: number; size: StoreSize | undefined;
  /** Messages that passed the hand-off confirm timeout without a durable node's confirmation. */
  unconfirmed?: number;
  /** Messages the store could not keep (answered AE): how many, the last error code, and whether the last append failed. */
  notKept: { n: number; code: string; failing: boolean };
}

/**
 * The `nhs-mllp-in` status: connections and counts; red while the store cannot keep messages (a
 * full disk: `N not stored (STORE_FULL)`, hazard HAZ-021 C8), yellow once one is kept again, on
 * NAKs, unconfirmed hand-offs (HAZ-005 C8), or above the store's size warning level (HAZ-021 C7);
 * else green.
 */
export function listenerStatus(t: Translate, c: ListenerCounts): NodeStatus {
  const text = t('mllp-in.status.counts', { port: c.port, conns: c.conns, msgs: c.received }) + (c.rejected ? t('mllp-in.status.nak', { n: c.rejected }) : '')
    + (c.notKept.n ? t('mllp-in.status.notKept', { n: c.notKept.n, code: c.notKept.code }) : '')
    + (c.replayed ? t('mllp-in.status.replayed', { n: c.replayed }) : '')
    + (c.unconfirmed ? t('mllp-in.status.unconfirmed', { n: c.unconfirmed }) : '') + (c.size ? t('mllp-in.status.store', { mb: Math.ceil(c.size.bytes / 1048576) }) : '');
  if (c.notKept.failing) return { fill: 'red', shape: 'ring', text };
  if (c.rejected || c.notKept.n || c.unconfirmed || c.size?.warning) return { fill: 'yellow', shape: 'ring', text };
  return { fill: 'green', shape: 'dot', text };
}

/**
 * The msg `nhs-mllp-in` emits for a received message (docs/mllp.md): payload, `_mllp` (session
 * handle, store record, listener and seq for the hand-off), `msg.ack` as sent, `msg.hl7`, the
 * receive step in `msg.audit`, and the parse verdict in `msg.outcome` on both outputs (DESIGN.md §2).
 */
export function receivedMessage(nodeId: string, r: Received): NodeMessage {
  const mllp: MllpRef = { session: sessionHandle(nodeId, r.session, r.seq), storeId: r.storeId ?? null, listener: nodeId };
  if (r.storeSeq !== undefined) mllp.storeSeq = r.storeSeq;
  if (r.replayed) mllp.replayed = true;
  const msg: NodeMessage = { payload: r.text, _mllp: mllp };
  if (r.ack) msg.ack = r.ackInfo ?? readAck(r.ack);
  let ref = r.storeId;
  if (r.message) {
    const hl7 = r.message.toJSON();
    msg.hl7 = hl7;
    if (hl7.type !== undefined) msg.topic = hl7.type;
    if (hl7.controlId !== undefined) ref = hl7.controlId;
  }
  appendAudit(msg, { node: nodeId, action: r.replayed ? 'replay' : 'receive', outcome: r.valid ? 'accepted' : 'rejected', ...(ref ? { ref } : {}), from: r.remoteAddress });
  msg.outcome = operationOutcome(r.issues);
  return msg;
}

/**
 * Messages the hand-off confirm timeout counted as handed over (HAZ-005 C8): each counted in the
 * metric at once, warned about at most once a minute (a dropped branch may do this per message),
 * with store seqs only, never content.
 */
export function unconfirmedWarner(node: Node, t: Translate, timeoutS: number, changed: () => void): { onUnconfirmed: (seqs: number[]) => void; stop: () => void } {
  let unwarned = 0;
  let firstSeq = 0;
  let timer: NodeJS.Timeout | undefined;
  const warn = (): void => {
    if (timer || unwarned === 0) return;
    node.warn(t('mllp-in.errors.unconfirmed', { n: unwarned, s: timeoutS, seq: firstSeq }));
    unwarned = 0;
    timer = setTimeout(() => { timer = undefined; warn(); }, 60_000);
    timer.unref();
  };
  return {
    onUnconfirmed: (seqs) => {
      metrics.handoffUnconfirmed(node.id, seqs.length);
      if (unwarned === 0) firstSeq = seqs.reduce((a, b) => Math.min(a, b));
      unwarned += seqs.length;
      warn();
      changed();
    },
    stop: () => { if (timer) clearTimeout(timer); },
  };
}
