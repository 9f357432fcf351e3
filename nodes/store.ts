/**
 * `nhs-store` config node: one durable store (DESIGN.md §4) shared by every node that names it.
 * The store opens on first use and closes on redeploy or shutdown; closing never deletes data.
 */
import { NhsError } from '../lib/errors';
import { createStore, type Store } from '../lib/store';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { withGovernance } from './shared/governance';
import { catalog } from './shared/i18n';
import { onClose } from './shared/input';
import { storeOptions, storeWarner, type StoreConfigNode } from './shared/store-access';
import type { Node, NodeDef, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const STORE_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  RED.nodes.registerType('nhs-store', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    const def = upgradeNode(this, raw, STORE_CONFIG);
    const t = catalog(RED, 'store');
    const node = this as StoreConfigNode;
    let opening: Promise<Store> | undefined;
    let closed = false;

    node.getStore = () => {
      if (closed) return Promise.reject(new NhsError('STORE_CLOSED', t('store.errors.closed')));
      if (!opening) {
        const p = (async () => {
          const opts = { ...storeOptions(RED, def, node.credentials), onError: storeWarner((m) => node.warn(m), 'store') };
          if (opts.backend === 'postgres' && !opts.url) throw new NhsError('STORE_INVALID', t('store.errors.noUrl'));
          const store = withGovernance(createStore(opts));
          await store.open();
          node.log(t('store.log.open', { backend: opts.backend }));
          return store;
        })();
        opening = p;
        // Not cached on failure: the next message retries (e.g. PostgreSQL came back).
        p.catch((e: unknown) => {
          if (opening === p) opening = undefined;
          node.warn(t('store.errors.unavailable', { error: e instanceof Error ? e.message : String(e) }));
        });
      }
      return opening;
    };

    onClose(node, async () => {
      closed = true;
      const store = await opening?.catch(() => undefined);
      await store?.close();
    });
  }, { credentials: { url: { type: 'password' } } });
};
