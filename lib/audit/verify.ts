import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditRecord } from '../store/types';
import { GENESIS_HASH, auditHash } from '../store/chain';

/**
 * Why a record breaks the chain. `modified`: its content no longer hashes to its stored hash.
 * `deleted`: a sequence number is missing. `inserted`: a record that the chain head (or a
 * checkpoint) does not vouch for, or a duplicate seq. `reordered`: records are out of their
 * chained order. `truncated`: records at the tail are missing (head says more exist).
 * `broken-link`: the record is self-consistent but does not link to the one before it (the
 * previous record was re-hashed after an edit, or this one was forged).
 * `checkpoint`: the retention checkpoint that anchors a pruned chain is missing or its HMAC fails.
 */
export type ChainProblemReason = 'modified' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'broken-link' | 'checkpoint';

export interface ChainProblem {
  /** Sequence number of the first bad (or first missing) record. */
  seq: number;
  reason: ChainProblemReason;
  /** Human-readable, no record content (no patient data). */
  message: string;
}

export interface ChainAnchor {
  /** The chain starts after this seq (0 = from the genesis record). */
  seq: number;
  /** The hash the first kept record's prevHash must equal. */
  hash: string;
}

export interface VerifyOptions {
  /** The store's head (`store.auditHead()`): detects a removed tail and appended forgeries. */
  head?: { seq: number; hash: string } | undefined;
  /** Where the kept chain starts after retention pruning (see lib/audit/retention.ts). */
  anchor?: ChainAnchor;
  /** Extra trusted checkpoints (seq → hash), e.g. exported earlier; each one is checked. */
  checkpoints?: ChainAnchor[];
}

export interface VerifyResult {
  ok: boolean;
  /** Records examined. */
  count: number;
  firstSeq: number | null;
  lastSeq: number | null;
  problem?: ChainProblem;
}

type Source = Iterable<AuditRecord> | AsyncIterable<AuditRecord> | AsyncIterable<AuditRecord[]>;

/** Pages of records from any source (single records become one-record pages). */
async function* pagesOf(src: Source): AsyncGenerator<AuditRecord[]> {
  if (Array.isArray(src)) { yield src as AuditRecord[]; return; }
  for await (const item of src as AsyncIterable<AuditRecord | AuditRecord[]>) {
    yield Array.isArray(item) ? item : [item];
  }
}

/**
 * Verify a hash-chained audit log (each record's `hash` = sha256(prevHash ‖ canonical record),
 * lib/store/chain.ts) and name the first bad record. Records must arrive in the order they are
 * stored (ascending seq): an array, or async pages as from {@link auditPages}. Streams page by
 * page, so it runs over millions of records in constant memory; within a page the loop is
 * synchronous (a promise per record would cost more than the hashing).
 */
export async function verifyChain(source: Source, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const anchor = opts.anchor ?? { seq: 0, hash: GENESIS_HASH };
  const checkpoints = new Map((opts.checkpoints ?? []).map((c) => [c.seq, c.hash]));
  let expectSeq = anchor.seq + 1;
  let expectPrev = anchor.hash;
  let count = 0;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  const fail = (p: ChainProblem): VerifyResult => ({ ok: false, count, firstSeq, lastSeq, problem: p });

  const pages = pagesOf(source);
  let page: AuditRecord[] = [];
  let nextPage: AuditRecord[] | undefined;
  const pull = async (): Promise<AuditRecord[] | undefined> => {
    for (;;) {
      const n = await pages.next();
      if (n.done) return undefined;
      if (n.value.length) return n.value;
    }
  };
  nextPage = await pull();
  while (nextPage) {
    page = nextPage;
    nextPage = await pull();
    for (let i = 0; i < page.length; i++) {
      const r = page[i] as AuditRecord;
      count++;
      firstSeq ??= r.seq;

      if (lastSeq !== null && r.seq === lastSeq) {
        return fail({ seq: r.seq, reason: 'inserted', message: `duplicate record with seq ${r.seq}` });
      }
      if (lastSeq !== null && r.seq < lastSeq) {
        return fail({ seq: r.seq, reason: 'reordered', message: `seq ${r.seq} after seq ${lastSeq}` });
      }
      if (r.seq > expectSeq) {
        const what = expectSeq === anchor.seq + 1 && anchor.seq > 0 ? ' (no checkpoint vouches for the pruned range)' : '';
        return fail({ seq: expectSeq, reason: 'deleted', message: `records ${expectSeq}..${r.seq - 1} are missing${what}` });
      }
      if (r.seq < expectSeq) {
        return fail({ seq: r.seq, reason: 'inserted', message: `seq ${r.seq} lies before the chain anchor ${anchor.seq}` });
      }
      const selfOk = auditHash(r) === r.hash;
      if (r.prevHash !== expectPrev) {
        // One record of look-ahead tells a swapped pair from a forged record.
        const ahead = i + 1 < page.length ? page[i + 1] : nextPage?.[0];
        if (ahead && ahead.prevHash === expectPrev) {
          return fail({ seq: r.seq, reason: 'reordered', message: `record at seq ${r.seq} is out of chain order` });
        }
        if (!selfOk) return fail({ seq: r.seq, reason: 'modified', message: `record ${r.seq} does not match its hash` });
        return fail({ seq: r.seq, reason: 'broken-link', message: `record ${r.seq} does not link to record ${r.seq - 1} (that record was re-hashed after an edit, or this one is forged)` });
      }
      if (!selfOk) return fail({ seq: r.seq, reason: 'modified', message: `record ${r.seq} does not match its hash` });

      const cp = checkpoints.get(r.seq);
      if (cp !== undefined && cp !== r.hash) {
        return fail({ seq: r.seq, reason: 'modified', message: `record ${r.seq} differs from the trusted checkpoint` });
      }
      if (opts.head && r.seq > opts.head.seq) {
        return fail({ seq: r.seq, reason: 'inserted', message: `record ${r.seq} lies beyond the recorded head ${opts.head.seq}` });
      }
      expectPrev = r.hash;
      expectSeq = r.seq + 1;
      lastSeq = r.seq;
    }
  }

  if (opts.head) {
    const headSeq = opts.head.seq;
    if ((lastSeq ?? anchor.seq) < headSeq) {
      return fail({ seq: (lastSeq ?? anchor.seq) + 1, reason: 'truncated', message: `records ${(lastSeq ?? anchor.seq) + 1}..${headSeq} are missing at the tail` });
    }
    if (lastSeq !== null && expectPrev !== opts.head.hash) {
      return fail({ seq: lastSeq, reason: 'modified', message: `the last record ${lastSeq} differs from the recorded head` });
    }
  }
  for (const [seq] of checkpoints) {
    if (seq > (lastSeq ?? anchor.seq)) {
      return fail({ seq: (lastSeq ?? anchor.seq) + 1, reason: 'truncated', message: `a trusted checkpoint at seq ${seq} lies beyond the last record` });
    }
  }
  return { ok: true, count, firstSeq, lastSeq };
}

/** Minimal reader `verifyStore` needs: the store's queryAudit + auditHead. */
export interface AuditReader {
  queryAudit(q: { afterSeq?: number; limit?: number; action?: string; order?: 'asc' | 'desc' }): Promise<AuditRecord[]>;
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;
}

/** Async pages of the audit log in seq order (keyset paging on seq: O(page) per query). */
export async function* auditPages(store: AuditReader, afterSeq = 0, pageSize = 5000): AsyncGenerator<AuditRecord[]> {
  let after = afterSeq;
  for (;;) {
    const page = await store.queryAudit({ afterSeq: after, limit: pageSize, order: 'asc' });
    if (page.length === 0) return;
    yield page;
    const last = page[page.length - 1];
    if (!last || page.length < pageSize) return;
    after = last.seq;
  }
}

/** Action of the chained record that vouches for a pruned range (lib/audit/retention.ts). */
export const CHECKPOINT_ACTION = 'audit.checkpoint';

/** Detail carried by a checkpoint record. */
export interface CheckpointDetail {
  /** Records with seq ≤ prunedThrough were removed. */
  prunedThrough: number;
  /** Hash of record `prunedThrough`: the prevHash of the first kept record. */
  anchorHash: string;
  /** HMAC-SHA256 over `prunedThrough:anchorHash`, hex, when a key is configured. */
  hmac?: string;
}

/** HMAC-SHA256 of a checkpoint, hex. */
export function checkpointHmac(key: string, prunedThrough: number, anchorHash: string): string {
  return createHmac('sha256', key).update(`${prunedThrough}:${anchorHash}`).digest('hex');
}

function hmacEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/**
 * Verify a store's whole audit log against its head. When the log was pruned, the newest
 * checkpoint record anchors the kept part; with `hmacKey` the checkpoint's signature is checked
 * too, so an attacker with database access cannot forge a new starting point without the key.
 */
export async function verifyStore(store: AuditReader, opts: { hmacKey?: string; pageSize?: number; checkpoints?: ChainAnchor[] } = {}): Promise<VerifyResult & { head: { seq: number; hash: string } | null }> {
  const head = (await store.auditHead()) ?? null;
  const first = (await store.queryAudit({ afterSeq: 0, limit: 1, order: 'asc' }))[0];
  let anchor: ChainAnchor | undefined;
  if (first && first.seq > 1) {
    const cps = await store.queryAudit({ action: CHECKPOINT_ACTION, order: 'desc', limit: 50 });
    const cp = cps.map((c) => c.detail as unknown as CheckpointDetail | null).find((d) => d?.prunedThrough === first.seq - 1);
    if (!cp || typeof cp.anchorHash !== 'string') {
      return { ok: false, count: 0, firstSeq: first.seq, lastSeq: null, head, problem: { seq: 1, reason: 'deleted', message: `records 1..${first.seq - 1} are missing and no checkpoint vouches for them` } };
    }
    if (opts.hmacKey !== undefined && !(cp.hmac && hmacEquals(cp.hmac, checkpointHmac(opts.hmacKey, cp.prunedThrough, cp.anchorHash)))) {
      return { ok: false, count: 0, firstSeq: first.seq, lastSeq: null, head, problem: { seq: cp.prunedThrough, reason: 'checkpoint', message: `the checkpoint for records 1..${cp.prunedThrough} has no valid HMAC` } };
    }
    anchor = { seq: cp.prunedThrough, hash: cp.anchorHash };
  }
  const res = await verifyChain(auditPages(store, 0, opts.pageSize), { head: head ?? undefined, ...(anchor ? { anchor } : {}), ...(opts.checkpoints ? { checkpoints: opts.checkpoints } : {}) });
  return { ...res, head };
}
