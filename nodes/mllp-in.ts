/**
 * `nhs-mllp-in`: an MLLP listener (HL7 v2.5.1 Appendix C) that keeps each message durably before
 * acknowledging it and hands every acknowledged message to the flow at least once (DESIGN.md §4).
 * lib/mllp does sockets and framing, lib/channel the ACK policy, hand-off and replay. Output 1:
 * accepted messages; output 2: NAKed ones; `msg.outcome` on both (docs/mllp.md).
 */
import { NhsError } from '../lib/errors';
import { MllpServer } from '../lib/mllp';
import { InboundChannel, type AckPolicy, type HandoffMode, type Received } from '../lib/channel';
import type { Store, StoreSize } from '../lib/store';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { onClose } from './shared/input';
import { StatusReporter } from './shared/status';
import { configNumber } from './shared/config';
import { instanceOwner, listenerSecurity, listenerStatus, parseSessionHandle, receivedMessage, unconfirmedWarner, type MllpListenerNode } from './shared/mllp';
import { registerHandoffAdmin } from './shared/mllp-admin';
import { resolveStore, storeConfigId } from './shared/store-access';
import type { Node, NodeDef, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const MLLP_IN_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  registerHandoffAdmin(RED);
  RED.nodes.registerType('nhs-mllp-in', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this as MllpListenerNode, upgradeNode(this, raw, MLLP_IN_CONFIG));
  });
};

function setup(RED: RED, node: MllpListenerNode, def: NodeDef): void {
  const policy: AckPolicy = def.ackMode === 'flow' || def.ackMode === 'immediate' ? def.ackMode : 'commit';
  const port = configNumber(def.port, 2575);
  // Hand-off (commit): new nodes are saved with `confirm` (editor default); a flow saved before
  // the setting existed has none and keeps the fixed 2 s grace it was deployed with (HAZ-025).
  const handoffMode: HandoffMode = def.handoff === 'confirm' ? 'confirm' : 'grace';
  // Never 0 / never "wait for ever": an unconfirmed message must not hold the watermark back.
  const confirmTimeoutS = Math.max(1, configNumber(def.handoffTimeout, 60) || 60);
  const status = new StatusReporter(node);
  const t = catalog(RED, 'mllp-in');
  const storeId = storeConfigId(def);
  let storeP: Promise<Store> | undefined;
  const getStore = (): Promise<Store> => { // not cached on failure: the next message tries again
    if (storeP) return storeP; // (the sender got AE and will resend); per message, so no handler per call
    const p = (storeP = resolveStore(RED, node, storeId));
    p.catch(() => { if (storeP === p) storeP = undefined; });
    return p;
  };
  let received = 0;
  let rejected = 0;
  let size: StoreSize | undefined;
  // Messages the store could not keep (answered AE; HAZ-021): counted, red while appends fail.
  const notKept = { n: 0, code: '', failing: false };
  const show = (): void => {
    if (server.listening) status.set(() => listenerStatus(t, { port, conns: server.connections, received, rejected, replayed: channel.replayedCount, unconfirmed: channel.unconfirmedCount, size, notKept }));
  };
  // The store's size in the status (DESIGN.md §4: the store stays bounded): at start, then each minute.
  const measure = (): void => { if (policy !== 'immediate') void getStore().then((s) => s.size()).then((s) => { size = s; show(); }, () => undefined); };
  const sizeTimers = [setTimeout(measure, 1000), setInterval(measure, 60_000)].map((x) => x.unref());
  // Counts change per message: the status is rebuilt at most twice a second.
  let showTimer: NodeJS.Timeout | undefined;
  const showSoon = (): void => {
    showTimer ??= setTimeout(() => { showTimer = undefined; show(); }, 500);
    showTimer.unref();
  };
  const emit = (r: Received): void => {
    if (r.storeId !== undefined) notKept.failing = false;
    const msg = receivedMessage(node.id, r);
    if (r.valid) {
      received++;
      node.send([msg, null]);
    } else {
      rejected++;
      node.send([null, msg]);
    }
    showSoon();
  };
  const unconfirmed = unconfirmedWarner(node, t, confirmTimeoutS, showSoon);
  node.mllpOwner = instanceOwner(RED, node.id);
  node.mllpHandoffStore = () => (policy === 'commit' ? getStore() : undefined);
  const channel = new InboundChannel({
    policy,
    channel: node.id,
    owner: node.mllpOwner,
    ...(policy !== 'immediate' ? { store: getStore } : {}),
    flowTimeoutMs: configNumber(def.flowTimeout, 30) * 1000,
    handoffMode,
    handoffConfirmTimeoutMs: confirmTimeoutS * 1000,
    onUnconfirmed: unconfirmed.onUnconfirmed,
    strict: def.strict === true || def.strict === 'true',
    emit,
    log: (level, text) => (level === 'warn' ? node.warn(text) : node.debug(text)),
    onError: (e) => node.warn(t('mllp-in.errors.handoff', { code: e.code, message: e.message })),
    onNotKept: (code) => { notKept.n++; notKept.code = code; notKept.failing = true; showSoon(); },
  });
  const { tlsOpts, tlsFound, allow, configError } = listenerSecurity(RED, def, node);
  const server = new MllpServer({
    port,
    ...(typeof def.host === 'string' && def.host.trim() ? { host: def.host.trim() } : {}),
    ...(tlsOpts ? { tls: tlsOpts } : {}),
    maxConnections: configNumber(def.maxConnections, 100),
    idleTimeoutMs: configNumber(def.idleTimeout, 0) * 1000, handshakeTimeoutMs: (configNumber(def.handshakeTimeout, 10) || 10) * 1000,
    maxFrameBytes: configNumber(def.maxFrameBytes, 1024 * 1024) || 1024 * 1024,
    allow,
    log: (level, text) => (level === 'warn' ? node.warn(text) : level === 'info' ? node.log(text) : node.debug(text)),
    onFrame: channel.onFrame,
  });
  server.on('connection', (s: { id: string }) => { channel.replies.sessionOpened(s.id); show(); })
    .on('disconnect', (s: { id: string }) => { channel.replies.dropSession(s.id); show(); });
  server.on('error', (e: Error) => node.error(new NhsError('MLLP_LISTENER_ERROR', t('mllp-in.errors.listener', { code: (e as NodeJS.ErrnoException).code ?? e.message }))));
  node.mllpRespond = (session, storeRef, req) => {
    const h = parseSessionHandle(session);
    if (!h) throw new NhsError('MLLP_NO_SESSION', t('mllp-in.errors.noSession'));
    return channel.respond(h.connection, h.frame, storeRef, req);
  };
  node.mllpConfirm = (storeSeq, storeRef) => channel.confirmHandoff(storeSeq, storeRef);
  node.mllpPort = () => Promise.resolve(undefined);
  if (configError) {
    node.error(new NhsError('MLLP_BAD_ALLOW_LIST', configError));
    status.error(t('mllp-in.status.badAllowList'));
  } else if (tlsFound === undefined || tlsOpts) {
    status.idle(t('mllp-in.status.starting', { port }));
    const listening = server.listen();
    // The bound port, for tests and for a port-0 listener (never rejects: errors go to status).
    node.mllpPort = () => listening.then((a) => a.port, () => undefined);
    listening.then((addr) => {
      node.log(`listening on ${addr.address}:${addr.port} (${tlsOpts ? 'TLS' : 'TCP'}, ack ${policy}${policy === 'commit' ? `, hand-off ${handoffMode === 'confirm' ? `confirmed downstream (timeout ${confirmTimeoutS} s)` : 'grace 2 s'}` : ''})`);
      status.ok(t('mllp-in.status.listening', { port: addr.port }));
      // New messages are kept and ACKed at once; they go on to the flow after the replay.
      void channel.start().then(measure);
    }, (e: Error) => {
      node.error(e);
      status.error(t('mllp-in.status.listenFailed', { port, code: (e as NhsError).code ?? 'MLLP_LISTEN_FAILED' }));
    });
  } else status.error(t('mllp-in.status.tlsMissing'));

  onClose(node, async () => {
    if (showTimer) clearTimeout(showTimer);
    unconfirmed.stop();
    for (const x of sizeTimers) clearTimeout(x);
    await channel.close();
    await server.close();
    status.clear();
  });
}
