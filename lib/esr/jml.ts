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
export const MOVER_FIELDS: Readonly<Record<string, number>> = {
  positionId: 28,
  organisationId: 27,
  locationId: 13,
  supervisorPersonId: 15,
  fte: 25,
};
const AS_END = 48;
const PR_TERMINATION = 17;
const PR_HIRE = 16;

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

function assignmentData(f: readonly string[]): Record<string, string> {
  const d: Record<string, string> = {};
  for (const [k, at] of Object.entries(MOVER_FIELDS)) d[k] = f[at] ?? '';
  d.assignmentEndDate = f[AS_END] ?? '';
  d.effectiveStartDate = f[3] ?? '';
  return d;
}

export interface JmlOptions {
  source: string;
  file: string;
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

  constructor(private readonly o: JmlOptions) {}

  /** Add what the store returned for the next batch (entities already in the overlay win). */
  prime(people: Map<string, EsrEntity>, assignments: Map<string, EsrEntity>): void {
    for (const [k, v] of people) if (!this.dirtyPeople.has(k)) this.people.set(k, v);
    for (const [k, v] of assignments) if (!this.dirtyAssignments.has(k)) this.assignments.set(k, v);
  }

  /** Events for one valid row (none for record types the diff does not track). */
  apply(r: CheckedRow): JmlEvent[] {
    switch (r.recordType) {
      case 'PRA': return this.person(r);
      case 'PRD': return this.personDelete(r);
      case 'ASA': return this.assignment(r);
      case 'ASD': return this.assignmentDelete(r);
      default: return [];
    }
  }

  private ev(e: Omit<JmlEvent, 'file'>): JmlEvent {
    return { ...e, file: this.o.file };
  }

  private putPerson(e: EsrEntity): void {
    this.people.set(e.id, e);
    this.dirtyPeople.set(e.id, e);
  }

  private putAssignment(e: EsrEntity): void {
    this.assignments.set(e.id, e);
    this.dirtyAssignments.set(e.id, e);
  }

  private person(r: CheckedRow): JmlEvent[] {
    const id = r.fields[1]!;
    const term = r.fields[PR_TERMINATION] ?? '';
    const prev = this.people.get(id);
    const data = { hireDate: r.fields[PR_HIRE] ?? '', actualTerminationDate: term };
    const status = term ? 'left' : 'active';
    this.putPerson({ id, personId: id, status, data, lastFile: this.o.file });
    if (!prev) {
      return [this.ev(term
        ? { type: 'leaver', entity: 'person', personId: id, reason: 'terminated', effectiveDate: term, line: r.line }
        : { type: 'joiner', entity: 'person', personId: id, reason: 'new', ...(data.hireDate ? { effectiveDate: data.hireDate } : {}), line: r.line })];
    }
    if (term && prev.data.actualTerminationDate !== term && prev.status === 'active') {
      return [this.ev({ type: 'leaver', entity: 'person', personId: id, reason: 'terminated', effectiveDate: term, line: r.line })];
    }
    if (!term && prev.status === 'left') {
      // Rehire or termination reversed: a joiner again.
      return [this.ev({ type: 'joiner', entity: 'person', personId: id, reason: 'new', ...(data.hireDate ? { effectiveDate: data.hireDate } : {}), line: r.line })];
    }
    return [];
  }

  private personDelete(r: CheckedRow): JmlEvent[] {
    const id = r.fields[1]!;
    const prev = this.people.get(id);
    if (!prev) return [];
    this.putPerson({ ...prev, status: 'left', lastFile: this.o.file });
    return prev.status === 'active' ? [this.ev({ type: 'leaver', entity: 'person', personId: id, reason: 'deleted', line: r.line })] : [];
  }

  private assignment(r: CheckedRow): JmlEvent[] {
    const personId = r.fields[1]!;
    const id = r.fields[2]!;
    const data = assignmentData(r.fields);
    const ended = data.assignmentEndDate !== '';
    const prev = this.assignments.get(id);
    this.putAssignment({ id, personId, status: ended ? 'left' : 'active', data, lastFile: this.o.file });
    const base = { entity: 'assignment' as const, personId, assignmentId: id, line: r.line };
    if (!prev) {
      return [this.ev(ended
        ? { ...base, type: 'leaver', reason: 'assignment-ended', effectiveDate: data.assignmentEndDate!, after: data }
        : { ...base, type: 'joiner', reason: 'new', ...(data.effectiveStartDate ? { effectiveDate: data.effectiveStartDate } : {}), after: data })];
    }
    const out: JmlEvent[] = [];
    if (prev.status === 'left' && !ended) out.push(this.ev({ ...base, type: 'joiner', reason: 'new', after: data }));
    const changes: Record<string, { before: string; after: string }> = {};
    for (const k of Object.keys(MOVER_FIELDS)) {
      const b = prev.data[k] ?? '';
      const a = data[k] ?? '';
      if (b !== a) changes[k] = { before: b, after: a };
    }
    if (Object.keys(changes).length > 0 && prev.status === 'active') {
      out.push(this.ev({ ...base, type: 'mover', reason: 'changed', ...(data.effectiveStartDate ? { effectiveDate: data.effectiveStartDate } : {}), changes, before: prev.data, after: data }));
    }
    if (ended && prev.status === 'active') out.push(this.ev({ ...base, type: 'leaver', reason: 'assignment-ended', effectiveDate: data.assignmentEndDate!, before: prev.data, after: data }));
    return out;
  }

  private assignmentDelete(r: CheckedRow): JmlEvent[] {
    const id = r.fields[1]!;
    const prev = this.assignments.get(id);
    if (!prev) return [];
    this.putAssignment({ ...prev, status: 'left', lastFile: this.o.file });
    return prev.status === 'active'
      ? [this.ev({ type: 'leaver', entity: 'assignment', personId: prev.personId, assignmentId: id, reason: 'deleted', before: prev.data, line: r.line })]
      : [];
  }

  /** Changed entities since the last drain (to commit with the batch's watermark); clears the overlay. */
  drain(): { people: EsrEntity[]; assignments: EsrEntity[] } {
    const out = { people: [...this.dirtyPeople.values()], assignments: [...this.dirtyAssignments.values()] };
    this.dirtyPeople.clear();
    this.dirtyAssignments.clear();
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
      this.putPerson({ ...p, status: 'left', lastFile: this.o.file });
      out.push(this.ev({ type: 'leaver', entity: 'person', personId: p.id, reason: 'missing-from-full-extract', line: 0 }));
    }
    for (const a of unseen.assignments) {
      this.putAssignment({ ...a, status: 'left', lastFile: this.o.file });
      out.push(this.ev({ type: 'leaver', entity: 'assignment', personId: a.personId, assignmentId: a.id, reason: 'missing-from-full-extract', before: a.data, line: 0 }));
    }
    return out;
  }
}
