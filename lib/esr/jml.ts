/**
 * Joiner / mover / leaver: successive ESR extracts turned into workforce events by comparing each
 * person (`PR`) and assignment (`AS`) row with the state kept in the store.
 *
 * - joiner: a person or assignment not seen before (and not already terminated or ended);
 * - mover: an assignment whose position, organisation, location, supervisor or WTE changed —
 *   with `changes: { field: { before, after } }`;
 * - leaver: a person whose actual termination date is set, an assignment whose end date is set,
 *   a delete row (`PRD`, `ASD`) for a known active entity, or — for a full extract (`GDR`) when the
 *   user enables it — an active entity the full extract no longer contains.
 *
 * Events carry ESR's own person / assignment ids and the tracked attributes only: no names, NI
 * numbers or staff numbers. The diff is synchronous over a prefetched view; the caller loads the
 * batch's ids from the store first ({@link idsOf}) and commits {@link JmlDiff.drain} afterwards.
 */
import type { EsrEntity } from '../store/esr-state';
import type { CheckedRow } from './go';

/** Assignment attributes whose change makes a mover (GO `AS` columns, see records.ts). */
export const MOVER_FIELDS = {
  positionId: 28,
  organisationId: 27,
  locationId: 13,
  supervisorPersonId: 15,
  fte: 25,
} as const satisfies Readonly<Record<string, number>>;
const AS_END = 48;
const PR_TERMINATION = 17;
const PR_HIRE = 16;
const MOVER_KEYS = Object.keys(MOVER_FIELDS);

export type JmlType = 'joiner' | 'mover' | 'leaver';
export type JmlReason = 'new' | 'changed' | 'terminated' | 'assignment-ended' | 'deleted' | 'missing-from-full-extract';

export interface JmlEvent {
  type: JmlType;
  entity: 'person' | 'assignment';
  personId: string;
  assignmentId?: string;
  reason: JmlReason;
  /** Termination / end / start date (YYYYMMDD) when the row carries one. */
  effectiveDate?: string;
  changes?: Record<string, { before: string; after: string }>;
  before?: Record<string, string>;
  after?: Record<string, string>;
  file: string;
  /** Line of the row that caused it (0 for a full-extract reconciliation). */
  line: number;
}

/** The person and assignment ids a batch of rows touches (to prefetch). */
export function idsOf(rows: readonly CheckedRow[]): { people: string[]; assignments: string[] } {
  const people = new Set<string>();
  const assignments = new Set<string>();
  for (const r of rows) {
    if (r.issues.length > 0) continue;
    const c = r.recordType;
    if (c === 'PRA' || c === 'PRD') people.add(r.fields[1]!);
    else if (c === 'ASA') assignments.add(r.fields[2]!);
    else if (c === 'ASD') assignments.add(r.fields[1]!);
  }
  return { people: [...people], assignments: [...assignments] };
}

/** The tracked attributes of an `AS` row (built field by field: this runs once per row). */
function assignmentData(f: readonly string[]): Record<string, string> {
  return {
    positionId: f[MOVER_FIELDS.positionId] ?? '',
    organisationId: f[MOVER_FIELDS.organisationId] ?? '',
    locationId: f[MOVER_FIELDS.locationId] ?? '',
    supervisorPersonId: f[MOVER_FIELDS.supervisorPersonId] ?? '',
    fte: f[MOVER_FIELDS.fte] ?? '',
    assignmentEndDate: f[AS_END] ?? '',
    effectiveStartDate: f[3] ?? '',
  };
}

/** The optional parts of an event. */
type EventParts = Partial<Pick<JmlEvent, 'assignmentId' | 'effectiveDate' | 'changes' | 'before' | 'after'>>;

/** "No events" for a row: one shared, frozen empty list (most rows of a delta or a steady state). */
const NONE: readonly JmlEvent[] = Object.freeze([]);

export interface JmlOptions {
  source: string;
  file: string;
  /**
   * Stamp every entity the file contains with the file's name, even one its row leaves unchanged
   * (default true): full-extract reconciliation ({@link JmlDiff.reconcile}, `unseen`) finds the
   * entities a full extract no longer contains by that stamp. False (a delta extract): an
   * unchanged entity is not written at all.
   */
  stampSeen?: boolean;
}

/** Same status, person and tracked data: rewriting it would change nothing but the file stamp. */
function sameEntity(a: EsrEntity, b: EsrEntity): boolean {
  if (a.status !== b.status || a.personId !== b.personId) return false;
  let n = 0;
  for (const k in a.data) {
    if (a.data[k] !== b.data[k]) return false;
    n++;
  }
  for (const _ in b.data) n--;
  return n === 0;
}

/** What a batch changed, to commit with its watermark. */
export interface JmlChanges {
  /** Entities new or changed: written whole. */
  people: EsrEntity[];
  assignments: EsrEntity[];
  /** Ids of entities the file contains unchanged (with `stampSeen`): only their file stamp is written. */
  seenPeople: string[];
  seenAssignments: string[];
}

/**
 * The diff over one file. `view` holds what the store had for the ids of the current batch;
 * entities changed by earlier rows of this file are kept in an overlay until drained.
 */
export class JmlDiff {
  private people = new Map<string, EsrEntity>();
  private assignments = new Map<string, EsrEntity>();
  private dirtyPeople = new Map<string, EsrEntity>();
  private dirtyAssignments = new Map<string, EsrEntity>();
  private seenPeople = new Set<string>();
  private seenAssignments = new Set<string>();

  constructor(private readonly o: JmlOptions) {}

  /** Add what the store returned for the next batch (entities already in the overlay win). */
  prime(people: Map<string, EsrEntity>, assignments: Map<string, EsrEntity>): void {
    for (const [k, v] of people) if (!this.dirtyPeople.has(k)) this.people.set(k, v);
    for (const [k, v] of assignments) if (!this.dirtyAssignments.has(k)) this.assignments.set(k, v);
  }

  /** Events for one valid row (none for record types the diff does not track). */
  apply(r: CheckedRow): readonly JmlEvent[] {
    switch (r.recordType) {
      case 'PRA': return this.person(r);
      case 'PRD': return this.personDelete(r);
      case 'ASA': return this.assignment(r);
      case 'ASD': return this.assignmentDelete(r);
      default: return NONE;
    }
  }

  /**
   * One event. Built as one literal with the optional parts set only when present (no object
   * spreads): this runs once per person/assignment row, and spread-built objects cost more than
   * the rest of the diff (profiled on the 1,000,000-row bench).
   */
  private ev(type: JmlType, entity: 'person' | 'assignment', reason: JmlReason, personId: string, line: number, more?: EventParts): JmlEvent {
    const e: JmlEvent = { type, entity, personId, reason, file: this.o.file, line };
    if (more) {
      if (more.assignmentId !== undefined) e.assignmentId = more.assignmentId;
      // An empty date is left off, as the rows carry '' for "none".
      if (more.effectiveDate) e.effectiveDate = more.effectiveDate;
      if (more.changes) e.changes = more.changes;
      if (more.before) e.before = more.before;
      if (more.after) e.after = more.after;
    }
    return e;
  }

  /**
   * Record an entity's new state. One the row leaves unchanged is not rewritten (in a steady-state
   * full extract that is nearly every row): at most its file stamp is, when the file stamps.
   */
  private put(view: Map<string, EsrEntity>, dirty: Map<string, EsrEntity>, seen: Set<string>, e: EsrEntity, prev: EsrEntity | undefined): void {
    view.set(e.id, e);
    if (prev && !dirty.has(e.id) && sameEntity(prev, e)) {
      if (this.o.stampSeen !== false && prev.lastFile !== e.lastFile) seen.add(e.id);
      return;
    }
    dirty.set(e.id, e);
  }

  private putPerson(e: EsrEntity, prev: EsrEntity | undefined): void {
    this.put(this.people, this.dirtyPeople, this.seenPeople, e, prev);
  }

  private putAssignment(e: EsrEntity, prev: EsrEntity | undefined): void {
    this.put(this.assignments, this.dirtyAssignments, this.seenAssignments, e, prev);
  }

  private person(r: CheckedRow): readonly JmlEvent[] {
    const id = r.fields[1]!;
    const term = r.fields[PR_TERMINATION] ?? '';
    const prev = this.people.get(id);
    const data = { hireDate: r.fields[PR_HIRE] ?? '', actualTerminationDate: term };
    const status = term ? 'left' : 'active';
    this.putPerson({ id, personId: id, status, data, lastFile: this.o.file }, prev);
    if (!prev) {
      return [term
        ? this.ev('leaver', 'person', 'terminated', id, r.line, { effectiveDate: term })
        : this.ev('joiner', 'person', 'new', id, r.line, { effectiveDate: data.hireDate })];
    }
    if (term && prev.data.actualTerminationDate !== term && prev.status === 'active') {
      return [this.ev('leaver', 'person', 'terminated', id, r.line, { effectiveDate: term })];
    }
    if (!term && prev.status === 'left') {
      // Rehire or termination reversed: a joiner again.
      return [this.ev('joiner', 'person', 'new', id, r.line, { effectiveDate: data.hireDate })];
    }
    return NONE;
  }

  private personDelete(r: CheckedRow): readonly JmlEvent[] {
    const id = r.fields[1]!;
    const prev = this.people.get(id);
    if (!prev) return NONE;
    this.putPerson({ ...prev, status: 'left', lastFile: this.o.file }, prev);
    return prev.status === 'active' ? [this.ev('leaver', 'person', 'deleted', id, r.line)] : NONE;
  }

  private assignment(r: CheckedRow): readonly JmlEvent[] {
    const personId = r.fields[1]!;
    const id = r.fields[2]!;
    const data = assignmentData(r.fields);
    const ended = data.assignmentEndDate !== '';
    const prev = this.assignments.get(id);
    this.putAssignment({ id, personId, status: ended ? 'left' : 'active', data, lastFile: this.o.file }, prev);
    if (!prev) {
      return [ended
        ? this.ev('leaver', 'assignment', 'assignment-ended', personId, r.line, { assignmentId: id, effectiveDate: data.assignmentEndDate, after: data })
        : this.ev('joiner', 'assignment', 'new', personId, r.line, { assignmentId: id, effectiveDate: data.effectiveStartDate, after: data })];
    }
    let out: JmlEvent[] | undefined;
    if (prev.status === 'left' && !ended) (out ??= []).push(this.ev('joiner', 'assignment', 'new', personId, r.line, { assignmentId: id, after: data }));
    let changes: Record<string, { before: string; after: string }> | undefined;
    for (const k of MOVER_KEYS) {
      const b = prev.data[k] ?? '';
      const a = data[k] ?? '';
      if (b !== a) (changes ??= {})[k] = { before: b, after: a };
    }
    if (changes && prev.status === 'active') {
      (out ??= []).push(this.ev('mover', 'assignment', 'changed', personId, r.line, { assignmentId: id, effectiveDate: data.effectiveStartDate, changes, before: prev.data, after: data }));
    }
    if (ended && prev.status === 'active') (out ??= []).push(this.ev('leaver', 'assignment', 'assignment-ended', personId, r.line, { assignmentId: id, effectiveDate: data.assignmentEndDate, before: prev.data, after: data }));
    return out ?? NONE;
  }

  private assignmentDelete(r: CheckedRow): readonly JmlEvent[] {
    const id = r.fields[1]!;
    const prev = this.assignments.get(id);
    if (!prev) return NONE;
    this.putAssignment({ ...prev, status: 'left', lastFile: this.o.file }, prev);
    return prev.status === 'active'
      ? [this.ev('leaver', 'assignment', 'deleted', prev.personId, r.line, { assignmentId: id, before: prev.data })]
      : NONE;
  }

  /** Changed entities since the last drain (to commit with the batch's watermark); clears the overlay. */
  drain(): JmlChanges {
    const out: JmlChanges = {
      people: [...this.dirtyPeople.values()], assignments: [...this.dirtyAssignments.values()],
      seenPeople: [...this.seenPeople], seenAssignments: [...this.seenAssignments],
    };
    this.dirtyPeople.clear();
    this.dirtyAssignments.clear();
    this.seenPeople.clear();
    this.seenAssignments.clear();
    // The view is per batch: keeping it would grow with the file (constant memory).
    this.people.clear();
    this.assignments.clear();
    return out;
  }

  /**
   * Full-extract reconciliation: entities active in state that the full extract did not contain
   * become leavers (reason `missing-from-full-extract`) and are marked left.
   */
  reconcile(unseen: { people: EsrEntity[]; assignments: EsrEntity[] }): JmlEvent[] {
    const out: JmlEvent[] = [];
    for (const p of unseen.people) {
      this.putPerson({ ...p, status: 'left', lastFile: this.o.file }, p);
      out.push(this.ev('leaver', 'person', 'missing-from-full-extract', p.id, 0));
    }
    for (const a of unseen.assignments) {
      this.putAssignment({ ...a, status: 'left', lastFile: this.o.file }, a);
      out.push(this.ev('leaver', 'assignment', 'missing-from-full-extract', a.personId, 0, { assignmentId: a.id, before: a.data }));
    }
    return out;
  }
}
