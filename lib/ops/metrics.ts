/**
 * Prometheus metrics of the package (text exposition format 0.0.4, via prom-client). Counters
 * are fed by the nodes (one audit step = one count, see nodes/shared/metrics.ts); gauges are set
 * from an {@link OpsSnapshot} taken at scrape time, so nothing polls between scrapes.
 *
 * Labels are node ids and types, actions, outcomes, profile URLs, reason codes, owners and
 * destinations — configuration, never message content. {@link safeLabel} is the last guard: a
 * value that looks like an NHS number, a date of birth or a postcode is replaced (DESIGN.md §3).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OpsSnapshot } from './snapshot';

const NHS_LIKE = /\d{3}[\s-]?\d{3}[\s-]?\d{4}/;
const DATE_LIKE = /(19|20)\d{2}-?[01]\d-?[0-3]\d/;
const POSTCODE_LIKE = /\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b/i;

/** A label value safe to publish: bounded, and never something shaped like patient data. */
export function safeLabel(v: unknown): string {
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
  if (NHS_LIKE.test(s) || DATE_LIKE.test(s) || POSTCODE_LIKE.test(s)) return 'redacted';
  return s.length > 120 ? s.slice(0, 120) : s;
}

/**
 * A node or config-node id: Node-RED's random hex ids may contain ten digits in a row, so ids are
 * not pattern-checked (they are never message content) but kept to id characters and bounded.
 */
export function safeId(v: string): string {
  return v.replace(/[^\w.:-]/g, '_').slice(0, 64);
}

const ID_LABELS = new Set(['node_id', 'store', 'node_type']);

type L<T extends string> = Partial<Record<T, string>>;

/**
 * A counter incremented once per message: kept as plain numbers per label set and written into
 * prom-client when the registry is scraped (its `collect` hook). prom-client's own `inc` hashes
 * and validates the label set on every call, which showed in the per-message CPU of the MLLP
 * listener. Label values are made safe once, when a label set is first seen. As many label sets
 * are kept as prom-client itself would keep (one per node, action and outcome: configuration,
 * never message content).
 */
class Tally {
  private readonly rows = new Map<string, { labels: Record<string, string>; n: number }>();

  constructor(private readonly counter: Counter<string>) {}

  count(key: string, labels: () => Record<string, string>): void {
    const r = this.rows.get(key);
    if (r) r.n++;
    else this.rows.set(key, { labels: labels(), n: 1 });
  }

  /** Called by prom-client before it reads the counter: the totals so far replace its values. */
  flush(): void {
    this.counter.reset();
    for (const r of this.rows.values()) this.counter.inc(r.labels, r.n);
  }
}

/** The package's metric families on their own registry (the host's default registry untouched). */
export class NhsMetrics {
  readonly registry = new Registry();
  // Per-message counters: counted in plain numbers and handed to prom-client at scrape time.
  private readonly steps: Tally = new Tally(new Counter({ name: 'nhs_node_steps_total', help: 'Audit steps written by a node (one per message handled), by action and outcome', labelNames: ['node_id', 'node_type', 'action', 'outcome'] as const, registers: [this.registry], collect: (): void => this.steps.flush() }));
  private readonly acks: Tally = new Tally(new Counter({ name: 'nhs_mllp_acks_total', help: 'HL7 ACKs sent (mllp in, mllp response) or received (mllp out), by MSA-1 code', labelNames: ['node_id', 'node_type', 'code'] as const, registers: [this.registry], collect: (): void => this.acks.flush() }));
  private readonly validations: Tally = new Tally(new Counter({ name: 'nhs_validations_total', help: 'FHIR validations by profile and result', labelNames: ['node_id', 'profile', 'result'] as const, registers: [this.registry], collect: (): void => this.validations.flush() }));
  private readonly pds = new Histogram({ name: 'nhs_pds_lookup_seconds', help: 'PDS lookups by result, and their latency', labelNames: ['node_id', 'result'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  private readonly storeUp = new Gauge({ name: 'nhs_store_up', help: '1 when the store answered the scrape-time probe', labelNames: ['store', 'backend'] as const, registers: [this.registry] });
  private readonly storeProbe = new Gauge({ name: 'nhs_store_probe_seconds', help: 'Round trip of the scrape-time store probe (a one-row read)', labelNames: ['store', 'backend'] as const, registers: [this.registry] });
  private readonly storeBytes = new Gauge({ name: 'nhs_store_bytes', help: 'Space the store takes (SQLite file and WAL; PostgreSQL tables and indexes)', labelNames: ['store', 'backend'] as const, registers: [this.registry] });
  private readonly storeCommits = new Gauge({ name: 'nhs_store_commits', help: 'Committed write transactions since the store opened', labelNames: ['store', 'backend'] as const, registers: [this.registry] });
  private readonly storeFailed = new Gauge({ name: 'nhs_store_failed_writes', help: 'Writes that failed since the store opened', labelNames: ['store', 'backend'] as const, registers: [this.registry] });
  private readonly qOpen = new Gauge({ name: 'nhs_quarantine_open_items', help: 'Open quarantine items by reason and owner', labelNames: ['store', 'reason', 'owner'] as const, registers: [this.registry] });
  private readonly qOldest = new Gauge({ name: 'nhs_quarantine_oldest_age_seconds', help: 'Age of the oldest open quarantine item by reason and owner', labelNames: ['store', 'reason', 'owner'] as const, registers: [this.registry] });
  private readonly outDepth = new Gauge({ name: 'nhs_outbox_depth', help: 'Outbox items not yet delivered (pending or in flight) per destination', labelNames: ['store', 'destination'] as const, registers: [this.registry] });
  private readonly outOldest = new Gauge({ name: 'nhs_outbox_oldest_age_seconds', help: 'Age of the oldest undelivered outbox item per destination', labelNames: ['store', 'destination'] as const, registers: [this.registry] });
  private readonly outParked = new Gauge({ name: 'nhs_outbox_parked', help: 'Outbox items parked (undeliverable) per destination', labelNames: ['store', 'destination'] as const, registers: [this.registry] });
  private readonly retries = new Counter({ name: 'nhs_outbox_retries_total', help: 'Outbox deliveries that failed and were rescheduled with back-off, per sending node and destination', labelNames: ['node_id', 'destination'] as const, registers: [this.registry] });
  private readonly unconfirmed = new Counter({ name: 'nhs_handoff_unconfirmed_total', help: 'Messages an nhs-mllp-in (commit, hand-off confirmed downstream) counted as handed over at its confirm timeout, never confirmed by a durable node', labelNames: ['node_id'] as const, registers: [this.registry] });
  private readonly listenerUp = new Gauge({ name: 'nhs_listener_up', help: '1 when an MLLP listener is listening', labelNames: ['node_id'] as const, registers: [this.registry] });

  /** One audit step (nodes/shared/input.ts appendAudit); per message. */
  step(nodeId: string, nodeType: string, action: string, outcome: string): void {
    this.steps.count(`${nodeId}\0${nodeType}\0${action}\0${outcome}`, () => ({ node_id: safeId(nodeId), node_type: safeId(nodeType), action: safeLabel(action), outcome: safeLabel(outcome) }));
  }

  /** One ACK sent or received; per message. */
  ack(nodeId: string, nodeType: string, code: string): void {
    this.acks.count(`${nodeId}\0${nodeType}\0${code}`, () => ({ node_id: safeId(nodeId), node_type: safeId(nodeType), code: safeLabel(code) }));
  }

  /** One validation; per message. */
  validation(nodeId: string, profile: string, result: string): void {
    this.validations.count(`${nodeId}\0${profile}\0${result}`, () => ({ node_id: safeId(nodeId), profile: safeLabel(profile), result: safeLabel(result) }));
  }

  /** One delivery rescheduled (mllp out's `retrying`); deliveries themselves are `deliver` steps. */
  retry(nodeId: string, destination: string): void {
    this.retries.inc({ node_id: safeId(nodeId), destination: safeId(destination) });
  }

  /** Messages a listener counted as handed over at its confirm timeout (lib/channel/handoff.ts). */
  handoffUnconfirmed(nodeId: string, n: number): void {
    this.unconfirmed.inc({ node_id: safeId(nodeId) }, n);
  }

  pdsLookup(nodeId: string, result: string, seconds: number): void {
    this.pds.observe({ node_id: safeId(nodeId), result: safeLabel(result) }, seconds);
  }

  /** Set the gauges from a scrape-time snapshot, then render the text format. */
  async render(snap: OpsSnapshot): Promise<string> {
    for (const g of [this.storeUp, this.storeProbe, this.storeBytes, this.storeCommits, this.storeFailed, this.qOpen, this.qOldest, this.outDepth, this.outOldest, this.outParked, this.listenerUp]) g.reset();
    const set = <T extends string>(g: Gauge<T>, labels: L<T>, v: number | undefined): void => {
      if (v === undefined || !Number.isFinite(v)) return;
      const safe = Object.fromEntries(Object.entries(labels).map(([k, x]) => [k, ID_LABELS.has(k) ? safeId(String(x)) : safeLabel(x)])) as L<T>;
      g.set(safe, v);
    };
    for (const s of snap.stores) {
      const l = { store: s.name, backend: s.backend };
      set(this.storeUp, l, s.reachable ? 1 : 0);
      set(this.storeProbe, l, s.probeMs === undefined ? undefined : s.probeMs / 1000);
      set(this.storeBytes, l, s.sizeBytes);
      set(this.storeCommits, l, s.stats?.commits);
      set(this.storeFailed, l, s.stats?.failedWrites);
      for (const q of s.quarantine) {
        set(this.qOpen, { store: s.name, reason: q.reason, owner: q.owner }, q.count);
        set(this.qOldest, { store: s.name, reason: q.reason, owner: q.owner }, q.oldestSeconds);
      }
      for (const o of s.outbox) {
        set(this.outDepth, { store: s.name, destination: o.destination }, o.depth);
        set(this.outOldest, { store: s.name, destination: o.destination }, o.oldestSeconds);
        set(this.outParked, { store: s.name, destination: o.destination }, o.parked);
      }
    }
    for (const l of snap.listeners) set(this.listenerUp, { node_id: l.node }, l.listening ? 1 : 0);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
