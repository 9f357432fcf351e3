#!/usr/bin/env node
/**
 * `nhs-pds`: the PDS FHIR API (R4) on the command line.
 *
 *   nhs-pds get <nhs-number> [--env sandbox|integration|production|custom] [--base-url url]
 *   nhs-pds search --family f --birthdate [eq|ge|le]YYYY-MM-DD [--given g] [--gender g]
 *                  [--postcode p] [--fuzzy] [--max-results n] [--env …] [--base-url url]
 *   nhs-pds jwks --key private.pem --kid <kid>       the public JWKS to register with NHS England
 *   nhs-pds stand-in [--port n] [--data dir]          the local PDS STAND-IN (synthetic demo
 *                                                      patients, or PDS's published sandbox data)
 *
 * Signed-JWT auth (integration, production, or custom with a key): `--key file --kid id`, the API
 * key from the NHS_PDS_API_KEY environment variable (kept off the command line); optional
 * `--token-url`, `--ods`. Prints `{ pds, outcome }` as JSON. Exit status: 0 found/matched,
 * 1 not found / invalid / no match, 2 error (usage, PDS unavailable, authentication).
 */
import { readFileSync } from 'node:fs';
import { isPdsEnvironment, type PdsEnvironment } from '../lib/nhs/pds/environments';
import { publicJwks } from '../lib/nhs/pds/jwt';
import { PdsService, type LookupResult } from '../lib/nhs/pds/lookup';
import { PdsStandIn } from '../lib/nhs/pds/stand-in';
import { demoStandInOptions } from '../lib/nhs/pds/demo';

const USAGE = `usage:
  nhs-pds get <nhs-number> [--env sandbox|integration|production|custom] [--base-url url]
  nhs-pds search --family f --birthdate [eq|ge|le]YYYY-MM-DD [--given g] [--gender g] [--postcode p]
                 [--fuzzy] [--max-results n] [--env ...] [--base-url url]
  nhs-pds jwks --key private.pem --kid kid
  nhs-pds stand-in [--port n] [--data dir]
auth (integration/production/custom): --key private.pem --kid kid [--token-url url] [--ods code],
  API key in NHS_PDS_API_KEY`;

class UsageError extends Error {}

const FLAGS = new Set(['--fuzzy']);

function parse(argv: string[]): { cmd: string; positional: string[]; opts: Map<string, string> } {
  const [cmd = '', ...rest] = argv;
  const positional: string[] = [];
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) { positional.push(a); continue; }
    if (FLAGS.has(a)) { opts.set(a, 'true'); continue; }
    const v = rest[++i];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
    opts.set(a, v);
  }
  return { cmd, positional, opts };
}

function service(opts: Map<string, string>): PdsService {
  const baseUrl = opts.get('--base-url');
  const envArg = opts.get('--env') ?? (baseUrl ? 'custom' : 'sandbox');
  if (!isPdsEnvironment(envArg)) throw new UsageError('--env must be sandbox, integration, production or custom');
  const environment: PdsEnvironment = envArg;
  if (environment === 'custom' && !baseUrl) throw new UsageError('--env custom needs --base-url');
  const keyFile = opts.get('--key');
  const kid = opts.get('--kid');
  const apiKey = process.env.NHS_PDS_API_KEY;
  const auth = keyFile && kid && apiKey ? { apiKey, kid, privateKey: readFileSync(keyFile, 'utf8') } : undefined;
  const tokenUrl = opts.get('--token-url');
  return new PdsService({
    environment, ...(baseUrl ? { baseUrl } : {}), ...(tokenUrl ? { tokenUrl } : {}), auth,
    odsCode: opts.get('--ods'), retry: { maxAttempts: 3, budgetMs: 20_000 },
  });
}

function print(r: LookupResult): number {
  process.stdout.write(`${JSON.stringify({ pds: r.pds, outcome: r.outcome }, null, 2)}\n`);
  if (r.route !== 'matched') process.stderr.write(`${r.route}: ${r.code}\n`);
  return r.route === 'matched' ? 0 : r.route === 'not-matched' ? 1 : 2;
}

async function main(argv: string[]): Promise<number> {
  const { cmd, positional, opts } = parse(argv);
  switch (cmd) {
    case 'get': {
      if (positional.length !== 1) throw new UsageError('get needs one NHS number');
      const s = service(opts);
      try { return print(await s.retrieve(positional[0]!)); } finally { s.close(); }
    }
    case 'search': {
      const birthDate = opts.get('--birthdate');
      const max = opts.get('--max-results');
      if (max !== undefined && !/^\d+$/.test(max)) throw new UsageError('--max-results must be a number');
      const s = service(opts);
      try {
        return print(await s.trace({
          family: opts.get('--family'), given: opts.get('--given'), gender: opts.get('--gender'), birthDate,
          postcode: opts.get('--postcode'), fuzzy: opts.has('--fuzzy'), ...(max ? { maxResults: Number(max) } : {}),
        }));
      } finally { s.close(); }
    }
    case 'jwks': {
      const key = opts.get('--key');
      const kid = opts.get('--kid');
      if (!key || !kid) throw new UsageError('jwks needs --key and --kid');
      process.stdout.write(`${JSON.stringify(publicJwks(readFileSync(key, 'utf8'), kid), null, 2)}\n`);
      return 0;
    }
    case 'stand-in': {
      const data = opts.get('--data');
      const standIn = new PdsStandIn(data ? { dataDir: data, ...demoStandInOptions() } : demoStandInOptions());
      await standIn.start(Number(opts.get('--port') ?? 0));
      process.stdout.write(`PDS STAND-IN (not PDS) at ${standIn.baseUrl}\n`);
      await new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve); });
      await standIn.stop();
      return 0;
    }
    default:
      throw new UsageError(cmd ? `unknown command ${cmd}` : 'no command');
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`${e.message}\n${USAGE}\n`);
    else process.stderr.write(`nhs-pds: ${(e as { code?: string }).code ?? 'error'}: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
