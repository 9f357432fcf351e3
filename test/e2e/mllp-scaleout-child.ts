/**
 * Child process for test/e2e/mllp-scaleout.test.ts: one Node-RED runtime (through
 * node-red-node-test-helper) running the shared flow — nhs-mllp-in (commit) → nhs-mllp-out →
 * endpoint — on a PostgreSQL store shared with the other instance. Its own userDir makes it a
 * different instance (different receiving owner and lease owner); the same userDir after a
 * restart makes it the same one.
 *   <listen port> <downstream port> <pg url> <pg schema> <userDir>
 * Prints `READY <port>` once serving.
 */
const helper = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));

const [portArg, downArg, url, schema, userDir] = process.argv.slice(2);

const flow = [
  { id: 'st', type: 'nhs-store', backend: 'postgres', schema },
  { id: 'in', type: 'nhs-mllp-in', port: Number(portArg), host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [['out'], []] },
  { id: 'ep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port: Number(downArg), store: 'st', connectTimeout: 1, ackTimeout: 3, retryBase: 0.05, retryMax: 0.5, maxAttempts: 1000 },
  { id: 'out', type: 'nhs-mllp-out', endpoint: 'ep', wires: [[], []] },
];

helper.settings({ userDir });
helper.startServer(() => {
  const modules = [require('../../nodes/mllp-in'), require('../../nodes/store'), require('../../nodes/mllp-out'), require('../../nodes/mllp-endpoint')];
  helper.load(modules, flow, { st: { url } }, () => {
    void (async () => {
      const p = await helper.getNode('in').mllpPort();
      console.log(`READY ${p}`);
    })();
  });
});
