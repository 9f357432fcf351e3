/**
 * Store options resolved once (defaults, injected clock and id generator), the limits both
 * backends apply, and the few outcomes every operation may report (closed, not found, a write
 * that failed for a data reason).
 */
import { NhsError } from '../errors';
import { invalid } from './checks';
import { monotonicId } from './ids';
import type { Durability, StoreOptions, StoreStats } from './types';

export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_LEASE_MS = 30_000;
export const DAY_MS = 86_400_000;
/** Rows deleted per retention transaction: a large backlog never holds the write lock for long. */
export const PRUNE_CHUNK = 5000;

export interface ResolvedOptions {
  durability: Durability;
  groupCommit: boolean;
  maxRecordBytes: number;
  timeoutMs: number;
  retentionDays: number;
  sizeWarnBytes: number;
  clock: () => Date;
  idGen: () => string;
  /** Reports failures nobody awaits (the background retention run); never throws. */
  onError: (e: NhsError) => void;
}

export function resolveOptions(o: StoreOptions): ResolvedOptions {
  const durability = o.durability ?? 'full';
  if (durability !== 'full' && durability !== 'normal') throw invalid('durability must be full or normal');
  const num = (v: number | undefined, def: number, name: string, min: number): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw invalid(`${name} must be a number ≥ ${min}`);
    return v;
  };
  return {
    durability,
    groupCommit: o.groupCommit ?? true,
    maxRecordBytes: num(o.maxRecordBytes, DEFAULT_MAX_RECORD_BYTES, 'maxRecordBytes', 1),
    timeoutMs: num(o.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs', 1),
    retentionDays: num(o.retentionDays, 0, 'retentionDays', 0),
    sizeWarnBytes: num(o.sizeWarnBytes, 0, 'sizeWarnBytes', 0),
    clock: o.clock ?? (() => new Date()),
    idGen: o.idGen ?? monotonicId,
    onError: (e) => {
      try {
        o.onError?.(e);
      } catch {
        // A faulty reporter must not turn a reported failure into an unhandled one.
      }
    },
  };
}

export function closedError(): NhsError {
  return new NhsError('STORE_CLOSED', 'store is closed or not open');
}
export function notFound(kind: string): NhsError {
  return new NhsError('STORE_NOT_FOUND', `${kind} not found`);
}

/** A write that could not apply for a data reason: it changed nothing, so its batch may commit. */
export class OpFailure {
  constructor(readonly error: NhsError) {}
}

export function newStats(): StoreStats {
  return { commits: 0, writes: 0, failedWrites: 0, maxBatch: 0, batchFallbacks: 0 };
}
