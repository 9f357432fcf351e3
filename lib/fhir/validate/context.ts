/**
 * Shared state of one validator (compiled profiles, ValueSet expansions, options) and of one
 * validation run (the issue list). Issues are built with the one builder, lib/outcome.ts.
 */
import { issue, type Issue, type IssueSeverity, type IssueType } from '../../outcome';
import { ValueSetExpander, type CodeCheck } from '../../terminology/valueset';
import { compileProfile, type CompiledProfile } from './compile';
import type { PackageSource } from './source';

export interface EngineOptions {
  terminology: 'strict' | 'lenient' | 'off';
  downgrade: Set<string>;
  nhsNumberVerificationLenient: boolean;
  maxDepth: number;
  allowExampleUrls: boolean;
  securityChecks: boolean;
  /** Asked when the local expander cannot tell (see ValidatorOptions.remoteCodes). */
  remoteCodes?: (valueSet: string, system: string, code: string) => CodeCheck;
}

/** Per-validator caches: each profile is compiled once, keyed by url|version. */
export class Engine {
  private readonly profiles = new Map<string, CompiledProfile | null>();
  /** Canonical URL → the type of definition the packages hold for it (null: none); see walk.ts. */
  readonly definitionTypes = new Map<string, string | null>();
  readonly expander: ValueSetExpander;
  constructor(readonly src: PackageSource, readonly opts: EngineOptions) {
    this.expander = new ValueSetExpander(src);
  }

  /** Compiled profile for a canonical URL or type name; undefined when no package has it. */
  profile(urlOrType: string): CompiledProfile | undefined {
    let hit = this.profiles.get(urlOrType);
    if (hit === undefined) {
      const sd = this.src.structureDefinition(urlOrType);
      try {
        hit = sd?.snapshot?.element?.length ? compileProfile(sd) : null;
      } catch {
        hit = null; // a broken snapshot is reported as "cannot be used", not thrown at the caller
      }
      this.profiles.set(urlOrType, hit);
    }
    return hit ?? undefined;
  }
}

/** The state of one validate() call. */
export class Run {
  readonly issues: Issue[] = [];
  /** Current element nesting, bounded by maxDepth so hostile input cannot exhaust the stack. */
  level = 0;
  constructor(readonly engine: Engine) {}

  add(severity: IssueSeverity, code: IssueType, message: string, path: string, messageId?: string, key?: string): void {
    const d = this.engine.opts.downgrade;
    if (d.size && (d.has(code) || (messageId !== undefined && d.has(messageId)) || (key !== undefined && d.has(key)))) severity = 'information';
    if (this.issues.length >= 1000) return; // bounded output for hostile input
    this.issues.push(issue(severity, code, message, path, messageId));
  }
}
