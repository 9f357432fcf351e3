/**
 * Hook for the FHIR validator (issue 12 item 5): ValueSet bindings the local ValueSetExpander
 * answers `unknown` for (SNOMED CT, dm+d, LOINC value sets defined by filters) can be checked by a
 * terminology server through `ValueSet/$validate-code`. The validator is synchronous, so this is a
 * two-step cache: `prefetch` asks the server (coalesced, cached by the client) for the codings a
 * resource binds, and `check` answers from what was fetched with the same `CodeCheck` result the
 * expander gives — `unknown` when the server was not asked or could not answer. Not wired into
 * nodes/fhir-validate yet.
 */
import type { TerminologyClient } from './client';
import type { CodeCheck } from './valueset';

export interface BindingQuery { valueSet: string; system?: string; code: string }

const key = (q: BindingQuery): string => `${q.valueSet}\u0000${q.system ?? ''}\u0000${q.code}`;

/** Server answers for ValueSet membership, filled asynchronously, read synchronously. */
export class RemoteBindingCache {
  private readonly answers = new Map<string, CodeCheck>();
  constructor(private readonly client: TerminologyClient, private readonly max = 100_000) {}

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
