/**
 * Joiner / mover / leaver table tests: successive extracts through the diff, state carried from
 * one extract to the next the way the store carries it (drained and reloaded).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkGoRow } from '../../../lib/esr/go';
import { idsOf, JmlDiff, type JmlEvent } from '../../../lib/esr/jml';
import type { EsrEntity } from '../../../lib/store/esr-state';
import { sharedDir, skipWithoutShared } from '../../helpers/shared';
import { assignmentRow as asg, personRow as per } from './fixtures';

type Short = string;

/** Run extracts in order; returns each extract's events in a short form. */
function run(extracts: { kind?: 'GDR' | 'GOC'; rows: string[] }[], leaversFromFull = false): Short[][] {
  const people = new Map<string, EsrEntity>();
  const assignments = new Map<string, EsrEntity>();
  return extracts.map((x, n) => {
    const file = `extract-${n + 1}`;
    const diff = new JmlDiff({ source: 's', file });
    const rows = x.rows.map((text, i) => checkGoRow(file, { line: i + 2, fields: text.replace(/\r$/, '').split('~') }));
    for (const r of rows) assert.deepEqual(r.issues, [], `${file} row ${r.line}`);
    const ids = idsOf(rows);
    diff.prime(new Map(ids.people.flatMap((id) => (people.has(id) ? [[id, people.get(id)!]] : []))), new Map(ids.assignments.flatMap((id) => (assignments.has(id) ? [[id, assignments.get(id)!]] : []))));
    const events: JmlEvent[] = rows.flatMap((r) => diff.apply(r));
    const save = (d: ReturnType<JmlDiff['drain']>): void => {
      for (const p of d.people) people.set(p.id, p);
      for (const a of d.assignments) assignments.set(a.id, a);
      // As the store does: an entity the file contains unchanged gets only the file stamp.
      for (const id of d.seenPeople) people.set(id, { ...people.get(id)!, lastFile: file });
      for (const id of d.seenAssignments) assignments.set(id, { ...assignments.get(id)!, lastFile: file });
    };
    save(diff.drain());
    if (x.kind === 'GDR' && leaversFromFull) {
      const unseen = { people: [...people.values()].filter((p) => p.status === 'active' && p.lastFile !== file), assignments: [...assignments.values()].filter((a) => a.status === 'active' && a.lastFile !== file) };
      events.push(...diff.reconcile(unseen));
      save(diff.drain());
    }
    return events.map((e) => `${e.type} ${e.entity} ${e.assignmentId ?? e.personId} ${e.reason}${e.changes ? ` ${Object.entries(e.changes).map(([k, v]) => `${k}:${v.before}->${v.after}`).join(',')}` : ''}`);
  });
}

describe('joiner / mover / leaver over successive extracts', () => {
  const table: { name: string; extracts: { kind?: 'GDR' | 'GOC'; rows: string[] }[]; full?: boolean; want: Short[][] }[] = [
    {
      name: 'new person and assignment join; the same rows again change nothing',
      extracts: [{ rows: [per({ id: 'P1' }), asg({ person: 'P1', id: 'A1' })] }, { rows: [per({ id: 'P1' }), asg({ person: 'P1', id: 'A1' })] }],
      want: [['joiner person P1 new', 'joiner assignment A1 new'], []],
    },
    {
      name: 'position, organisation, location, manager and WTE changes are one mover with before and after',
      extracts: [
        { rows: [asg({ person: 'P1', id: 'A1' })] },
        { rows: [asg({ person: 'P1', id: 'A1', position: 'POS2' })] },
        { rows: [asg({ person: 'P1', id: 'A1', position: 'POS2', org: 'ORG2', location: 'LOC2', supervisor: 'P9', fte: '0.6' })] },
      ],
      want: [['joiner assignment A1 new'], ['mover assignment A1 changed positionId:POS1->POS2'],
        ['mover assignment A1 changed organisationId:ORG1->ORG2,locationId:LOC1->LOC2,supervisorPersonId:->P9,fte:1->0.6']],
    },
    {
      name: 'termination date, assignment end date and delete rows make leavers once',
      extracts: [
        { rows: [per({ id: 'P1' }), asg({ person: 'P1', id: 'A1' }), per({ id: 'P2' }), asg({ person: 'P2', id: 'A2' })] },
        { rows: [per({ id: 'P1', termination: '20260131' }), asg({ person: 'P1', id: 'A1', end: '20260131' }), 'ASD~A2', 'PRD~P2'] },
        { rows: [per({ id: 'P1', termination: '20260131' }), 'ASD~A2', 'PRD~P2', 'PRD~P404'] },
      ],
      want: [
        ['joiner person P1 new', 'joiner assignment A1 new', 'joiner person P2 new', 'joiner assignment A2 new'],
        ['leaver person P1 terminated', 'leaver assignment A1 assignment-ended', 'leaver assignment A2 deleted', 'leaver person P2 deleted'],
        [],
      ],
    },
    {
      name: 'a rehire (termination cleared) is a joiner again',
      extracts: [{ rows: [per({ id: 'P1' })] }, { rows: [per({ id: 'P1', termination: '20250101' })] }, { rows: [per({ id: 'P1', hire: '20260201' })] }],
      want: [['joiner person P1 new'], ['leaver person P1 terminated'], ['joiner person P1 new']],
    },
    {
      name: 'a full extract makes leavers of the people it no longer has, only when enabled',
      extracts: [
        { kind: 'GDR', rows: [per({ id: 'P1' }), asg({ person: 'P1', id: 'A1' }), per({ id: 'P2' }), asg({ person: 'P2', id: 'A2' })] },
        { kind: 'GDR', rows: [per({ id: 'P1' }), asg({ person: 'P1', id: 'A1' })] },
        { kind: 'GDR', rows: [per({ id: 'P1' }), asg({ person: 'P1', id: 'A1' })] },
      ],
      full: true,
      want: [['joiner person P1 new', 'joiner assignment A1 new', 'joiner person P2 new', 'joiner assignment A2 new'], ['leaver person P2 missing-from-full-extract', 'leaver assignment A2 missing-from-full-extract'], []],
    },
    {
      name: 'a delta extract never reconciles',
      extracts: [{ kind: 'GOC', rows: [per({ id: 'P1' }), per({ id: 'P2' })] }, { kind: 'GOC', rows: [per({ id: 'P1' })] }],
      full: true,
      want: [['joiner person P1 new', 'joiner person P2 new'], []],
    },
    {
      name: 'changes within one file are diffed row by row',
      extracts: [{ rows: [asg({ person: 'P1', id: 'A1' }), asg({ person: 'P1', id: 'A1', fte: '0.5' })] }],
      want: [['joiner assignment A1 new', 'mover assignment A1 changed fte:1->0.5']],
    },
  ];
  for (const t of table) it(t.name, () => assert.deepEqual(run(t.extracts, t.full), t.want));

  it('an entity the row leaves unchanged is not rewritten: a full extract stamps it, a delta leaves it alone', () => {
    const rows = (file: string, position: string) => [per({ id: 'P1' }), asg({ person: 'P1', id: 'A1', position })]
      .map((text, i) => checkGoRow(file, { line: i + 2, fields: text.split('~') }));
    const first = new JmlDiff({ source: 's', file: 'f1' });
    first.prime(new Map(), new Map());
    for (const r of rows('f1', 'POS1')) first.apply(r);
    const stored = first.drain();
    assert.deepEqual([stored.people.length, stored.assignments.length], [1, 1], 'new entities are written whole');
    const prime = (d: JmlDiff): void => d.prime(new Map([['P1', stored.people[0]!]]), new Map([['A1', stored.assignments[0]!]]));
    // Full extract (stamps): the unchanged person only stamped, the moved assignment written whole.
    const full = new JmlDiff({ source: 's', file: 'f2' });
    prime(full);
    const events = rows('f2', 'POS2').flatMap((r) => full.apply(r));
    assert.deepEqual(events.map((e) => `${e.type} ${e.entity}`), ['mover assignment']);
    const d = full.drain();
    assert.deepEqual([d.people, d.seenPeople, d.assignments.map((a) => [a.id, a.lastFile, a.data.positionId]), d.seenAssignments], [[], ['P1'], [['A1', 'f2', 'POS2']], []]);
    // Delta (no stamps): nothing unchanged is written at all.
    const delta = new JmlDiff({ source: 's', file: 'f3', stampSeen: false });
    prime(delta);
    assert.deepEqual(rows('f3', 'POS1').flatMap((r) => delta.apply(r)), []);
    const e = delta.drain();
    assert.deepEqual([e.people, e.seenPeople, e.assignments, e.seenAssignments], [[], [], [], []]);
  });

  const samples = join(sharedDir, 'data', 'esr-go-samples');
  const skip = skipWithoutShared('data/esr-go-samples');
  const read = (dir: string, f: string): string[] => readFileSync(join(samples, dir, f), 'latin1').split('\n').filter((l) => l.trim());
  it('the samples file_diffing pair: competence, list-of-values and absence rows are not workforce moves', { skip }, () => {
    assert.deepEqual(run([{ kind: 'GDR', rows: read('file_diffing', 'left_hand_file.DAT') }, { kind: 'GDR', rows: read('file_diffing', 'right_hand_file.DAT') }], true), [[], []]);
  });
  it('the samples person and assignment add / update / delete files in order', { skip }, () => {
    const f = (rec: string, op: string): string[] => read('fixtures', `good_imports-${rec}_record-${op}-Out-${op}_${rec}_record_20201015_00001157_DAT`);
    const got = run([
      { rows: f('person', 'add') }, { rows: f('assignment', 'add') }, { rows: f('person', 'update') },
      { rows: f('assignment', 'update') }, { rows: f('assignment', 'delete') }, { rows: f('person', 'delete') },
    ]);
    assert.deepEqual(got, [
      // The add file carries two date-tracked PRA rows for A48180, both with the actual
      // termination date 20200501: a leaver as first seen, and the second row changes nothing.
      ['leaver person A48180 terminated'],
      // Two date-tracked ASA rows for one assignment: a joiner, then no tracked change.
      ['joiner assignment 936458 new'],
      // Only the e-mail address changed: no event.
      [],
      // Only the user status text changed: not a move.
      [],
      ['leaver assignment 936458 deleted'],
      // Already left: no second leaver.
      [],
    ]);
  });
});
