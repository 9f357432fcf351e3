/**
 * Admin HTTP API of the governance sidebar (editor tab "NHS"), under `/nhs-interop/...` on
 * `RED.httpAdmin`, behind `RED.auth.needsPermission('nhs.quarantine.read' | 'nhs.quarantine.write'
 * | 'nhs.audit.read')`; revealing patient data needs `nhs.quarantine.reveal` / `nhs.audit.reveal`
 * (`GET …/quarantine/:id/reveal`, `GET …/audit/reveal`), which end in neither `.read` nor `.write`
 * so Node-RED's read-only (and write-all) scopes never grant them. Every view of a message body, every reveal of patient data, every search
 * by NHS number and every edit/release/discard (and every refused release) is itself audited with the editor user
 * (`req.user.username`, or `anonymous` when adminAuth is off). Patient data is masked unless the
 * request asks to reveal one item.
 *
 * Registered once, by the sidebar plugin (plugins/nhs-sidebar.ts); the deployed quarantine nodes
 * are reached through nodes/shared/quarantine-endpoints.ts.
 */
import { hasCode, NhsError } from '../lib/errors';
import { parseHl7 } from '../lib/hl7';
import { formatNhsNumber, isValidNhsNumber, normaliseNhsNumber } from '../lib/nhs/nhs-number';
import { maskDetail, maskPayload } from '../lib/quarantine/mask';
import { createHash } from 'node:crypto';
import { ANONYMOUS, currentPayloadText, discard, payloadText, previewEdit, release, releasedMessage, releaseRefusal, saveEdit } from '../lib/quarantine/service';
import { disclosureCsv, disclosureReport, REPORT_ACTION, type Describe } from '../lib/audit/disclosure';
import { verifyAuditLog } from '../lib/audit/verify-parallel';
import type { AuditQuery, AuditRecord, QuarantineItem, QuarantineQuery, Store } from '../lib/store/types';
import { deployedConfigVersions } from '../nodes/shared/config-version';
import { endpointOf } from '../nodes/shared/quarantine-endpoints';
import { resolveStore } from '../nodes/shared/store-access';
import type { Node, RED } from '../nodes/shared/types';

// ------------------------------------------------------------------------------------------

interface Req {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body?: unknown;
  user?: { username?: string };
}
interface Res {
  status(code: number): Res;
  json(body: unknown): void;
  setHeader?(name: string, value: string): void;
  send?(body: string): void;
}

const registered = new WeakSet<object>();

/**
 * The editor user of a request: Node-RED's adminAuth sets `req.user`; nothing in the body or the
 * query names the actor. A missing, empty or non-string username is `anonymous`.
 */
function actorOf(req: Req): string {
  const u = (req.user as { username?: unknown } | undefined)?.username;
  return typeof u === 'string' && u.trim() ? u : ANONYMOUS;
}

/** A short fingerprint of an item's edit and editor: the sidebar sends back the one it showed. */
function editToken(item: Pick<QuarantineItem, 'editDiff' | 'editedBy'>): string {
  return createHash('sha256').update(JSON.stringify([item.editDiff, item.editedBy])).digest('hex').slice(0, 16);
}

/** A date/time query parameter as ISO 8601, or a 400 naming the parameter (never a 500). */
function isoOf(v: string | undefined, name: string): string | undefined {
  if (!v) return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new NhsError('BAD_REQUEST', `${name} is not a date or date-time`);
  return new Date(ms).toISOString();
}

function str(v: unknown, max = 200): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t && t.length <= max ? t : undefined;
}

function httpStatus(e: unknown): number {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string') return 500;
  if (code.endsWith('NOT_FOUND')) return 404;
  // Before the *_REQUIRED → 400 rule: a second person is required, the request itself is fine.
  if (code === 'REVEAL_FORBIDDEN' || code === 'QUARANTINE_SECOND_PERSON_REQUIRED') return 403;
  if (code.endsWith('INVALID') || code.endsWith('REQUIRED') || code === 'BAD_REQUEST') return 400;
  if (code.endsWith('ALREADY_RESOLVED') || code.endsWith('CONFLICT') || code === 'QUARANTINE_NODE_GONE') return 409;
  if (code === 'STORE_UNAVAILABLE' || code === 'STORE_FULL' || code === 'STORE_CLOSED') return 503;
  return 500;
}

function sendError(res: Res, e: unknown): void {
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'INTERNAL';
  res.status(httpStatus(e)).json({ code, message: e instanceof Error ? e.message : String(e) });
}

/** Quarantine list row: no message body, subject masked. */
function summary(item: QuarantineItem, now: number): Record<string, unknown> {
  return {
    id: item.id, state: item.state, reasonCode: item.reasonCode, reason: item.reason, owner: item.owner, dueAt: item.dueAt,
    overdue: item.state === 'open' && item.dueAt !== null && Date.parse(item.dueAt) < now,
    ageMinutes: Math.floor((now - Date.parse(item.createdAt)) / 60000),
    node: item.node, flow: item.flow, correlationId: item.correlationId, contentType: item.contentType,
    subject: item.subject ? formatNhsNumber(item.subject, true) : null,
    createdAt: item.createdAt, resolvedAt: item.resolvedAt, resolvedBy: item.resolvedBy, resolution: item.resolution,
    releaseCount: item.releaseCount, edited: item.editDiff !== null, editedBy: item.editDiff !== null ? item.editedBy : null,
    editedAt: item.editDiff !== null ? item.editedAt : null, nodeDeployed: endpointOf(item.node) !== undefined,
  };
}

function auditRow(r: AuditRecord, reveal: boolean): Record<string, unknown> {
  return {
    seq: r.seq, at: r.at, node: r.node, flow: r.flow, action: r.action, outcome: r.outcome, correlationId: r.correlationId,
    subject: r.subject ? (reveal ? formatNhsNumber(r.subject) : formatNhsNumber(r.subject, true)) : null,
    actor: r.actor, messageId: r.messageId, detail: r.detail, hash: r.hash,
  };
}

/** HL7 decoded as segments/fields for the detail view (parse issues included, never thrown). */
function decode(text: string, contentType: string): unknown {
  if (contentType === 'hl7v2') {
    const { message, issues } = parseHl7(text);
    return { segments: message ? message.toJSON().segments : [], issues };
  }
  if (contentType === 'fhir+json' || contentType === 'json') {
    try { return { json: JSON.parse(text) as unknown }; } catch { return { json: null }; }
  }
  return null;
}

/** Register the `/nhs-interop/...` admin routes (idempotent per runtime). */
export function registerAdminApi(RED: RED): void {
  const admin = RED.httpAdmin as unknown as object;
  if (!admin || registered.has(admin)) return;
  registered.add(admin);
  const perm = RED.auth.needsPermission;
  const apiNode = { id: 'nhs-sidebar', type: 'nhs-sidebar' } as unknown as Node;
  const storeFor = (req: Req): Promise<Store> => resolveStore(RED, apiNode, str(req.query.store) ?? str((req.body as { store?: unknown } | undefined)?.store));

  const handle = (fn: (req: Req, res: Res) => Promise<unknown>) => (req: Req, res: Res): void => {
    fn(req, res).then((body) => { if (body !== undefined) res.json(body); }, (e: unknown) => sendError(res, e));
  };

  const auditView = (store: Store, req: Req, item: QuarantineItem, action: string, detail: Record<string, unknown> = {}): Promise<AuditRecord> =>
    store.appendAudit({
      node: item.node, flow: item.flow, action, outcome: 'success', actor: actorOf(req), subject: item.subject,
      correlationId: item.correlationId, messageId: item.messageId, detail: { quarantineId: item.id, via: 'editor', ...detail },
    });

  // Which deployed nodes run a config saved by an older release (upgraded in memory only).
  RED.httpAdmin.get('/nhs-interop/config-versions', perm('flows.read'), handle(() => Promise.resolve({ nodes: deployedConfigVersions() })));

  RED.httpAdmin.get('/nhs-interop/quarantine', perm('nhs.quarantine.read'), handle(async (req) => {
    const store = await storeFor(req);
    const q: QuarantineQuery = { limit: Math.min(Number(req.query.limit) || 200, 1000) };
    const state = str(req.query.state);
    if (state === 'open' || state === 'released' || state === 'discarded') q.state = state;
    const reasonCode = str(req.query.reasonCode); if (reasonCode) q.reasonCode = reasonCode;
    const owner = str(req.query.owner); if (owner) q.owner = owner;
    const flow = str(req.query.flow); if (flow) q.flow = flow;
    const olderThan = Number(req.query.olderThanHours);
    if (Number.isFinite(olderThan) && olderThan > 0) q.createdBefore = new Date(Date.now() - olderThan * 3600_000).toISOString();
    const now = Date.now();
    return { items: (await store.listQuarantine(q)).map((i) => summary(i, now)) };
  }));

  /**
   * Whether the caller holds `permission`, asked of RED.auth.needsPermission itself (a reveal
   * permission ends in neither `.read` nor `.write`, so Node-RED's read-only scope never has it).
   * With adminAuth off every caller has every permission.
   */
  const allowed = (req: Req, permission: string): Promise<boolean> => new Promise((resolve) => {
    const probe = { status: () => probe, end: () => resolve(false), json: () => resolve(false), send: () => resolve(false), setHeader: () => undefined };
    try {
      perm(permission)(req, probe, () => resolve(true));
    } catch {
      resolve(false);
    }
  });
  const mustReveal = async (req: Req, permission: string): Promise<void> => {
    if (!(await allowed(req, permission))) throw new NhsError('REVEAL_FORBIDDEN', `revealing patient data needs the ${permission} permission`);
  };
  const wantsReveal = (req: Req): boolean => req.query.reveal === '1' || req.query.reveal === 'true';

  /**
   * A read route and its `/reveal` twin. The twin sits behind the reveal permission; the plain
   * route keeps `?reveal=1` for old callers, but asks for the same permission before revealing.
   */
  const getRevealable = (path: string, readPermission: string, revealPermission: string, view: (req: Req, reveal: boolean) => Promise<unknown>): void => {
    RED.httpAdmin.get(path, perm(readPermission), handle(async (req) => {
      const reveal = wantsReveal(req);
      if (reveal) await mustReveal(req, revealPermission);
      return view(req, reveal);
    }));
    RED.httpAdmin.get(`${path}/reveal`, perm(revealPermission), handle((req) => view(req, true)));
  };

  const itemOr404 = async (store: Store, id: string): Promise<QuarantineItem> => {
    const item = await store.getQuarantine(id);
    if (!item) throw new NhsError('QUARANTINE_NOT_FOUND', `quarantine item ${id} does not exist`);
    return item;
  };

  // The two-person rule (HAZ-014 C7) is the setting of the quarantine node the item belongs to.
  const twoPersonOf = (item: QuarantineItem): boolean => endpointOf(item.node)?.twoPersonRelease === true;
  const releaseView = (item: QuarantineItem, actor: string): { twoPerson: boolean; allowed: boolean; reason: string | null } => {
    const twoPerson = twoPersonOf(item);
    const refusal = releaseRefusal(item.editDiff, item.editedBy, actor, twoPerson);
    return { twoPerson, allowed: refusal === null, reason: refusal ? refusal.message : null };
  };

  const itemView = async (req: Req, reveal: boolean): Promise<Record<string, unknown>> => {
    const store = await storeFor(req);
    const item = await itemOr404(store, req.params.id ?? '');
    const original = payloadText(item.original).text;
    const current = item.editDiff ? currentPayloadText(item) : original;
    const shown = reveal ? current : maskPayload(current, item.contentType);
    // Every view of a body is audited; a reveal is audited as such (BALP read by a human user).
    await auditView(store, req, item, reveal ? 'quarantine.reveal' : 'quarantine.view');
    return {
      ...summary(item, Date.now()),
      subject: item.subject ? formatNhsNumber(item.subject, !reveal) : null,
      revealed: reveal,
      payload: shown,
      originalPayload: reveal ? original : maskPayload(original, item.contentType),
      decoded: decode(shown, item.contentType),
      detail: item.detail ? maskDetail(item.detail) : null,
      // Whether this user may release the item as it stands (HAZ-014 C7), so the sidebar says so
      // before they try; the release route decides again.
      release: releaseView(item, actorOf(req)),
      editToken: editToken(item),
    };
  };


  getRevealable('/nhs-interop/quarantine/:id', 'nhs.quarantine.read', 'nhs.quarantine.reveal', itemView);

  RED.httpAdmin.post('/nhs-interop/quarantine/:id/preview', perm('nhs.quarantine.write'), handle(async (req) => {
    const store = await storeFor(req);
    const item = await itemOr404(store, req.params.id ?? '');
    const payload = (req.body as { payload?: unknown } | undefined)?.payload;
    if (typeof payload !== 'string') throw new NhsError('QUARANTINE_EDIT_INVALID', 'payload (the edited text) is required');
    const p = previewEdit(item, payload);
    const reveal = await allowed(req, 'nhs.quarantine.reveal');
    // Without the reveal permission the diff is taken between the masked texts (same lines, same
    // ops for edits outside patient data), so the preview shows nothing a plain view would not.
    const rows = reveal ? p.rows : previewEdit({ original: JSON.stringify({ payload: maskPayload(payloadText(item.original).text, item.contentType) }), contentType: 'text' }, maskPayload(payload, item.contentType)).rows;
    await auditView(store, req, item, reveal ? 'quarantine.preview' : 'quarantine.preview.masked');
    return { changed: p.changed, rows, revealed: reveal };
  }));

  // Save an edit without releasing it (stored as a diff with its editor, audited): under the
  // two-person rule a second user then releases it.
  RED.httpAdmin.post('/nhs-interop/quarantine/:id/edit', perm('nhs.quarantine.write'), handle(async (req) => {
    const store = await storeFor(req);
    const payload = (req.body as { payload?: unknown } | undefined)?.payload;
    if (typeof payload !== 'string') throw new NhsError('QUARANTINE_EDIT_INVALID', 'payload (the edited text) is required');
    const actor = actorOf(req);
    const item = await saveEdit(store, req.params.id ?? '', payload, actor);
    return { item: summary(item, Date.now()), release: releaseView(item, actor), editToken: editToken(item) };
  }));

  RED.httpAdmin.post('/nhs-interop/quarantine/:id/release', perm('nhs.quarantine.write'), handle(async (req) => {
    const store = await storeFor(req);
    const id = req.params.id ?? '';
    const body = (req.body ?? {}) as { payload?: unknown; force?: unknown; editToken?: unknown };
    const item = await itemOr404(store, id);
    // The sidebar sends the edit it showed: releasing an edit saved since then would release
    // something the releaser never saw.
    if (typeof body.editToken === 'string' && body.editToken !== editToken(item)) {
      throw new NhsError('QUARANTINE_CONFLICT', `quarantine item ${id} was edited again since you looked at it: look at it again before releasing`, { detail: { id } });
    }
    const gone = (): NhsError => new NhsError('QUARANTINE_NODE_GONE', `quarantine node ${item.node} is not deployed, so the released message would have nowhere to go; the item stays ${item.state}. Deploy a quarantine node with that id (or re-import the flow) and release again.`, { detail: { id, node: item.node } });
    if (!endpointOf(item.node)) throw gone();
    const edited = typeof body.payload === 'string' ? body.payload : undefined;
    // Build the message the release will send before committing: whatever can throw (a malformed
    // edit, a stored original that no longer parses) throws while the item is still unchanged.
    let editDiff = item.editDiff;
    if (edited !== undefined) { const p = previewEdit(item, edited); editDiff = p.changed ? JSON.stringify(p.diff) : null; }
    releasedMessage({ ...item, editDiff, state: 'released', resolvedAt: new Date().toISOString(), resolvedBy: actorOf(req), resolution: 'released', releaseCount: item.releaseCount + 1 });
    const r = await release(store, id, { actor: actorOf(req), force: body.force === true, twoPerson: twoPersonOf(item), ...(edited !== undefined ? { edited } : {}) });
    // Looked up again: a redeploy during the commit replaces (or removes) the endpoint.
    const ep = endpointOf(r.item.node);
    try {
      if (!ep) throw gone();
      ep.deliver(r.msg, r.item);
    } catch {
      throw new NhsError('QUARANTINE_RELEASED_NOT_DELIVERED', `quarantine item ${id} is now released but its message was not delivered (node ${r.item.node} is not deployed or failed to send). Release it again with force ("release again") once the node is deployed.`, { detail: { id, node: r.item.node } });
    }
    return { item: summary(r.item, Date.now()), delivered: true };
  }));

  RED.httpAdmin.post('/nhs-interop/quarantine/:id/discard', perm('nhs.quarantine.write'), handle(async (req) => {
    const store = await storeFor(req);
    const reason = (req.body as { reason?: unknown } | undefined)?.reason;
    const item = await discard(store, req.params.id ?? '', { actor: actorOf(req), reason: typeof reason === 'string' ? reason : '' });
    endpointOf(item.node)?.resolved(item);
    return { item: summary(item, Date.now()) };
  }));

  const auditSearch = async (req: Req, reveal: boolean): Promise<unknown> => {
    const store = await storeFor(req);
    const q: AuditQuery = { limit: Math.min(Number(req.query.limit) || 200, 1000), order: 'desc' };
    const nhs = str(req.query.nhsNumber, 20);
    if (nhs !== undefined) {
      const n = normaliseNhsNumber(nhs);
      if (!isValidNhsNumber(n)) throw new NhsError('BAD_REQUEST', 'not a valid NHS number (Modulus 11)');
      q.subject = n;
    }
    const messageId = str(req.query.messageId); if (messageId) q.messageId = messageId;
    const correlationId = str(req.query.correlationId); if (correlationId) q.correlationId = correlationId;
    const node = str(req.query.node); if (node) q.node = node;
    const from = isoOf(str(req.query.from, 40), 'from'); if (from) q.from = from;
    const to = isoOf(str(req.query.to, 40), 'to'); if (to) q.to = to;
    // One reveal = one patient: its audit record names the subject whose numbers were shown.
    if (reveal && !q.subject) throw new NhsError('BAD_REQUEST', 'reveal needs an nhsNumber filter (one patient per reveal)');
    const rows = await store.queryAudit(q);
    // A search by NHS number is itself access to patient data: audit it.
    if (q.subject) {
      await store.appendAudit({ node: 'nhs-sidebar', action: 'audit.search', outcome: 'success', actor: actorOf(req), subject: q.subject, detail: { results: rows.length, revealed: reveal } });
    }
    return { records: rows.map((r) => auditRow(r, reveal)) };
  };

  getRevealable('/nhs-interop/audit', 'nhs.audit.read', 'nhs.audit.reveal', auditSearch);

  RED.httpAdmin.get('/nhs-interop/audit/trail', perm('nhs.audit.read'), handle(async (req) => {
    const store = await storeFor(req);
    const messageId = str(req.query.messageId);
    const correlationId = str(req.query.correlationId);
    if (!messageId && !correlationId) throw new NhsError('BAD_REQUEST', 'messageId or correlationId is required');
    const byMsg = messageId ? await store.queryAudit({ messageId, limit: 1000 }) : [];
    const byCorr = correlationId ? await store.queryAudit({ correlationId, limit: 1000 }) : [];
    const seen = new Set<number>();
    const all = [...byMsg, ...byCorr].filter((r) => !seen.has(r.seq) && seen.add(r.seq)).sort((a, b) => a.seq - b.seq);
    return { records: all.map((r) => auditRow(r, false)) };
  }));

  /**
   * Disclosure report (issue 16 item 6; contract in docs/governance.md): one patient's exchanges
   * over a period, as JSON rows or CSV (contract: docs/governance.md). Queried by NHS number and showing it, so it sits behind
   * the reveal permission, and every report is itself audited as a reveal of that patient.
   */
  const disclosure = (csv: boolean) => handle(async (req, res) => {
    const store = await storeFor(req);
    const names = new Map<string, { name: string | null; type: string | null }>();
    RED.nodes.eachNode?.((n) => {
      const label = typeof n.name === 'string' && n.name ? n.name : typeof n.label === 'string' && n.label ? n.label : null;
      names.set(n.id, { name: label, type: n.type });
    });
    const describe: Describe = (id) => names.get(id);
    const report = await disclosureReport(store, { nhsNumber: req.query.nhsNumber ?? req.query.subject, from: req.query.from, to: req.query.to }, describe);
    const asCsv = csv || req.query.format === 'csv';
    const digits = report.subject.replace(/\D/g, '');
    const logged = await store.appendAudit({
      node: 'nhs-sidebar', action: REPORT_ACTION, outcome: 'success', actor: actorOf(req), subject: digits,
      detail: { from: report.from, to: report.to, rows: report.total, truncated: report.truncated, format: asCsv ? 'csv' : 'json', revealed: true },
    });
    if (!asCsv) return { ...report, generatedAt: logged.at, reportSeq: logged.seq };
    res.setHeader?.('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader?.('Content-Disposition', `attachment; filename="disclosure-${digits}-${report.from.slice(0, 10)}-${report.to.slice(0, 10)}.csv"`);
    res.status(200).send?.(disclosureCsv(report.rows));
    return undefined;
  });
  RED.httpAdmin.get('/nhs-interop/disclosure', perm('nhs.audit.reveal'), disclosure(false));
  RED.httpAdmin.get('/nhs-interop/disclosure.csv', perm('nhs.audit.reveal'), disclosure(true));

  RED.httpAdmin.post('/nhs-interop/audit/verify', perm('nhs.audit.read'), handle(async (req) => {
    const store = await storeFor(req);
    const r = await verifyAuditLog(store);
    await store.appendAudit({ node: 'nhs-sidebar', action: 'audit.verify', outcome: r.ok ? 'success' : 'failure', actor: actorOf(req), detail: { count: r.count, ...(r.problem ? { problemSeq: r.problem.seq, reason: r.problem.reason } : {}) } });
    return r;
  }));
}

/** True when `e` is the "node gone" refusal (for callers that want to tell it apart). */
export const isNodeGone = (e: unknown): boolean => hasCode(e, 'QUARANTINE_NODE_GONE');
