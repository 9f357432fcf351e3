/**
 * Loaders for the map formats of {@link ./maps}: each reads a file once into memory. Bad rows are
 * counted in `table.issues` by row number (never by content: a map row is not patient data, but
 * issues end up in logs); a file that cannot be read at all is an `NhsError`.
 */
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsv } from 'csv-parse/sync';
import { NhsError } from '../errors';
import { ConceptMapTable, Interner, Rf2MapTable, SimpleMapTable, toEquivalence, type MapFormat, type MapTable, type Provenance, type Unmapped } from './maps';
import type { Rf2Row } from './map-rules';

export const SNOMED_CT = 'http://snomed.info/sct';
export const ICD_10 = 'http://hl7.org/fhir/sid/icd-10';
/** OPCS-4 has no code system URI in the FHIR R4 registry; override per map when your server uses another. */
export const OPCS_4 = 'http://fhir.nhs.uk/CodeSystem/OPCS-4';
export const READ_V2 = 'http://read.info/readv2';
export const CTV3 = 'http://read.info/ctv3';

/** RF2 map refsets whose target system is certain (SNOMED International ICD-10 extended map). */
const REFSET_TARGETS: Record<string, string> = { '447562003': ICD_10 };

export interface LoadOptions {
  format?: MapFormat | 'auto';
  /** Target code system for RF2 maps (ICD-10 / OPCS-4); else from the refset id, else ICD-10. */
  targetSystem?: string;
  /** Name in provenance (default: the file name). */
  name?: string;
  /** Largest file accepted, bytes (default 2 GiB). */
  maxBytes?: number;
}

const norm = (h: string): string => h.toLowerCase().replace(/[^a-z0-9]/g, '');
/** A header row's column positions by normalised name (`norm` also drops a BOM); a repeated name keeps its last column. */
function columnIndex(header: readonly string[]): Record<string, number> {
  const cols: Record<string, number> = {};
  header.forEach((h, i) => { cols[norm(h)] = i; });
  return cols;
}

/** A `# key: value` line at the top of a CSV map: version / effectiveTime / name / url. */
const META_LINE = /^#\s*([A-Za-z][A-Za-z ]*):\s*(.+?)\s*$/;

async function head(file: string, bytes = 8192): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
  } finally {
    await fh.close();
  }
}

/** Guess the format from the extension and the header row. */
export async function detectFormat(file: string): Promise<MapFormat> {
  if (extname(file).toLowerCase() === '.json') return 'conceptmap';
  const text = await head(file);
  const first = text.split(/\r?\n/).find((l) => l && !l.startsWith('#')) ?? '';
  const cols = first.split('\t').map(norm);
  if (cols.includes('referencedcomponentid')) return 'rf2';
  if (cols.includes('readcode') || cols.includes('ctv3conceptid')) return 'read';
  return 'csv';
}

/** Load one map file; the format is detected unless given. */
export async function loadMapFile(file: string, opts: LoadOptions = {}): Promise<MapTable> {
  const name = opts.name ?? basename(file);
  try {
    const format = !opts.format || opts.format === 'auto' ? await detectFormat(file) : opts.format;
    if (format === 'conceptmap') {
      const text = await readFile(file, 'utf8');
      let json: unknown;
      try { json = JSON.parse(text); } catch { throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name}: not JSON`); }
      return conceptMapTable(json, name);
    }
    if (format === 'csv') return await loadCsvMap(file, name);
    if (format === 'rf2') return await loadRf2Map(file, { ...opts, name });
    return await loadReadMap(file, name);
  } catch (e) {
    if (e instanceof NhsError) throw e;
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT') throw new NhsError('TERMINOLOGY_MAP_NOT_FOUND', `map file not found: ${name}`, { cause: e });
    throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name}: ${e instanceof Error ? e.message.slice(0, 200) : 'unreadable'}`, { cause: e });
  }
}

/**
 * CSV map the trust keeps: header row naming `source system, source code, source display, target
 * system, target code, target display, equivalence` (any case, spaces/underscores ignored); only
 * `source code` and `target code` are required. A row with an empty target code records the source
 * as known-unmapped. `# version: …` / `# effectiveTime: …` lines before the header are provenance.
 */
export async function loadCsvMap(file: string, name = basename(file)): Promise<SimpleMapTable> {
  return csvMapTable(fileChunks(file), name);
}

/**
 * {@link loadCsvMap} over text that is already in memory or arrives in chunks (Buffers are read as
 * UTF-8, a character may be split between chunks): the one CSV map parser, which the file loader
 * feeds from a read stream.
 */
export async function csvMapTable(chunks: MapChunks, name: string): Promise<SimpleMapTable> {
  const meta: Record<string, string> = {};
  let metaLines = 0;
  let table: SimpleMapTable | undefined;
  const intern = new Interner();
  let ix = { ss: -1, sc: -1, sd: -1, ts: -1, tc: -1, td: -1, eq: -1 };
  let row = 0;
  await forEachCsvRecord(chunks, name, (rec, line) => {
    row++;
    if (!table) {
      const cols = columnIndex(rec);
      if (cols.sourcecode === undefined || cols.targetcode === undefined) {
        throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name}: the header row must name "source code" and "target code" columns`);
      }
      const at = (k: string): number => cols[k] ?? -1;
      ix = { ss: at('sourcesystem'), sc: at('sourcecode'), sd: at('sourcedisplay'), ts: at('targetsystem'), tc: at('targetcode'), td: at('targetdisplay'), eq: at('equivalence') };
      table = new SimpleMapTable(provenanceOf(name, 'csv', meta));
      return;
    }
    const code = rec[ix.sc] ?? '';
    if (!code) { table.issues.push({ row, line, column: ix.sc + 1, message: 'empty source code' }); return; }
    const equivalence = toEquivalence(ix.eq < 0 ? '' : rec[ix.eq]);
    if (!equivalence) { table.issues.push({ row, line, column: ix.eq + 1, message: 'unknown equivalence' }); return; }
    const tcode = rec[ix.tc] ?? '';
    const sys = intern.of(ix.ss < 0 ? '' : rec[ix.ss] ?? '');
    const display = ix.sd < 0 ? undefined : rec[ix.sd];
    if (!tcode) { table.addRow(sys, code, display, undefined, '', undefined, undefined, undefined); return; }
    table.addRow(sys, code, display, intern.of((ix.ts < 0 ? '' : rec[ix.ts]) || SNOMED_CT), tcode, ix.td < 0 ? undefined : rec[ix.td], equivalence, undefined);
  }, (line, n) => {
    // Provenance: the unbroken run of `#` lines from the first line on (a blank line ends it).
    if (n !== metaLines + 1 || !line.startsWith('#')) return false;
    metaLines = n;
    const m = META_LINE.exec(line);
    if (m) meta[norm(m[1]!)] = m[2]!;
    return true;
  });
  if (!table) throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name}: empty map (no header row)`);
  return table;
}

/**
 * CSV records (RFC 4180), fields trimmed; blank lines and `#` comment lines skipped. A line with
 * no quote character is split on commas directly (the same fields csv-parse gives for it, several
 * times faster on million-row maps); a line with quotes — and the lines a quoted newline carries
 * on to — is parsed by csv-parse (a line break inside a quoted field is read as `\n`). `leading`
 * sees each line from the first on until it returns false (the provenance lines of a map).
 */
async function forEachCsvRecord(chunks: MapChunks, name: string, fn: (rec: string[], line: number) => void, leading?: (line: string, n: number) => boolean): Promise<void> {
  // The lines of a record whose quoted field runs on: their quotes are counted line by line (not
  // the joined text again for every line, which was quadratic: 40,000 lines after a stray quote
  // took 12 s), and a record is cut off at MAX_RECORD so a stray quote cannot pull a whole
  // million-row file into one string.
  let pending: string[] | undefined;
  let pendingQuotes = 0;
  let pendingLength = 0;
  let pendingLine = 0;
  let lead = leading;
  const where = (): string => `${name} line ${pendingLine} column ${pending![0]!.slice(0, pending![0]!.indexOf('"')).split(',').length}`;
  await forEachLine(chunks, (line, n) => {
    if (lead) {
      if (lead(line, n)) return;
      lead = undefined;
    }
    if (pending) {
      pending.push(line);
      pendingQuotes += quoteCount(line);
      pendingLength += line.length + 1;
      if (pendingQuotes % 2 === 1) {
        if (pendingLength > MAX_RECORD) throw new NhsError('TERMINOLOGY_MAP_INVALID', `${where()}: quoted field still open after ${MAX_RECORD / 1024} KiB (a stray quote?)`);
        return;
      }
      const text = pending.join('\n');
      pending = undefined;
      for (const rec of csvRecords(text, name, pendingLine)) fn(rec, pendingLine);
      return;
    }
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    if (!line.includes('"')) {
      const rec = line.split(',');
      for (let i = 0; i < rec.length; i++) rec[i] = rec[i]!.trim();
      fn(rec, n);
      return;
    }
    const quotes = quoteCount(line);
    if (quotes % 2 === 1) { pending = [line]; pendingQuotes = quotes; pendingLength = line.length; pendingLine = n; return; }
    for (const rec of csvRecords(line, name, n)) fn(rec, n);
  });
  if (pending) throw new NhsError('TERMINOLOGY_MAP_INVALID', `${where()}: unterminated quoted field at the end of the file`);
}

/**
 * One record (which may span lines) through csv-parse. Its errors (a quote inside an unquoted
 * field, text after a closing quote) become TERMINOLOGY_MAP_INVALID naming the line and column.
 */
function csvRecords(text: string, name: string, line: number): string[][] {
  try {
    const out: unknown = parseCsv(text, { relax_column_count: true, trim: true });
    return out as string[][];
  } catch (e) {
    const c = e as { code?: unknown; lines?: unknown; column?: unknown };
    const at = line + (typeof c.lines === 'number' && c.lines > 0 ? c.lines - 1 : 0);
    const column = typeof c.column === 'number' ? c.column + 1 : 1;
    throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name} line ${at} column ${column}: malformed quoted field (${typeof c.code === 'string' ? c.code : 'CSV error'})`, { cause: e });
  }
}

/** Longest record a quoted field may carry across lines, characters (a map row is far shorter). */
const MAX_RECORD = 1 << 20;

function quoteCount(s: string): number {
  let n = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) n++;
  return n;
}

function provenanceOf(name: string, format: MapFormat, meta: Record<string, string>): Provenance {
  const p: Provenance = { map: meta.name ?? name, format };
  if (meta.version) p.version = meta.version;
  if (meta.effectivetime) p.effectiveTime = meta.effectivetime;
  if (meta.url) p.url = meta.url;
  return p;
}

const UNMAPPED_MODES = new Set(['provided', 'fixed', 'other-map']);

/** FHIR R4 ConceptMap (JSON object) → table. Throws TERMINOLOGY_MAP_INVALID if it is not one. */
export function conceptMapTable(json: unknown, name?: string): ConceptMapTable {
  const cm = json as { resourceType?: unknown; url?: unknown; version?: unknown; date?: unknown; name?: unknown; group?: unknown };
  if (!cm || typeof cm !== 'object' || cm.resourceType !== 'ConceptMap') throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name ?? 'map'}: not a FHIR ConceptMap`);
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  const prov: Provenance = { map: name ?? str(cm.name) ?? str(cm.url) ?? 'ConceptMap', format: 'conceptmap' };
  if (str(cm.version)) prov.version = str(cm.version);
  if (str(cm.date)) prov.effectiveTime = str(cm.date);
  if (str(cm.url)) prov.url = str(cm.url);
  const table = new ConceptMapTable(prov);
  const groups = Array.isArray(cm.group) ? (cm.group as Record<string, unknown>[]) : [];
  groups.forEach((g, gi) => {
    const source = str(g?.source) ?? '';
    const target = str(g?.target) ?? '';
    const index = new SimpleMapTable(prov);
    const elements = Array.isArray(g?.element) ? (g.element as Record<string, unknown>[]) : [];
    elements.forEach((el, ei) => {
      const code = str(el?.code);
      if (!code) { table.issues.push({ row: ei + 1, message: `group ${gi + 1}: element without code` }); return; }
      const targets = Array.isArray(el.target) ? (el.target as Record<string, unknown>[]) : [];
      if (targets.length === 0) index.add(source, code, str(el.display), undefined);
      for (const t of targets) {
        const equivalence = toEquivalence(str(t?.equivalence));
        if (!equivalence) { table.issues.push({ row: ei + 1, message: `group ${gi + 1}: unknown equivalence` }); continue; }
        const tcode = str(t.code);
        const comment = str(t.comment);
        index.add(source, code, str(el.display), { system: target, code: tcode ?? '', equivalence, ...(str(t.display) ? { display: str(t.display) } : {}), ...(comment ? { advice: comment } : {}) });
      }
    });
    const u = g?.unmapped as Record<string, unknown> | undefined;
    let unmapped: Unmapped | undefined;
    if (u && typeof u === 'object') {
      const mode = str(u.mode);
      if (mode && UNMAPPED_MODES.has(mode)) {
        unmapped = { mode: mode as Unmapped['mode'] };
        if (str(u.code)) unmapped.code = str(u.code);
        if (str(u.display)) unmapped.display = str(u.display);
        if (str(u.url)) unmapped.url = str(u.url);
      } else table.issues.push({ message: `group ${gi + 1}: unknown unmapped mode` });
    }
    table.groups.push({ source, target, index, ...(unmapped ? { unmapped } : {}) });
  });
  return table;
}

/** A map's content in chunks: a file's read stream, or text / bytes already in memory. */
export type MapChunks = AsyncIterable<string | Buffer> | Iterable<string | Buffer>;

/** A map file's bytes, 1 MiB at a time (RF2 and Read map files run to hundreds of MB). */
function fileChunks(file: string): MapChunks {
  return createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

/**
 * Lines of a map, header row first, numbered from 1 (blank lines are counted but not passed on):
 * a line ends at LF, a CR before it is dropped, a BOM at the start is dropped. Bytes are read as
 * UTF-8 (a character split between chunks is joined, a bad sequence becomes U+FFFD), with no
 * whole-file string and no readline overhead.
 */
async function forEachLine(chunks: MapChunks, fn: (line: string, n: number) => void): Promise<void> {
  let rest = '';
  let line = 0;
  const utf8 = new StringDecoder('utf8');
  const each = (text: string): void => {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end > start) fn(line === 0 ? text.slice(start, end).replace(/^\uFEFF/, '') : text.slice(start, end), ++line);
      else ++line;
      start = nl + 1;
    }
    rest = text.slice(start);
  };
  for await (const chunk of chunks) each(rest + (typeof chunk === 'string' ? utf8.end() + chunk : utf8.write(chunk)));
  each(rest + utf8.end());
  if (rest.length) fn(line === 0 ? rest.replace(/^\uFEFF/, '').replace(/\r$/, '') : rest.replace(/\r$/, ''), ++line);
}

const RF2_COLUMNS = ['id', 'effectivetime', 'active', 'referencedcomponentid', 'mapgroup', 'mappriority', 'maprule', 'mapadvice', 'maptarget', 'correlationid'];

/**
 * SNOMED CT RF2 extended map (`der2_iisssccRefset_ExtendedMap…`, with `mapCategoryId`) or complex
 * map (`der2_iisssciRefset_ComplexMap…`) reference set, as NHS England publishes the SNOMED CT →
 * ICD-10 and → OPCS-4 maps: only active rows; in a Full or Delta file (one member id on several
 * rows) the row with the latest effectiveTime wins. A file named `…Snapshot…` is taken to hold
 * each member once, as RF2 Snapshots do. Provenance: the release named in the file name and the latest
 * effectiveTime.
 */
export async function loadRf2Map(file: string, opts: LoadOptions = {}): Promise<Rf2MapTable> {
  const name = opts.name ?? basename(file);
  const intern = new Interner();
  let cols: Record<string, number> | undefined;
  let latest = '';
  let refset = '';
  const issues: { row: number; message: string }[] = [];
  // Rows are kept per concept while loading; a Full release's history (one member id on several
  // rows, always for the same concept) collapses to each member's latest state at the end, so no
  // file-wide id index is needed.
  const byConcept = new Map<string, { id: string; et: string; active: boolean; row: Rf2Row }[]>();
  const snapshot = /Snapshot/i.test(name);
  // The target system is known only after the header (refsetId), so rows of a Snapshot are
  // collected in a table whose target system is fixed at the end.
  const direct = new Rf2MapTable({ map: name, format: 'rf2' }, SNOMED_CT, '');
  let c: Record<string, number> = {};
  let catCol: number | undefined;
  await forEachLine(fileChunks(file), (text, line) => {
    const f = text.split('\t');
    if (!cols) {
      if (f[0]?.startsWith('#')) return;
      cols = columnIndex(f);
      const missing = RF2_COLUMNS.filter((k) => cols![k] === undefined);
      if (missing.length) throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name}: not an RF2 map refset (missing ${missing.join(', ')})`);
      c = cols;
      catCol = c.mapcategoryid;
      return;
    }
    const id = f[c.id!] ?? '';
    const code = f[c.referencedcomponentid!] ?? '';
    const group = Number(f[c.mapgroup!]);
    const priority = Number(f[c.mappriority!]);
    if (!id || !code || !Number.isInteger(group) || !Number.isInteger(priority)) { issues.push({ row: line, message: 'malformed RF2 row' }); return; }
    if (!refset && c.refsetid !== undefined) refset = f[c.refsetid] ?? '';
    const row: Rf2Row = {
      group, priority,
      rule: intern.of(f[c.maprule!] ?? ''),
      advice: intern.of(f[c.mapadvice!] ?? ''),
      target: intern.of(f[c.maptarget!] ?? ''),
      correlation: intern.of(f[c.correlationid!] ?? ''),
      category: undefined,
      chosen: undefined,
      cand: undefined,
    };
    const cat = catCol !== undefined ? f[catCol] : undefined;
    if (cat) row.category = intern.of(cat);
    const et = f[c.effectivetime!] ?? '';
    const active = f[c.active!] === '1';
    if (snapshot) {
      // A Snapshot holds each member once: active rows go straight into the table.
      if (active) { direct.entry(code).rows.push(row); if (et > latest) latest = et; }
      return;
    }
    const item = { id, et, active, row };
    const list = byConcept.get(code);
    if (list) list.push(item);
    else byConcept.set(code, [item]);
  });
  if (!cols) throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name}: empty map (no header row)`);
  const release = /_([A-Z]{2,}\d*)_(\d{8})(?:T\d+Z?)?\.(?:txt|tsv)$/i.exec(name);
  const table = direct;
  const prov = table.provenance;
  table.targetSystem = opts.targetSystem ?? REFSET_TARGETS[refset] ?? ICD_10;
  table.issues.push(...issues);
  for (const [code, items] of byConcept) {
    let current = items;
    if (items.length > 1) {
      const latestById = new Map<string, (typeof items)[number]>();
      for (const it of items) { const p = latestById.get(it.id); if (!p || it.et > p.et) latestById.set(it.id, it); }
      if (latestById.size !== items.length) current = [...latestById.values()];
    }
    let rows: Rf2Row[] | undefined;
    for (const it of current) {
      if (!it.active) continue;
      if (it.et > latest) latest = it.et;
      (rows ??= table.entry(code).rows).push(it.row);
    }
  }
  byConcept.clear();
  table.sortRows();
  if (release) prov.version = `${release[1]}_${release[2]}`;
  if (latest) prov.effectiveTime = latest;
  if (!prov.version && latest) prov.version = latest;
  return table;
}

/**
 * Read v2 → SNOMED CT (`ReadCode`, `TermCode`, `ConceptId`, `DescriptionId`, `IS_ASSURED`,
 * `EffectiveDate`, `MapStatus`) and CTV3 → SNOMED CT (`CTV3_CONCEPTID`, `CTV3_TERMID`,
 * `SCT_CONCEPTID`, `SCT_DESCRIPTIONID`, `MAPSTATUS`, `EFFECTIVEDATE`, `ISASSURED`) maps as
 * tab-separated files with a header row. Rows with MapStatus 0 are inactive. Assured maps come
 * first among a code's targets.
 */
export async function loadReadMap(file: string, name = basename(file)): Promise<SimpleMapTable> {
  let cols: Record<string, number> | undefined;
  let system = READ_V2;
  let latest = '';
  const rows: { code: string; target: string; assured: boolean }[] = [];
  const issues: { row: number; message: string }[] = [];
  await forEachLine(fileChunks(file), (text, line) => {
    const f = text.split('\t');
    if (!cols) {
      if (f[0]?.startsWith('#')) return;
      cols = columnIndex(f);
      if (cols.ctv3conceptid !== undefined) system = CTV3;
      if ((cols.readcode ?? cols.ctv3conceptid) === undefined || (cols.conceptid ?? cols.sctconceptid) === undefined) {
        throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name}: not a Read v2 / CTV3 map (needs ReadCode or CTV3_CONCEPTID, and ConceptId or SCT_CONCEPTID)`);
      }
      return;
    }
    const c = cols;
    const at = (k: string | undefined): string => (k === undefined ? '' : (f[c[k]!] ?? '').trim());
    const key = (a: string, b: string): string | undefined => (c[a] !== undefined ? a : c[b] !== undefined ? b : undefined);
    const code = at(key('readcode', 'ctv3conceptid'));
    const target = at(key('conceptid', 'sctconceptid'));
    if (!code || !target) { issues.push({ row: line, message: 'malformed map row' }); return; }
    const status = at(key('mapstatus', 'mapstatus'));
    if (status === '0') return;
    const assured = at(key('isassured', 'assured')) === '1';
    const et = at(key('effectivedate', 'effectivetime'));
    if (et > latest) latest = et;
    rows.push({ code, target, assured });
  });
  if (!cols) throw new NhsError('TERMINOLOGY_MAP_INVALID', `${name}: empty map (no header row)`);
  const prov: Provenance = { map: name, format: 'read', ...(latest ? { version: latest, effectiveTime: latest } : {}) };
  const table = new SimpleMapTable(prov);
  table.issues.push(...issues);
  // Assured rows first, so a code's first target is the assured one.
  rows.sort((a, b) => Number(b.assured) - Number(a.assured));
  for (const r of rows) {
    table.add(system, r.code, undefined, { system: SNOMED_CT, code: r.target, equivalence: r.assured ? 'equivalent' : 'relatedto', advice: r.assured ? 'assured map' : 'unassured map' });
  }
  return table;
}
