/**
 * Disclosure report (issue 16 item 6): one patient's exchanges, by NHS number over a period, from
 * the audit trail — when, which flow and node, from where to where, under which data-sharing
 * agreement and purpose, with what outcome. Answers the Caldicott Guardian's / DPO's question
 * (UK GDPR Art. 15 right of access; Caldicott principle 7) as table rows and as CSV (RFC 4180).
 * Pure over the {@link Store} interface; node and flow names come from an injected lookup.
 */
import { NhsError } from '../errors';
import { formatNhsNumber, isValidNhsNumber, normaliseNhsNumber } from '../nhs/nhs-number';
import type { AuditRecord, Store } from '../store/types';
import { displayOf, governanceOf, PURPOSES } from './governance';

/** Longest period one report may cover (two years and a day). */
export const MAX_PERIOD_DAYS = 731;
/** Most rows one report returns (`truncated` says when more matched). */
export const MAX_ROWS = 10_000;

export const DISCLOSURE_COLUMNS = [
  'at', 'flow', 'flowName', 'node', 'nodeName', 'nodeType', 'action', 'outcome', 'actor', 'source', 'destination',
  'agreement', 'purpose', 'lawfulBasis', 'condition', 'correlationId', 'messageId',
] as const;
export type DisclosureColumn = (typeof DISCLOSURE_COLUMNS)[number];
export type DisclosureRow = { seq: number } & Record<DisclosureColumn, string | null>;

export interface DisclosureReport {
  /** Formatted NHS number (the caller holds the reveal permission). */
  subject: string;
  from: string;
  to: string;
  total: number;
  truncated: boolean;
  rows: DisclosureRow[];
}

/** Names of deployed nodes and tabs (null when not deployed now). */
export type Describe = (id: string) => { name: string | null; type: string | null } | undefined;

export interface DisclosureQuery { nhsNumber: unknown; from: unknown; to: unknown }

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

function bad(message: string): NhsError {
  return new NhsError('BAD_REQUEST', message);
}

/** A `from`/`to` value as ISO; a date-only `to` is the end of that day (inclusive). */
function bound(v: unknown, name: string, end: boolean): string {
  if (typeof v !== 'string' || !v.trim()) throw bad(`${name} is required (YYYY-MM-DD or an ISO 8601 date-time)`);
  const t = v.trim();
  if (t.length > 40) throw bad(`${name} is not a date or date-time`);
  const ms = Date.parse(DATE_ONLY.test(t) ? `${t}T00:00:00.000Z` : t);
  if (Number.isNaN(ms)) throw bad(`${name} is not a date or date-time`);
  return new Date(DATE_ONLY.test(t) && end ? ms + 86_400_000 - 1 : ms).toISOString();
}

/** Checked report parameters, or `BAD_REQUEST` naming what is wrong (never patient data). */
export function disclosureParams(q: DisclosureQuery): { subject: string; from: string; to: string } {
  if (typeof q.nhsNumber !== 'string' || !q.nhsNumber.trim()) throw bad('nhsNumber is required');
  const subject = normaliseNhsNumber(q.nhsNumber.slice(0, 40));
  if (!isValidNhsNumber(subject)) throw bad('not a valid NHS number (Modulus 11)');
  const from = bound(q.from, 'from', false);
  const to = bound(q.to, 'to', true);
  if (from > to) throw bad('from is after to');
  if (Date.parse(to) - Date.parse(from) > MAX_PERIOD_DAYS * 86_400_000) throw bad(`the period is longer than ${MAX_PERIOD_DAYS} days`);
  return { subject, from, to };
}

const text = (v: unknown): string | null => (typeof v === 'string' && v ? v.slice(0, 300) : typeof v === 'number' ? String(v) : null);

/**
 * Where the data came from and went to, from what the record's detail says: `source` /
 * `destination` (written by the nodes, e.g. the MLLP peer address or endpoint host:port), else
 * the ESR file name or the PDS environment.
 */
function route(r: AuditRecord): { source: string | null; destination: string | null } {
  const d = r.detail ?? {};
  let source = text(d.source);
  let destination = text(d.destination);
  if (!source && typeof d.file === 'string') source = text(d.file);
  if (!destination && typeof d.environment === 'string') destination = `PDS ${d.environment}`;
  if (!destination && r.actor && r.actor !== 'system') destination = `editor user ${r.actor}`;
  return { source, destination };
}

/** One audit record as a report row. */
export function disclosureRow(r: AuditRecord, describe: Describe): DisclosureRow {
  const g = governanceOf(r.detail);
  const node = describe(r.node);
  const flow = r.flow ? describe(r.flow) : undefined;
  return {
    seq: r.seq, at: r.at, flow: r.flow, flowName: flow?.name ?? null, node: r.node, nodeName: node?.name ?? null, nodeType: node?.type ?? null,
    action: r.action, outcome: r.outcome, actor: r.actor, ...route(r),
    agreement: g?.agreement ?? null, purpose: displayOf(g?.purpose, PURPOSES) ?? null, lawfulBasis: g?.lawfulBasis ?? null, condition: g?.condition ?? null,
    correlationId: r.correlationId, messageId: r.messageId,
  };
}

/** The action with which a report is itself audited (not listed in later reports, so reruns match). */
export const REPORT_ACTION = 'disclosure.report';

/**
 * The report: the subject's audit records in [from, to], by time (the subject index does the
 * work), except earlier reports' own records, so the same report run twice (JSON, then CSV) lists
 * the same rows.
 */
export async function disclosureReport(store: Store, q: DisclosureQuery, describe: Describe): Promise<DisclosureReport> {
  const p = disclosureParams(q);
  const recs = (await store.queryAudit({ subject: p.subject, from: p.from, to: p.to, limit: MAX_ROWS + 1, order: 'asc' })).filter((r) => r.action !== REPORT_ACTION);
  const truncated = recs.length > MAX_ROWS;
  const kept = truncated ? recs.slice(0, MAX_ROWS) : recs;
  kept.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.seq - b.seq));
  const rows = kept.map((r) => disclosureRow(r, describe));
  return { subject: formatNhsNumber(p.subject), from: p.from, to: p.to, total: rows.length, truncated, rows };
}

/**
 * One CSV cell (RFC 4180): a cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, TAB,
 * CR first; OWASP "CSV injection") gets a leading `'`; quoted when it holds `,` `"` CR or LF.
 */
export function csvCell(v: string | null): string {
  if (v === null) return '';
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The report as CSV: a header row of {@link DISCLOSURE_COLUMNS}, CRLF line ends. */
export function disclosureCsv(rows: readonly DisclosureRow[]): string {
  const lines = [DISCLOSURE_COLUMNS.join(',')];
  for (const r of rows) lines.push(DISCLOSURE_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
