/**
 * `nhs-fhir-validate`: validates a FHIR R4 resource (object or JSON text) against R4 core and
 * the profiles of the loaded packages (e.g. UK Core), and routes it to "valid" or "invalid" with
 * `msg.fhir = { profile, outcome }` (an OperationOutcome, DESIGN.md §2–3). Bad data is a result
 * on the second output; only an unusable package configuration is a `done(err)`.
 */
import { isAbsolute, relative, resolve as resolvePath, sep } from 'node:path';
import { NhsError } from '../lib/errors';
import { hasErrors, issue, operationOutcome, type OperationOutcome } from '../lib/outcome';
import { readJson } from '../lib/fhir/json';
import { FhirPackages } from '../lib/fhir/packages';
import { createValidator, type Validator } from '../lib/fhir/validator';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

type Terminology = 'strict' | 'lenient' | 'off';

interface PackageConfig { folders: string[]; packages: string[]; useCache: boolean }

/** Split a user list (one per line, or `;`/`,`-separated for package ids). */
function list(v: unknown, separators: RegExp): string[] {
  return typeof v === 'string' ? v.split(separators).map((s) => s.trim()).filter(Boolean) : [];
}

/**
 * Package sets are loaded once per distinct configuration and shared by every node (and the
 * editor's profile list): R4 core alone is tens of MB. A failed load is not kept, so a fixed
 * folder is picked up by the next deploy or message.
 */
const loads = new Map<string, Promise<FhirPackages>>();
const MAX_LOADS = 8;

function loadPackages(cfg: PackageConfig): Promise<FhirPackages> {
  const key = JSON.stringify(cfg);
  let p = loads.get(key);
  if (!p) {
    p = FhirPackages.load({ folders: cfg.folders, packages: cfg.packages, useCache: cfg.useCache });
    loads.set(key, p);
    p.catch(() => loads.delete(key));
    while (loads.size > MAX_LOADS) loads.delete(loads.keys().next().value!);
  }
  return p;
}

function packageConfig(RED: RED, folders: unknown, packages: unknown, useCache: unknown): PackageConfig {
  const base = RED.settings.userDir ?? process.cwd();
  return {
    folders: list(folders, /[\n;]/).map((f) => (isAbsolute(f) ? f : resolvePath(base, f))),
    packages: list(packages, /[\n;,\s]+/),
    useCache: useCache !== false && useCache !== 'false',
  };
}

/** FHIR package id `name#version` (npm-style name, no path separators, no `..`). */
const PACKAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,213}#[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$/;

/**
 * Package configuration from an editor request: the editor may only name folders under the
 * Node-RED user directory (relative, no `..`) and package ids of the `name#version` form, so
 * the endpoint cannot be used to read other directories. Throws BAD_REQUEST.
 */
function requestPackageConfig(RED: RED, q: Record<string, unknown>): PackageConfig {
  const base = RED.settings.userDir;
  const folders = list(q.folders, /[\n;]/);
  if (folders.length && !base) throw new NhsError('BAD_REQUEST', 'package folders can only be listed when Node-RED has a user directory');
  const resolved = folders.map((f) => {
    if (isAbsolute(f) || f.split(/[\\/]/).includes('..')) throw new NhsError('BAD_REQUEST', 'package folders must be relative to the Node-RED user directory, without ..');
    const abs = resolvePath(base!, f);
    const rel = relative(resolvePath(base!), abs);
    if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) throw new NhsError('BAD_REQUEST', 'package folders must be inside the Node-RED user directory');
    return abs;
  });
  const packages = list(q.packages, /[\n;,\s]+/);
  if (packages.some((p) => !PACKAGE_ID.test(p) || p.includes('..'))) throw new NhsError('BAD_REQUEST', 'packages must be name#version ids');
  return { folders: resolved, packages, useCache: q.useCache !== false && q.useCache !== 'false' };
}

/** Fixed reply text per code: a load error's own message may quote paths or file contents. */
function profilesError(code: string): string {
  if (code === 'FHIR_PACKAGE_FOLDER') return 'a configured package folder does not exist or holds no FHIR package';
  if (code === 'FHIR_PACKAGE_INVALID') return 'a FHIR package file is not valid';
  return 'FHIR packages could not be loaded';
}

/** Outcome for input that is not a resource at all (no validator involved). */
function notAResource(kind: string): OperationOutcome {
  return operationOutcome([issue('error', 'structure', `Input is ${kind}, not a FHIR resource (expected a JSON object or JSON text)`, undefined, 'NHS_FHIR_NOT_RESOURCE')]);
}

export = function (RED: RED) {
  RED.httpAdmin.get('/nhs-interop/fhir/profiles', RED.auth.needsPermission('nhs-fhir-validate.read'), (req: { query: Record<string, unknown> }, res: { json(v: unknown): void; status(n: number): { json(v: unknown): void } }) => {
    let cfg: PackageConfig;
    try {
      cfg = requestPackageConfig(RED, req.query);
    } catch (e) {
      res.status(400).json({ error: e instanceof Error ? e.message : 'bad request', code: 'BAD_REQUEST' });
      return;
    }
    loadPackages(cfg).then(
      (p) => res.json({ packages: p.packages(), missing: p.missing(), profiles: p.profiles() }),
      (e: unknown) => {
        const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'FHIR_PACKAGE_LOAD';
        res.status(400).json({ error: profilesError(code), code });
      },
    );
  });

  RED.nodes.registerType('nhs-fhir-validate', function (this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    setup(RED, this, def);
  });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  const property = typeof def.property === 'string' && def.property ? def.property : 'payload';
  const profiles = list(def.profiles, /[\n\s]+/);
  const terminology: Terminology = def.terminology === 'strict' || def.terminology === 'off' ? def.terminology : 'lenient';
  const downgrade = list(def.downgrade, /[\n,;\s]+/);
  const cfg = packageConfig(RED, def.folders, def.packages, def.useCache);
  const status = new StatusReporter(node);
  let valid = 0;
  let invalid = 0;

  status.idle('loading packages');
  const ready: Promise<Validator> = loadPackages(cfg).then((pkgs) => {
    const missing = pkgs.missing();
    if (missing.length) node.warn(`FHIR packages not found: ${missing.map((m) => `${m.name}#${m.version}`).join(', ')}`);
    for (const url of profiles) if (!pkgs.structureDefinition(url)) node.warn(`profile not found in loaded packages: ${url}`);
    status.idle(`ready (${pkgs.packages().length} packages)`);
    return createValidator(pkgs, { terminology, downgrade, nhsNumberVerificationLenient: def.nhsVerificationLenient === true });
  });
  ready.catch((e: unknown) => {
    status.error(`packages: ${(e as { code?: string }).code ?? 'load failed'}`);
    node.error(e instanceof Error ? e.message : String(e));
  });

  onInput(node, async (msg: NodeMessage) => {
    let validator: Validator;
    try {
      validator = await ready;
    } catch (e) {
      throw e instanceof NhsError ? e : new NhsError('FHIR_PACKAGE_LOAD', 'FHIR packages could not be loaded', { cause: e });
    }
    const value = RED.util.getMessageProperty(msg, property);
    const opts = profiles.length ? { profiles } : undefined;
    let outcome: OperationOutcome;
    let resource: unknown = value;
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      // Parsed here (same safe reader, same limits) so msg.fhir.profile can name the resource;
      // anything the reader objects to goes through validateText for its full report.
      const parsed = readJson(value);
      if (parsed.ok && parsed.problems.length === 0) {
        resource = parsed.value;
        outcome = validator.validate(resource, opts);
      } else {
        resource = undefined;
        outcome = validator.validateText(value, opts);
      }
    } else if (value === null || value === undefined) outcome = notAResource('empty');
    else if (Array.isArray(value)) outcome = notAResource('an array');
    else if (typeof value !== 'object') outcome = notAResource(`a ${typeof value}`);
    else outcome = validator.validate(value, opts);

    const bad = hasErrors(outcome);
    if (bad) invalid++;
    else valid++;
    const r = resource as { resourceType?: unknown; meta?: { profile?: unknown } } | undefined;
    const declared = Array.isArray(r?.meta?.profile) ? (r.meta.profile as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    const applied = profiles.length ? profiles : declared;
    msg.fhir = {
      profile: applied.length === 1 ? applied[0] : applied.length ? applied : typeof r?.resourceType === 'string' ? `http://hl7.org/fhir/StructureDefinition/${r.resourceType}` : null,
      outcome,
    };
    appendAudit(msg, { node: 'nhs-fhir-validate', action: 'validate', outcome: bad ? 'invalid' : 'valid', ref: msg._msgid });
    (bad ? status.warn.bind(status) : status.ok.bind(status))(`valid ${valid} / invalid ${invalid}`);
    return bad ? [null, msg] : [msg, null];
  }, 'FHIR_VALIDATE_FAILED');

  onClose(node, () => status.clear());
}
