import { NhsError } from '../errors';
import { decodeHl7Bytes, encodeHl7Text, parseHl7 } from '../hl7';
import { isError } from '../outcome';
import type { NewAuditRecord, NewQuarantineItem, QuarantineItem, Store } from '../store/types';
import { applyDiff, diffLines, diffRows, isEmptyDiff, parseDiff, type DiffRow, type LineDiff } from './diff';

/**
 * Quarantine: park a message that cannot go on, let a person fix or discard it, release it back
 * into the flow. The original is never changed (an edit is stored as a diff, lib/quarantine/diff),
 * every state change is a compare-and-set in the store (two editors: exactly one wins) and is
 * audited with the actor — the audit record is written in the same store transaction as the
 * change (park, edit, release, discard), so there is never a change without its record nor a
 * record of a change that lost the race.
 */

type Msg = Record<string, unknown>;
type QStore = Pick<Store, 'putQuarantine' | 'getQuarantine' | 'transitionQuarantine' | 'patchQuarantine' | 'appendAudit'>;

/**
 * The actor of a request without an identified user (Node-RED without `adminAuth`): the admin API
 * audits such requests with this name, and the two-person rule cannot tell two of them apart.
 */
export const ANONYMOUS = 'anonymous';

/** What `msg.quarantine` carries (DESIGN.md §2), plus `released` once released. */
export interface QuarantineInfo {
  id: string;
  reason: string;
  code: string;
  owner: string;
  at: string;
  dueAt: string | null;
  /** `editedBy`: who made the edit released (null when unedited, or not recorded before schema v7). */
  released?: { at: string; by: string; edited: boolean; editedBy: string | null; count: number; forced: boolean };
}

/** Largest edited payload accepted from an editor (the store enforces its own record limit too). */
export const MAX_EDIT_BYTES = 4 * 1024 * 1024;

/**
 * JSON text of a message, dropping what cannot be stored: circular references, functions and
 * the http-in `req`/`res` objects (sockets) at the top level of msg. Buffers become
 * `{type:'Buffer',data}` as JSON does. An object referenced twice (the same coding in two places,
 * `msg.original = msg.payload`) is kept in both places; only a true cycle (a reference back to an
 * ancestor) is dropped.
 */
export function serialiseMessage(msg: Msg): string {
  // JSON.stringify walks depth-first and calls the replacer with the holder as `this`, so the
  // ancestor path is the stack unwound down to the current holder.
  const path: object[] = [];
  return JSON.stringify(msg, function (this: unknown, k: string, v: unknown) {
    while (path.length > 0 && path[path.length - 1] !== this) path.pop();
    if (typeof v === 'function') return undefined;
    if (path.length === 1 && this === msg && (k === 'req' || k === 'res')) return undefined;
    if (v && typeof v === 'object') {
      if (path.includes(v)) return undefined;
      path.push(v);
    }
    return v;
  });
}

function isBufferJson(p: unknown): p is { type: 'Buffer'; data: number[] } {
  return !!p && typeof p === 'object' && (p as { type?: unknown }).type === 'Buffer' && Array.isArray((p as { data?: unknown }).data);
}

function sniffText(t: string): string {
  return /^MSH./.test(t.replace(/^\uFEFF/, '').trimStart()) ? 'hl7v2' : 'text';
}

/** How the sidebar should decode a payload. */
export function detectContentType(payload: unknown): string {
  // Bytes (an MLLP/TCP/file payload): decoded by the MSH-18 charset, as the HL7 nodes do.
  if (Buffer.isBuffer(payload)) return sniffText(decodeHl7Bytes(payload).text);
  if (isBufferJson(payload)) return sniffText(decodeHl7Bytes(Buffer.from(payload.data)).text);
  if (typeof payload === 'string') {
    const t = payload.replace(/^\uFEFF/, '').trimStart();
    if (/^MSH./.test(t)) return 'hl7v2';
    if (t.startsWith('{') || t.startsWith('[')) {
      try { const j = JSON.parse(t) as { resourceType?: unknown }; return typeof j?.resourceType === 'string' ? 'fhir+json' : 'json'; } catch { return 'text'; }
    }
    return 'text';
  }
  if (payload && typeof payload === 'object' && !Array.isArray(payload) && typeof (payload as { resourceType?: unknown }).resourceType === 'string') return 'fhir+json';
  if (payload && typeof payload === 'object') return 'json';
  return 'text';
}

/**
 * The editable text of a stored message's payload (JSON payloads pretty-printed; a Buffer decoded
 * by its MSH-18 charset, UTF-8 or windows-1252 without one — `charset` names the encoding used,
 * to encode an edit back to bytes).
 */
export function payloadText(original: string): { text: string; isObject: boolean; charset?: string } {
  let msg: Msg;
  try { msg = JSON.parse(original) as Msg; } catch { throw new NhsError('QUARANTINE_CORRUPT', 'stored original message is not JSON'); }
  const p = msg.payload;
  if (typeof p === 'string') return { text: p, isObject: false };
  if (isBufferJson(p)) {
    const { text, charset } = decodeHl7Bytes(Buffer.from(p.data));
    return { text, isObject: false, charset };
  }
  if (p === undefined) return { text: '', isObject: false };
  return { text: JSON.stringify(p, null, 2), isObject: true };
}

/**
 * Structural check of an edited payload before it may be released: HL7 v2 must parse with the
 * one HL7 parser (lib/hl7 parseHl7) without errors (MSH first, valid segment ids, MSH-9/10/12);
 * FHIR JSON must parse and name a resourceType; JSON must parse. Throws
 * `QUARANTINE_EDIT_INVALID` with a reason naming the line (no content echoed).
 */
export function validateEdit(contentType: string, text: string, isObject: boolean): void {
  if (Buffer.byteLength(text, 'utf8') > MAX_EDIT_BYTES) throw new NhsError('QUARANTINE_EDIT_INVALID', `edited payload exceeds ${MAX_EDIT_BYTES} bytes`);
  if (contentType === 'hl7v2') {
    const { message, issues } = parseHl7(text);
    const bad = issues.find(isError);
    if (!message || bad) {
      throw new NhsError('QUARANTINE_EDIT_INVALID', `edited HL7 message is not valid: ${bad?.diagnostics ?? 'unparseable'}`, { detail: { issues } });
    }
    return;
  }
  if (contentType === 'fhir+json' || contentType === 'json' || isObject) {
    let v: unknown;
    try { v = JSON.parse(text); } catch (e) {
      // V8's message quotes the input around the error: keep only the position (no patient data).
      const pos = /position (\d+)/.exec(e instanceof Error ? e.message : '')?.[1];
      throw new NhsError('QUARANTINE_EDIT_INVALID', `edited JSON does not parse${pos ? ` (syntax error at character ${pos})` : ' (syntax error or truncated)'}`);
    }
    if (contentType === 'fhir+json' && (typeof v !== 'object' || v === null || typeof (v as { resourceType?: unknown }).resourceType !== 'string')) {
      throw new NhsError('QUARANTINE_EDIT_INVALID', 'edited FHIR resource has no resourceType');
    }
  }
}

/** Diff preview of an edit (nothing stored). Throws QUARANTINE_EDIT_INVALID for a malformed edit. */
export function previewEdit(item: Pick<QuarantineItem, 'original' | 'contentType'>, edited: string): { diff: LineDiff; rows: DiffRow[]; changed: boolean } {
  const { text, isObject } = payloadText(item.original);
  validateEdit(item.contentType, edited, isObject);
  const diff = diffLines(text, edited);
  return { diff, rows: diffRows(text, diff), changed: !isEmptyDiff(diff) };
}

/** The current payload text: the original with the stored edit applied. */
export function currentPayloadText(item: Pick<QuarantineItem, 'original' | 'editDiff'>): string {
  const { text } = payloadText(item.original);
  return item.editDiff ? applyDiff(text, parseDiff(item.editDiff)) : text;
}

export function quarantineInfo(item: QuarantineItem): QuarantineInfo {
  return { id: item.id, reason: item.reason, code: item.reasonCode, owner: item.owner, at: item.createdAt, dueAt: item.dueAt };
}

/** Park a message: one store record and its audit record, in one transaction. */
export async function park(store: QStore, input: Omit<NewQuarantineItem, 'original'> & { msg: Msg }, actor = 'system'): Promise<QuarantineItem> {
  const { msg, ...rest } = input;
  // async: a msg that cannot be serialised (a BigInt) rejects rather than throws.
  // The store validates `rest`; the audit record copies its (unvalidated) fields, so a bad value
  // is refused by the item check first. The store adds detail.quarantineId (the new id).
  const original = serialiseMessage(msg);
  return await store.putQuarantine({ ...rest, original }, {
    node: rest.node, flow: rest.flow ?? null, action: 'quarantine.park', outcome: 'quarantined', actor,
    correlationId: rest.correlationId ?? null, subject: rest.subject ?? null, messageId: rest.messageId ?? null,
    detail: { reasonCode: rest.reasonCode },
  });
}

async function getOr404(store: QStore, id: string): Promise<QuarantineItem> {
  if (typeof id !== 'string' || !id || id.length > 200) throw new NhsError('QUARANTINE_NOT_FOUND', 'quarantine item id is missing or malformed');
  const item = await store.getQuarantine(id);
  if (!item) throw new NhsError('QUARANTINE_NOT_FOUND', `quarantine item ${id} does not exist`, { detail: { id } });
  return item;
}

/**
 * Who is the author of an edit that results in `editDiff`: nobody when there is no edit; the
 * current editor when the diff is the one already stored (saving or submitting the same edit
 * again is not a new edit); else `actor`.
 */
function editorOf(item: Pick<QuarantineItem, 'editDiff' | 'editedBy'>, editDiff: string | null, actor: string): string | null {
  if (editDiff === null) return null;
  return editDiff === item.editDiff ? item.editedBy : actor;
}

/**
 * Store an edit (as a diff) without releasing; audited with the editor, who is recorded on the
 * item (`editedBy`, `editedAt`): under the two-person rule someone else must release it. Saving
 * again after a review makes the saver the editor, so the reviewer's check starts again.
 * A compare-and-set open → open: an edit never lands on an item released or discarded meanwhile.
 */
export async function saveEdit(store: QStore, id: string, edited: string, actor: string, o: { clock?: () => Date } = {}): Promise<QuarantineItem> {
  const item = await getOr404(store, id);
  if (item.state !== 'open') throw new NhsError('QUARANTINE_ALREADY_RESOLVED', `quarantine item ${id} is ${item.state}`, { detail: { id, state: item.state } });
  const { diff, changed } = previewEdit(item, edited);
  const editDiff = changed ? JSON.stringify(diff) : null;
  const editedBy = editorOf(item, editDiff, actor);
  const editedAt = editedBy === item.editedBy && editDiff === item.editDiff ? item.editedAt : editDiff === null ? null : (o.clock ?? (() => new Date()))().toISOString();
  const updated = await store.transitionQuarantine(id, 'open', 'open', { editDiff, editedBy, editedAt }, auditOf(item, 'quarantine.edit', 'edited', actor, { changed }));
  if (!updated) throw new NhsError('QUARANTINE_CONFLICT', `quarantine item ${id} was resolved by someone else`, { detail: { id } });
  return updated;
}

/**
 * The two-person rule (HAZ-014 C7): may `actor` release `item`, whose edit would then be
 * `editDiff` made by `editedBy`? Null when allowed; else the refusal (an NhsError with code
 * QUARANTINE_SECOND_PERSON_REQUIRED and a message the sidebar shows as it is). An item with no
 * edit is always allowed; the rule off allows everything (what releases did before it existed).
 * The sidebar asks this before a release to say who may release; {@link release} asks it again.
 */
export function releaseRefusal(editDiff: string | null, editedBy: string | null, actor: string, twoPerson: boolean): NhsError | null {
  if (!twoPerson || editDiff === null) return null;
  const refuse = (why: string, reason: string): NhsError => new NhsError('QUARANTINE_SECOND_PERSON_REQUIRED', why, { detail: { rule: 'two-person', reason } });
  if (typeof actor !== 'string' || !actor || actor === ANONYMOUS) {
    return refuse('the two-person rule needs identified users: with Node-RED adminAuth off every user is "anonymous", so an edited item cannot be released. Configure adminAuth, or turn the rule off on this quarantine node.', 'anonymous');
  }
  if (editedBy === null) return refuse('who made this edit is not recorded (edited before the two-person rule): save the edit again, then a second person with nhs.quarantine.write must release it.', 'editor-unknown');
  if (editedBy === actor) return refuse('this edit was made by you; a second person with nhs.quarantine.write must release it.', 'same-user');
  return null;
}

export interface ReleaseOptions {
  actor: string;
  /** Edited payload text; validated, stored as a diff in the same transition. */
  edited?: string;
  /** Release an item already released (once more). */
  force?: boolean;
  /**
   * The two-person rule (HAZ-014 C7, the quarantine node's setting): an edited item is released
   * only by someone other than its last editor. Off when absent (what releases did before).
   */
  twoPerson?: boolean;
  clock?: () => Date;
}

/**
 * Release an item: compare-and-set open → released (or released → released when forced) with its
 * audit record in the same transaction, then build the message to send from the quarantine
 * node's first output.
 * Errors: QUARANTINE_NOT_FOUND, QUARANTINE_ALREADY_RESOLVED (released/discarded, not forced),
 * QUARANTINE_CONFLICT (another editor won the race), QUARANTINE_EDIT_INVALID.
 */
export async function release(store: QStore, id: string, o: ReleaseOptions): Promise<{ item: QuarantineItem; msg: Msg }> {
  const item = await getOr404(store, id);
  const forced = item.state !== 'open';
  if (item.state === 'discarded' || (item.state === 'released' && !o.force)) {
    throw new NhsError('QUARANTINE_ALREADY_RESOLVED', `quarantine item ${id} is already ${item.state}${item.state === 'released' ? ' (use force to release again)' : ''}`, { detail: { id, state: item.state } });
  }
  let editDiff = item.editDiff;
  if (o.edited !== undefined) {
    const p = previewEdit(item, o.edited);
    editDiff = p.changed ? JSON.stringify(p.diff) : null;
  }
  const editedBy = editorOf(item, editDiff, o.actor);
  const refusal = releaseRefusal(editDiff, editedBy, o.actor, o.twoPerson === true);
  if (refusal) {
    // Audited, nothing else changes: the item keeps its state, its edit and its editor.
    await store.appendAudit({ ...auditOf(item, 'quarantine.release', 'refused', o.actor, {}), detail: { quarantineId: item.id, ...(refusal.detail as Record<string, unknown>), editedBy, edited: o.edited !== undefined } });
    throw refusal;
  }
  const at = (o.clock ?? (() => new Date()))().toISOString();
  const count = item.releaseCount + 1;
  const editedAt = editedBy === item.editedBy && editDiff === item.editDiff ? item.editedAt : editDiff === null ? null : at;
  // The expected release count makes a forced release (released → released) a real
  // compare-and-set too: of two concurrent forced releases only one matches the count. The
  // expected edit makes it commit exactly the edit whose editor was checked above.
  const updated = await store.transitionQuarantine(id, item.state, 'released', {
    editDiff, editedBy, editedAt, resolvedAt: at, resolvedBy: o.actor, resolution: forced ? 'released (forced)' : 'released', releaseCount: count,
  }, auditOf(item, 'quarantine.release', 'released', o.actor, { edited: editDiff !== null, forced, count, ...(editDiff !== null ? { editedBy } : {}) }), item.releaseCount,
  { editDiff: item.editDiff, editedBy: item.editedBy });
  if (!updated) throw new NhsError('QUARANTINE_CONFLICT', `quarantine item ${id} was changed by someone else (released, discarded or edited again): look at it again`, { detail: { id } });
  return { item: updated, msg: releasedMessage(updated) };
}

/** The message a release sends: the original msg, its payload edited if an edit exists. */
export function releasedMessage(item: QuarantineItem): Msg {
  const msg = JSON.parse(item.original) as Msg;
  if (item.editDiff) {
    const { isObject, charset } = payloadText(item.original);
    const text = currentPayloadText(item);
    // A Buffer payload goes back as bytes in the charset it arrived in.
    msg.payload = isObject ? (JSON.parse(text) as unknown) : charset ? encodeHl7Text(text, charset) : text;
  } else if (isBufferJson(msg.payload)) {
    msg.payload = Buffer.from(msg.payload.data);
  }
  msg.quarantine = {
    ...quarantineInfo(item),
    released: { at: item.resolvedAt ?? item.updatedAt, by: item.resolvedBy ?? 'unknown', edited: item.editDiff !== null, editedBy: item.editDiff !== null ? item.editedBy : null, count: item.releaseCount, forced: (item.resolution ?? '').includes('forced') },
  } satisfies QuarantineInfo;
  return msg;
}

/** Discard with a reason (kept in the store, never deleted). Same errors as release. */
export async function discard(store: QStore, id: string, o: { actor: string; reason: string; clock?: () => Date }): Promise<QuarantineItem> {
  const reason = typeof o.reason === 'string' ? o.reason.trim() : '';
  if (!reason) throw new NhsError('QUARANTINE_REASON_REQUIRED', 'a reason is required to discard');
  if (reason.length > 500) throw new NhsError('QUARANTINE_REASON_REQUIRED', 'discard reason is longer than 500 characters');
  const item = await getOr404(store, id);
  if (item.state !== 'open') throw new NhsError('QUARANTINE_ALREADY_RESOLVED', `quarantine item ${id} is already ${item.state}`, { detail: { id, state: item.state } });
  const at = (o.clock ?? (() => new Date()))().toISOString();
  const updated = await store.transitionQuarantine(id, 'open', 'discarded', { resolvedAt: at, resolvedBy: o.actor, resolution: `discarded: ${reason}` },
    auditOf(item, 'quarantine.discard', 'discarded', o.actor, { reason }));
  if (!updated) throw new NhsError('QUARANTINE_CONFLICT', `quarantine item ${id} was resolved by someone else`, { detail: { id } });
  return updated;
}

/**
 * The audit record of a change to `item`, for the store to write in the change's transaction
 * (it adds detail.quarantineId). Node, flow and the references never change after parking.
 */
function auditOf(item: QuarantineItem, action: string, outcome: string, actor: string, detail: Record<string, unknown>): NewAuditRecord {
  return {
    node: item.node, flow: item.flow, action, outcome, actor,
    correlationId: item.correlationId, subject: item.subject, messageId: item.messageId, detail,
  };
}
