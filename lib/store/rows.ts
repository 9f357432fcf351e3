/**
 * Row mapping, the same on both backends (column names are snake_case on SQLite and PostgreSQL):
 * new record → row values to insert (validated on the way), and stored row → record.
 */
import {
invalid, isoTime, jsonText, noNul, optIso, optStr, str, toBuffer, tooLarge,
} from './checks';
import type { AuditDraft } from './chain';
import type { ResolvedOptions } from './options';
import type {
  AuditRecord, MessageRecord, MessageStatus, NewAuditRecord, NewMessage, NewOutboxItem, NewQuarantineItem, OutboxItem,
  OutboxState, QuarantineItem, QuarantinePatch, QuarantineState,
} from './types';

function parseJson(text: unknown): Record<string, unknown> | null {
  if (text === null || text === undefined) return null;
  return JSON.parse(typeof text === 'string' ? text : (text as Buffer).toString('utf8')) as Record<string, unknown>;
}

/** Row values of a new message, in column order of MESSAGE_INSERT_COLUMNS. */
export interface MessageRow {
  id: string; channel: string; raw: Buffer; control_id: string | null; message_type: string | null;
  meta: string; status: MessageStatus; status_detail: null; received_at: string; updated_at: string; owner: string | null;
}
export const MESSAGE_INSERT_COLUMNS = ['id', 'channel', 'raw', 'control_id', 'message_type', 'meta', 'status', 'status_detail', 'received_at', 'updated_at', 'owner'] as const;

/**
 * What a new message and a new outbox item share, checked in this order: the object, its bytes,
 * a generated id, its key (channel / destination) and control id.
 */
function appended(v: unknown, what: string, bytes: string, key: string, o: ResolvedOptions): { id: string; buf: Buffer; key: string; controlId: string | null; now: string } {
  if (typeof v !== 'object' || v === null) throw invalid(`${what} must be an object`);
  const r = v as Record<string, unknown>;
  const buf = toBuffer(r[bytes], bytes, o.maxRecordBytes);
  const now = o.clock().toISOString();
  const id = str(o.idGen(), 'generated id', 200);
  return { id, buf, key: noNul(str(r[key], key), key), controlId: noNul(optStr(r.controlId, 'controlId', 200), 'controlId'), now };
}

export function newMessageRow(m: NewMessage, o: ResolvedOptions): MessageRow {
  const a = appended(m, 'message', 'raw', 'channel', o);
  return {
    id: a.id, channel: a.key, raw: a.buf, control_id: a.controlId,
    message_type: noNul(optStr(m.messageType, 'messageType', 100), 'messageType'),
    meta: jsonText(m.meta, 'meta', o.maxRecordBytes, false) ?? '{}',
    status: 'received', status_detail: null, received_at: a.now, updated_at: a.now,
    owner: noNul(optStr(m.owner, 'owner', 200), 'owner'),
  };
}

/** The record of a just-inserted message row (no re-read; meta re-parsed so it equals a later read). */
export function messageRecordOf(r: MessageRow, seq: number): MessageRecord {
  return {
    id: r.id, seq, channel: r.channel, raw: r.raw, controlId: r.control_id, messageType: r.message_type,
    meta: metaOf(r.meta), status: r.status, statusDetail: null, receivedAt: r.received_at, updatedAt: r.updated_at, owner: r.owner,
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
  const a = appended(i, 'outbox item', 'payload', 'destination', o);
  return {
    id: a.id, destination: a.key, payload: a.buf, control_id: a.controlId,
    meta: jsonText(i.meta, 'meta', o.maxRecordBytes, false) ?? '{}',
    state: 'pending', attempts: 0, next_attempt_at: a.now, last_error: null, created_at: a.now, updated_at: a.now,
  };
}

/** The record of a just-inserted outbox row. */
export function outboxRecordOf(r: OutboxRow, seq: number): OutboxItem {
  return {
    id: r.id, seq, destination: r.destination, payload: r.payload, controlId: r.control_id, meta: metaOf(r.meta),
    state: r.state, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: null, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

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
  if (p.editedBy !== undefined) out.push(['edited_by', optStr(p.editedBy, 'editedBy', 200)]);
  if (p.editedAt !== undefined) out.push(['edited_at', optIso(p.editedAt, 'editedAt')]);
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
    statusDetail: sn(r.status_detail), receivedAt: s(r.received_at), updatedAt: s(r.updated_at), owner: sn(r.owner),
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
    detail: parseJson(r.detail), editDiff: sn(r.edit_diff), editedBy: sn(r.edited_by), editedAt: sn(r.edited_at), createdAt: s(r.created_at), updatedAt: s(r.updated_at),
    notifiedAt: sn(r.notified_at), resolvedAt: sn(r.resolved_at), resolvedBy: sn(r.resolved_by),
    resolution: sn(r.resolution), releaseCount: n(r.release_count),
  };
}
