/**
 * The ESR Generic Outbound (GO) file format: `GO_<VPD>_GDW_<GDR|GOC|GOF>_<YYYYMMDD>_<seq>.DAT`,
 * `~`-delimited rows in ISO-8859-1 with CRLF or LF line ends, framed by an `HDR` row (file name,
 * extract date-time, …) and a `TRL` row whose first field is the number of data rows between them.
 *
 * Two passes over a downloaded file, each with constant memory: {@link inspectGoFile} hashes it,
 * counts its rows and reads its first and last rows so a truncated or mis-framed file is rejected
 * before any row goes on; {@link goRows} then streams the rows (split on `~`, no quoting: GO fields
 * are never quoted, so a `"` is data) in batches with their line numbers.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { issue, type Issue } from '../outcome';
import { schemaOf, type RecordSchema } from './records';
import { checkFields, isEsrDateTime, rowIssue, type RowPlace } from './validate';

/** GDR full extract, GOC changes (delta), GOF … as ESR names them. */
export type GoExtractKind = 'GDR' | 'GOC' | 'GOF';

export interface GoFileName {
  vpd: string;
  kind: GoExtractKind;
  /** YYYYMMDD */
  date: string;
  /** ESR sequence number. */
  seq: number;
}

const NAME_RE = /^GO_([A-Za-z0-9]+)_GDW_(GDR|GOC|GOF)_(\d{8})_(\d{1,10})\.DAT$/i;

/** Parse a GO file name, or undefined when it is not one. */
export function parseGoFileName(name: string): GoFileName | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  return { vpd: m[1]!, kind: m[2]!.toUpperCase() as GoExtractKind, date: m[3]!, seq: Number(m[4]) };
}

/** What the first pass learned about a file. */
export interface GoFileInfo {
  /** SHA-256 of the bytes, hex. */
  hash: string;
  size: number;
  /** Non-empty lines, HDR and TRL included. */
  lines: number;
  header: string[] | undefined;
  trailer: string[] | undefined;
  /** The last byte is a line end (a file cut mid-row usually is not). */
  endsWithNewline: boolean;
}

function splitRow(text: string): string[] {
  return text.replace(/\r$/, '').split('~');
}

/** Hash, count and frame-read a file in one streaming pass (the bytes are decoded as ISO-8859-1). */
export async function inspectGoFile(path: string): Promise<GoFileInfo> {
  const h = createHash('sha256');
  let size = 0;
  let lines = 0;
  let first: string | undefined;
  let current = '';
  let last = '';
  let lastByte = -1;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    h.update(chunk);
    size += chunk.length;
    lastByte = chunk[chunk.length - 1] ?? lastByte;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = current + chunk.toString('latin1', start, nl);
      if (piece.replace(/\r$/, '').trim() !== '') {
        lines++;
        if (first === undefined) first = piece;
        last = piece;
      }
      current = '';
      start = nl + 1;
    }
    // Only the head of a partial row is kept: enough to read an HDR/TRL, never a whole big row.
    if (start < chunk.length) current = (current + chunk.toString('latin1', start, Math.min(chunk.length, start + 4096))).slice(0, 4096);
  }
  if (current.replace(/\r$/, '').trim() !== '') {
    lines++;
    if (first === undefined) first = current;
    last = current;
  }
  const header = first !== undefined && first.startsWith('HDR~') ? splitRow(first) : undefined;
  const trailer = last.startsWith('TRL~') && lines > 1 ? splitRow(last) : undefined;
  return { hash: h.digest('hex'), size, lines, header, trailer, endsWithNewline: lastByte === 10 };
}

/**
 * Envelope check: an `HDR` first row naming this file (when the name is a GO name) with a valid
 * extract date-time, and a `TRL` last row whose count equals the data rows between them. Any issue
 * here rejects the whole file (nothing from it goes on, the remote file is left in place).
 */
export function checkEnvelope(fileName: string, info: GoFileInfo): Issue[] {
  const out: Issue[] = [];
  const place = (line: number): RowPlace => ({ file: fileName, line });
  if (info.size === 0) return [issue('fatal', 'incomplete', `${fileName}: file is empty`)];
  if (!info.header) out.push(rowIssue(place(1), 'HDR', undefined, 'structure', 'first row is not an HDR header row'));
  else {
    const named = info.header[1] ?? '';
    if (parseGoFileName(fileName) && named !== fileName) out.push(rowIssue(place(1), 'HDR', 1, 'invariant', 'header names a different file', 'fileName'));
    if (!isEsrDateTime(info.header[2] ?? '')) out.push(rowIssue(place(1), 'HDR', 2, 'value', 'extract date-time is not YYYYMMDD HHMMSS', 'extractDateTime'));
  }
  if (!info.trailer) out.push(rowIssue(place(info.lines), 'TRL', undefined, 'incomplete', 'last row is not a TRL trailer row (file truncated?)'));
  else {
    const n = info.trailer[1] ?? '';
    const data = info.lines - 2;
    if (!/^\d{1,12}$/.test(n)) out.push(rowIssue(place(info.lines), 'TRL', 1, 'value', 'record count is not a number', 'recordCount'));
    else if (Number(n) !== data) out.push(rowIssue(place(info.lines), 'TRL', 1, 'incomplete', `trailer record count ${Number(n)} does not match the ${data} data rows in the file`, 'recordCount'));
  }
  for (const i of out) i.severity = 'fatal';
  return out;
}

export interface GoRow {
  /** 1-based physical line number in the file. */
  line: number;
  fields: string[];
}

export interface GoRowsOptions {
  /** Rows per batch (default 500). */
  batch?: number;
  /** Text encoding of the file: GO files are ISO-8859-1 (`latin1`, the default). */
  encoding?: 'latin1' | 'utf8';
}

/**
 * Stream the rows of a GO file (or any `~`-delimited source) in batches, decoded explicitly
 * (ISO-8859-1 by default: Node's `latin1` is exactly ISO-8859-1, not Windows-1252), CRLF or LF.
 * Blank lines are skipped but counted, so `line` is always the physical line.
 */
export async function* goRows(input: string | Readable, o: GoRowsOptions = {}): AsyncGenerator<GoRow[]> {
  const size = o.batch ?? 500;
  const src = typeof input === 'string' ? createReadStream(input, { encoding: o.encoding ?? 'latin1', highWaterMark: 64 * 1024 }) : input;
  if (typeof input !== 'string') input.setEncoding(o.encoding ?? 'latin1');
  // Every record is one physical line (GO fields are never quoted, `\n` ends a record, a CR
  // before it is dropped), so the rows are split here, line by line, and the line number is the
  // record count. (csv-parse, used before, builds an Error — with a JSON copy of its options — for
  // every record whose length differs from the first: that is every data row after a 3-field HDR,
  // and every blank line, so a file of blank lines took about 0.2 ms a line; found by fuzzing.)
  // Blank (whitespace-only) lines are skipped, still counted.
  let batch: GoRow[] = [];
  let line = 0;
  let rest = '';
  const take = (text: string): void => {
    line++;
    const t = text.length > 0 && text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
    if (t.indexOf('~') < 0 && t.trim() === '') return;
    batch.push({ line, fields: t.split('~') });
  };
  for await (const chunk of src as AsyncIterable<string>) {
    const text = rest + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      take(text.slice(start, nl));
      start = nl + 1;
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) take(rest);
  if (batch.length > 0) yield batch;
}

/** One data row judged against its record schema. */
export interface CheckedRow {
  line: number;
  recordType: string;
  action: 'A' | 'D' | null;
  schema: RecordSchema | undefined;
  fields: string[];
  /** Errors; empty when the row is valid. */
  issues: Issue[];
}

/** Validate one data row (not HDR/TRL): known record type, column count, field formats. */
export function checkGoRow(file: string, row: GoRow): CheckedRow {
  const recordType = (row.fields[0] ?? '').trim();
  const place = { file, line: row.line };
  const issues: Issue[] = [];
  const s = schemaOf(recordType);
  if (!s) {
    issues.push(rowIssue(place, recordType.length <= 3 ? recordType : '', 0, 'code-invalid', 'unknown record type'));
    return { line: row.line, recordType, action: null, schema: undefined, fields: row.fields, issues };
  }
  const expected = s.action === 'D' ? 2 : s.schema.columns;
  if (row.fields.length !== expected) {
    // The column named is the first one missing or the first one too many.
    issues.push(rowIssue(place, recordType, Math.min(row.fields.length, expected), 'structure', `has ${row.fields.length} columns, ${recordType} rows have ${expected}`));
  } else if (s.action === 'D') {
    if (!row.fields[1]) issues.push(rowIssue(place, recordType, 1, 'required', 'delete row has no key', 'key'));
  } else {
    checkFields(place, recordType, row.fields, s.schema.fields, issues);
  }
  return { line: row.line, recordType, action: s.action, schema: s.schema, fields: row.fields, issues };
}
