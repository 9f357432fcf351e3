/**
 * Query building: one WHERE builder per table, placeholders supplied by the backend (`?` or `$n`).
 * Query arguments are checked here too.
 */
import { checkQuarantineState, checkStatus, invalid, isoTime, OUTBOX_STATES } from './checks';
import type { AuditQuery, MessageQuery, OutboxQuery, QuarantineQuery } from './types';

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
