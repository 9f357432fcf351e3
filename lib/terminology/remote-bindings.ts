/**
 * Hook for the FHIR validator (issue 12 item 5): ValueSet bindings the local ValueSetExpander
 * answers `unknown` for (SNOMED CT, dm+d, LOINC value sets defined by filters) can be checked by a
 * terminology server through `ValueSet/$validate-code`. The validator is synchronous, so this is a
 * two-step cache: `prefetch` asks the server (coalesced, cached by the client) for the codings a
 * resource binds, and `check` answers from what was fetched with the same `CodeCheck` result the
 * expander gives — `unknown` when the server was not asked or could not answer. `nhs-fhir-validate`
 * uses it through `lookup` (ValidatorOptions.remoteCodes: answers, and notes what it could not)
 * and `flush` (asks the server about what was noted), then validates again when answers came.
 */
import type { TerminologyClient } from './client';
import type { CodeCheck } from './valueset';

export interface BindingQuery { valueSet: string; system?: string; code: string }

const key = (q: BindingQuery): string => `${q.valueSet}\u0000${q.system ?? ''}\u0000${q.code}`;

/** Server answers for ValueSet membership, filled asynchronously, read synchronously. */
export class RemoteBindingCache {
  private readonly answers = new Map<string, CodeCheck>();
  /** Queries `lookup` could not answer since the last `flush`. */
  private readonly pending = new Map<string, BindingQuery>();
  /** When a query last failed at the server: not asked again for `retryAfterMs`. */
  private readonly failedAt = new Map<string, number>();
  constructor(private readonly client: TerminologyClient, private readonly max = 100_000, private readonly retryAfterMs = 60_000, private readonly now: () => number = Date.now) {}

  /**
   * For `ValidatorOptions.remoteCodes`: the answer fetched so far; an unanswered query is noted
   * for the next `flush` (unless it failed at the server within `retryAfterMs`).
   */
  readonly lookup = (valueSet: string, system: string, code: string): CodeCheck => {
    const q = { valueSet, system, code };
    const k = key(q);
    const r = this.answers.get(k);
    if (r) return r;
    const failed = this.failedAt.get(k);
    if ((failed === undefined || this.now() - failed >= this.retryAfterMs) && this.pending.size < 1000) this.pending.set(k, q);
    return 'unknown';
  };

  /** Ask the server about the queries noted by `lookup`; `answered` counts the new answers. */
  async flush(): Promise<{ answered: number; failed: { query: BindingQuery; code: string }[] }> {
    const todo = [...this.pending.values()];
    this.pending.clear();
    if (todo.length === 0) return { answered: 0, failed: [] };
    const r = await this.prefetch(todo);
    for (const f of r.failed) {
      if (this.failedAt.size >= this.max) this.failedAt.clear();
      this.failedAt.set(key(f.query), this.now());
    }
    return { answered: todo.length - r.failed.length, failed: r.failed };
  }

  /**
   * Ask the server about each query not yet answered. A query the server fails on (404 for an
   * unknown value set, 5xx after retries) stays `unknown`; the failures are returned, not thrown,
   * so validation goes on with what could be checked.
   */
  async prefetch(queries: BindingQuery[]): Promise<{ asked: number; failed: { query: BindingQuery; code: string }[] }> {
    const todo = queries.filter((q) => !this.answers.has(key(q)));
    const failed: { query: BindingQuery; code: string }[] = [];
    await Promise.all(todo.map(async (q) => {
      try {
        const r = await this.client.validateInValueSet(q.valueSet, { system: q.system ?? '', code: q.code });
        if (this.answers.size < this.max) this.answers.set(key(q), r.result ? 'ok' : 'not-in-vs');
      } catch (e) {
        failed.push({ query: q, code: typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'ERROR' });
      }
    }));
    return { asked: todo.length, failed };
  }

  /** The server's answer if fetched, else `unknown` (same meaning as ValueSetExpander.check). */
  check(valueSet: string, system: string | undefined, code: string): CodeCheck {
    return this.answers.get(key({ valueSet, system, code })) ?? 'unknown';
  }
}
