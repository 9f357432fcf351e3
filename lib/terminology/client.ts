/**
 * FHIR R4 terminology service client (FHIR R4 §4.1 "Terminology Service"): `CodeSystem/$lookup`,
 * `CodeSystem/$validate-code`, `ValueSet/$validate-code`, `ValueSet/$expand` (paged with
 * `offset`/`count`), `ConceptMap/$translate`, over Node's own fetch. OAuth2 client credentials
 * (RFC 6749 §4.4; the NHS England Terminology Server's system-to-system mode) with the token cached
 * until shortly before it expires; identical concurrent requests share one HTTP request; answers
 * are kept in an LRU cache with a TTL; requests are spaced to a rate limit, time out, and are
 * retried with exponential back-off (5xx, 429 honouring `Retry-After`, network errors). Failures
 * are `NhsError`s with a code per cause: TERMINOLOGY_UNAUTHORIZED (401 after one token refresh),
 * TERMINOLOGY_NOT_FOUND (404), TERMINOLOGY_UNPROCESSABLE (422 / 400), TERMINOLOGY_RATE_LIMITED
 * (429 after retries), TERMINOLOGY_SERVER_ERROR (5xx after retries), TERMINOLOGY_TIMEOUT,
 * TERMINOLOGY_NETWORK, TERMINOLOGY_AUTH_FAILED (token endpoint), TERMINOLOGY_BAD_RESPONSE.
 */
import { NhsError } from '../errors';
import type { MapTarget } from './maps';
import { toEquivalence } from './maps';
import { LruCache } from './lru';

export interface ClientCredentials { tokenUrl: string; clientId: string; clientSecret: string; scope?: string }

export interface TerminologyClientOptions {
  /** FHIR base URL, e.g. `https://ontology.nhs.uk/production1/fhir`. */
  baseUrl: string;
  auth?: ClientCredentials;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Retries after the first attempt for 5xx / 429 / network errors (default 2). */
  retries?: number;
  /** First back-off delay; doubles per retry, with jitter (default 250 ms). */
  backoffMs?: number;
  /** Longest `Retry-After` honoured before giving up (default 30 s). */
  maxRetryAfterMs?: number;
  /** Requests per second (0 = no limit; default 20). */
  rateLimit?: number;
  cacheSize?: number;
  /** Default 10 minutes; 0 disables the cache. */
  cacheTtlMs?: number;
  fetch?: typeof fetch;
}

/** FHIR Parameters resource (R4), as far as we read it. */
export interface Parameters { resourceType: 'Parameters'; parameter?: Parameter[] }
export interface Parameter { name: string; valueString?: string; valueBoolean?: boolean; valueCode?: string; valueUri?: string; valueCoding?: { system?: string; code?: string; display?: string }; part?: Parameter[]; [k: string]: unknown }

export interface CodeParams { system: string; code: string; version?: string; display?: string }
export interface LookupResult { name?: string; version?: string; display?: string; parameters: Parameters }
export interface ValidateResult { result: boolean; message?: string; display?: string }
export interface ExpandParams { url: string; filter?: string; offset?: number; count?: number }
export interface ExpansionPage { total?: number; offset: number; contains: { system?: string; code?: string; display?: string }[] }
export interface TranslateParams { code: string; system: string; url?: string; source?: string; target?: string; targetSystem?: string }
export interface TranslateResult { result: boolean; message?: string; targets: MapTarget[] }

export interface ClientStats { requests: number; tokenRequests: number; cacheHits: number; coalesced: number; retries: number }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Parameters.parameter as a list of objects (a server's answer is untrusted JSON). */
function params(p: unknown): Parameter[] {
  const list = (p as { parameter?: unknown } | null)?.parameter;
  return Array.isArray(list) ? (list as unknown[]).filter((x): x is Parameter => !!x && typeof x === 'object') : [];
}

function param(p: Parameters, name: string): Parameter | undefined {
  return params(p).find((x) => x.name === name);
}

/** A string from untrusted JSON, else undefined. */
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A client for one terminology server. Safe to share between nodes. */
export class TerminologyClient {
  readonly stats: ClientStats = { requests: 0, tokenRequests: 0, cacheHits: 0, coalesced: 0, retries: 0 };
  private readonly base: string;
  private readonly cache: LruCache<unknown>;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private token: { value: string; until: number } | undefined;
  private tokenPending: Promise<string> | undefined;
  private nextSlot = 0;
  private readonly f: typeof fetch;

  constructor(private readonly o: TerminologyClientOptions) {
    let u: URL;
    try { u = new URL(o.baseUrl); } catch { throw new NhsError('TERMINOLOGY_CONFIG', 'terminology server URL is not a URL'); }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new NhsError('TERMINOLOGY_CONFIG', 'terminology server URL must be http(s)');
    this.base = o.baseUrl.replace(/\/+$/, '');
    this.cache = new LruCache(o.cacheSize ?? 5000, o.cacheTtlMs ?? 600_000);
    this.f = o.fetch ?? fetch;
  }

  /** CodeSystem/$lookup: display, name and version of a code. */
  async lookup(p: CodeParams): Promise<LookupResult> {
    const r = await this.get<Parameters>('CodeSystem/$lookup', { system: p.system, code: p.code, version: p.version });
    const s = (n: string): string | undefined => str(param(r, n)?.valueString);
    return { name: s('name'), version: s('version'), display: s('display'), parameters: r };
  }

  /** CodeSystem/$validate-code: is the code in the code system (and the display right)? */
  async validateCode(p: CodeParams & { url?: string }): Promise<ValidateResult> {
    return validateResult(await this.get<Parameters>('CodeSystem/$validate-code', { url: p.url ?? p.system, code: p.code, version: p.version, display: p.display }));
  }

  /** ValueSet/$validate-code: is the code a member of the value set? */
  async validateInValueSet(url: string, p: CodeParams): Promise<ValidateResult> {
    return validateResult(await this.get<Parameters>('ValueSet/$validate-code', { url, system: p.system, code: p.code, systemVersion: p.version, display: p.display }));
  }

  /** One page of ValueSet/$expand. */
  async expand(p: ExpandParams): Promise<ExpansionPage> {
    const vs = await this.get<{ expansion?: { total?: number; offset?: number; contains?: ExpansionPage['contains'] } }>('ValueSet/$expand', {
      url: p.url, filter: p.filter, offset: p.offset === undefined ? undefined : String(p.offset), count: p.count === undefined ? undefined : String(p.count),
    });
    const e: { total?: unknown; offset?: unknown; contains?: unknown } = vs.expansion && typeof vs.expansion === 'object' ? vs.expansion : {};
    // Only codings go on: an entry that is not an object, or fields that are not strings, are dropped.
    const contains = (Array.isArray(e.contains) ? (e.contains as unknown[]) : []).filter((c): c is Record<string, unknown> => !!c && typeof c === 'object' && !Array.isArray(c))
      .map((c) => ({ ...(str(c.system) !== undefined ? { system: str(c.system) } : {}), ...(str(c.code) !== undefined ? { code: str(c.code) } : {}), ...(str(c.display) !== undefined ? { display: str(c.display) } : {}) }));
    return { offset: typeof e.offset === 'number' ? e.offset : p.offset ?? 0, contains, ...(typeof e.total === 'number' ? { total: e.total } : {}) };
  }

  /** Every code of a value set, paging through `offset`/`count` (stops at `max`). */
  async expandAll(url: string, opts: { pageSize?: number; max?: number; filter?: string } = {}): Promise<ExpansionPage['contains']> {
    const size = opts.pageSize ?? 1000;
    const max = opts.max ?? 100_000;
    const out: ExpansionPage['contains'] = [];
    for (let offset = 0; out.length < max;) {
      const page = await this.expand({ url, offset, count: size, ...(opts.filter ? { filter: opts.filter } : {}) });
      out.push(...page.contains);
      offset += page.contains.length;
      if (page.contains.length === 0 || (page.total !== undefined && offset >= page.total) || page.contains.length < size) break;
    }
    if (out.length > max) out.length = max;
    return out;
  }

  /** ConceptMap/$translate (R4 parameters `url`, `system`, `code`, `source`, `target`, `targetsystem`). */
  async translate(p: TranslateParams): Promise<TranslateResult> {
    const r = await this.get<Parameters>('ConceptMap/$translate', { url: p.url, system: p.system, code: p.code, source: p.source, target: p.target, targetsystem: p.targetSystem });
    const targets: MapTarget[] = [];
    for (const m of params(r)) {
      if (m.name !== 'match') continue;
      const parts = params({ parameter: m.part });
      const eq = toEquivalence(str(parts.find((x) => x.name === 'equivalence')?.valueCode)) ?? 'relatedto';
      const c = parts.find((x) => x.name === 'concept')?.valueCoding as Record<string, unknown> | undefined;
      const code = str(c?.code);
      if (!c || !code) continue;
      const display = str(c.display);
      targets.push({ system: str(c.system) ?? '', code, equivalence: eq, ...(display ? { display } : {}) });
    }
    const message = str(param(r, 'message')?.valueString);
    return { result: param(r, 'result')?.valueBoolean === true, targets, ...(message ? { message } : {}) };
  }

  /**
   * GET `[base]/[path]?query` with cache, coalescing, rate limit, auth and retries. Absent query
   * values are left out; the cache key is the full URL.
   */
  async get<T>(path: string, query: Record<string, string | undefined>): Promise<T> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.append(k, v);
    const url = `${this.base}/${path}?${q.toString()}`;
    const hit = this.cache.get(url);
    if (hit !== undefined) { this.stats.cacheHits++; return hit as T; }
    const pending = this.inflight.get(url);
    if (pending) { this.stats.coalesced++; return pending as Promise<T>; }
    const p = this.fetchJson(url).then((v) => { this.cache.set(url, v); return v; }).finally(() => this.inflight.delete(url));
    this.inflight.set(url, p);
    return p as Promise<T>;
  }

  /** Forget cached answers and the token (e.g. after a configuration change). */
  reset(): void {
    this.cache.clear();
    this.token = undefined;
  }

  private async fetchJson(url: string): Promise<unknown> {
    const retries = this.o.retries ?? 2;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      await this.slot();
      const headers: Record<string, string> = { accept: 'application/fhir+json' };
      if (this.o.auth) headers.authorization = `Bearer ${await this.bearer()}`;
      let res: Response;
      try {
        this.stats.requests++;
        res = await this.f(url, { headers, signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000) });
      } catch (e) {
        const timeout = (e as { name?: string }).name === 'TimeoutError';
        if (attempt < retries) { this.stats.retries++; await sleep(this.backoff(attempt)); continue; }
        throw new NhsError(timeout ? 'TERMINOLOGY_TIMEOUT' : 'TERMINOLOGY_NETWORK', timeout ? `terminology server did not answer within ${this.o.timeoutMs ?? 10_000} ms` : 'terminology server unreachable', { cause: e });
      }
      if (res.ok) {
        let v: unknown;
        try {
          v = await res.json();
        } catch (e) {
          throw new NhsError('TERMINOLOGY_BAD_RESPONSE', 'terminology server answered with something that is not JSON', { cause: e, detail: { status: res.status } });
        }
        // Every operation answers with a resource: null, an array or a bare value is not one.
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new NhsError('TERMINOLOGY_BAD_RESPONSE', 'terminology server answered with JSON that is not a resource', { detail: { status: res.status } });
        return v;
      }
      const body = await res.text().catch(() => '');
      const detail = { status: res.status, ...outcomeDetail(body) };
      if (res.status === 401 && this.o.auth && !refreshed) {
        // A token can be revoked or expire early: fetch a new one once, then give up.
        refreshed = true;
        this.token = undefined;
        attempt--;
        continue;
      }
      if ((res.status === 429 || res.status >= 500) && attempt < retries) {
        const wait = res.status === 429 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
        if (wait !== undefined && wait > (this.o.maxRetryAfterMs ?? 30_000)) {
          throw new NhsError('TERMINOLOGY_RATE_LIMITED', `terminology server asked to wait ${Math.round(wait / 1000)} s (over the limit)`, { detail });
        }
        this.stats.retries++;
        await sleep(wait ?? this.backoff(attempt));
        continue;
      }
      throw statusError(res.status, detail);
    }
  }

  private backoff(attempt: number): number {
    const base = this.o.backoffMs ?? 250;
    return Math.min(10_000, base * 2 ** attempt) * (0.75 + Math.random() * 0.5);
  }

  /** Space requests to the rate limit (a simple schedule: each request takes the next slot). */
  private async slot(): Promise<void> {
    const rate = this.o.rateLimit ?? 20;
    if (rate <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.nextSlot);
    this.nextSlot = at + 1000 / rate;
    if (at > now) await sleep(at - now);
  }

  private async bearer(): Promise<string> {
    if (this.token && this.token.until > Date.now()) return this.token.value;
    if (!this.tokenPending) {
      this.tokenPending = this.fetchToken().finally(() => { this.tokenPending = undefined; });
    }
    return this.tokenPending;
  }

  private async fetchToken(): Promise<string> {
    const a = this.o.auth!;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: a.clientId, client_secret: a.clientSecret });
    if (a.scope) form.set('scope', a.scope);
    this.stats.tokenRequests++;
    let res: Response;
    try {
      res = await this.f(a.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form.toString(), signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000) });
    } catch (e) {
      throw new NhsError('TERMINOLOGY_AUTH_FAILED', 'token endpoint unreachable', { cause: e });
    }
    if (!res.ok) throw new NhsError('TERMINOLOGY_AUTH_FAILED', `token endpoint refused the client credentials (HTTP ${res.status})`, { detail: { status: res.status } });
    const j = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (typeof j.access_token !== 'string' || !j.access_token) throw new NhsError('TERMINOLOGY_AUTH_FAILED', 'token endpoint gave no access_token');
    const life = Number(j.expires_in);
    // Renew a little early so a request never leaves with a token about to expire.
    const seconds = Number.isFinite(life) && life > 0 ? life : 300;
    this.token = { value: j.access_token, until: Date.now() + Math.max(1, seconds - Math.min(30, seconds / 10)) * 1000 };
    return j.access_token;
  }
}

function validateResult(p: Parameters): ValidateResult {
  const out: ValidateResult = { result: param(p, 'result')?.valueBoolean === true };
  const m = str(param(p, 'message')?.valueString);
  const d = str(param(p, 'display')?.valueString);
  if (m) out.message = m;
  if (d) out.display = d;
  return out;
}

/** `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(v: string | null): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** Issue codes of an OperationOutcome body (no diagnostics: they may echo request values). */
function outcomeDetail(body: string): { issues?: string[] } {
  try {
    const o = JSON.parse(body) as { resourceType?: string; issue?: { code?: string }[] };
    if (o.resourceType === 'OperationOutcome' && Array.isArray(o.issue)) return { issues: o.issue.map((i) => String(i.code ?? '')).slice(0, 10) };
  } catch { /* not JSON */ }
  return {};
}

function statusError(status: number, detail: Record<string, unknown>): NhsError {
  if (status === 401 || status === 403) return new NhsError('TERMINOLOGY_UNAUTHORIZED', `terminology server refused access (HTTP ${status})`, { detail });
  if (status === 404) return new NhsError('TERMINOLOGY_NOT_FOUND', 'terminology server: not found (unknown code system, value set, map or code)', { detail });
  if (status === 422 || status === 400) return new NhsError('TERMINOLOGY_UNPROCESSABLE', `terminology server could not process the request (HTTP ${status})`, { detail });
  if (status === 429) return new NhsError('TERMINOLOGY_RATE_LIMITED', 'terminology server rate limit: still refused after retries', { detail });
  if (status >= 500) return new NhsError('TERMINOLOGY_SERVER_ERROR', `terminology server error (HTTP ${status}) after retries`, { detail });
  return new NhsError('TERMINOLOGY_HTTP', `terminology server answered HTTP ${status}`, { detail });
}
