/**
 * Shared harness for node tests: node-red-node-test-helper bound to the Node-RED this checkout
 * has installed (4.1.x, or 5.x in the CI's second run). Node tests load the TypeScript node
 * modules directly (tsx); test/nodes/package.test.ts checks the built dist/ as Node-RED loads it.
 *
 * Usage:
 *   const h = nodeRedHarness();        // registers before/after/afterEach hooks in the suite
 *   await h.load([require('../../nodes/hl7')], flow);
 *   const out = h.next('helperId');    // promise of the next msg arriving at a helper node
 */
import { after, afterEach, before } from 'node:test';
import { contractHooks } from './contract';
const helper: any = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));

export interface Harness {
  helper: any;
  load(modules: unknown[], flow: Record<string, unknown>[], credentials?: Record<string, unknown>): Promise<void>;
  node(id: string): any;
  /** Resolve with the next message the node `id` (usually a `helper` node) receives. */
  next(id: string, timeoutMs?: number): Promise<any>;
  /** Collect `count` messages arriving at node `id`. */
  collect(id: string, count: number, timeoutMs?: number): Promise<any[]>;
}

export function nodeRedHarness(): Harness {
  before((_, done) => { helper.startServer(done); });
  after((_, done) => { helper.stopServer(done); });
  // Every node test also checks the message contract (DESIGN.md §2) on every output of every
  // node it loads: a violation fails the test that caused it (test/helpers/contract.ts).
  const contract = contractHooks();
  afterEach(async () => {
    await helper.unload();
    contract.assertClean();
  });
  const h: Harness = {
    helper,
    async load(modules, flow, credentials) {
      await helper.load(modules, flow, credentials ?? {});
      contract.watch(flow.map((n) => helper.getNode(n.id as string)));
    },
    node(id) {
      return helper.getNode(id);
    },
    next(id, timeoutMs = 5000) {
      return h.collect(id, 1, timeoutMs).then((a) => a[0]);
    },
    collect(id, count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const got: any[] = [];
        const n = helper.getNode(id);
        if (!n) { reject(new Error(`no node ${id}`)); return; }
        const t = setTimeout(() => reject(new Error(`timeout: ${got.length}/${count} msgs at ${id}`)), timeoutMs);
        n.on('input', (msg: any) => {
          got.push(msg);
          if (got.length === count) { clearTimeout(t); resolve(got); }
        });
      });
    },
  };
  return h;
}

/** Paths of the shared data folder beside the repo (read-only). */
export { sharedDir, skipWithoutShared } from './shared';
