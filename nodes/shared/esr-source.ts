import type { FileSource, FileSourceSettings } from '../../lib/remote';
import type { Schedule } from '../../lib/remote/schedule';
import type { Node } from './types';

/** The `nhs-esr-source` config node as `nhs-esr` sees it (DESIGN.md §1: one typed interface). */
export interface EsrSourceNode extends Node {
  /** A new source (connections are opened per poll and closed after it). */
  createSource(): FileSource;
  readonly pattern: string;
  readonly schedule: Schedule;
  readonly protocol: FileSourceSettings['protocol'];
}
