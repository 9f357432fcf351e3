/**
 * HTTP client for the PDS FHIR API (R4): `GET /Patient/{id}`, `GET /Patient?…` (search) and
 * `GET /Patient/{id}/RelatedPerson`, with the headers PDS requires — a fresh UUID `X-Request-ID`
 * per request (reused on each retry of that request, as PDS documents, so a retried request is
 * recognised), `X-Correlation-ID` from the flow, `NHSD-End-User-Organisation-ODS` when
 * configured and the bearer token for application-restricted access.
 *
 * Retries: 429 and 503 wait for `Retry-After`; other 5xx, network failures and timeouts back off
 * exponentially with jitter; all within a retry budget (attempts and total time). A 401 refreshes
 * the token once. What cannot be answered within the budget throws an NhsError (`PDS_UNAVAILABLE`,
 * `PDS_TIMEOUT`, `PDS_RATE_LIMITED`, an auth code) so the caller can route the message to its
 * "unavailable" output intact.
 */
import { randomUUID } from 'node:crypto';
import { NhsError, toNhsError } from '../../errors';
import type { TokenProvider } from './auth';
import type { RateLimiter } from './limiter';

export interface RetryPolicy {
  /** Attempts per request including the first (default 4). */
  maxAttempts: number;
  /** Give up when the next wait would end later than this after the first attempt (default 30 s). */
  budgetMs: number;
  /** First back-off (default 500 ms), doubled per attempt, with jitter. */
  baseDelayMs: number;
  /** Longest single back-off (default 8 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, budgetMs: 30_000, baseDelayMs: 500, maxDelayMs: 8_000 };

export interface PdsClientOptions {
  baseUrl: string;
  tokens?: TokenProvider | undefined;
  limiter?: RateLimiter | undefined;
  /** ODS code of the end-user organisation (NHSD-End-User-Organisation-ODS). */
  odsCode?: string | undefined;
  /** Until the response headers arrive (covers connect and TLS), default 5 s. */
  connectTimeoutMs?: number;
  /** Whole request including the body, default 15 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Largest response body accepted (default 5 MB). */
  maxBodyBytes?: number;
  fetch?: typeof fetch;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface PdsResponse {
  status: number;
  /** Parsed JSON body (a Patient, Bundle or OperationOutcome), or undefined. */
  body: unknown;
  requestId: string;
  attempts: number;
}

export interface PdsSearchParams {
  family?: string;
  given?: string | string[];
  gender?: string;
  /** PDS syntax: `eq2010-10-22`, `ge…`, `le…` (one or two for a range). */
  birthdate?: string | string[];
  'address-postalcode'?: string;
  'death-date'?: string;
  'general-practitioner'?: string;
  email?: string;
  phone?: string;
  '_fuzzy-match'?: boolean;
  '_exact-match'?: boolean;
  '_history'?: boolean;
  '_max-results'?: number;
}

/** `Retry-After` as milliseconds (delta-seconds or an HTTP date), or undefined. */
export function retryAfterMs(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

interface RawResponse { status: number; headers: Headers; text: string }

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => { setTimeout(r, ms); });

export class PdsClient {
  private readonly retry: RetryPolicy;
  /** HTTP requests sent, including retries (for status and tests). */
  requests = 0;

  constructor(private readonly o: PdsClientOptions) {
    this.retry = { ...DEFAULT_RETRY, ...o.retry };
  }

  getPatient(nhsNumber: string, correlationId?: string): Promise<PdsResponse> {
    return this.get(`/Patient/${encodeURIComponent(nhsNumber)}`, undefined, correlationId);
  }

  getRelatedPersons(nhsNumber: string, correlationId?: string): Promise<PdsResponse> {
    return this.get(`/Patient/${encodeURIComponent(nhsNumber)}/RelatedPerson`, undefined, correlationId);
  }

  search(params: PdsSearchParams, correlationId?: string): Promise<PdsResponse> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === '' || v === false) continue;
      for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
    }
    return this.get('/Patient', q, correlationId);
  }

  private async get(path: string, query: URLSearchParams | undefined, correlationId?: string): Promise<PdsResponse> {
    const requestId = randomUUID();
    const url = `${this.o.baseUrl.replace(/\/+$/, '')}${path}${query && [...query.keys()].length ? `?${query.toString()}` : ''}`;
    const started = Date.now();
    const random = this.o.random ?? Math.random;
    const sleep = this.o.sleep ?? defaultSleep;
    let refreshed = false;
    let last: NhsError | undefined;
    for (let attempt = 1; ; attempt++) {
      let wait: number | undefined;
      let token: string | undefined;
      try {
        await this.o.limiter?.acquire();
        token = this.o.tokens ? await this.o.tokens.get() : undefined;
        const res = await this.send(url, requestId, correlationId, token);
        if (res.status === 401 && this.o.tokens && token && !refreshed) {
          // An expired or revoked token: one refresh, then the same request (same X-Request-ID).
          refreshed = true;
          this.o.tokens.invalidate(token);
          attempt--;
          continue;
        }
        if (res.status === 429 || res.status >= 500) {
          last = new NhsError(res.status === 429 ? 'PDS_RATE_LIMITED' : 'PDS_UNAVAILABLE', `PDS answered HTTP ${res.status}`, { detail: { status: res.status, requestId } });
          const ra = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
          wait = ra;
        } else {
          return { status: res.status, body: this.readBody(res), requestId, attempts: attempt };
        }
      } catch (e) {
        const err = toNhsError(e, 'PDS_UNAVAILABLE');
        // Queue full, closed config, bad key, auth rejected: retrying cannot help.
        if (!['PDS_UNAVAILABLE', 'PDS_TIMEOUT', 'PDS_AUTH_UNAVAILABLE'].includes(err.code)) throw err;
        last = err;
      }
      if (wait === undefined) {
        const exp = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        wait = exp / 2 + random() * (exp / 2);
      }
      if (attempt >= this.retry.maxAttempts || Date.now() + wait - started > this.retry.budgetMs) {
        throw new NhsError(last.code === 'PDS_RATE_LIMITED' || last.code === 'PDS_TIMEOUT' ? last.code : 'PDS_UNAVAILABLE',
          `PDS unavailable after ${attempt} attempt(s): ${last.message}`, { cause: last, detail: { attempts: attempt, requestId } });
      }
      await sleep(wait);
    }
  }

  private async send(url: string, requestId: string, correlationId: string | undefined, token: string | undefined): Promise<RawResponse> {
    const headers: Record<string, string> = { accept: 'application/fhir+json', 'X-Request-ID': requestId };
    if (correlationId) headers['X-Correlation-ID'] = correlationId.slice(0, 200);
    if (this.o.odsCode) headers['NHSD-End-User-Organisation-ODS'] = this.o.odsCode;
    if (token) headers.authorization = `Bearer ${token}`;
    const ac = new AbortController();
    let phase: 'connect' | 'body' = 'connect';
    const connectTimer = setTimeout(() => ac.abort(), this.o.connectTimeoutMs ?? 5_000);
    const totalTimer = setTimeout(() => ac.abort(), this.o.timeoutMs ?? 15_000);
    this.requests++;
    try {
      const res = await (this.o.fetch ?? fetch)(url, { headers, signal: ac.signal });
      clearTimeout(connectTimer);
      phase = 'body';
      // Read the body here, under the whole-request timer.
      const text = await res.text();
      return { status: res.status, headers: res.headers, text };
    } catch (e) {
      if (ac.signal.aborted) throw new NhsError('PDS_TIMEOUT', `PDS request timed out (${phase === 'connect' ? 'waiting for a response' : 'reading the response'})`, { cause: e });
      throw new NhsError('PDS_UNAVAILABLE', 'PDS could not be reached', { cause: e });
    } finally {
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
    }
  }

  private readBody(res: RawResponse): unknown {
    const text = res.text;
    if (text.length > (this.o.maxBodyBytes ?? 5 * 1024 * 1024)) throw new NhsError('PDS_BAD_RESPONSE', 'PDS response body is larger than the limit');
    if (!text) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new NhsError('PDS_BAD_RESPONSE', `PDS answered HTTP ${res.status} with a body that is not JSON`);
    }
  }
}
