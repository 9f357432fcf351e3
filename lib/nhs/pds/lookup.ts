/**
 * The PDS lookups behind `nhs-pds-lookup` and `nhs-pds`: verify (NHS number + demographics),
 * retrieve (Patient by NHS number) and trace (application-restricted search → NHS number), each
 * giving one of three routes — matched, not matched, unavailable — with an OperationOutcome that
 * carries PDS's own `Spine-ErrorOrWarningCode` coding when PDS sent one, and the suite's code
 * (OperationOutcome message-id extension) for Catch nodes and tests.
 */
import { NhsError } from '../../errors';
import { issue, operationOutcome, type Issue, type OperationOutcome } from '../../outcome';
import { checkNhsNumber, normaliseNhsNumber } from '../nhs-number';
import { TokenProvider } from './auth';
import { PdsClient, type PdsClientOptions, type PdsResponse, type PdsSearchParams, type RetryPolicy } from './client';
import { pdsEndpoint, type PdsEnvironment } from './environments';
import { RateLimiter } from './limiter';
import { compareDemographics, isRestricted, normaliseDate, normaliseGender, withoutRestrictedFields, type DemographicField, type Demographics } from './patient';

export const SPINE_CODE_SYSTEM = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';

export type PdsRoute = 'matched' | 'not-matched' | 'unavailable';

/** `msg.pds` (DESIGN §2: a result, never a verdict). */
export interface PdsResult {
  nhsNumber: string | null;
  supersededFrom?: string;
  restricted: boolean;
  score?: number;
  patient: Record<string, unknown> | null;
  differences?: DemographicField[];
  environment: PdsEnvironment;
}

export interface LookupResult {
  route: PdsRoute;
  /** The suite's code: PDS_FOUND, PDS_NOT_FOUND, PDS_UNAVAILABLE… */
  code: string;
  /** PDS's Spine-ErrorOrWarningCode when it sent one. */
  spineCode?: string;
  outcome: OperationOutcome;
  pds: PdsResult;
  /** The subject for the audit record (never for logs). */
  subject: string | null;
  /** HTTP requests this lookup made (0 for a local verdict or a cache hit). */
  requests: number;
}

export interface TraceQuery extends Demographics {
  fuzzy?: boolean;
  exact?: boolean;
  history?: boolean;
  maxResults?: number;
  /**
   * Lowest PDS match score (Bundle.entry.search.score, 0–1) accepted for a single match; a lower
   * one goes to *not matched* (PDS_LOW_SCORE) so no NHS number is written back unreviewed
   * (hazard HAZ-001 C6). 0 or absent: any score is accepted.
   */
  minScore?: number;
}

export interface PdsServiceOptions {
  environment: PdsEnvironment;
  baseUrl?: string;
  tokenUrl?: string;
  /** Credentials for signed-JWT auth (integration, production, custom with auth). */
  auth?: { apiKey: string; privateKey: string; kid: string } | undefined;
  odsCode?: string | undefined;
  ratePerSecond?: number;
  maxQueue?: number;
  /** Cache TTL in seconds; 0 (default) = no cache. Restricted patients are never cached. */
  cacheTtlS?: number;
  cacheMax?: number;
  retry?: Partial<RetryPolicy>;
  connectTimeoutMs?: number;
  timeoutMs?: number;
  onQueue?: (queued: number) => void;
  fetch?: typeof fetch;
}

/** PDS's Spine code (and its diagnostics) from an OperationOutcome body. */
export function spineCodeOf(body: unknown): { code?: string; display?: string; diagnostics?: string } {
  const iss = (body as { resourceType?: unknown; issue?: unknown })?.resourceType === 'OperationOutcome' ? (body as { issue: unknown }).issue : undefined;
  const first = Array.isArray(iss) ? (iss[0] as { details?: { coding?: unknown }; diagnostics?: unknown } | undefined) : undefined;
  const coding = Array.isArray(first?.details?.coding) ? (first.details.coding as { system?: unknown; code?: unknown; display?: unknown }[]).find((c) => c?.system === SPINE_CODE_SYSTEM) : undefined;
  const out: { code?: string; display?: string; diagnostics?: string } = {};
  if (typeof coding?.code === 'string') out.code = coding.code;
  if (typeof coding?.display === 'string' && !coding.display.startsWith('#(')) out.display = coding.display;
  // PDS diagnostics echo request values (e.g. the birthdate searched for): kept short, and never logged by the nodes.
  if (typeof first?.diagnostics === 'string' && !first.diagnostics.startsWith('#(')) out.diagnostics = first.diagnostics.slice(0, 300);
  return out;
}

function pdsIssue(severity: Issue['severity'], type: Issue['code'], code: string, text: string, spine?: { code?: string; display?: string }): Issue {
  const i = issue(severity, type, text, undefined, code);
  if (spine?.code) i.details = { coding: [{ system: SPINE_CODE_SYSTEM, code: spine.code, ...(spine.display ? { display: spine.display } : {}) }] };
  return i;
}

interface CacheEntry { at: number; patient: Record<string, unknown>; id: string }

/**
 * One PDS connection: client, token provider, rate limiter and optional cache, shared by every
 * node on the same config (and used alone by the CLI).
 */
export class PdsService {
  readonly environment: PdsEnvironment;
  readonly client: PdsClient;
  readonly tokens: TokenProvider | undefined;
  readonly limiter: RateLimiter;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly ttlMs: number;
  private readonly cacheMax: number;

  constructor(o: PdsServiceOptions) {
    this.environment = o.environment;
    const ep = pdsEndpoint(o.environment, { ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}), ...(o.tokenUrl ? { tokenUrl: o.tokenUrl } : {}), auth: !!o.auth });
    const needsAuth = ep.tokenUrl !== undefined;
    if (needsAuth && !o.auth) throw new NhsError('PDS_AUTH_CONFIG', `the ${o.environment} environment needs an API key, a private key and a key id`);
    this.tokens = needsAuth && o.auth ? new TokenProvider({ tokenUrl: ep.tokenUrl!, ...o.auth, ...(o.fetch ? { fetch: o.fetch } : {}) }) : undefined;
    this.limiter = new RateLimiter(o.ratePerSecond ?? 5, o.maxQueue ?? 1000, o.onQueue);
    const copts: PdsClientOptions = { baseUrl: ep.baseUrl, tokens: this.tokens, limiter: this.limiter, odsCode: o.odsCode };
    if (o.retry) copts.retry = o.retry;
    if (o.connectTimeoutMs) copts.connectTimeoutMs = o.connectTimeoutMs;
    if (o.timeoutMs) copts.timeoutMs = o.timeoutMs;
    if (o.fetch) copts.fetch = o.fetch;
    this.client = new PdsClient(copts);
    this.ttlMs = Math.max(0, o.cacheTtlS ?? 0) * 1000;
    this.cacheMax = o.cacheMax ?? 10_000;
  }

  close(): void {
    this.limiter.close();
    this.cache.clear();
  }

  private base(nhsNumber: string | null): PdsResult {
    return { nhsNumber, restricted: false, patient: null, environment: this.environment };
  }

  private fail(route: PdsRoute, code: string, type: Issue['code'], text: string, pds: PdsResult, subject: string | null, requests: number, spine?: { code?: string; display?: string; diagnostics?: string }): LookupResult {
    return { route, code, ...(spine?.code ? { spineCode: spine.code } : {}), outcome: operationOutcome([pdsIssue('error', type, code, spine?.diagnostics ? `${text}: ${spine.diagnostics}` : text, spine)]), pds, subject, requests };
  }

  private unavailable(e: unknown, pds: PdsResult, subject: string | null, requests: number): LookupResult {
    const err = e instanceof NhsError ? e : new NhsError('PDS_UNAVAILABLE', e instanceof Error ? e.message : String(e));
    const type: Issue['code'] = err.code === 'PDS_TIMEOUT' ? 'timeout' : err.code === 'PDS_RATE_LIMITED' || err.code === 'PDS_QUEUE_FULL' ? 'throttled' : err.code.startsWith('PDS_AUTH') ? 'security' : 'transient';
    return this.fail('unavailable', err.code, type, err.message, pds, subject, requests);
  }

  /** GET /Patient/{nhsNumber}, through the cache; the Patient already stripped if restricted. */
  private async fetchPatient(nhsNumber: string, correlationId?: string): Promise<{ res?: PdsResponse; cached?: CacheEntry }> {
    const hit = this.ttlMs > 0 ? this.cache.get(nhsNumber) : undefined;
    if (hit && Date.now() - hit.at < this.ttlMs) return { cached: hit };
    if (hit) this.cache.delete(nhsNumber);
    const res = await this.client.getPatient(nhsNumber, correlationId);
    return { res };
  }

  /** Retrieve mode: the Patient for an NHS number (checked locally first). */
  async retrieve(nhsNumberIn: string, correlationId?: string): Promise<LookupResult> {
    return this.byNumber(nhsNumberIn, undefined, correlationId);
  }

  /** Verify mode: the NHS number exists and the given demographics agree with PDS. */
  async verify(nhsNumberIn: string, expected: Demographics, correlationId?: string): Promise<LookupResult> {
    return this.byNumber(nhsNumberIn, expected, correlationId);
  }

  private async byNumber(nhsNumberIn: string, expected: Demographics | undefined, correlationId?: string): Promise<LookupResult> {
    const nhsNumber = normaliseNhsNumber(String(nhsNumberIn ?? ''));
    const problem = checkNhsNumber(nhsNumber);
    if (problem) {
      // Modulus 11 checked here: an invalid number never costs a PDS request.
      return this.fail('not-matched', 'PDS_INVALID_NHS_NUMBER', 'value', problem === 'format' ? 'NHS number is not 10 digits' : 'NHS number fails the Modulus 11 check', this.base(null), null, 0);
    }
    const before = this.client.requests;
    let got: { res?: PdsResponse; cached?: CacheEntry };
    try {
      got = await this.fetchPatient(nhsNumber, correlationId);
    } catch (e) {
      return this.unavailable(e, this.base(nhsNumber), nhsNumber, this.client.requests - before);
    }
    const requests = this.client.requests - before;
    let patient: Record<string, unknown>;
    let id: string;
    if (got.cached) {
      patient = structuredClone(got.cached.patient);
      id = got.cached.id;
    } else {
      const res = got.res!;
      const spine = spineCodeOf(res.body);
      if (res.status === 404 || spine.code === 'RESOURCE_NOT_FOUND') {
        if (spine.code === 'INVALIDATED_RESOURCE') return this.fail('not-matched', 'PDS_INVALIDATED', 'deleted', 'PDS record has been invalidated', this.base(nhsNumber), nhsNumber, requests, spine);
        return this.fail('not-matched', 'PDS_NOT_FOUND', 'not-found', 'No PDS record for this NHS number', this.base(nhsNumber), nhsNumber, requests, spine);
      }
      if (spine.code === 'INVALIDATED_RESOURCE') return this.fail('not-matched', 'PDS_INVALIDATED', 'deleted', 'PDS record has been invalidated', this.base(nhsNumber), nhsNumber, requests, spine);
      if (res.status === 401 || res.status === 403) return this.unavailable(new NhsError('PDS_FORBIDDEN', `PDS refused access (HTTP ${res.status}${spine.code ? ` ${spine.code}` : ''})`), this.base(nhsNumber), nhsNumber, requests);
      if (res.status >= 400) return this.fail('not-matched', 'PDS_BAD_REQUEST', 'invalid', `PDS rejected the request (HTTP ${res.status}${spine.code ? ` ${spine.code}` : ''})`, this.base(nhsNumber), nhsNumber, requests, spine);
      const body = res.body as Record<string, unknown> | undefined;
      if (!body || body.resourceType !== 'Patient' || typeof body.id !== 'string') return this.unavailable(new NhsError('PDS_BAD_RESPONSE', 'PDS answered without a Patient'), this.base(nhsNumber), nhsNumber, requests);
      const restricted = isRestricted(body);
      patient = restricted ? withoutRestrictedFields(body) : body;
      id = body.id;
      if (!restricted && this.ttlMs > 0) {
        if (this.cache.size >= this.cacheMax) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(nhsNumber, { at: Date.now(), patient: structuredClone(patient), id });
      }
    }
    const restricted = isRestricted(patient);
    const pds: PdsResult = { nhsNumber: id, restricted, patient, environment: this.environment };
    const issues: Issue[] = [];
    if (id !== nhsNumber) {
      pds.supersededFrom = nhsNumber;
      issues.push(pdsIssue('warning', 'informational', 'PDS_SUPERSEDED', 'NHS number has been superseded; PDS returned the current record under a different NHS number'));
    }
    if (restricted) issues.push(pdsIssue('information', 'informational', 'PDS_RESTRICTED', 'Restricted patient: address, telecom and GP are withheld'));
    if (expected) {
      const { differences, unverified } = compareDemographics(expected, patient);
      pds.differences = differences;
      if (unverified.length) issues.push(pdsIssue('warning', 'incomplete', 'PDS_UNVERIFIED', `Not held by PDS for this patient, not compared: ${unverified.join(', ')}`));
      if (differences.length) {
        issues.unshift(pdsIssue('error', 'business-rule', 'PDS_DIFFERS', `Demographics differ from PDS: ${differences.join(', ')}`));
        return { route: 'not-matched', code: 'PDS_DIFFERS', outcome: operationOutcome(issues), pds, subject: id, requests };
      }
    }
    const code = expected ? 'PDS_MATCHED' : 'PDS_FOUND';
    return { route: 'matched', code, outcome: operationOutcome(issues), pds, subject: id, requests };
  }

  /** Trace mode: application-restricted search; exactly one match gives the NHS number and score. */
  async trace(query: TraceQuery, correlationId?: string): Promise<LookupResult> {
    // Values come from messages: clipped so a hostile one cannot make an oversized request line.
    const q: TraceQuery = { ...query };
    for (const f of ['family', 'given', 'birthDate', 'gender', 'postcode'] as const) if (typeof q[f] === 'string') q[f] = q[f].trim().slice(0, 100);
    const params: PdsSearchParams = {};
    if (q.family) params.family = q.family;
    if (q.given) params.given = q.given.split(/[\s^]+/).filter(Boolean);
    if (q.gender) params.gender = normaliseGender(q.gender) ?? q.gender;
    if (q.birthDate) params.birthdate = birthdateParam(q.birthDate);
    if (q.postcode) params['address-postalcode'] = q.postcode;
    if (q.fuzzy) params['_fuzzy-match'] = true;
    if (q.exact) params['_exact-match'] = true;
    if (q.history) params._history = true;
    if (q.maxResults) params['_max-results'] = q.maxResults;
    const before = this.client.requests;
    let res: PdsResponse;
    try {
      res = await this.client.search(params, correlationId);
    } catch (e) {
      return this.unavailable(e, this.base(null), null, this.client.requests - before);
    }
    const requests = this.client.requests - before;
    const spine = spineCodeOf(res.body);
    if (spine.code === 'TOO_MANY_MATCHES') return this.fail('not-matched', 'PDS_TOO_MANY_MATCHES', 'multiple-matches', 'More than one PDS record matches; refine the search', this.base(null), null, requests, spine);
    if (res.status === 401 || res.status === 403) return this.unavailable(new NhsError('PDS_FORBIDDEN', `PDS refused access (HTTP ${res.status})`), this.base(null), null, requests);
    if (res.status >= 400) return this.fail('not-matched', 'PDS_BAD_REQUEST', 'invalid', `PDS rejected the search (HTTP ${res.status}${spine.code ? ` ${spine.code}` : ''})`, this.base(null), null, requests, spine);
    const bundle = res.body as { resourceType?: unknown; entry?: unknown } | undefined;
    if (bundle?.resourceType !== 'Bundle') return this.unavailable(new NhsError('PDS_BAD_RESPONSE', 'PDS answered the search without a Bundle'), this.base(null), null, requests);
    const entries = (Array.isArray(bundle.entry) ? bundle.entry : []) as { resource?: Record<string, unknown>; search?: { score?: unknown } }[];
    const patients = entries.filter((e) => e?.resource?.resourceType === 'Patient');
    if (patients.length === 0) return this.fail('not-matched', 'PDS_NO_MATCH', 'not-found', 'No PDS record matches the search', this.base(null), null, requests);
    if (patients.length > 1) return this.fail('not-matched', 'PDS_TOO_MANY_MATCHES', 'multiple-matches', `${patients.length} PDS records match; refine the search`, this.base(null), null, requests);
    const raw = patients[0]!.resource!;
    const restricted = isRestricted(raw);
    const patient = restricted ? withoutRestrictedFields(raw) : raw;
    const id = typeof raw.id === 'string' ? raw.id : null;
    const score = typeof patients[0]!.search?.score === 'number' ? patients[0]!.search.score : undefined;
    const minScore = typeof q.minScore === 'number' && q.minScore > 0 ? Math.min(q.minScore, 1) : 0;
    // A match without a score cannot show it reaches the minimum: reviewed like a low one.
    if (minScore > 0 && (score === undefined || score < minScore)) {
      const low: PdsResult = { ...this.base(null), ...(score !== undefined ? { score } : {}) };
      return this.fail('not-matched', 'PDS_LOW_SCORE', 'business-rule', `The only PDS match scores ${score ?? 'nothing'}, below the minimum ${minScore}: review it before using its NHS number`, low, id, requests);
    }
    const pds: PdsResult = { nhsNumber: id, restricted, patient, environment: this.environment, ...(score !== undefined ? { score } : {}) };
    const issues: Issue[] = [];
    if (restricted) issues.push(pdsIssue('information', 'informational', 'PDS_RESTRICTED', 'Restricted patient: address, telecom and GP are withheld'));
    if (score !== undefined && score < 1) issues.push(pdsIssue('information', 'informational', 'PDS_MATCH_SCORE', `Match score ${score}`));
    return { route: 'matched', code: 'PDS_TRACED', outcome: operationOutcome(issues), pds, subject: id, requests };
  }
}

/**
 * PDS birthdate search syntax: `eq|ge|le` + YYYY-MM-DD; a plain date (or HL7 YYYYMMDD) means
 * `eq`; `ge…/le…` separated by a comma or space is a range (two parameters).
 */
export function birthdateParam(v: string): string[] {
  return v.split(/[\s,]+/).filter(Boolean).map((part) => {
    const m = /^(eq|ge|le)?(.+)$/.exec(part)!;
    const date = normaliseDate(m[2]!) ?? m[2]!;
    return `${m[1] ?? 'eq'}${date}`;
  });
}
