import { createHash } from 'node:crypto';
import { NhsError } from '../errors';

/**
 * A small line diff for quarantine edits. The original message is never changed; an edit is
 * stored as the operations that turn the original payload's lines into the edited ones, tied to
 * the original by its sha256 so a diff can never be applied to the wrong base.
 *
 * Lines are HL7 v2 segments (split on CR, LF or CRLF; the separator is kept so the edited
 * message is rebuilt byte-faithfully) or the lines of pretty-printed JSON.
 *
 * Format (JSON text in QuarantineItem.editDiff):
 * `{ "v": 1, "base": "<sha256 hex of base text>", "sep": "\r", "ops": [[ "=", 3 ], [ "-", 1 ], [ "+", ["PID|..."] ]] }`
 * `=` n: keep n lines, `-` n: drop n lines, `+` lines: insert them.
 */
export interface LineDiff {
  v: 1;
  base: string;
  sep: string;
  ops: (['=', number] | ['-', number] | ['+', string[]])[];
}

/** One row of a diff preview, as the sidebar shows it. */
export interface DiffRow {
  op: ' ' | '-' | '+';
  line: string;
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** The separator the text mostly uses (HL7 v2 uses CR; files edited by hand often have LF). */
export function lineSeparator(text: string): string {
  if (text.includes('\r\n')) return '\r\n';
  if (text.includes('\r')) return '\r';
  return '\n';
}

export function splitLines(text: string, sep = lineSeparator(text)): string[] {
  return text.split(sep);
}

/**
 * Edit script between two line arrays: common prefix/suffix trimmed, LCS on the middle. The LCS
 * table is bounded so a hostile edit of a huge message cannot exhaust memory; past the bound the
 * middle is replaced wholesale (still a correct diff, just not a minimal one).
 */
function editScript(a: string[], b: string[], maxCells = 4_000_000): LineDiff['ops'] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: LineDiff['ops'] = [];
  const push = (op: LineDiff['ops'][number]): void => {
    const last = ops[ops.length - 1];
    if (last && last[0] === op[0]) {
      if (op[0] === '+') (last[1] as string[]).push(...op[1]);
      else (last as ['=', number])[1] += op[1];
    } else ops.push(op[0] === '+' ? ['+', [...op[1]]] : op);
  };
  if (pre) push(['=', pre]);
  if (am.length * bm.length > maxCells || am.length === 0 || bm.length === 0) {
    if (am.length) push(['-', am.length]);
    if (bm.length) push(['+', bm]);
  } else {
    const n = am.length;
    const m = bm.length;
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = am[i] === bm[j] ? (lcs[(i + 1) * w + j + 1] ?? 0) + 1 : Math.max(lcs[(i + 1) * w + j] ?? 0, lcs[i * w + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) { push(['=', 1]); i++; j++; }
      else if (j < m && (i >= n || (lcs[i * w + j + 1] ?? 0) > (lcs[(i + 1) * w + j] ?? 0))) { push(['+', [bm[j] ?? '']]); j++; }
      else { push(['-', 1]); i++; }
    }
  }
  if (suf) push(['=', suf]);
  return ops;
}

/** Diff `edited` against `base`, line by line. */
export function diffLines(base: string, edited: string): LineDiff {
  const sep = lineSeparator(base);
  // Normalise the edit's separators to the base's: an editor textarea turns CR into LF.
  const editedNorm = edited.split(/\r\n|\r|\n/).join(sep);
  return { v: 1, base: sha256(base), sep, ops: editScript(splitLines(base, sep), splitLines(editedNorm, sep)) };
}

/** Parse and structurally check a stored diff (it is data from the database: trust nothing). */
export function parseDiff(text: string): LineDiff {
  let d: unknown;
  try { d = JSON.parse(text); } catch { throw new NhsError('QUARANTINE_DIFF_INVALID', 'stored edit diff is not JSON'); }
  const o = d as Partial<LineDiff>;
  if (!o || o.v !== 1 || typeof o.base !== 'string' || typeof o.sep !== 'string' || !Array.isArray(o.ops)) {
    throw new NhsError('QUARANTINE_DIFF_INVALID', 'stored edit diff has an unknown shape');
  }
  for (const op of o.ops as unknown[]) {
    if (!Array.isArray(op) || op.length !== 2) throw new NhsError('QUARANTINE_DIFF_INVALID', 'bad diff operation');
    const [k, v] = op as [unknown, unknown];
    if ((k === '=' || k === '-') && Number.isInteger(v) && (v as number) > 0) continue;
    if (k === '+' && Array.isArray(v) && v.every((x) => typeof x === 'string')) continue;
    throw new NhsError('QUARANTINE_DIFF_INVALID', 'bad diff operation');
  }
  return o as LineDiff;
}

/** Apply a diff to its base; refuses a base it was not made from. */
export function applyDiff(base: string, diff: LineDiff): string {
  if (sha256(base) !== diff.base) throw new NhsError('QUARANTINE_DIFF_BASE', 'edit diff does not belong to this original');
  const a = splitLines(base, diff.sep);
  const out: string[] = [];
  let i = 0;
  for (const op of diff.ops) {
    if (op[0] === '=') { if (i + op[1] > a.length) throw new NhsError('QUARANTINE_DIFF_INVALID', 'diff runs past the original'); out.push(...a.slice(i, i + op[1])); i += op[1]; }
    else if (op[0] === '-') { if (i + op[1] > a.length) throw new NhsError('QUARANTINE_DIFF_INVALID', 'diff runs past the original'); i += op[1]; }
    else out.push(...op[1]);
  }
  if (i !== a.length) throw new NhsError('QUARANTINE_DIFF_INVALID', 'diff does not cover the whole original');
  return out.join(diff.sep);
}

/** Rows for a preview (unchanged lines included, so context is visible). */
export function diffRows(base: string, diff: LineDiff): DiffRow[] {
  const a = splitLines(base, diff.sep);
  const rows: DiffRow[] = [];
  let i = 0;
  for (const op of diff.ops) {
    if (op[0] === '=') { for (const l of a.slice(i, i + op[1])) rows.push({ op: ' ', line: l }); i += op[1]; }
    else if (op[0] === '-') { for (const l of a.slice(i, i + op[1])) rows.push({ op: '-', line: l }); i += op[1]; }
    else for (const l of op[1]) rows.push({ op: '+', line: l });
  }
  return rows;
}

/** True when the diff changes nothing. */
export function isEmptyDiff(diff: LineDiff): boolean {
  return diff.ops.every((op) => op[0] === '=');
}
