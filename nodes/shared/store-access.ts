/**
 * How a node finds its store (DESIGN.md §4): the `nhs-store` config node it names, or — with no
 * config at all — one process-wide default SQLite file `<userDir>/nhs-interop.sqlite`, so every
 * node works out of the box.
 *
 * The default store is opened once and left open for the life of the process rather than
 * ref-counted: a redeploy closes and re-creates every node, and closing the file between the old
 * nodes' close and the new nodes' start would only add churn (and a window where a late write
 * meets a closed store). Leaving it open loses nothing on exit — every resolved write is already
 * committed to the WAL.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { NhsError } from '../../lib/errors';
import { createStore, type Store, type StoreOptions } from '../../lib/store';
import { withGovernance } from './governance';
import type { Node, NodeDef, RED } from './types';

/** The `nhs-store` config node as other nodes see it. */
export interface StoreConfigNode extends Node {
  getStore(): Promise<Store>;
}

/** Node-RED's own default when no userDir is configured. */
export function userDirOf(RED: RED): string {
  const d = RED.settings?.userDir;
  return typeof d === 'string' && d.length > 0 ? d : join(homedir(), '.node-red');
}

/** Path of the zero-config default store. */
export function defaultStoreFile(RED: RED): string {
  return resolve(userDirOf(RED), 'nhs-interop.sqlite');
}

const defaults = new Map<string, Promise<Store>>();

/** Retention of handed-over / processed messages and done outbox items when nothing says otherwise. */
export const DEFAULT_RETENTION_DAYS = 30;
/** Store size above which status turns yellow and a warning is logged hourly. */
export const DEFAULT_SIZE_WARN_MB = 4096;

/**
 * Store failures nobody awaits (the hourly retention run) as a warning: code and message only —
 * store error messages name the operation, never a record's content.
 */
export function storeWarner(warn: (m: string) => void, who: string): (e: NhsError) => void {
  return (e) => warn(`${who}: background store task failed (${e.code}): ${e.message}`);
}

/** The process-wide default SQLite store for `file` (opened on first use, kept open). */
export function defaultStore(file: string, onError?: (e: NhsError) => void): Promise<Store> {
  let p = defaults.get(file);
  if (!p) {
    // Bounded by default (DESIGN.md §4): an edge box left running must not fill its disk.
    const store = withGovernance(createStore({ backend: 'sqlite', file, retentionDays: DEFAULT_RETENTION_DAYS, sizeWarnBytes: DEFAULT_SIZE_WARN_MB * 1048576, ...(onError ? { onError } : {}) }));
    p = store.open().then(() => store);
    defaults.set(file, p);
    // A failed open is not cached: the next caller tries again (e.g. after a disk is remounted).
    p.catch(() => defaults.delete(file));
  }
  return p;
}

/** The default store for `file` if some node has opened it (operations must not create it). */
export function defaultStoreIfOpen(file: string): Promise<Store> | undefined {
  return defaults.get(file);
}

/**
 * The store for `node`: the config node `storeConfigId` when given, else the default store.
 * Rejects `STORE_UNAVAILABLE` when the named config node is missing (e.g. not deployed).
 */
export async function resolveStore(RED: RED, node: Node, storeConfigId?: string): Promise<Store> {
  if (storeConfigId) {
    const cfg = RED.nodes.getNode(storeConfigId) as StoreConfigNode | null;
    if (!cfg || typeof cfg.getStore !== 'function') {
      throw new NhsError('STORE_UNAVAILABLE', `node ${node.id}: store config ${storeConfigId} not found`);
    }
    return cfg.getStore();
  }
  return defaultStore(defaultStoreFile(RED), storeWarner((m) => RED.log.warn(m), 'nhs default store'));
}

/** The `nhs-store` config node a node names in its `store` property, if any. */
export function storeConfigId(def: NodeDef): string | undefined {
  return typeof def.store === 'string' && def.store ? def.store : undefined;
}

/** Flow JSON → store options; secrets come from credentials, never from the flow. */
export function storeOptions(RED: RED, def: NodeDef, credentials: Record<string, string | undefined> | undefined): StoreOptions {
  const backend = def.backend === 'postgres' ? 'postgres' : 'sqlite';
  const durability = def.durability === 'normal' ? 'normal' : 'full';
  const days = Number(def.retentionDays === undefined || def.retentionDays === '' ? DEFAULT_RETENTION_DAYS : def.retentionDays);
  const retentionDays = Number.isFinite(days) && days > 0 ? days : 0;
  const warnMb = Number(def.sizeWarnMB === undefined || def.sizeWarnMB === '' ? DEFAULT_SIZE_WARN_MB : def.sizeWarnMB);
  const sizeWarnBytes = Number.isFinite(warnMb) && warnMb > 0 ? warnMb * 1048576 : 0;
  if (backend === 'postgres') {
    const schema = typeof def.schema === 'string' && def.schema.trim() ? def.schema.trim() : undefined;
    return { backend, url: credentials?.url ?? '', durability, retentionDays, sizeWarnBytes, ...(schema ? { schema } : {}) };
  }
  const f = typeof def.file === 'string' ? def.file.trim() : '';
  const file = f ? (isAbsolute(f) ? f : resolve(userDirOf(RED), f)) : defaultStoreFile(RED);
  // Opt-in: every write and its fsync on the store's own thread (bench/mllp.md, issue 9 item 5).
  return { backend, file, durability, retentionDays, sizeWarnBytes, writerThread: def.writerThread === true || def.writerThread === 'true' };
}

