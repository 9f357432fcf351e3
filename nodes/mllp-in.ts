/**
 * `nhs-mllp-in`: an MLLP listener (HL7 v2.5.1 Appendix C) that keeps each message durably before
 * acknowledging it (DESIGN.md §4). Thin wrapper: lib/mllp does framing, sockets, ACK policy.
 * Output 1: valid messages (`msg.payload` text, `msg.hl7`, `msg.topic`, `msg._mllp`); output 2:
 * messages that were NAKed, with `msg.outcome` (an OperationOutcome).
 */
import type * as tls from 'node:tls';
import { NhsError } from '../lib/errors';
import { operationOutcome } from '../lib/outcome';
import { MllpServer, mllpReceiver, parseAllowList, type AckPolicy, type Received } from '../lib/mllp';
import { dropSession, sessionOpened } from '../lib/mllp/replies';
import type { Store } from '../lib/store/types';
import { appendAudit, onClose } from './shared/input';
import { StatusReporter } from './shared/status';
import { configNumber } from './shared/config';
import { resolveStore, storeConfigId } from './shared/store-access';
import { coreTlsOptions } from './shared/tls';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

/** What `nhs-mllp-response` needs from the listener that received a message (duck-typed there). */
interface MllpInNode extends Node {
  mllpStore(): Promise<Store> | undefined;
  mllpPort(): Promise<number | undefined>;
}


export = function (RED: RED) {
  RED.nodes.registerType('nhs-mllp-in', function (this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    setup(RED, this as MllpInNode, def);
  });
};

function setup(RED: RED, node: MllpInNode, def: NodeDef): void {
  const policy: AckPolicy = def.ackMode === 'flow' || def.ackMode === 'immediate' ? def.ackMode : 'commit';
  const port = configNumber(def.port, 2575);
  const status = new StatusReporter(node);
  const storeId = storeConfigId(def);
  let storeP: Promise<Store> | undefined;
  const getStore = (): Promise<Store> => {
    storeP ??= resolveStore(RED, node, storeId);
    // Not cached on failure: the next message tries again (the sender got AE and will resend).
    storeP.catch(() => { storeP = undefined; });
    return storeP;
  };
  node.mllpStore = () => (policy === 'immediate' ? undefined : getStore());
  let received = 0;
  let rejected = 0;

  const show = (): void => {
    if (!server.listening) return;
    const text = `port ${port}: ${server.connections} conn, ${received} msgs${rejected ? `, ${rejected} NAK` : ''}`;
    if (rejected) status.warn(text);
    else status.ok(text);
  };
  // Counts change per message; the status shows them at most twice a second, so one timer per
  // interval replaces building a status string for every message.
  let showTimer: NodeJS.Timeout | undefined;
  const showSoon = (): void => {
    if (showTimer) return;
    showTimer = setTimeout(() => { showTimer = undefined; show(); }, 500);
    showTimer.unref();
  };

  const emit = (r: Received): void => {
    const msg: NodeMessage = { payload: r.text, _mllp: { session: r.session, storeId: r.storeId ?? null, seq: r.seq, node: node.id, policy } };
    let ref = r.storeId;
    if (r.message) {
      const hl7 = r.message.toJSON();
      msg.hl7 = hl7;
      if (hl7.type !== undefined) msg.topic = hl7.type;
      if (hl7.controlId !== undefined) ref = hl7.controlId;
    }
    appendAudit(msg, { node: 'nhs-mllp-in', action: 'receive', outcome: r.valid ? 'accepted' : 'rejected', ref: ref || undefined });
    if (r.valid) {
      received++;
      node.send([msg, null]);
    } else {
      rejected++;
      msg.outcome = operationOutcome(r.issues);
      if (r.ack) msg.ack = r.ack;
      node.send([null, msg]);
    }
    showSoon();
  };

  // The receiver calls this once the message is kept (or, `immediate`, at once) and the ACK is
  // decided. Building msg.hl7 and node.send run in the next turn, so the ACK is written first:
  // the sender is not kept waiting for flow work, and under concurrent load the ACKs of a whole
  // group commit leave together. Nothing is weakened: for `commit`/`flow` the message is already
  // in the store; for `flow` the reply wait is registered before this is called.
  // One immediate per turn for all messages received in it (a group commit settles many at once).
  let queued: Received[] = [];
  const flushQueued = (): void => {
    const batch = queued;
    queued = [];
    for (const r of batch) {
      try {
        emit(r);
      } catch (e) {
        node.error(new NhsError('MLLP_EMIT_FAILED', `could not pass a received message on (${e instanceof Error ? e.name : 'error'})`));
      }
    }
  };
  const onMessage = (r: Received): void => {
    if (queued.push(r) === 1) setImmediate(flushQueued);
  };

  let tlsOpts: tls.TlsOptions | undefined;
  const tlsFound = coreTlsOptions(RED, def);
  const wantsTls = tlsFound !== undefined;
  if (tlsFound === 'missing') {
    node.error('TLS configuration node not found; not listening');
  } else if (tlsFound) {
    tlsOpts = tlsFound;
    // Mutual TLS is the tls-config node's "verify peer certificate" setting.
    tlsOpts.requestCert = def.requestCert === true || def.requestCert === 'true' || tlsOpts.rejectUnauthorized === true;
  }

  // A bad allow-list rule is a configuration error: report it and do not listen (fail closed).
  let allow = typeof def.allow === 'string' ? def.allow : '';
  let configError: string | undefined;
  try {
    parseAllowList(allow);
  } catch (e) {
    configError = e instanceof Error ? e.message : String(e);
    allow = '0.0.0.0/32';
  }
  const server = new MllpServer({
    port,
    ...(typeof def.host === 'string' && def.host.trim() ? { host: def.host.trim() } : {}),
    ...(tlsOpts ? { tls: tlsOpts } : {}),
    maxConnections: configNumber(def.maxConnections, 100),
    idleTimeoutMs: configNumber(def.idleTimeout, 0) * 1000,
    maxFrameBytes: configNumber(def.maxFrameBytes, 1024 * 1024) || 1024 * 1024,
    allow,
    log: (level, text) => {
      if (level === 'warn') node.warn(text);
      else if (level === 'info') node.log(text);
      else node.debug(text);
    },
    onFrame: mllpReceiver({
      policy,
      channel: node.id,
      store: getStore,
      flowTimeoutMs: configNumber(def.flowTimeout, 30) * 1000,
      onMessage,
      log: (level, text) => (level === 'warn' ? node.warn(text) : node.debug(text)),
    }),
  });
  server.on('connection', (s: { id: string }) => { sessionOpened(s.id); show(); });
  server.on('disconnect', (s: { id: string }) => { dropSession(s.id); show(); });
  server.on('error', (e: Error) => node.error(new NhsError('MLLP_LISTENER_ERROR', `listener error: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));

  if (configError) {
    node.error(new NhsError('MLLP_BAD_ALLOW_LIST', configError));
    node.mllpPort = () => Promise.resolve(undefined);
    status.error('bad allow-list');
  } else if (!wantsTls || tlsOpts) {
    status.idle(`starting on port ${port}`);
    const listening = server.listen();
    // The bound port, for tests and for a port-0 listener (never rejects: errors go to status).
    node.mllpPort = () => listening.then((a) => a.port, () => undefined);
    listening.then(
      (addr) => {
        node.log(`listening on ${addr.address}:${addr.port} (${tlsOpts ? 'TLS' : 'TCP'}, ack ${policy})`);
        status.ok(`port ${addr.port}: listening`);
      },
      (e: Error) => {
        node.error(e);
        status.error(`port ${port}: ${(e as NhsError).code ?? 'listen failed'}`);
      },
    );
  } else {
    node.mllpPort = () => Promise.resolve(undefined);
    status.error('TLS config missing');
  }

  onClose(node, async () => {
    if (showTimer) clearTimeout(showTimer);
    await server.close();
    status.clear();
  });
}
