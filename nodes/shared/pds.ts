import type { PdsService } from '../../lib/nhs/pds/lookup';
import type { PdsEnvironment } from '../../lib/nhs/pds/environments';
import type { Node } from './types';

/**
 * The `nhs-pds-config` node as `nhs-pds-lookup` sees it: one PdsService (client, token cache,
 * rate limiter, cache) shared by every lookup node on the config.
 */
export interface PdsConfigNode extends Node {
  environment: PdsEnvironment;
  /** The shared service; rejects with an NhsError (e.g. PDS_AUTH_CONFIG) when the config is unusable. */
  service(): Promise<PdsService>;
  /** Be told the limiter's queue length; returns the unsubscribe function. */
  onQueue(cb: (queued: number) => void): () => void;
}
