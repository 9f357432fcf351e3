/**
 * From a message's `msg.audit` trail (DESIGN.md §2: `[{ at, node, action, outcome, ref }]`,
 * appended by every node) to audit-log records, and the outcome a message carries. Pure: the
 * `nhs-audit` node stores what this returns.
 */
import { hasErrors, type OperationOutcome } from '../outcome';
import type { NewAuditRecord } from '../store/types';

/** Fields every record of one message shares (flow, correlation, subject, store id, actor). */
export type RecordCommon = Omit<NewAuditRecord, 'node' | 'action' | 'outcome' | 'at'>;

/**
 * Records for the trail steps after the first `seen` (those an earlier audit node stored). A step
 * marked `recorded: true` was written to the store by the node that appended it (quarantine).
 */
export function trailRecords(trail: unknown, seen: number, common: RecordCommon): NewAuditRecord[] {
  if (!Array.isArray(trail)) return [];
  const out: NewAuditRecord[] = [];
  for (const step of trail.slice(seen)) {
    const s = step as { at?: unknown; node?: unknown; action?: unknown; outcome?: unknown; ref?: unknown; recorded?: unknown; from?: unknown; to?: unknown } | null;
    if (!s || typeof s.node !== 'string' || typeof s.action !== 'string' || s.recorded === true) continue;
    out.push({
      ...common, node: s.node.slice(0, 200), action: s.action.slice(0, 64), outcome: typeof s.outcome === 'string' ? s.outcome.slice(0, 64) : 'unknown',
      ...(typeof s.at === 'string' && !Number.isNaN(Date.parse(s.at)) ? { at: new Date(s.at).toISOString() } : {}),
      ...(typeof s.ref === 'string' && !common.correlationId ? { correlationId: s.ref.slice(0, 200) } : {}),
      ...route(s.from, s.to, common.detail),
    });
  }
  return out;
}

/** Where a step's data came from / went (`detail.source` / `detail.destination`), merged into the common detail. */
function route(from: unknown, to: unknown, detail: NewAuditRecord['detail']): Pick<NewAuditRecord, 'detail'> {
  const source = typeof from === 'string' && from ? from.slice(0, 200) : undefined;
  const destination = typeof to === 'string' && to ? to.slice(0, 200) : undefined;
  if (!source && !destination) return {};
  return { detail: { ...(detail ?? {}), ...(source ? { source } : {}), ...(destination ? { destination } : {}) } };
}

/**
 * The outcome a message carries: quarantined/released (msg.quarantine), failure (msg.error),
 * invalid when its verdict `msg.outcome` has errors, else success.
 */
export function messageOutcome(msg: Record<string, unknown>): string {
  if (msg.quarantine && typeof msg.quarantine === 'object') return (msg.quarantine as { released?: unknown }).released ? 'released' : 'quarantined';
  if (msg.error) return 'failure';
  const oo = msg.outcome as OperationOutcome | undefined;
  if (oo && Array.isArray(oo.issue)) return hasErrors(oo) ? 'invalid' : 'success';
  return 'success';
}
