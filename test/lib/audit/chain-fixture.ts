import { GENESIS_HASH, auditHash } from '../../../lib/store/chain';
import type { AuditRecord } from '../../../lib/store/types';

/** A valid in-memory chain of `n` synthetic records (seq 1..n). */
export function makeChain(n: number, start = { seq: 0, hash: GENESIS_HASH }): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prev = start.hash;
  for (let i = 1; i <= n; i++) {
    const base = {
      seq: start.seq + i, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), node: 'n1', flow: 'f1', action: 'hl7.receive',
      outcome: 'success', correlationId: `MSG${i}`, subject: i % 2 ? '9000000009' : '9990000018', actor: 'system', messageId: `m${i}`,
      detail: { i }, prevHash: prev,
    };
    const rec: AuditRecord = { ...base, hash: auditHash(base) };
    out.push(rec);
    prev = rec.hash;
  }
  return out;
}
