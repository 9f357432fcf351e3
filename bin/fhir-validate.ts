#!/usr/bin/env node
/**
 * `nhs-fhir-validate`: the FHIR R4 / UK Core validator on the command line.
 *
 *   nhs-fhir-validate <file|dir…> [--profile url]… [--package dir]… [--cached name#version]…
 *                     [--no-cache] [--cache dir] [--terminology strict|lenient|off] [--downgrade id,…] [--json]
 *   nhs-fhir-validate install <package.tgz | name#version> [--registry url] [--force] [--cache dir]
 *
 * One file: prints its OperationOutcome. A directory (or several files): one line per file and a
 * total. Exit status 0 when no file has an error or fatal issue, 1 when any has, 2 when the
 * command itself cannot run (usage, packages that cannot be loaded).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { hasErrors, isError, issue, operationOutcome, type OperationOutcome } from '../lib/outcome';
import { defaultCacheDir } from '../lib/fhir/packages';
import { installPackageTgz } from '../lib/fhir/tgz';
import { installFromRegistry, type RegistryOptions } from '../lib/fhir/registry';
import { createValidator } from '../lib/fhir/validator';
import { loadPackages, runCli, UsageError } from './shared';

const USAGE = `usage:
  nhs-fhir-validate <file|dir>... [--profile url]... [--package dir]... [--cached name#version]...
                    [--no-cache] [--cache dir] [--terminology strict|lenient|off] [--downgrade id,...] [--json]
  nhs-fhir-validate install <package.tgz | name#version> [--registry url] [--force] [--cache dir]`;

interface Args {
  inputs: string[]; profiles: string[]; folders: string[]; cached: string[]; downgrade: string[];
  useCache: boolean; cacheDir: string; terminology: 'strict' | 'lenient' | 'off'; json: boolean;
  registry?: string; force: boolean;
}

const MAX_FILE_BYTES = 64 * 1024 * 1024;

function parseArgs(argv: string[]): Args {
  const a: Args = { inputs: [], profiles: [], folders: [], cached: [], downgrade: [], useCache: true, cacheDir: defaultCacheDir(), terminology: 'lenient', json: false, force: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--profile': a.profiles.push(value()); break;
      case '--package': a.folders.push(value()); break;
      case '--cached': a.cached.push(value()); break;
      case '--cache': a.cacheDir = value(); break;
      case '--no-cache': a.useCache = false; break;
      case '--downgrade': a.downgrade.push(...value().split(',').filter(Boolean)); break;
      case '--json': a.json = true; break;
      case '--registry': a.registry = value(); break;
      case '--force': a.force = true; break;
      case '--terminology': {
        const v = value();
        if (v !== 'strict' && v !== 'lenient' && v !== 'off') throw new UsageError(`--terminology must be strict, lenient or off`);
        a.terminology = v;
        break;
      }
      default:
        if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
        a.inputs.push(arg);
    }
  }
  return a;
}

/** JSON files under `p` (recursively), skipping package manifests and indexes. */
function jsonFiles(p: string): string[] {
  const st = statSync(p);
  if (st.isFile()) return [p];
  const out: string[] = [];
  for (const name of readdirSync(p).sort()) {
    const f = join(p, name);
    if (statSync(f).isDirectory()) out.push(...jsonFiles(f));
    else if (name.endsWith('.json') && name !== 'package.json' && !name.startsWith('.')) out.push(f);
  }
  return out;
}

function firstProblem(o: OperationOutcome): string {
  const i = o.issue.find(isError);
  return i ? `${i.expression?.[0] ?? ''} ${i.diagnostics ?? ''}`.trim() : '';
}

async function validate(args: Args): Promise<number> {
  if (args.inputs.length === 0) throw new UsageError('no file or directory given');
  const pkgs = await loadPackages({ folders: args.folders, packages: args.cached, useCache: args.useCache, cacheDir: args.cacheDir });
  for (const p of args.profiles) if (!pkgs.structureDefinition(p)) process.stderr.write(`warning: profile ${p} not found in the loaded packages\n`);
  const validator = createValidator(pkgs, { terminology: args.terminology, downgrade: args.downgrade });
  const opts = args.profiles.length ? { profiles: args.profiles } : undefined;

  const files: string[] = [];
  for (const input of args.inputs) {
    try {
      files.push(...jsonFiles(input));
    } catch {
      throw new UsageError(`cannot read ${input}`);
    }
  }
  const single = files.length === 1 && args.inputs.length === 1 && statSync(args.inputs[0]!).isFile();
  let failed = 0;
  const all: { file: string; outcome: OperationOutcome }[] = [];
  for (const f of files) {
    // A file far beyond the validator's 10 MiB limit is not read into memory at all.
    const outcome = statSync(f).size > MAX_FILE_BYTES
      ? operationOutcome([issue('fatal', 'too-long', `File is larger than ${MAX_FILE_BYTES} bytes`)])
      : validator.validateText(readFileSync(f), opts);
    const bad = hasErrors(outcome);
    if (bad) failed++;
    if (args.json) all.push({ file: f, outcome });
    else if (single) process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
    else {
      const errors = outcome.issue.filter(isError).length;
      const warnings = outcome.issue.filter((i) => i.severity === 'warning').length;
      const name = relative(process.cwd(), f) || f;
      process.stdout.write(`${bad ? 'FAIL' : 'ok  '} ${name}${bad ? `  ${errors} error(s), ${warnings} warning(s): ${firstProblem(outcome)}` : warnings ? `  ${warnings} warning(s)` : ''}\n`);
    }
  }
  if (args.json) process.stdout.write(`${JSON.stringify(single ? all[0]!.outcome : all, null, 2)}\n`);
  else if (!single) process.stdout.write(`\n${files.length} file(s): ${files.length - failed} valid, ${failed} with errors\n`);
  return failed > 0 ? 1 : 0;
}

runCli('nhs-fhir-validate', USAGE, async (argv) => {
  if (argv[0] === 'install') {
    const args = parseArgs(argv.slice(1));
    if (args.inputs.length !== 1) throw new UsageError('install needs exactly one package .tgz or <name>#<version>');
    const what = args.inputs[0]!;
    if (what.endsWith('.tgz') || existsSync(what)) {
      const ref = installPackageTgz(what, args.cacheDir);
      process.stdout.write(`installed ${ref.name}#${ref.version} into ${args.cacheDir}\n`);
      return 0;
    }
    const opts: RegistryOptions = { cacheDir: args.cacheDir, force: args.force, onPackage: (r, status) => process.stdout.write(`${status} ${r.name}#${r.version}\n`) };
    if (args.registry) opts.registry = args.registry;
    const refs = await installFromRegistry(what, opts);
    process.stdout.write(`${refs.length} package(s) ready in ${args.cacheDir}\n`);
    return 0;
  }
  return validate(parseArgs(argv));
});
