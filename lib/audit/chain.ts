import { createHash } from 'node:crypto';
import type { AuditRecord } from '../store/types';

/** prevHash of the first audit record. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` dropped (RFC 8785-like for the
 * values audit records hold: strings, finite numbers, booleans, null, arrays, plain objects).
 * The same record always hashes the same on SQLite and PostgreSQL.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** The hashed content of an audit record: every field except `hash` itself. */
export function auditContent(r: Omit<AuditRecord, 'hash'>): string {
  return canonicalJson({
    seq: r.seq, at: r.at, node: r.node, flow: r.flow, action: r.action, outcome: r.outcome,
    correlationId: r.correlationId, subject: r.subject, actor: r.actor, messageId: r.messageId,
    detail: r.detail, prevHash: r.prevHash,
  });
}

/** sha256(prevHash ‖ canonical JSON of the record), hex. */
export function auditHash(r: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(r.prevHash).update('\n').update(auditContent(r)).digest('hex');
}
