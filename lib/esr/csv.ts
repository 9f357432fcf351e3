/**
 * Plain CSV extracts (ESR Business Intelligence reports): RFC 4180 CSV with a header row, whose
 * columns the user describes (name, kind, required, code list) since every BI report is built
 * locally. Read as a stream with csv-parse (quoted fields may span lines; the line of each row is
 * its first physical line), judged with the same field checks as GO rows.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { NhsError } from '../errors';
import { issue, type Issue } from '../outcome';
import type { CheckedRow, GoRow } from './go';
import type { FieldKind, FieldSpec, RecordSchema } from './records';
import { checkFields, rowIssue } from './validate';

export interface CsvColumn {
  name: string;
  kind?: FieldKind;
  required?: boolean;
  codes?: string[];
  personal?: boolean;
}

export interface CsvFormat {
  /** `msg.topic` and record name for the rows (e.g. `BI_STAFF_LIST`). */
  recordType: string;
  columns: CsvColumn[];
  delimiter?: string;
  /** The first row names the columns (default true); checked against `columns`. */
  header?: boolean;
  encoding?: 'latin1' | 'utf8';
}

const KINDS: readonly FieldKind[] = ['id', 'date', 'datetime', 'ni', 'staffNumber', 'assignmentNumber', 'nhsNumber', 'decimal', 'code', 'text'];

/** Check a user's CSV format (from the editor's JSON); throws ESR_CSV_FORMAT. */
export function checkCsvFormat(f: unknown): CsvFormat {
  const bad = (m: string): never => { throw new NhsError('ESR_CSV_FORMAT', `CSV format: ${m}`); };
  if (!f || typeof f !== 'object') return bad('must be an object');
  const o = f as Partial<CsvFormat>;
  if (typeof o.recordType !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(o.recordType)) bad('recordType must be 1–40 letters, digits, _ or -');
  if (!Array.isArray(o.columns) || o.columns.length === 0 || o.columns.length > 500) bad('columns must be a list of 1–500 columns');
  for (const c of o.columns!) {
    if (!c || typeof c.name !== 'string' || !c.name) bad('every column needs a name');
    if (c.kind !== undefined && !KINDS.includes(c.kind)) bad(`column ${c.name}: kind must be one of ${KINDS.join(', ')}`);
    if (c.kind === 'code' && !Array.isArray(c.codes)) bad(`column ${c.name}: a code column needs codes`);
  }
  if (o.delimiter !== undefined && (typeof o.delimiter !== 'string' || o.delimiter.length !== 1)) bad('delimiter must be one character');
  return o as CsvFormat;
}

/**
 * The record schema for a CSV format. Rows are carried as GO rows are — `fields[0]` the record
 * type, then the columns — so column numbers are 1-based and both formats read alike downstream.
 */
export function csvSchema(f: CsvFormat): RecordSchema {
  const fields: FieldSpec[] = f.columns.map((c, i) => ({
    at: i + 1, name: c.name, kind: c.kind ?? 'text', ...(c.required ? { required: true } : {}), ...(c.codes ? { codes: c.codes } : {}), ...(c.personal ? { personal: true } : {}),
  }));
  return { code: f.recordType, name: f.recordType, columns: f.columns.length + 1, key: 1, fields };
}

/** Stream the rows of a CSV extract in batches; `line` is the first physical line of the row. */
export async function* csvRows(path: string, f: CsvFormat, batchSize = 500): AsyncGenerator<GoRow[]> {
  const src = createReadStream(path, { encoding: f.encoding ?? 'utf8', highWaterMark: 1 << 20 });
  const parser = src.pipe(parse({ delimiter: f.delimiter ?? ',', relax_column_count: true, skip_empty_lines: true, bom: true, info: true }));
  src.on('error', (e: Error) => parser.destroy(e));
  let batch: GoRow[] = [];
  let drift = 0;
  for await (const r of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    // info.lines is the line the row ends on, and csv-parse counts a CR and an LF inside a quoted
    // field as a line each: the row's first physical line is found by undoing both.
    let breaks = 0;
    let pairs = 0;
    for (const v of r.record) {
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c === 10 || c === 13) breaks++;
        if (c === 13 && v.charCodeAt(i + 1) === 10) pairs++;
      }
    }
    batch.push({ line: r.info.lines - breaks - drift, fields: [f.recordType, ...r.record] });
    drift += pairs;
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Whole-file check before any row goes on: the file parses to the end (a cut inside a quoted
 * field is an error) and the header names the configured columns. Returns fatal issues.
 */
export async function checkCsvFile(name: string, path: string, f: CsvFormat): Promise<Issue[]> {
  let first: GoRow | undefined;
  try {
    for await (const b of csvRows(path, f, 1000)) first ??= b[0];
  } catch (e) {
    return [issue('fatal', 'structure', `${name}: not well-formed CSV (${(e as { code?: string }).code ?? 'parse error'}; truncated?)`)];
  }
  if (!first) return [issue('fatal', 'incomplete', `${name}: file has no rows`)];
  if (f.header !== false) {
    const want = f.columns.map((c) => c.name.trim().toLowerCase());
    const got = first.fields.slice(1).map((c) => c.trim().toLowerCase());
    if (want.length !== got.length || want.some((w, i) => w !== got[i])) {
      return [issue('fatal', 'structure', `${name} line 1: header columns do not match the configured ${want.length} columns`)];
    }
  }
  return [];
}

/** Validate one CSV data row against its schema. */
export function checkCsvRow(file: string, row: GoRow, schema: RecordSchema): CheckedRow {
  const issues: Issue[] = [];
  const place = { file, line: row.line };
  // The column named is the first one missing or the first one too many.
  if (row.fields.length !== schema.columns) issues.push(rowIssue(place, schema.code, Math.min(row.fields.length, schema.columns), 'structure', `has ${row.fields.length - 1} columns, the report has ${schema.columns - 1}`));
  else checkFields(place, schema.code, row.fields, schema.fields, issues);
  return { line: row.line, recordType: schema.code, action: null, schema, fields: row.fields, issues };
}
