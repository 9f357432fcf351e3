/**
 * Child process for test/e2e/mllp-durability.test.ts: runs the Node-RED runtime (through
 * node-red-node-test-helper) with one flow, so the parent can SIGKILL it at any instant.
 *   in  <port> <sqlite file> [audit|peer port] nhs-mllp-in (commit) on a SQLite store; wired to
 *                                              nhs-audit, or to nhs-mllp-out → the parent's peer
 *   in  <port> <sqlite file> audit-confirm     nhs-mllp-in (commit, hand-off confirm) → a random
 *                                              0–500 ms delay → nhs-audit
 *   in  <port> <sqlite file> slow-confirm|slow-grace   nhs-mllp-in (commit, hand-off confirm or
 *                                              grace) → a 6 s delay → nhs-audit
 *   out <peer port> <sqlite file> [enqueue N]  nhs-mllp-out → endpoint → the parent's peer
 * Prints `READY <port>` once serving, and `QUEUED` after enqueueing.
 */
import { adt } from '../helpers/mllp-peer';

const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));

const [mode, portArg, file, enqueueArg] = process.argv.slice(2);
const port = Number(portArg);

function flowFor(): Record<string, unknown>[] {
  const store = { id: 'st', type: 'nhs-store', backend: 'sqlite', file, durability: 'full' };
  if (mode === 'in' && (enqueueArg === 'slow-confirm' || enqueueArg === 'slow-grace')) {
    return [
      store,
      { id: 'in', type: 'nhs-mllp-in', port, host: '127.0.0.1', store: 'st', ackMode: 'commit', handoff: enqueueArg.slice(5), wires: [['slow'], []] },
      { id: 'slow', type: 'delay', pauseType: 'delay', timeout: '6', timeoutUnits: 'seconds', rate: '1', nbRateUnits: '1', rateUnits: 'second', randomFirst: '1', randomLast: '5', randomUnits: 'seconds', drop: false, wires: [['au']] },
      { id: 'au', type: 'nhs-audit', store: 'st', action: 'processed', trail: true, wires: [[]] },
    ];
  }
  if (mode === 'in' && enqueueArg === 'audit-confirm') {
    // Each message waits a random 0–500 ms between send and the durable write, so a kill often
    // lands with messages in that gap: the case confirm mode replays.
    return [
      store,
      { id: 'in', type: 'nhs-mllp-in', port, host: '127.0.0.1', store: 'st', ackMode: 'commit', handoff: 'confirm', wires: [['gap'], []] },
      { id: 'gap', type: 'delay', pauseType: 'random', timeout: '1', timeoutUnits: 'seconds', rate: '1', nbRateUnits: '1', rateUnits: 'second', randomFirst: '0', randomLast: '500', randomUnits: 'milliseconds', drop: false, wires: [['au']] },
      { id: 'au', type: 'nhs-audit', store: 'st', action: 'processed', trail: true, wires: [[]] },
    ];
  }
  if (mode === 'in' && enqueueArg === 'audit') {
    return [
      store,
      { id: 'in', type: 'nhs-mllp-in', port, host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [['au'], []] },
      { id: 'au', type: 'nhs-audit', store: 'st', action: 'processed', trail: true, wires: [[]] },
    ];
  }
  if (mode === 'in' && enqueueArg) {
    return [
      store,
      { id: 'in', type: 'nhs-mllp-in', port, host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [['out'], []] },
      { id: 'ep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port: Number(enqueueArg), store: 'st', connectTimeout: 1, ackTimeout: 2, retryBase: 0.05, retryMax: 0.2, maxAttempts: 1000 },
      { id: 'out', type: 'nhs-mllp-out', endpoint: 'ep', wires: [[], []] },
    ];
  }
  if (mode === 'in') return [store, { id: 'in', type: 'nhs-mllp-in', port, host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [[], []] }];
  return [
    store,
    { id: 'ep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port, store: 'st', connectTimeout: 1, ackTimeout: 2, retryBase: 0.05, retryMax: 0.2, maxAttempts: 1000 },
    { id: 'out', type: 'nhs-mllp-out', endpoint: 'ep', wires: [[], []] },
  ];
}

helper.startServer(() => {
  const modules = mode === 'in'
    ? [require('../../nodes/mllp-in'), require('../../nodes/store'), require('../../nodes/mllp-out'), require('../../nodes/mllp-endpoint'), require('../../nodes/audit'), require('@node-red/nodes/core/function/89-delay.js')]
    : [require('../../nodes/mllp-out'), require('../../nodes/mllp-endpoint'), require('../../nodes/store')];
  helper.load(modules, flowFor(), () => {
    void (async () => {
      if (mode === 'in') {
        const p = await helper.getNode('in').mllpPort();
        console.log(`READY ${p}`);
        return;
      }
      console.log(`READY ${port}`);
      const n = Number(enqueueArg ?? 0);
      if (n > 0) {
        const out = helper.getNode('out');
        for (let i = 0; i < n; i++) out.receive({ payload: adt(`Q${String(i).padStart(5, '0')}`) });
        const store = await helper.getNode('st').getStore();
        while ((await store.listOutbox({ destination: 'ep' })).length < n) await new Promise((r) => setTimeout(r, 20));
        console.log('QUEUED');
      }
    })();
  });
});
