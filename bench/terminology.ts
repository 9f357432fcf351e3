/**
 * Map tables at scale: a generated 1,000,000-row CSV map and a 1,000,000-row RF2 extended map
 * (SNOMED CT → ICD-10 layout), each loaded by lib/terminology in its own child process (so peak
 * RSS is that load's), then looked up from memory. Baseline in the same run: a plain `Map.get`
 * over the same keys in a Map of the same size (the floor any O(1) table pays), and for the CSV load csv-parse alone
 * (parse only, no table). Not a test: `npm run bench:terminology`.
 * Targets (issue 12): load < 5 s each, >= 1,000,000 lookups/s, peak RSS recorded.
 * Figures go in bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { loadMapFile } from '../lib/terminology/map-loaders';
import { verhoeffDigit } from '../lib/terminology/sctid';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const LOOKUPS = 5_000_000;

const sctid = (n: number): string => { const stem = `${n + 100000}00`; return stem + String(verhoeffDigit(stem)); };

async function write(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  let buf = '';
  for (const l of lines) {
    buf += l + '\n';
    if (buf.length > 1 << 20) { if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r())); buf = ''; }
  }
  out.end(buf);
  await new Promise<void>((r) => out.on('finish', () => r()));
}

function* csvLines(): Generator<string> {
  yield '# version: bench-1';
  yield 'source system,source code,source display,target system,target code,target display,equivalence';
  for (let i = 0; i < ROWS; i++) yield `https://trust.example.nhs.uk/CodeSystem/lab,L${i},Local test ${i},http://snomed.info/sct,${sctid(i)},Synthetic concept ${i},equivalent`;
}

const RULES = ['TRUE', 'OTHERWISE TRUE', 'IFA 248153007 | Male (finding) |', 'IFA 445518008 | Age at onset of clinical finding (observable entity) | < 15.0 years'];
function* rf2Lines(): Generator<string> {
  yield 'id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tmapGroup\tmapPriority\tmapRule\tmapAdvice\tmapTarget\tcorrelationId\tmapCategoryId';
  // ~2.5 rows per concept: group 1 priorities 1..3, sometimes group 2; 1 % of rows inactive;
  // every 10th concept has an age or sex rule (the rest TRUE / OTHERWISE TRUE), as in the ICD-10
  // map, where such rules are the minority.
  let concept = 0;
  for (let i = 0; i < ROWS;) {
    const c = sctid(concept++);
    const ruled = concept % 10 === 0; // concept index i with i % 10 === 9
    const n = ruled ? 3 : 1 + (concept % 4);
    for (let k = 0; k < n && i < ROWS; k++, i++) {
      const group = k < 3 ? 1 : 2;
      const priority = k < 3 ? k + 1 : 1;
      const rule = k === 0 && ruled ? RULES[2 + ((concept / 10) % 2)]! : ruled && (k === n - 1 || group === 2) ? 'OTHERWISE TRUE' : 'TRUE';
      yield [`00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, '20240925', i % 100 === 7 ? '0' : '1', '999000031000000106', '447562003', c, group, priority, rule, `ALWAYS X${k}`, `X${(concept % 99).toString().padStart(2, '0')}.${k}`, '447561005', '447637006'].join('\t');
    }
  }
}

interface PhaseResult { rows: number; fileMB: number; loadMs: number; size: number; lookupsPerSec: number; baselinePerSec: number; baselineLoadMs?: number; ruledPerSec?: number; freePerSec?: number; maxRssMB: number; heapMB: number }

async function phase(kind: 'csv' | 'rf2', file: string): Promise<PhaseResult> {
  const t0 = performance.now();
  const table = await loadMapFile(file);
  const loadMs = performance.now() - t0;
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  const heapMB = process.memoryUsage().heapUsed / 1e6;
  const keys: string[] = [];
  for (let i = 0; i < 100_000; i++) keys.push(kind === 'csv' ? `L${(i * 7919) % ROWS}` : sctid((i * 7919) % table.size));
  // warm-up
  let hits = 0;
  for (let i = 0; i < 200_000; i++) if (table.lookup(keys[i % keys.length]!)) hits++;
  hits = 0;
  const ctx = { age: 40, sex: 'female' as const };
  const t1 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) if (table.lookup(keys[i % keys.length]!, undefined, kind === 'rf2' ? ctx : undefined)) hits++;
  const lookupMs = performance.now() - t1;
  if (hits < LOOKUPS * 0.95) throw new Error(`only ${hits} hits`);
  // RF2: the worst case, lookups of concepts whose rules must be evaluated against the context.
  let ruledPerSec: number | undefined;
  let freePerSec: number | undefined;
  if (kind === 'rf2') {
    const free = keys.filter((_, i) => ((i * 7919) % table.size) % 10 !== 9);
    const t4 = performance.now();
    let hf = 0;
    for (let i = 0; i < LOOKUPS; i++) if (table.lookup(free[i % free.length]!, undefined, ctx)) hf++;
    freePerSec = LOOKUPS / ((performance.now() - t4) / 1000);
    if (hf < LOOKUPS * 0.95) throw new Error('rule-free lookups missed');
    const ruled: string[] = [];
    for (let i = 0; ruled.length < 10_000; i++) if (((i * 7919) % table.size) % 10 === 9) ruled.push(sctid((i * 7919) % table.size));
    const t3 = performance.now();
    let h = 0;
    for (let i = 0; i < LOOKUPS / 5; i++) if (table.lookup(ruled[i % ruled.length]!, undefined, ctx)) h++;
    ruledPerSec = LOOKUPS / 5 / ((performance.now() - t3) / 1000);
    if (h < (LOOKUPS / 5) * 0.95) throw new Error('ruled lookups missed');
  }
  // Baseline: Map.get over the same keys, in a Map as large as the table.
  const m = new Map<string, number>();
  for (let i = 0; i < table.size; i++) m.set(kind === 'csv' ? `L${i}` : sctid(i), 1);
  let b = 0;
  const t2 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) b += m.get(keys[i % keys.length]!) ?? 0;
  const baseMs = performance.now() - t2;
  if (b !== LOOKUPS) throw new Error('baseline');
  // csv-parse alone, after our load and lookups so its garbage does not weigh on ours.
  let baselineLoadMs: number | undefined;
  if (kind === 'csv') {
    const t = performance.now();
    let n = 0;
    for await (const _ of createReadStream(file).pipe(parse({ comment: '#', relax_column_count: true }))) n++;
    baselineLoadMs = performance.now() - t;
    if (n !== ROWS + 1) throw new Error(`csv-parse rows ${n}`);
  }
  return {
    rows: ROWS, fileMB: statSync(file).size / 1e6, loadMs, size: table.size,
    lookupsPerSec: LOOKUPS / (lookupMs / 1000), baselinePerSec: LOOKUPS / (baseMs / 1000),
    ...(baselineLoadMs !== undefined ? { baselineLoadMs } : {}),
    ...(ruledPerSec !== undefined ? { ruledPerSec } : {}),
    ...(freePerSec !== undefined ? { freePerSec } : {}),
    maxRssMB, heapMB,
  };
}

async function main(): Promise<void> {
  const [, , mode, kind, file] = process.argv;
  if (mode === '--phase') {
    process.stdout.write(JSON.stringify(await phase(kind as 'csv' | 'rf2', file!)));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nhs-bench-terminology-'));
  try {
    const csv = join(dir, 'lab-map.csv');
    const rf2 = join(dir, 'der2_iisssccRefset_ExtendedMapSnapshot_GB1000000_20240925.txt');
    let t = performance.now();
    await write(csv, csvLines());
    await write(rf2, rf2Lines());
    console.log(`generated ${ROWS.toLocaleString()} rows each in ${((performance.now() - t) / 1000).toFixed(1)} s; ${cpus().length} cpus, load avg ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    for (const [kind, file] of [['csv', csv], ['rf2', rf2]] as const) {
      t = performance.now();
      const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--phase', kind, file], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (r.status !== 0) throw new Error(r.stderr);
      const p = JSON.parse(r.stdout) as PhaseResult;
      console.log(`${kind}: ${p.fileMB.toFixed(0)} MB, ${p.size.toLocaleString()} source codes; load ${(p.loadMs / 1000).toFixed(2)} s${p.baselineLoadMs !== undefined ? ` (csv-parse alone ${(p.baselineLoadMs / 1000).toFixed(2)} s)` : ''}; ` +
        `${Math.round(p.lookupsPerSec).toLocaleString()} lookups/s (Map.get baseline ${Math.round(p.baselinePerSec).toLocaleString()}/s, ratio ${(p.lookupsPerSec / p.baselinePerSec).toFixed(2)})${p.ruledPerSec !== undefined ? `; concepts without rules ${Math.round(p.freePerSec ?? 0).toLocaleString()}/s, with age/sex rules ${Math.round(p.ruledPerSec).toLocaleString()}/s` : ''}; peak RSS ${p.maxRssMB.toFixed(0)} MB, heap ${p.heapMB.toFixed(0)} MB` +
        `; targets: load < 5 s ${p.loadMs < 5000 ? 'met' : 'NOT met'}, >= 1,000,000 lookups/s ${p.lookupsPerSec >= 1e6 ? 'met' : 'NOT met'}`);
    }
    console.log(`load avg after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
