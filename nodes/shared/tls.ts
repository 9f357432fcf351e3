import type * as tls from 'node:tls';
import type { Node, NodeDef, RED } from './types';

/** The core `tls-config` node's API (node-red/nodes/core/network/05-tls.js). */
interface TlsConfigNode extends Node {
  addTLSOptions(opts: tls.TlsOptions): void;
}

/**
 * TLS options from the core `tls-config` node a node's config names in `def.tls` (unless
 * `def.usetls` is false): `undefined` when TLS is not wanted, `'missing'` when the named
 * config node is not deployed, else the options it fills in.
 */
export function coreTlsOptions(RED: RED, def: NodeDef): tls.TlsOptions | 'missing' | undefined {
  const id = typeof def.tls === 'string' ? def.tls : '';
  if (id === '' || id === '_ADD_' || def.usetls === false) return undefined;
  const cfg = RED.nodes.getNode(id) as TlsConfigNode | null;
  if (!cfg || typeof cfg.addTLSOptions !== 'function') return 'missing';
  const o: tls.TlsOptions = {};
  cfg.addTLSOptions(o);
  return o;
}
