/**
 * Argument checks shared by both backends: every write argument and query is checked here before
 * it is queued, so a bad record never enters a batch and both backends refuse the same things
 * (`STORE_INVALID`, `STORE_RECORD_TOO_LARGE`).
 */
import { NhsError } from '../errors';
import type { MessageStatus, OutboxState, QuarantineState } from './types';

/** Query results are bounded so one sidebar request cannot load a whole store into memory. */
export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 100_000;

export function invalid(message: string): NhsError {
  return new NhsError('STORE_INVALID', message);
}

export function str(v: unknown, name: string, maxLen = 1024): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(`${name} must be a non-empty string`);
  if (v.length > maxLen) throw invalid(`${name} longer than ${maxLen} characters`);
  return v;
}
export function optStr(v: unknown, name: string, maxLen = 1024): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalid(`${name} must be a string`);
  if (v.length > maxLen) throw invalid(`${name} longer than ${maxLen} characters`);
  return v;
}

/** ISO 8601 → canonical `toISOString()` form, so text comparison orders times on both backends. */
export function isoTime(v: unknown, name: string): string {
  const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw invalid(`${name} must be an ISO date-time`);
  const iso = d.toISOString();
  if (iso.length !== 24) throw invalid(`${name} out of range`);
  return iso;
}
export function optIso(v: unknown, name: string): string | null {
  return v === undefined || v === null ? null : isoTime(v, name);
}

export function toBuffer(v: unknown, name: string, max: number): Buffer {
  if (!(v instanceof Uint8Array)) throw invalid(`${name} must be a Buffer`);
  if (v.byteLength > max) throw tooLarge(name, v.byteLength, max);
  // A copy: the caller may reuse its buffer before the group commit runs.
  return Buffer.from(v);
}
export function tooLarge(name: string, size: number, max: number): NhsError {
  return new NhsError('STORE_RECORD_TOO_LARGE', `${name} is ${size} bytes, limit ${max}`, { detail: { size, max } });
}

/** JSON text of a plain-data object (null when absent); refuses what would not round-trip. */
export function jsonText(v: unknown, name: string, max: number, allowNull: boolean): string | null {
  if (v === undefined || v === null) {
    if (allowNull) return null;
    return '{}';
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${name} must be a plain object`);
  let text: string;
  try {
    text = JSON.stringify(v);
  } catch {
    throw invalid(`${name} is not JSON-serialisable`);
  }
  const size = Buffer.byteLength(text);
  if (size > max) throw tooLarge(name, size, max);
  return text;
}
const MESSAGE_STATUSES: readonly MessageStatus[] = ['received', 'processed', 'errored'];
export const OUTBOX_STATES: readonly OutboxState[] = ['pending', 'inflight', 'done', 'parked'];
const QUARANTINE_STATES: readonly QuarantineState[] = ['open', 'released', 'discarded'];

export function checkStatus(s: unknown): MessageStatus {
  if (!MESSAGE_STATUSES.includes(s as MessageStatus)) throw invalid('unknown message status');
  return s as MessageStatus;
}
export function checkQuarantineState(s: unknown): QuarantineState {
  if (!QUARANTINE_STATES.includes(s as QuarantineState)) throw invalid('unknown quarantine state');
  return s as QuarantineState;
}
/** transitionQuarantine's optional release-count guard: absent, or a non-negative integer. */
export function checkExpectedReleaseCount(n: unknown): void {
  if (n !== undefined && (!Number.isInteger(n) || (n as number) < 0)) throw invalid('expectedReleaseCount must be a non-negative integer');
}
/** transitionQuarantine's optional edit guard: absent, or `{ editDiff, editedBy }`, each a string or null. */
export function checkExpectedEdit(e: unknown): void {
  if (e === undefined) return;
  const ok = (v: unknown): boolean => v === null || typeof v === 'string';
  if (typeof e !== 'object' || e === null || !ok((e as { editDiff?: unknown }).editDiff) || !ok((e as { editedBy?: unknown }).editedBy)) {
    throw invalid('expectedEdit must be { editDiff, editedBy }, each a string or null');
  }
}
export function checkId(id: unknown): string {
  return str(id, 'id', 200);
}
/** An outbox lease owner: absent (null in the row) or a non-empty string of at most 200 characters. */
export function checkOwner(owner: unknown): string | null {
  if (owner === undefined || owner === null) return null;
  return noNul(str(owner, 'owner', 200), 'owner');
}
/** The optional claim fence of `retryOutbox`/`parkOutbox`: absent (null) or a positive integer. */
export function checkFence(attempts: unknown): number | null {
  if (attempts === undefined || attempts === null) return null;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1) throw invalid('attempts must be a positive integer');
  return attempts;
}
/** `renewOutboxLease` arguments: the attempts value of the claim, and a lease length. */
export function checkLease(attempts: unknown, leaseMs: unknown): void {
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1) throw invalid('attempts must be a positive integer');
  checkLeaseMs(leaseMs);
}
/** A lease length in ms: a finite number ≥ 0. */
export function checkLeaseMs(leaseMs: unknown): void {
  if (!Number.isFinite(leaseMs) || (leaseMs as number) < 0) throw invalid('leaseMs must be ≥ 0');
}
/** When a lease taken at `now` for `leaseMs` runs out, as stored (ISO text). */
export function leaseEnd(now: Date, leaseMs: number): string {
  return new Date(now.getTime() + leaseMs).toISOString();
}
/** An outbox destination argument (claimNext, recoverOutbox): a non-empty string. */
export function checkDestination(destination: unknown): string {
  if (typeof destination !== 'string' || destination.length === 0) throw invalid('destination must be a non-empty string');
  return destination;
}
/** setMessageStatus's optional detail: absent, null, or a string. */
export function checkStatusDetail(detail: unknown): void {
  if (detail !== undefined && detail !== null && typeof detail !== 'string') throw invalid('detail must be a string');
}
/** The error text stored with a retried or parked outbox item: at most 4096 characters of a string. */
export function outboxErrorText(v: unknown): string {
  return typeof v === 'string' ? v.slice(0, 4096) : String(v);
}
export function checkLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
  return Math.min(limit, MAX_LIMIT);
}

/**
 * PostgreSQL text cannot hold NUL (22021) and one bad row fails its whole pipelined batch, so a
 * NUL in a row's text columns is refused here, for that write only, on both backends alike.
 * (meta needs no check: JSON.stringify writes NUL as the escape \u0000, plain ASCII.)
 */
export function noNul<T extends string | null>(v: T, name: string): T {
  if (v !== null && v.includes('\u0000')) throw invalid(`${name} contains a NUL character`);
  return v;
}
/** Audit retention bound: a positive integer seq (record 0 is the genesis, not a record). */
export function checkPruneSeq(seq: unknown): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw invalid('seq must be a positive integer');
  return seq;
}

/** Channel + owner of a hand-off watermark. */
export function checkHandoffKey(channel: unknown, owner: unknown): [string, string] {
  return [noNul(str(channel, 'channel'), 'channel'), noNul(str(owner, 'owner', 200), 'owner')];
}
/** A message seq (or 0 for "before the first"). */
export function checkSeq(seq: unknown, name = 'seq'): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw invalid(`${name} must be a non-negative integer`);
  return seq;
}

/**
 * The one rule for NUL in the text a message is indexed by (MSH-9, MSH-10): text columns cannot
 * hold NUL (PostgreSQL refuses it; the store refuses it on both backends), and a hostile or broken
 * header must not cost the message, so a writer passes index fields through this — each NUL
 * becomes U+FFFD. The raw bytes are stored untouched.
 */
export function indexText(s: string): string {
  return s.includes('\u0000') ? s.split('\u0000').join('\uFFFD') : s;
}
