/**
 * Fuzz targets for the parsers that meet outside data beyond HL7/MLLP (those are in
 * test/lib/hl7/fixtures/fuzz-targets.ts): FHIR JSON reading, `validateText` (base R4 and
 * UKCore-Patient), ESR GO rows, CSV map tables, PDS responses and terminology-server responses.
 * Each has a generator (seeds mutated, generated structure, raw bytes) and an oracle that throws
 * when an invariant breaks; scripts/fuzz.mjs drives them at scale, the property tests
 * (test/lib/<area>/properties.test.ts) and test/lib/fuzz/regressions.test.ts reuse them with
 * small run counts. Seeds come from the test fixtures and, when present, ../shared (read in
 * place, never copied). Synthetic data only.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { NhsError } from '../../../lib/errors';
import { readJson } from '../../../lib/fhir/json';
import { FhirPackages } from '../../../lib/fhir/packages';
import { createValidator, type Validator } from '../../../lib/fhir/validator';
import { checkGoRow, goRows } from '../../../lib/esr/go';
import { PdsService } from '../../../lib/nhs/pds/lookup';
import { TerminologyClient } from '../../../lib/terminology/client';
import { csvMapTable } from '../../../lib/terminology/map-loaders';
import type { LoadIssue, SimpleMapTable } from '../../../lib/terminology/maps';
import type { OperationOutcome } from '../../../lib/outcome';
import { assignmentRow, goFile, goName, personRow } from '../esr/fixtures';
import { ukPatient, UKCORE_PATIENT_URL } from '../fhir/validator-fixtures';
import { sharedDir } from '../../helpers/shared';
import { mutate, mutationOf } from '../hl7/fixtures/fuzz-targets';

/** One fuzz target; `check` may be async (resolves when the input has been judged). */
export interface ParserTarget<T> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  /** Throws (or rejects) when an invariant is broken: AssertionError = invariant, else crash. */
  check(input: T): void | Promise<void>;
  encode(input: T): string;
  decode(text: string): T;
  seeds: T[];
  /** One-off set-up (loading FHIR packages) before the first check. */
  init?(): Promise<void>;
  /** Why this target cannot run here (missing ../shared data), or undefined. */
  unavailable?(): string | undefined;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

// ---------- shared generators ----------


/** Text from seeds: mutated, token soup, raw, and now and then a long repeat. */
function textFrom(seeds: string[], tokens: string[], unit: fc.Arbitrary<string> | 'binary' = 'binary'): fc.Arbitrary<string> {
  const raw = unit === 'binary' ? fc.string({ unit: 'binary', maxLength: 300 }) : fc.string({ unit, maxLength: 300 });
  return fc.oneof(
    { weight: 12, arbitrary: fc.tuple(fc.constantFrom(...seeds), fc.array(mutationOf(tokens), { minLength: 1, maxLength: 6 })).map(([s, ms]) => mutate(s, ms)) },
    { weight: 2, arbitrary: fc.constantFrom(...seeds) },
    { weight: 4, arbitrary: fc.array(fc.constantFrom(...tokens), { maxLength: 80 }).map((a) => a.join('')) },
    { weight: 3, arbitrary: raw },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...seeds), fc.integer({ min: 50, max: 3000 }), fc.constantFrom(...tokens)).map(([s, n, rep]) => s + rep.repeat(n)) },
  );
}

interface JsonEdit { path: number[]; op: 'set' | 'delete' | 'dup' | 'wrap' | 'stringify' | 'empty'; value: Json }
const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({
  path: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
  op: fc.constantFrom('set', 'delete', 'dup', 'wrap', 'stringify', 'empty'),
  value: fc.oneof(
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
    { weight: 1, arbitrary: fc.constantFrom<Json>('', ' ', 'Patient', 'Bundle', 'OperationOutcome', 'Parameters', '9000000009', 'http://snomed.info/sct', '2024-02-30', '1e400', -0, 1e308, 2 ** 53 + 1, -1, 0.5, [], {}, [null], { resourceType: 'Patient' }) },
  ),
});

/** Structural edits of a JSON value: pick a node by walking indices, then change it. */
export function editJson(root: Json, edits: JsonEdit[]): Json {
  let doc = structuredClone(root);
  for (const e of edits) {
    let parent: Json[] | { [k: string]: Json } | undefined;
    let key: string | number | undefined;
    let node: Json = doc;
    for (const step of e.path) {
      if (Array.isArray(node) && node.length) { parent = node; key = step % node.length; node = node[key]!; }
      else if (node && typeof node === 'object' && !Array.isArray(node)) {
        const ks = Object.keys(node);
        if (!ks.length) break;
        parent = node; key = ks[step % ks.length]!; node = node[key]!;
      } else break;
    }
    const put = (v: Json | undefined): void => {
      if (parent === undefined || key === undefined) { if (v !== undefined) doc = v; return; }
      if (Array.isArray(parent)) { if (v === undefined) parent.splice(key as number, 1); else parent[key as number] = v; }
      else if (v === undefined) delete parent[key as string]; else parent[key as string] = v;
    };
    if (e.op === 'set') put(e.value);
    else if (e.op === 'delete') put(undefined);
    else if (e.op === 'dup') { if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(node)); else put([node, structuredClone(node)]); }
    else if (e.op === 'wrap') put([node]);
    else if (e.op === 'stringify') put(JSON.stringify(node) ?? null);
    else put(Array.isArray(node) ? [] : node && typeof node === 'object' ? {} : '');
  }
  return doc;
}

/** JSON documents from seed objects: edited structurally, then serialized (sometimes indented). */
function jsonFrom(seeds: Json[]): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(jsonEdit, { maxLength: 5 }), fc.constantFrom(undefined, 1, '\t'))
    .map(([s, es, indent]) => JSON.stringify(editJson(s, es), null, indent) ?? 'null');
}

function readSeedFiles(dir: string, filter: (f: string) => boolean, maxBytes = 40_000): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, name.name);
      if (name.isDirectory()) walk(p);
      else if (filter(p)) { const t = readFileSync(p, 'latin1'); if (t.length <= maxBytes) out.push(t); }
    }
  };
  walk(dir);
  return out.sort();
}

const tryJson = (t: string): Json | undefined => { try { return JSON.parse(t) as Json; } catch { return undefined; } };

/** Bytes cut at the given offsets (each taken modulo the length + 1), as a reader gets them; no empty pieces. */
function cutAt(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...cuts.map((c) => c % (buf.length + 1)), buf.length].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of at) { if (to > from) chunks.push(buf.subarray(from, to)); from = to; }
  return chunks;
}

// ---------- FHIR JSON and validateText ----------

const CONFORMANCE = join(sharedDir, 'conformance', 'fhir-test-cases-r4', 'cases');
const PDS_DATA = join(sharedDir, 'data', 'pds-sandbox');

/** Conformance inputs (JSON ones, read in place) + the synthetic UK patient + small bad texts. */
export const FHIR_SEEDS: string[] = [
  JSON.stringify(ukPatient()),
  '{"resourceType":"Patient","id":"x","active":true,"name":[{"family":"TESTPATIENT"}]}',
  '{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.5e3,"unit":"mg"}}',
  '{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}',
  '{"resourceType":"Patient", /* c */ "a":1,}', '{"a":"\\u00e9\\ud800","a":[1,2,,]}', '\ufeff[]', '',
  ...readSeedFiles(CONFORMANCE, (f) => f.endsWith('input.json')).map((t) => Buffer.from(t, 'latin1').toString('utf8')),
];
const FHIR_TOKENS = ['{', '}', '[', ']', ',', ':', '"', '\\', '\\u', '\\ud83d', 'null', 'true', '-0', '1e999', '0.', '01', '"resourceType"', '"Patient"', '"id"', '"extension"', '"url"', '"value"', '"_given"', '//', '/*', '*/', ' ', '\n', '\t', '\u0000', '\ufeff', '\u2028', 'é', '𝄞', '\ud800'];

export interface FhirInput { text: string; bytes: boolean }

/** JSON text for the reader: mutated conformance inputs, edited resources, tokens, raw bytes, deep nesting. */
const fhirInput: fc.Arbitrary<FhirInput> = fc.oneof(
  { weight: 6, arbitrary: textFrom(FHIR_SEEDS, FHIR_TOKENS).map((text) => ({ text, bytes: false })) },
  { weight: 6, arbitrary: jsonFrom(FHIR_SEEDS.map(tryJson).filter((j): j is Json => j !== undefined && j !== null && typeof j === 'object')).map((text) => ({ text, bytes: false })) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((u) => ({ text: Buffer.from(u).toString('latin1'), bytes: true })) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 100, max: 20000 }), fc.constantFrom('[', '{"a":', '[{"b":[')).map(([n, open]) => ({ text: open.repeat(n), bytes: false })) },
);

const asInput = (i: FhirInput): string | Buffer => (i.bytes ? Buffer.from(i.text, 'latin1') : i.text);

/** readJson: never throws; agrees with JSON.parse (whose only extra acceptances are duplicate keys and depth). */
export const fhirJsonTarget: ParserTarget<FhirInput> = {
  name: 'fhirJson',
  arbitrary: fhirInput,
  check(i) {
    const input = asInput(i);
    const r = readJson(input);
    let text = typeof input === 'string' ? input : input.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    let parsed: { v: unknown } | undefined;
    try { parsed = { v: JSON.parse(text) }; } catch { parsed = undefined; }
    if (r.ok) {
      assert.ok(parsed, 'readJson accepted a text JSON.parse rejects');
      assert.deepEqual(r.value, parsed.v, 'readJson must give the same value as JSON.parse');
    } else {
      assert.ok(r.problems.length > 0, 'rejected without a problem');
      for (const p of r.problems) assert.ok(typeof p.message === 'string' && p.message && Number.isInteger(p.line) && p.line >= 0);
      if (parsed) {
        const ids = new Set(r.problems.map((p) => p.messageId));
        assert.ok([...ids].every((id) => id === 'NHS_JSON_DUPLICATE_KEY' || id === 'NHS_JSON_TOO_DEEP'), `readJson rejected valid JSON: ${[...ids].join(',')}`);
      }
    }
  },
  encode: (i) => JSON.stringify(i),
  decode: (t) => JSON.parse(t) as FhirInput,
  seeds: FHIR_SEEDS.slice(0, 20).map((text) => ({ text, bytes: false })),
};

/** An OperationOutcome as the validator must always give one; a caught validator exception is a crash. */
function assertOutcome(o: OperationOutcome): void {
  assert.equal(o.resourceType, 'OperationOutcome');
  assert.ok(Array.isArray(o.issue) && o.issue.length > 0, 'an OperationOutcome has at least one issue');
  for (const x of o.issue) {
    assert.ok(['fatal', 'error', 'warning', 'information'].includes(x.severity));
    assert.equal(typeof x.code, 'string');
    // The validator turns its own exceptions into this issue so a flow survives; the fuzzer treats it as a crash.
    if ((x.diagnostics ?? '').startsWith('Validator failure')) throw new Error(x.diagnostics);
  }
  JSON.stringify(o);
}

function validatorTarget(name: string, profiles: string[], load: () => Promise<Validator>, unavailable?: () => string | undefined): ParserTarget<FhirInput> {
  let v: Validator | undefined;
  return {
    name,
    arbitrary: fhirInput,
    async init() { v ??= await load(); },
    check(i) {
      assert.ok(v, 'init() first');
      assertOutcome(v.validateText(asInput(i), profiles.length ? { profiles } : undefined));
    },
    encode: (i) => JSON.stringify(i),
    decode: (t) => JSON.parse(t) as FhirInput,
    seeds: FHIR_SEEDS.slice(0, 12).map((text) => ({ text, bytes: false })),
    ...(unavailable ? { unavailable } : {}),
  };
}

/** validateText against base FHIR R4 (resources' own StructureDefinitions). */
export const validateR4Target = validatorTarget('validateR4', [], async () => createValidator());

/** validateText against UKCore-Patient from ../shared/fhir-packages. */
export const validateUkCoreTarget = validatorTarget('validateUkCore', [UKCORE_PATIENT_URL],
  async () => createValidator(await FhirPackages.load({ folders: [join(sharedDir, 'fhir-packages')] })),
  () => (existsSync(join(sharedDir, 'fhir-packages')) ? undefined : '../shared/fhir-packages not present'));

// ---------- ESR GO rows ----------

const latin1 = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));
const ESR_SEEDS: string[] = [
  goFile(goName('GDR', 1), [personRow({ id: '1001' }), assignmentRow({ person: '1001', id: '2001' }), 'PRD~1001', 'ASD~2001']),
  goFile(goName('GOC', 2), [personRow({ id: '1002', termination: '20240230', ni: 'AB12' }), assignmentRow({ person: '1002', id: '2002', fte: 'x' })], { eol: '\r\n' }),
  'HDR~x\n\n  \nPRA~1\r\nXYZ~1~2\nTRL~9',
  ...readSeedFiles(join(sharedDir, 'data', 'esr-go-samples'), (f) => /\.DAT$|_DAT$/.test(f), 20_000),
];
const ESR_TOKENS = ['~', '\n', '\r\n', '\r', 'HDR', 'TRL', 'PRA', 'ASA', 'PRD', 'ASD', 'ABC', '20240101', '20240230', '20240101 120000', 'AB123456C', '9000000009', '1.5', ' ', '\u00a0', '\u00e9', '\u00ff', '"', ','];

export interface EsrInput { text: string; cuts: number[] }

/** All rows of a text through goRows (split into the given chunks), each checked with checkGoRow. */
async function esrCheck({ text, cuts }: EsrInput): Promise<void> {
  const chunks = cutAt(Buffer.from(text, 'latin1'), cuts);
  const rows: { line: number; fields: string[] }[] = [];
  for await (const batch of goRows(Readable.from(chunks, { objectMode: false }), { batch: 7 })) rows.push(...batch);
  // What the rows must be: one per physical line ('\n'; a CR before it dropped), blank lines skipped but counted.
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const want = lines.map((l, k) => ({ line: k + 1, fields: (l.endsWith('\r') ? l.slice(0, -1) : l).split('~') }))
    .filter((r) => !(r.fields.length === 1 && r.fields[0]!.trim() === ''));
  assert.deepEqual(rows, want, 'goRows must give one row per physical line, split on ~');
  for (const row of rows) {
    if (row.fields[0] === 'HDR' || row.fields[0] === 'TRL') continue;
    const c = checkGoRow('F.DAT', row);
    for (const x of c.issues) {
      assert.ok(new RegExp(`^F\\.DAT line ${row.line} column \\d+`).test(x.diagnostics ?? ''), `issue without line and column: ${x.diagnostics}`);
      assert.equal(x.severity, 'error');
    }
  }
}

/** ESR GO reader + row checker: never throws; every issue names its line and column. */
export const esrRowsTarget: ParserTarget<EsrInput> = {
  name: 'esrRows',
  arbitrary: fc.record({ text: textFrom(ESR_SEEDS, ESR_TOKENS, latin1), cuts: fc.array(fc.nat(), { maxLength: 6 }) }),
  check: esrCheck,
  encode: (i) => JSON.stringify(i),
  decode: (t) => JSON.parse(t) as EsrInput,
  seeds: ESR_SEEDS.map((text) => ({ text, cuts: [3] })),
};

// ---------- CSV map tables ----------

const CSV_SEEDS: string[] = [
  '# version: 2024.2\n# effectiveTime: 20240601\nsource system,source code,source display,target system,target code,target display,equivalence\nhttp://lab,GLU,Glucose,http://snomed.info/sct,22298006,Myocardial infarction,equivalent\nhttp://lab,NA,,,,,\n',
  'source code,target code,equivalence\n,123,equivalent\nA,22298006,sort-of\nB,22298006,wider\n',
  'Source_Code,"Target Code","Target Display"\r\n"A,1","22298006","say ""hi"""\r\n"multi\nline",22298006,x\r\n\r\n# comment\r\nC, 22298006 ,y\r\n',
  'source code,target code\n"A,1\n',
];
const CSV_TOKENS = [',', '"', '""', '\n', '\r\n', '\r', '#', ' ', 'source code', 'target code', 'equivalence', 'equivalent', 'wider', 'A', '22298006', '\ufeff', '\u0000', 'é'];

export interface CsvInput { text: string; cuts: number[] }

/** The bytes of a text (UTF-8), cut at the given offsets (a character may be split). */
export function utf8Chunks(text: string, cuts: number[]): Buffer[] {
  return cutAt(Buffer.from(text, 'utf8'), cuts);
}

/**
 * What a load gave, comparable with deepEqual: the table's provenance, issues and rows, or the
 * NhsError's code and message; anything else thrown is rethrown (a crash).
 */
export async function csvOutcome(load: Promise<SimpleMapTable>): Promise<{ table: unknown } | { error: { code: string; message: string } }> {
  try {
    const t = await load;
    // Rows live in private column arrays and Maps: JSON with Maps and Sets as entry lists.
    return { table: JSON.parse(JSON.stringify(t, (_k, v: unknown) => (v instanceof Map || v instanceof Set ? [...v] : v))) as unknown };
  } catch (e) {
    if (!(e instanceof NhsError)) throw e;
    return { error: { code: e.code, message: e.message } };
  }
}

/**
 * The CSV map parser (`csvMapTable`, which `loadCsvMap` feeds from a file) over the text's bytes
 * cut into chunks: only TERMINOLOGY_MAP_INVALID; every row issue has a line and a column; the
 * same table or error as from the whole text at once (chunk boundaries, CRLF and characters split
 * between chunks change nothing). The file wrapper itself: a property in
 * test/lib/terminology/properties.test.ts.
 */
async function csvCheck({ text, cuts }: CsvInput): Promise<void> {
  const got = await csvOutcome(csvMapTable(utf8Chunks(text, cuts), 'm.csv'));
  const decoded = Buffer.from(text, 'utf8').toString('utf8');
  const whole = await csvOutcome(csvMapTable([decoded], 'm.csv'));
  const physical = decoded.split('\n').length;
  if ('table' in got) {
    for (const x of (got.table as { issues: LoadIssue[] }).issues) {
      assert.ok(Number.isInteger(x.line) && x.line! >= 1 && x.line! <= physical, `issue line ${x.line} outside 1..${physical}`);
      assert.ok(Number.isInteger(x.column) && x.column! >= 1, `issue column ${x.column}`);
    }
  } else {
    const e = got.error;
    if (e.code !== 'TERMINOLOGY_MAP_INVALID') throw new Error(`${e.code}: ${e.message}`);
    // A problem with a row (not the file as a whole) says where.
    if (/quoted field/.test(e.message)) assert.match(e.message, /line \d+ column \d+/);
  }
  assert.deepEqual(got, whole, 'the same map whatever the chunks');
}

export const csvMapTarget: ParserTarget<CsvInput> = {
  name: 'csvMap',
  arbitrary: fc.record({ text: textFrom(CSV_SEEDS, CSV_TOKENS), cuts: fc.array(fc.nat(), { maxLength: 6 }) }),
  check: csvCheck,
  encode: (i) => JSON.stringify(i),
  decode: (t) => JSON.parse(t) as CsvInput,
  seeds: CSV_SEEDS.flatMap((text) => [{ text, cuts: [] }, { text, cuts: [1, 7, 40, 41] }]),
};

// ---------- HTTP responses (PDS, terminology server) ----------

export interface HttpInput { status: number; body: string; bytes: boolean; mode: number; retryAfter: string | null }

const STATUSES = [200, 200, 200, 200, 201, 400, 401, 403, 404, 408, 410, 422, 429, 500, 502, 503, 599, 302];

function httpInput(seeds: string[]): fc.Arbitrary<HttpInput> {
  const objs = seeds.map(tryJson).filter((j): j is Json => j !== undefined && j !== null && typeof j === 'object');
  return fc.record({
    status: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...STATUSES) }, { weight: 1, arbitrary: fc.integer({ min: 200, max: 599 }) }),
    body: fc.oneof(
      { weight: 6, arbitrary: jsonFrom(objs) },
      { weight: 3, arbitrary: textFrom(seeds, FHIR_TOKENS) },
      { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((j) => JSON.stringify(j) ?? '') },
      { weight: 1, arbitrary: fc.constantFrom('', 'null', '[]', '{}', '1', '"x"', 'true') },
    ),
    bytes: fc.boolean(),
    mode: fc.nat(7),
    retryAfter: fc.constantFrom(null, '0', '1', 'x', '99999999', 'Wed, 21 Oct 2015 07:28:00 GMT'),
  });
}

/** A fetch that answers with the fuzzed response (null-body statuses get no body). */
function stubFetch(i: HttpInput): typeof fetch {
  return (async () => {
    // A real answer arrives on a later turn of the event loop; answering within the same turn
    // would starve timers (the terminology client's AbortSignal.timeout ones are then never
    // collected, and the worker ran out of memory: a harness artefact, not a client leak).
    await new Promise<void>((r) => setImmediate(r));
    const nullBody = [204, 205, 304].includes(i.status);
    const body = nullBody ? null : i.bytes ? Buffer.from(i.body, 'latin1') : i.body;
    const headers = new Headers({ 'content-type': 'application/fhir+json' });
    if (i.retryAfter !== null) headers.set('retry-after', i.retryAfter);
    return new Response(body, { status: i.status, headers });
  });
}

const PDS_SEEDS: string[] = [
  '{"resourceType":"Patient","id":"9000000009","name":[{"family":"TESTPATIENT","given":["JANE"]}],"gender":"female","birthDate":"1980-01-01","address":[{"postalCode":"LS1 4AP"}]}',
  '{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"resource":{"resourceType":"Patient","id":"9000000009","meta":{"security":[{"code":"R"}]}},"search":{"score":0.8}}]}',
  ...readSeedFiles(PDS_DATA, (f) => f.endsWith('.json'), 30_000),
];

const PDS_CODES = /^PDS_[A-Z0-9_]+$/;

/** PdsService over a fuzzed HTTP answer: always a LookupResult with a code, never a throw. */
async function pdsCheck(i: HttpInput): Promise<void> {
  const s = new PdsService({ environment: 'custom', baseUrl: 'http://pds.invalid', ratePerSecond: 1000, retry: { maxAttempts: 1, budgetMs: 0 }, fetch: stubFetch(i) });
  try {
    const m = i.mode % 3;
    const r = m === 0 ? await s.retrieve('9000000009')
      : m === 1 ? await s.verify('9000000009', { family: 'TESTPATIENT', given: 'JANE', birthDate: '1980-01-01', gender: 'female', postcode: 'LS1 4AP' })
        : await s.trace({ family: 'TESTPATIENT', birthDate: '1980-01-01' });
    assert.match(r.code, PDS_CODES);
    assert.ok(['matched', 'not-matched', 'unavailable'].includes(r.route));
    assertOutcomeShape(r.outcome);
    const errors = r.outcome.issue.filter((x) => x.severity === 'error' || x.severity === 'fatal');
    assert.equal(r.route !== 'matched', errors.length > 0, 'an error outcome exactly when not matched');
    // msg.pds goes on a Node-RED message: plain JSON.
    JSON.stringify(r.pds);
    if (r.route === 'matched') assert.ok(r.pds.patient && typeof r.pds.patient === 'object' && !Array.isArray(r.pds.patient), 'a match carries a Patient object');
  } finally {
    s.close();
  }
}

function assertOutcomeShape(o: OperationOutcome): void {
  assert.equal(o.resourceType, 'OperationOutcome');
  assert.ok(Array.isArray(o.issue) && o.issue.length > 0);
}

export const pdsResponseTarget: ParserTarget<HttpInput> = {
  name: 'pdsResponse',
  arbitrary: httpInput(PDS_SEEDS),
  check: pdsCheck,
  encode: (i) => JSON.stringify(i),
  decode: (t) => JSON.parse(t) as HttpInput,
  seeds: PDS_SEEDS.slice(0, 12).flatMap((body) => [0, 1, 2].map((mode) => ({ status: 200, body, bytes: false, mode, retryAfter: null }))),
};

const TX_SEEDS: string[] = [
  '{"resourceType":"Parameters","parameter":[{"name":"name","valueString":"SNOMED CT"},{"name":"version","valueString":"http://snomed.info/sct/83821000000107/version/20240925"},{"name":"display","valueString":"Myocardial infarction"}]}',
  '{"resourceType":"Parameters","parameter":[{"name":"result","valueBoolean":true},{"name":"display","valueString":"Myocardial infarction"},{"name":"message","valueString":"ok"}]}',
  '{"resourceType":"ValueSet","expansion":{"total":2,"offset":0,"contains":[{"system":"http://snomed.info/sct","code":"22298006","display":"Myocardial infarction"},{"system":"http://snomed.info/sct","code":"73211009"}]}}',
  '{"resourceType":"Parameters","parameter":[{"name":"result","valueBoolean":true},{"name":"match","part":[{"name":"equivalence","valueCode":"equivalent"},{"name":"concept","valueCoding":{"system":"http://hl7.org/fhir/sid/icd-10","code":"I21.9","display":"MI"}}]}]}',
  '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"x"}]}',
];

const isStr = (v: unknown): boolean => v === undefined || typeof v === 'string';

/** TerminologyClient over a fuzzed HTTP answer: a well-typed result, or an NhsError TERMINOLOGY_*. */
async function txCheck(i: HttpInput): Promise<void> {
  const c = new TerminologyClient({ baseUrl: 'http://tx.invalid/fhir', retries: 0, rateLimit: 0, cacheTtlMs: 0, fetch: stubFetch(i) });
  const code = { system: 'http://snomed.info/sct', code: '22298006' };
  try {
    const m = i.mode % 6;
    if (m === 0) {
      const r = await c.lookup(code);
      assert.ok(isStr(r.name) && isStr(r.version) && isStr(r.display), 'lookup fields are strings');
    } else if (m === 1 || m === 2) {
      const r = m === 1 ? await c.validateCode(code) : await c.validateInValueSet('http://vs', code);
      assert.equal(typeof r.result, 'boolean');
      assert.ok(isStr(r.message) && isStr(r.display));
    } else if (m === 3 || m === 4) {
      const contains = m === 3 ? (await c.expand({ url: 'http://vs', count: 2 })).contains : await c.expandAll('http://vs', { pageSize: 2, max: 6 });
      assert.ok(Array.isArray(contains));
      for (const x of contains) assert.ok(x && typeof x === 'object' && isStr(x.system) && isStr(x.code) && isStr(x.display), 'expansion entries are codings');
    } else {
      const r = await c.translate({ ...code, url: 'http://cm' });
      assert.equal(typeof r.result, 'boolean');
      for (const t of r.targets) assert.ok(typeof t.code === 'string' && t.code && typeof t.system === 'string' && isStr(t.display));
    }
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    if (!(e instanceof NhsError) || !e.code.startsWith('TERMINOLOGY_')) throw e;
  }
}

export const terminologyResponseTarget: ParserTarget<HttpInput> = {
  name: 'terminologyResponse',
  arbitrary: httpInput(TX_SEEDS),
  check: txCheck,
  encode: (i) => JSON.stringify(i),
  decode: (t) => JSON.parse(t) as HttpInput,
  seeds: TX_SEEDS.flatMap((body) => [0, 1, 2, 3, 4, 5].map((mode) => ({ status: 200, body, bytes: false, mode, retryAfter: null }))),
};

 
export const PARSER_TARGETS: Record<string, ParserTarget<any>> = {
  fhirJson: fhirJsonTarget,
  validateR4: validateR4Target,
  validateUkCore: validateUkCoreTarget,
  esrRows: esrRowsTarget,
  csvMap: csvMapTarget,
  pdsResponse: pdsResponseTarget,
  terminologyResponse: terminologyResponseTarget,
};
