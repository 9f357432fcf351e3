/** What the command-line tools share: the usage error, the FHIR package load, and `main`'s exit codes. */
import { FhirPackages } from '../lib/fhir/packages';

/** A bad command line: printed with the tool's usage text, exit code 2. */
export class UsageError extends Error {}

/** Load FHIR packages, warning on stderr about each dependency that is not found. */
export async function loadPackages(opts: Parameters<typeof FhirPackages.load>[0]): Promise<FhirPackages> {
  const pkgs = await FhirPackages.load(opts);
  for (const m of pkgs.missing()) process.stderr.write(`warning: package ${m.name}#${m.version} (needed by ${m.requiredBy}) not found\n`);
  return pkgs;
}

/**
 * Run a tool: `-h`/`--help` prints `usage`; a {@link UsageError} prints its message and `usage`,
 * any other error its `code` and message; both exit 2. Otherwise the exit code is `body`'s.
 */
export function runCli(name: string, usage: string, body: (argv: string[]) => Promise<number>): void {
  const argv = process.argv.slice(2);
  const main = async (): Promise<number> => {
    if (argv.includes('-h') || argv.includes('--help')) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    try {
      return await body(argv);
    } catch (e) {
      if (e instanceof UsageError) {
        if (e.message) process.stderr.write(`${name}: ${e.message}\n`);
        process.stderr.write(`${usage}\n`);
        return 2;
      }
      const code = (e as { code?: string }).code;
      process.stderr.write(`${name}: ${code ? `${code}: ` : ''}${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    }
  };
  void main().then((rc) => { process.exitCode = rc; });
}
