/**
 * `nhs-fhir-validate`: validates a FHIR R4 resource (object or JSON text) against R4 core and the
 * profiles of the loaded packages (e.g. UK Core), and routes it to "valid" or "invalid". The
 * verdict is `msg.outcome` (an OperationOutcome, on both outputs); `msg.fhir` says what was
 * checked: `{ profile, resourceType }` (DESIGN.md §2–3). Only an unusable package configuration
 * is a `done(err)`.
 */
import { NhsError } from '../lib/errors';
import { hasErrors, issue, operationOutcome, type OperationOutcome } from '../lib/outcome';
import { readJson } from '../lib/fhir/json';
import { createValidator, type Validator } from '../lib/fhir/validator';
import { RemoteBindingCache } from '../lib/terminology/remote-bindings';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { list, loadPackages, packageConfig, registerProfilesRoute } from './shared/fhir-packages';
import { catalog, type Translate } from './shared/i18n';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import type { TerminologyConfigNode } from './shared/terminology-access';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const FHIR_VALIDATE_CONFIG: ConfigSteps = [VERSION_ADDED];

type Terminology = 'strict' | 'lenient' | 'off';

/** Outcome for input that is not a resource at all (no validator involved). */
function notAResource(t: Translate, kind: string): OperationOutcome {
  return operationOutcome([issue('error', 'structure', t('fhir-validate.errors.notAResource', { kind }), undefined, 'NHS_FHIR_NOT_RESOURCE')]);
}

/** What was checked against: the configured profiles, else those the resource declares, else its core type. */
function profileOf(configured: string[], resource: unknown): string | string[] | null {
  const r = resource as { resourceType?: unknown; meta?: { profile?: unknown } } | undefined;
  const declared = Array.isArray(r?.meta?.profile) ? (r.meta.profile as unknown[]).filter((x): x is string => typeof x === 'string') : [];
  const applied = configured.length ? configured : declared;
  if (applied.length === 1) return applied[0]!;
  if (applied.length) return applied;
  return typeof r?.resourceType === 'string' ? `http://hl7.org/fhir/StructureDefinition/${r.resourceType}` : null;
}

export = function (RED: RED) {
  registerProfilesRoute(RED);
  RED.nodes.registerType('nhs-fhir-validate', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this, upgradeNode(this, raw, FHIR_VALIDATE_CONFIG));
  }, { settings: { nhsFhirValidateRegistry: { value: '', exportable: true } } });
};

function setup(RED: RED, node: Node, def: NodeDef): void {
  const t = catalog(RED, 'fhir-validate');
  const property = typeof def.property === 'string' && def.property ? def.property : 'payload';
  const profiles = list(def.profiles, /[\n\s]+/);
  const terminology: Terminology = def.terminology === 'strict' || def.terminology === 'off' ? def.terminology : 'lenient';
  const downgrade = list(def.downgrade, /[\n,;\s]+/);
  const cfg = packageConfig(RED, def.folders, def.packages, def.useCache);
  const status = new StatusReporter(node);
  const counts = { valid: 0, invalid: 0 };
  // Optional nhs-terminology config: bindings the local expander cannot enumerate go to its server.
  const txNode = typeof def.terminologyServer === 'string' && def.terminologyServer ? RED.nodes.getNode(def.terminologyServer) as TerminologyConfigNode | null : null;
  const txClient = txNode?.terminology().client;
  if (txNode && !txClient) node.warn(t('fhir-validate.errors.noTerminologyServer'));
  const remote = txClient && terminology !== 'off' ? new RemoteBindingCache(txClient) : undefined;

  status.idle(t('fhir-validate.status.loading'));
  const ready: Promise<Validator> = loadPackages(cfg).then((pkgs) => {
    const missing = pkgs.missing();
    if (missing.length) node.warn(t('fhir-validate.errors.packagesMissing', { packages: missing.map((m) => `${m.name}#${m.version}`).join(', ') }));
    for (const url of profiles) if (!pkgs.structureDefinition(url)) node.warn(t('fhir-validate.errors.profileMissing', { url }));
    status.idle(t('fhir-validate.status.ready', { count: pkgs.packages().length }));
    return createValidator(pkgs, { terminology, downgrade, nhsNumberVerificationLenient: def.nhsVerificationLenient === true, ...(remote ? { remoteCodes: remote.lookup } : {}) });
  });
  ready.catch((e: unknown) => {
    status.error(t('fhir-validate.status.loadFailed', { code: (e as { code?: string }).code ?? 'FHIR_PACKAGE_LOAD' }));
    node.error(e instanceof Error ? e.message : String(e));
  });

  /** The verdict on `value`, and the resource it read (undefined when there is none). */
  function judge(validator: Validator, value: unknown): { outcome: OperationOutcome; resource: unknown } {
    const opts = profiles.length ? { profiles } : undefined;
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      // Parsed here (same safe reader, same limits) so msg.fhir can name the resource; anything
      // the reader objects to goes through validateText for its full report.
      const parsed = readJson(value);
      if (parsed.ok && parsed.problems.length === 0) return { outcome: validator.validate(parsed.value, opts), resource: parsed.value };
      return { outcome: validator.validateText(value, opts), resource: undefined };
    }
    if (value === null || value === undefined) return { outcome: notAResource(t, 'empty'), resource: undefined };
    if (Array.isArray(value)) return { outcome: notAResource(t, 'an array'), resource: undefined };
    if (typeof value !== 'object') return { outcome: notAResource(t, `a ${typeof value}`), resource: undefined };
    return { outcome: validator.validate(value, opts), resource: value };
  }

  onInput(node, async (msg: NodeMessage) => {
    let validator: Validator;
    try {
      validator = await ready;
    } catch (e) {
      throw e instanceof NhsError ? e : new NhsError('FHIR_PACKAGE_LOAD', t('fhir-validate.errors.loadFailed'), { cause: e });
    }
    const value: unknown = RED.util.getMessageProperty(msg, property);
    let { outcome, resource } = judge(validator, value);
    if (remote) {
      // Codes the server was asked about for the first time: judged again with its answers.
      const r = await remote.flush();
      if (r.failed.length) node.warn(t('fhir-validate.errors.terminologyFailed', { count: r.failed.length, code: r.failed[0]!.code }));
      if (r.answered) ({ outcome, resource } = judge(validator, value));
    }
    const invalid = hasErrors(outcome);
    if (invalid) counts.invalid++;
    else counts.valid++;
    const type = (resource as { resourceType?: unknown } | undefined)?.resourceType;
    msg.outcome = outcome;
    msg.fhir = { profile: profileOf(profiles, resource), resourceType: typeof type === 'string' ? type : null };
    appendAudit(msg, { node: node.id, action: 'validate', outcome: invalid ? 'invalid' : 'valid', ref: msg._msgid });
    const text = (): string => t('fhir-validate.status.counts', counts);
    if (invalid) status.warn(text);
    else status.ok(text);
    return invalid ? [null, msg] : [msg, null];
  }, 'FHIR_VALIDATE_FAILED');

  onClose(node, () => status.clear());
}
