#!/usr/bin/env node
/**
 * `nhs-hl7-to-fhir`: HL7 v2 messages → FHIR R4 UK Core transaction Bundles on the command line.
 *
 *   nhs-hl7-to-fhir <file…> [--out dir] [--validate] [--package dir]… [--cached name#version]…
 *                   [--no-cache] [--cache dir] [--tables file] [--zone tz]
 *
 * Each file may hold one message or a batch (FHS/BHS…BTS/FTS, or messages back to back); every
 * message gives one Bundle. Without --out each Bundle is printed as one line of JSON (NDJSON);
 * with --out each is written to `<dir>/<file>-<n>.json`. Problems go to stderr, one line per
 * message, without patient data. Exit status: 0 all transformed (and, with --validate, no
 * validation errors); 1 a message could not be transformed or a Bundle has validation errors;
 * 2 the command itself cannot run (usage, unreadable tables, packages that cannot be loaded).
 * --validate uses the same package lookup as nhs-fhir-validate; with no --package/--cached it
 * looks for UK Core STU2 (fhir.r4.ukcore.stu2#2.0.2) in the package cache.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeHl7Bytes, splitBatch } from '../lib/hl7';
import { defaultCacheDir } from '../lib/fhir/packages';
import { createValidator, type Validator } from '../lib/fhir/validator';
import { isError, type OperationOutcome } from '../lib/outcome';
import { loadPackages, runCli, UsageError } from './shared';
import { DEFAULT_TABLES, hl7ToFhir, loadTables, type MappingTables } from '../lib/transform';

const USAGE = `usage:
  nhs-hl7-to-fhir <file>... [--out dir] [--validate] [--package dir]... [--cached name#version]...
                  [--no-cache] [--cache dir] [--tables file] [--zone tz]`;
const UKCORE_STU2 = 'fhir.r4.ukcore.stu2#2.0.2';
const MAX_FILE_BYTES = 256 * 1024 * 1024;

interface Args {
  inputs: string[]; out?: string; validate: boolean; folders: string[]; cached: string[];
  useCache: boolean; cacheDir: string; tables?: string; zone?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { inputs: [], validate: false, folders: [], cached: [], useCache: true, cacheDir: defaultCacheDir() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--out': a.out = value(); break;
      case '--validate': a.validate = true; break;
      case '--package': case '--packages': a.folders.push(value()); break;
      case '--cached': a.cached.push(value()); break;
      case '--cache': a.cacheDir = value(); break;
      case '--no-cache': a.useCache = false; break;
      case '--tables': a.tables = value(); break;
      case '--zone': a.zone = value(); break;
      default:
        if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
        a.inputs.push(arg);
    }
  }
  if (a.inputs.length === 0) throw new UsageError('no file given');
  return a;
}

/** First error of an outcome as `expression diagnostics` (no patient data: our diagnostics carry none). */
function firstProblem(o: OperationOutcome): string {
  const i = o.issue.find(isError);
  if (!i) return '';
  const d = i.diagnostics ?? '';
  const e = i.expression?.[0] ?? '';
  return e && !d.includes(e) ? `${e} ${d}`.trim() : d;
}

async function run(args: Args): Promise<number> {
  const tables: MappingTables = args.tables ? loadTables(args.tables) : DEFAULT_TABLES;
  let validator: Validator | undefined;
  if (args.validate) {
    const packages = args.folders.length || args.cached.length ? args.cached : [UKCORE_STU2];
    const pkgs = await loadPackages({ folders: args.folders, packages, useCache: args.useCache, cacheDir: args.cacheDir });
    validator = createValidator(pkgs);
  }
  if (args.out) mkdirSync(args.out, { recursive: true });
  let failed = 0;
  let done = 0;
  for (const file of args.inputs) {
    let text: string;
    try {
      if (statSync(file).size > MAX_FILE_BYTES) throw new UsageError(`${file} is larger than ${MAX_FILE_BYTES} bytes`);
      text = decodeHl7Bytes(readFileSync(file)).text;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`cannot read ${file}`);
    }
    const batch = splitBatch(text);
    for (const i of batch.issues.filter(isError)) process.stderr.write(`${file}: ${i.diagnostics ?? ''}\n`);
    if (batch.issues.some(isError)) failed++;
    batch.messages.forEach((m, n) => {
      const where = `${file}#${n + 1}`;
      const r = hl7ToFhir(m, { tables, zone: args.zone });
      const id = r.controlId ? ` (${r.controlId})` : '';
      if (!r.bundle) {
        failed++;
        process.stderr.write(`FAIL ${where}${id}: ${firstProblem(r.outcome)}\n`);
        return;
      }
      const warnings = r.outcome.issue.filter((i) => i.severity === 'warning').length;
      if (validator) {
        const o = validator.validate(r.bundle);
        if (o.issue.some(isError)) {
          failed++;
          process.stderr.write(`INVALID ${where}${id}: ${o.issue.filter(isError).length} validation error(s): ${firstProblem(o)}\n`);
        }
      }
      if (warnings) process.stderr.write(`warning ${where}${id}: ${warnings} mapping warning(s)\n`);
      const json = JSON.stringify(r.bundle);
      if (args.out) writeFileSync(join(args.out, `${basename(file).replace(/\.[^.]*$/, '')}-${n + 1}.json`), `${JSON.stringify(r.bundle, null, 2)}\n`);
      else process.stdout.write(`${json}\n`);
      done++;
    });
  }
  process.stderr.write(`${done} Bundle(s), ${failed} failure(s)\n`);
  return failed > 0 ? 1 : 0;
}

runCli('nhs-hl7-to-fhir', USAGE, async (argv) => run(parseArgs(argv)));
