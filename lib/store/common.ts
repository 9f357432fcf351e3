/**
 * What both store backends share: option defaults, input validation (so a bad record is refused
 * before it is queued and both backends refuse the same things), row → record mapping and the
 * audit hash step. Column names are the same snake_case on SQLite and PostgreSQL.
 */
import { auditHash } from '../audit/chain';
import { NhsError } from '../errors';
import { monotonicId } from './ids';
import type {
  AuditQuery, AuditRecord, Durability, MessageQuery, MessageRecord, MessageStatus, NewAuditRecord,
  NewMessage, NewOutboxItem, NewQuarantineItem, OutboxItem, OutboxQuery, OutboxState, QuarantineItem,
  QuarantinePatch, QuarantineQuery, QuarantineState, StoreOptions, StoreStats,
} from './types';

export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_LEASE_MS = 30_000;
/** Query results are bounded so one sidebar request cannot load a whole store into memory. */
export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 100_000;
export const DAY_MS = 86_400_000;
/** Rows deleted per retention transaction: a large backlog never holds the write lock for long. */
export const PRUNE_CHUNK = 5000;

export interface ResolvedOptions {
  durability: Durability;
  groupCommit: boolean;
  maxRecordBytes: number;
  timeoutMs: number;
  retentionDays: number;
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

export function invalid(message: string): NhsError {
  return new NhsError('STORE_INVALID', message);
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

// ---------------------------------------------------------------------------------------------
// Validation: every write argument is checked here, before queueing.
// ---------------------------------------------------------------------------------------------

function str(v: unknown, name: string, maxLen = 1024): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(`${name} must be a non-empty string`);
  if (v.length > maxLen) throw invalid(`${name} longer than ${maxLen} characters`);
  return v;
}
function optStr(v: unknown, name: string, maxLen = 1024): string | null {
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
function optIso(v: unknown, name: string): string | null {
  return v === undefined || v === null ? null : isoTime(v, name);
}

function toBuffer(v: unknown, name: string, max: number): Buffer {
  if (!(v instanceof Uint8Array)) throw invalid(`${name} must be a Buffer`);
  if (v.byteLength > max) throw tooLarge(name, v.byteLength, max);
  // A copy: the caller may reuse its buffer before the group commit runs.
  return Buffer.from(v);
}
function tooLarge(name: string, size: number, max: number): NhsError {
  return new NhsError('STORE_RECORD_TOO_LARGE', `${name} is ${size} bytes, limit ${max}`, { detail: { size, max } });
}

/** JSON text of a plain-data object (null when absent); refuses what would not round-trip. */
function jsonText(v: unknown, name: string, max: number, allowNull: boolean): string | null {
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
function parseJson(text: unknown): Record<string, unknown> | null {
  if (text === null || text === undefined) return null;
  return JSON.parse(typeof text === 'string' ? text : (text as Buffer).toString('utf8')) as Record<string, unknown>;
}

const MESSAGE_STATUSES: readonly MessageStatus[] = ['received', 'processed', 'errored'];
const OUTBOX_STATES: readonly OutboxState[] = ['pending', 'inflight', 'done', 'parked'];
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

/** Row values of a new message, in column order of MESSAGE_INSERT_COLUMNS. */
export interface MessageRow {
  id: string; channel: string; raw: Buffer; control_id: string | null; message_type: string | null;
  meta: string; status: MessageStatus; status_detail: null; received_at: string; updated_at: string;
}
export const MESSAGE_INSERT_COLUMNS = ['id', 'channel', 'raw', 'control_id', 'message_type', 'meta', 'status', 'status_detail', 'received_at', 'updated_at'] as const;

/**
 * PostgreSQL text cannot hold NUL (22021) and one bad row fails its whole pipelined batch, so a
 * NUL in a row's text columns is refused here, for that write only, on both backends alike.
 * (meta needs no check: JSON.stringify writes NUL as the escape \u0000, plain ASCII.)
 */
function noNul<T extends string | null>(v: T, name: string): T {
  if (v !== null && v.includes('\u0000')) throw invalid(`${name} contains a NUL character`);
  return v;
}
export function newMessageRow(m: NewMessage, o: ResolvedOptions): MessageRow {
  if (typeof m !== 'object' || m === null) throw invalid('message must be an object');
  const raw = toBuffer(m.raw, 'raw', o.maxRecordBytes);
  const now = o.clock().toISOString();
  return {
    id: str(o.idGen(), 'generated id', 200),
    channel: noNul(str(m.channel, 'channel'), 'channel'),
    raw,
    control_id: noNul(optStr(m.controlId, 'controlId', 200), 'controlId'),
    message_type: noNul(optStr(m.messageType, 'messageType', 100), 'messageType'),
    meta: jsonText(m.meta, 'meta', o.maxRecordBytes, false) ?? '{}',
    status: 'received',
    status_detail: null,
    received_at: now,
    updated_at: now,
  };
}

/** The record of a just-inserted message row (no re-read; meta re-parsed so it equals a later read). */
export function messageRecordOf(r: MessageRow, seq: number): MessageRecord {
  return {
    id: r.id, seq, channel: r.channel, raw: r.raw, controlId: r.control_id, messageType: r.message_type,
    meta: metaOf(r.meta), status: r.status, statusDetail: null, receivedAt: r.received_at, updatedAt: r.updated_at,
  };
}
function metaOf(text: string): Record<string, unknown> {
  return text === '{}' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

export interface OutboxRow {
  id: string; destination: string; payload: Buffer; control_id: string | null; meta: string;
  state: OutboxState; attempts: number; next_attempt_at: string; last_error: null; created_at: string; updated_at: string;
}
export const OUTBOX_INSERT_COLUMNS = ['id', 'destination', 'payload', 'control_id', 'meta', 'state', 'attempts', 'next_attempt_at', 'last_error', 'created_at', 'updated_at'] as const;

export function newOutboxRow(i: NewOutboxItem, o: ResolvedOptions): OutboxRow {
  if (typeof i !== 'object' || i === null) throw invalid('outbox item must be an object');
  const payload = toBuffer(i.payload, 'payload', o.maxRecordBytes);
  const now = o.clock().toISOString();
  return {
    id: str(o.idGen(), 'generated id', 200),
    destination: noNul(str(i.destination, 'destination'), 'destination'),
    payload,
    control_id: noNul(optStr(i.controlId, 'controlId', 200), 'controlId'),
    meta: jsonText(i.meta, 'meta', o.maxRecordBytes, false) ?? '{}',
    state: 'pending',
    attempts: 0,
    next_attempt_at: now,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}

/** The record of a just-inserted outbox row. */
export function outboxRecordOf(r: OutboxRow, seq: number): OutboxItem {
  return {
    id: r.id, seq, destination: r.destination, payload: r.payload, controlId: r.control_id, meta: metaOf(r.meta),
    state: r.state, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: null, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** An audit record before the chain step (seq, prevHash, hash are set inside the transaction). */
export type AuditDraft = Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>;

export function newAuditDraft(r: NewAuditRecord, o: ResolvedOptions): AuditDraft {
  if (typeof r !== 'object' || r === null) throw invalid('audit record must be an object');
  const detailText = jsonText(r.detail, 'detail', o.maxRecordBytes, true);
  return {
    at: r.at === undefined ? o.clock().toISOString() : isoTime(r.at, 'at'),
    node: str(r.node, 'node'),
    flow: optStr(r.flow, 'flow'),
    action: str(r.action, 'action', 200),
    outcome: str(r.outcome, 'outcome', 200),
    correlationId: optStr(r.correlationId, 'correlationId', 1024),
    subject: optStr(r.subject, 'subject', 200),
    actor: optStr(r.actor, 'actor', 200),
    messageId: optStr(r.messageId, 'messageId', 200),
    // Re-parsed so the hashed value is exactly what a reader gets back from the column.
    detail: parseJson(detailText),
  };
}

/**
 * The audit record written in the same transaction as a quarantine change (putQuarantine,
 * transitionQuarantine, patchQuarantine): validated before queueing, and bound to the item by
 * `detail.quarantineId` so it can never name another item. `undefined` when none was given.
 */
export function quarantineAuditDraft(r: NewAuditRecord | null | undefined, quarantineId: string, o: ResolvedOptions): AuditDraft | undefined {
  if (r === undefined || r === null) return undefined;
  if (typeof r !== 'object') throw invalid('audit record must be an object');
  const d = r.detail;
  if (d !== undefined && d !== null && (typeof d !== 'object' || Array.isArray(d))) throw invalid('detail must be a plain object');
  return newAuditDraft({ ...r, detail: { ...(d ?? {}), quarantineId } }, o);
}

/** Audit retention bound: a positive integer seq (record 0 is the genesis, not a record). */
export function checkPruneSeq(seq: unknown): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw invalid('seq must be a positive integer');
  return seq;
}

/** The chain step (lib/audit/chain.ts), run inside the committing transaction. */
export function chainAudit(d: AuditDraft, head: { seq: number; hash: string }): AuditRecord {
  const rec: Omit<AuditRecord, 'hash'> = { seq: head.seq + 1, ...d, prevHash: head.hash };
  return { ...rec, hash: auditHash(rec) };
}

export function auditRowValues(r: AuditRecord): unknown[] {
  return [r.seq, r.at, r.node, r.flow, r.action, r.outcome, r.correlationId, r.subject, r.actor, r.messageId,
    r.detail === null ? null : JSON.stringify(r.detail), r.prevHash, r.hash];
}
export const AUDIT_INSERT_COLUMNS = ['seq', 'at', 'node', 'flow', 'action', 'outcome', 'correlation_id', 'subject', 'actor', 'message_id', 'detail', 'prev_hash', 'hash'] as const;

export interface QuarantineRow {
  id: string; state: QuarantineState; reason_code: string; reason: string; owner: string; due_at: string | null;
  node: string; flow: string | null; correlation_id: string | null; subject: string | null; message_id: string | null;
  original: string; content_type: string; detail: string | null; created_at: string; updated_at: string;
}
export const QUARANTINE_INSERT_COLUMNS = ['id', 'state', 'reason_code', 'reason', 'owner', 'due_at', 'node', 'flow', 'correlation_id', 'subject', 'message_id', 'original', 'content_type', 'detail', 'created_at', 'updated_at'] as const;

export function newQuarantineRow(q: NewQuarantineItem, o: ResolvedOptions): QuarantineRow {
  if (typeof q !== 'object' || q === null) throw invalid('quarantine item must be an object');
  if (typeof q.original !== 'string') throw invalid('original must be a string');
  const size = Buffer.byteLength(q.original);
  if (size > o.maxRecordBytes) throw tooLarge('original', size, o.maxRecordBytes);
  const now = o.clock().toISOString();
  return {
    id: str(o.idGen(), 'generated id', 200),
    state: 'open',
    reason_code: str(q.reasonCode, 'reasonCode', 200),
    reason: str(q.reason, 'reason', 4096),
    owner: str(q.owner, 'owner', 200),
    due_at: optIso(q.dueAt, 'dueAt'),
    node: str(q.node, 'node'),
    flow: optStr(q.flow, 'flow'),
    correlation_id: optStr(q.correlationId, 'correlationId'),
    subject: optStr(q.subject, 'subject', 200),
    message_id: optStr(q.messageId, 'messageId', 200),
    original: q.original,
    content_type: str(q.contentType, 'contentType', 100),
    detail: jsonText(q.detail, 'detail', o.maxRecordBytes, true),
    created_at: now,
    updated_at: now,
  };
}

/** Patch → [column, value] pairs; only the fields present are set. */
export function quarantinePatchColumns(p: QuarantinePatch, o: ResolvedOptions): [string, unknown][] {
  if (typeof p !== 'object' || p === null) throw invalid('patch must be an object');
  const out: [string, unknown][] = [];
  if (p.editDiff !== undefined) {
    const v = optStr(p.editDiff, 'editDiff', Number.MAX_SAFE_INTEGER);
    if (v !== null && Buffer.byteLength(v) > o.maxRecordBytes) throw tooLarge('editDiff', Buffer.byteLength(v), o.maxRecordBytes);
    out.push(['edit_diff', v]);
  }
  if (p.notifiedAt !== undefined) out.push(['notified_at', optIso(p.notifiedAt, 'notifiedAt')]);
  if (p.resolvedAt !== undefined) out.push(['resolved_at', optIso(p.resolvedAt, 'resolvedAt')]);
  if (p.resolvedBy !== undefined) out.push(['resolved_by', optStr(p.resolvedBy, 'resolvedBy', 200)]);
  if (p.resolution !== undefined) out.push(['resolution', optStr(p.resolution, 'resolution', 4096)]);
  if (p.releaseCount !== undefined) {
    if (!Number.isInteger(p.releaseCount) || p.releaseCount < 0) throw invalid('releaseCount must be a non-negative integer');
    out.push(['release_count', p.releaseCount]);
  }
  if (p.owner !== undefined) out.push(['owner', str(p.owner, 'owner', 200)]);
  if (p.dueAt !== undefined) out.push(['due_at', optIso(p.dueAt, 'dueAt')]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Queries: one WHERE builder, placeholders supplied by the backend (`?` or `$n`).
// ---------------------------------------------------------------------------------------------

export interface Where { clauses: string[]; params: unknown[] }

function addEq(w: Where, ph: (i: number) => string, column: string, v: unknown, name: string): void {
  if (v === undefined) return;
  if (typeof v !== 'string') throw invalid(`${name} must be a string`);
  w.params.push(v);
  w.clauses.push(`${column} = ${ph(w.params.length)}`);
}
function addCmp(w: Where, ph: (i: number) => string, column: string, op: string, v: unknown, name: string): void {
  if (v === undefined) return;
  w.params.push(isoTime(v, name));
  w.clauses.push(`${column} ${op} ${ph(w.params.length)}`);
}

export function messageWhere(q: MessageQuery, ph: (i: number) => string): Where {
  if (typeof q !== 'object' || q === null) throw invalid('query must be an object');
  const w: Where = { clauses: [], params: [] };
  addEq(w, ph, 'channel', q.channel, 'channel');
  addEq(w, ph, 'control_id', q.controlId, 'controlId');
  if (q.status !== undefined) addEq(w, ph, 'status', checkStatus(q.status), 'status');
  addCmp(w, ph, 'received_at', '>=', q.from, 'from');
  addCmp(w, ph, 'received_at', '<=', q.to, 'to');
  return w;
}

export function outboxWhere(q: OutboxQuery, ph: (i: number) => string): Where {
  if (typeof q !== 'object' || q === null) throw invalid('query must be an object');
  const w: Where = { clauses: [], params: [] };
  addEq(w, ph, 'destination', q.destination, 'destination');
  if (q.state !== undefined) {
    if (!OUTBOX_STATES.includes(q.state)) throw invalid('unknown outbox state');
    addEq(w, ph, 'state', q.state, 'state');
  }
  return w;
}

export function auditWhere(q: AuditQuery, ph: (i: number) => string): Where {
  if (typeof q !== 'object' || q === null) throw invalid('query must be an object');
  const w: Where = { clauses: [], params: [] };
  addEq(w, ph, 'subject', q.subject, 'subject');
  addEq(w, ph, 'correlation_id', q.correlationId, 'correlationId');
  addEq(w, ph, 'message_id', q.messageId, 'messageId');
  addEq(w, ph, 'node', q.node, 'node');
  addEq(w, ph, 'action', q.action, 'action');
  addCmp(w, ph, 'at', '>=', q.from, 'from');
  addCmp(w, ph, 'at', '<=', q.to, 'to');
  if (q.afterSeq !== undefined) {
    if (!Number.isInteger(q.afterSeq)) throw invalid('afterSeq must be an integer');
    w.params.push(q.afterSeq);
    w.clauses.push(`seq > ${ph(w.params.length)}`);
  }
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') throw invalid('order must be asc or desc');
  return w;
}

export function quarantineWhere(q: QuarantineQuery, ph: (i: number) => string): Where {
  if (typeof q !== 'object' || q === null) throw invalid('query must be an object');
  const w: Where = { clauses: [], params: [] };
  if (q.state !== undefined) addEq(w, ph, 'state', checkQuarantineState(q.state), 'state');
  addEq(w, ph, 'reason_code', q.reasonCode, 'reasonCode');
  addEq(w, ph, 'owner', q.owner, 'owner');
  addEq(w, ph, 'flow', q.flow, 'flow');
  addEq(w, ph, 'node', q.node, 'node');
  addCmp(w, ph, 'created_at', '<', q.createdBefore, 'createdBefore');
  return w;
}

export function whereSql(w: Where): string {
  return w.clauses.length ? ` WHERE ${w.clauses.join(' AND ')}` : '';
}

// ---------------------------------------------------------------------------------------------
// Rows → records (column names identical on both backends; PostgreSQL BIGINT arrives as string).
// ---------------------------------------------------------------------------------------------

type Row = Record<string, unknown>;
/** Columns are TEXT or numbers; anything else is a corrupted row and shows as such. */
const s = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? v.toString() : JSON.stringify(v));
const sn = (v: unknown): string | null => (v === null || v === undefined ? null : s(v));
const n = (v: unknown): number => Number(v);
const buf = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));

export function toMessage(r: Row): MessageRecord {
  return {
    id: s(r.id), seq: n(r.seq), channel: s(r.channel), raw: buf(r.raw), controlId: sn(r.control_id),
    messageType: sn(r.message_type), meta: parseJson(r.meta) ?? {}, status: s(r.status) as MessageStatus,
    statusDetail: sn(r.status_detail), receivedAt: s(r.received_at), updatedAt: s(r.updated_at),
  };
}

export function toOutbox(r: Row): OutboxItem {
  return {
    id: s(r.id), seq: n(r.seq), destination: s(r.destination), payload: buf(r.payload), controlId: sn(r.control_id),
    meta: parseJson(r.meta) ?? {}, state: s(r.state) as OutboxState, attempts: n(r.attempts),
    nextAttemptAt: s(r.next_attempt_at), lastError: sn(r.last_error), createdAt: s(r.created_at), updatedAt: s(r.updated_at),
  };
}

export function toAudit(r: Row): AuditRecord {
  return {
    seq: n(r.seq), at: s(r.at), node: s(r.node), flow: sn(r.flow), action: s(r.action), outcome: s(r.outcome),
    correlationId: sn(r.correlation_id), subject: sn(r.subject), actor: sn(r.actor), messageId: sn(r.message_id),
    detail: parseJson(r.detail), prevHash: s(r.prev_hash), hash: s(r.hash),
  };
}

export function toQuarantine(r: Row): QuarantineItem {
  return {
    id: s(r.id), seq: n(r.seq), state: s(r.state) as QuarantineState, reasonCode: s(r.reason_code), reason: s(r.reason),
    owner: s(r.owner), dueAt: sn(r.due_at), node: s(r.node), flow: sn(r.flow), correlationId: sn(r.correlation_id),
    subject: sn(r.subject), messageId: sn(r.message_id), original: s(r.original), contentType: s(r.content_type),
    detail: parseJson(r.detail), editDiff: sn(r.edit_diff), createdAt: s(r.created_at), updatedAt: s(r.updated_at),
    notifiedAt: sn(r.notified_at), resolvedAt: sn(r.resolved_at), resolvedBy: sn(r.resolved_by),
    resolution: sn(r.resolution), releaseCount: n(r.release_count),
  };
}
