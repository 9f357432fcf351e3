/**
 * Synthetic ESR GO rows and files for tests and the bench: made-up people ("Synthetic Person"),
 * NI numbers with a made-up AB prefix, staff numbers from 90000000. Never real data.
 */
import { writeFileSync } from 'node:fs';

export interface PersonOpts {
  id: string;
  staff?: string;
  ni?: string;
  termination?: string;
  hire?: string;
  dob?: string;
}

/** A 44-column PRA row. */
export function personRow(p: PersonOpts): string {
  const f = Array<string>(44).fill('');
  f[0] = 'PRA';
  f[1] = p.id;
  f[2] = '20240101';
  f[4] = p.staff ?? '90000001';
  f[5] = 'Mx.';
  f[6] = 'Synthetic';
  f[7] = 'Person';
  f[12] = 'Female';
  f[13] = p.dob ?? '19800101';
  f[14] = p.ni ?? 'AB123456C';
  f[16] = p.hire ?? '20240101';
  f[17] = p.termination ?? '';
  f[19] = 'E';
  return f.join('~');
}

export interface AssignmentOpts {
  person: string;
  id: string;
  number?: string;
  position?: string;
  org?: string;
  location?: string;
  supervisor?: string;
  fte?: string;
  end?: string;
}

/** A 51-column ASA row. */
export function assignmentRow(a: AssignmentOpts): string {
  const f = Array<string>(51).fill('');
  f[0] = 'ASA';
  f[1] = a.person;
  f[2] = a.id;
  f[3] = '20240101';
  f[6] = 'E';
  f[7] = a.number ?? '90000001';
  f[8] = 'ACTIVE_ASSIGN';
  f[13] = a.location ?? 'LOC1';
  f[15] = a.supervisor ?? '';
  f[25] = a.fte ?? '1';
  f[27] = a.org ?? 'ORG1';
  f[28] = a.position ?? 'POS1';
  f[44] = '20240101 120000';
  f[48] = a.end ?? '';
  return f.join('~');
}

/** A GO file text: HDR, rows, TRL with the row count (or `trailerCount`). */
export function goFile(name: string, rows: readonly string[], o: { trailerCount?: number; eol?: string } = {}): string {
  const eol = o.eol ?? '\n';
  return [`HDR~${name}~20260105 010203`, ...rows, `TRL~${o.trailerCount ?? rows.length}`].join(eol) + eol;
}

export function goName(kind: 'GDR' | 'GOC', seq: number, date = '20260105'): string {
  return `GO_123_GDW_${kind}_${date}_${String(seq).padStart(8, '0')}.DAT`;
}

/** Write a large synthetic full extract: `rows` data rows, 1 person to 3 assignments. */
export function writeLargeGo(path: string, name: string, rows: number): void {
  const chunk: string[] = [`HDR~${name}~20260105 010203`];
  const flush = (): void => {
    writeFileSync(path, chunk.join('\n') + '\n', { flag: 'a' });
    chunk.length = 0;
  };
  writeFileSync(path, '');
  let p = 0;
  for (let i = 0; i < rows; i++) {
    if (i % 4 === 0) {
      p++;
      chunk.push(personRow({ id: `P${p}`, staff: String(90000000 + p) }));
    } else {
      chunk.push(assignmentRow({ person: `P${p}`, id: `A${i}`, number: String(90000000 + i), position: `POS${i % 97}`, org: `ORG${i % 13}` }));
    }
    if (chunk.length >= 10_000) flush();
  }
  chunk.push(`TRL~${rows}`);
  flush();
}
