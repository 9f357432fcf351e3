/**
 * A local STAND-IN for the PDS FHIR API — not PDS. It serves the tests and the offline demo so
 * neither needs the national service. Its responses are PDS's own published ones: with
 * `dataDir` it reads the PDS sandbox's canned Patients, search results and OperationOutcomes
 * (`../shared/data/pds-sandbox`, from NHSDigital/personal-demographics-service-api); the demo
 * passes its own synthetic patients instead. It enforces what PDS enforces — `X-Request-ID` (a
 * UUID), a valid NHS number (INVALID_RESOURCE_ID), unknown (RESOURCE_NOT_FOUND) and invalidated
 * (INVALIDATED_RESOURCE) records, search rules (MISSING_VALUE, INVALID_SEARCH_DATA,
 * INVALID_VALUE, ADDITIONAL_PROPERTIES, TOO_MANY_MATCHES over `_max-results`), a bearer token
 * when auth is on — answers 429/503 with `Retry-After` on demand, and serves `/oauth2/token`,
 * which verifies the client-assertion JWT for real: RS512 signature against the registered
 * public key, `kid`, `iss` = `sub` = API key, `aud` = its own token URL, `exp` (not past, at most
 * five minutes ahead) and `jti` reuse.
 *
 * Search matching is the stand-in's own simple rule (exact, case- and accent-insensitive; fuzzy =
 * same Soundex), not PDS's algorithm; scores are 1 for exact and 0.85 for fuzzy matches unless the
 * published searchset gave the record one.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isValidNhsNumber } from '../nhs-number';
import { decodeJwt, verifyRs512, type Jwk, MAX_JWT_LIFETIME_S } from './jwt';
import { JWT_BEARER } from './auth';
import { foldName, normalisePostcode } from './patient';

type Json = Record<string, unknown>;

export interface StandInOptions {
  /** The published PDS sandbox responses (karate-mock-stubs/, spec-examples/). */
  dataDir?: string;
  /** Synthetic patients (the demo), added to or instead of the published ones. */
  patients?: Json[];
  /** Old NHS number → current one: GET of the old number answers the current record. */
  superseded?: Record<string, string>;
  /** NHS numbers whose record has been invalidated. */
  invalidated?: string[];
  /** Require a bearer token from /oauth2/token; the registered app. */
  auth?: { apiKey: string; jwks: { keys: Jwk[] }; tokenTtlS?: number };
  /** FHIR base path (default /personal-demographics/FHIR/R4). */
  basePath?: string;
}

export interface StandInStats {
  /** API requests (not token requests), including rejected ones. */
  requests: number;
  tokenRequests: number;
  /** API requests per wall-clock second (epoch second → count). */
  perSecond: Map<number, number>;
  /** X-Request-IDs received, in order. */
  requestIds: string[];
  /** Headers of the last API request. */
  lastHeaders: Record<string, string | string[] | undefined>;
}

const versionOf = (p: Json): string => { const v = (p.meta as Json | undefined)?.versionId; return typeof v === 'string' || typeof v === 'number' ? String(v) : '1'; };
const readJson = (f: string): Json => JSON.parse(readFileSync(f, 'utf8')) as Json;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const VALID_PARAMS = new Set(['_fuzzy-match', '_exact-match', '_history', '_max-results', 'family', 'given', 'gender', 'birthdate', 'death-date', 'address-postcode', 'address-postalcode', 'general-practitioner', 'email', 'phone']);

/** The error bodies PDS publishes, used when no dataDir is given (same shape, same codes). */
function spineError(code: string, type: string, display: string, diagnostics?: string): Json {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: type, details: { coding: [{ system: 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode', version: '1', code, display }] }, ...(diagnostics ? { diagnostics } : {}) }] };
}

/** American Soundex, for the stand-in's fuzzy match. */
function soundex(s: string): string {
  const f = foldName(s);
  if (!f) return '';
  const map: Record<string, string> = { B: '1', F: '1', P: '1', V: '1', C: '2', G: '2', J: '2', K: '2', Q: '2', S: '2', X: '2', Z: '2', D: '3', T: '3', L: '4', M: '5', N: '5', R: '6' };
  let out = f[0]!;
  let last = map[f[0]!] ?? '';
  for (const ch of f.slice(1)) {
    const c = map[ch] ?? '';
    if (c && c !== last) out += c;
    if (ch !== 'H' && ch !== 'W') last = c;
  }
  return (out + '000').slice(0, 4);
}

export class PdsStandIn {
  readonly stats: StandInStats = { requests: 0, tokenRequests: 0, perSecond: new Map(), requestIds: [], lastHeaders: {} };
  private readonly patients = new Map<string, Json>();
  private readonly scores = new Map<string, number>();
  private readonly errors = new Map<string, Json>();
  private readonly related = new Map<string, Json>();
  private tooManyMatches: Json;
  private readonly tokens = new Map<string, number>();
  private readonly usedJti = new Set<string>();
  private failures: { status: number; retryAfter?: string; left: number } | null = null;
  private server: Server | null = null;
  private readonly basePath: string;
  url = '';

  constructor(private readonly o: StandInOptions) {
    this.basePath = o.basePath ?? '/personal-demographics/FHIR/R4';
    this.tooManyMatches = spineError('TOO_MANY_MATCHES', 'multiple-matches', 'Too Many Matches');
    if (o.dataDir) this.load(o.dataDir);
    for (const p of o.patients ?? []) if (typeof p.id === 'string') this.patients.set(p.id, p);
  }

  private load(dir: string): void {
    const stubs = join(dir, 'karate-mock-stubs');
    const list = (d: string): string[] => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.json')).sort() : []);
    for (const f of list(join(stubs, 'patientResponses'))) { const p = readJson(join(stubs, 'patientResponses', f)); if (typeof p.id === 'string') this.patients.set(p.id, p); }
    // Patients published only as search results or OAS examples (9000000017 among them).
    const fromSearch = (b: Json): void => {
      if (b.resourceType === 'Patient' && typeof b.id === 'string' && !this.patients.has(b.id)) this.patients.set(b.id, b);
      if (b.resourceType === 'Bundle' && Array.isArray(b.entry)) for (const e of b.entry as Json[]) {
        const r = e.resource as Json | undefined;
        const score = (e.search as Json | undefined)?.score;
        if (r?.resourceType === 'Patient' && typeof r.id === 'string') {
          if (!this.patients.has(r.id)) this.patients.set(r.id, r);
          if (typeof score === 'number' && !this.scores.has(r.id)) this.scores.set(r.id, score);
        }
      }
    };
    for (const f of list(join(stubs, 'searchResponses'))) {
      const b = readJson(join(stubs, 'searchResponses', f));
      if (f === 'TOO_MANY_MATCHES.json') this.tooManyMatches = b;
      else fromSearch(b);
    }
    for (const f of list(join(dir, 'spec-examples'))) fromSearch(readJson(join(dir, 'spec-examples', f)));
    for (const f of list(join(stubs, 'errorResponses'))) this.errors.set(f.replace(/\.json$/, ''), readJson(join(stubs, 'errorResponses', f)));
    for (const f of list(join(stubs, 'relatedPersonResponses'))) { const m = /(\d{10})/.exec(f); if (m) this.related.set(m[1]!, readJson(join(stubs, 'relatedPersonResponses', f))); }
  }

  /** The NHS numbers of every patient the stand-in holds. */
  nhsNumbers(): string[] {
    return [...this.patients.keys()];
  }

  /** Answer the next `count` API requests with `status` (429 or 503) and `Retry-After`. */
  failNext(count: number, status = 429, retryAfter: string | null = '2'): void {
    this.failures = { status, ...(retryAfter !== null ? { retryAfter } : {}), left: count };
  }

  /** Expire every issued token now (a token expiring mid-run). */
  expireTokens(): void {
    for (const k of this.tokens.keys()) this.tokens.set(k, 0);
  }

  /** The largest number of API requests seen in any one wall-clock second. */
  maxPerSecond(): number {
    return Math.max(0, ...this.stats.perSecond.values());
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => { this.handle(req, res).catch(() => { if (!res.headersSent) res.writeHead(500); res.end(); }); });
    await new Promise<void>((resolve, reject) => { this.server!.once('error', reject); this.server!.listen(port, host, () => resolve()); });
    const a = this.server.address() as AddressInfo;
    this.url = `http://${host}:${a.port}`;
    return this.url;
  }

  /** FHIR base URL of the running stand-in. */
  get baseUrl(): string { return `${this.url}${this.basePath}`; }
  get tokenUrl(): string { return `${this.url}/oauth2/token`; }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections?.();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private error(name: string, type: string, display: string, diagnostics?: string): Json {
    const published = this.errors.get(name);
    const body = published ? (structuredClone(published)) : spineError(name, type, display);
    const first = (body.issue as Json[])[0]!;
    if (diagnostics) first.diagnostics = diagnostics;
    else if (typeof first.diagnostics === 'string' && first.diagnostics.startsWith('#(')) delete first.diagnostics;
    const coding = ((first.details as Json | undefined)?.coding as Json[] | undefined)?.[0];
    if (coding && typeof coding.display === 'string' && coding.display.startsWith('#(')) coding.display = display;
    return body;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { 'content-type': url.pathname === '/oauth2/token' ? 'application/json' : 'application/fhir+json', ...headers });
      res.end(text);
    };
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      this.stats.tokenRequests++;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) { size += (c as Buffer).length; if (size > 65536) { send(413, { error: 'invalid_request', error_description: 'request too large' }); return; } chunks.push(c as Buffer); }
      const r = this.token(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      send(r.status, r.body);
      return;
    }
    if (!url.pathname.startsWith(this.basePath)) { send(404, this.error('INVALID_METHOD', 'not-supported', 'Unknown path')); return; }
    this.stats.requests++;
    const sec = Math.floor(Date.now() / 1000);
    this.stats.perSecond.set(sec, (this.stats.perSecond.get(sec) ?? 0) + 1);
    this.stats.lastHeaders = { ...req.headers };
    const requestId = req.headers['x-request-id'];
    const echo: Record<string, string> = {};
    if (typeof requestId === 'string') { echo['x-request-id'] = requestId; this.stats.requestIds.push(requestId); }
    if (typeof req.headers['x-correlation-id'] === 'string') echo['x-correlation-id'] = req.headers['x-correlation-id'];
    if (this.failures && this.failures.left > 0) {
      this.failures.left--;
      const f = this.failures;
      send(f.status, this.error(f.status === 429 ? 'TOO_MANY_REQUESTS' : 'SERVICE_UNAVAILABLE', f.status === 429 ? 'throttled' : 'transient', f.status === 429 ? 'Too many requests' : 'Service unavailable'), { ...echo, ...(f.retryAfter !== undefined ? { 'retry-after': f.retryAfter } : {}) });
      return;
    }
    if (req.method !== 'GET') { send(405, this.error('INVALID_METHOD', 'not-supported', 'Method not supported by the stand-in'), echo); return; }
    if (!requestId) { send(400, this.error('MISSING_VALUE', 'required', 'Required value is missing', 'Invalid request with error - X-Request-ID header must be supplied to access this resource'), echo); return; }
    if (typeof requestId !== 'string' || !UUID.test(requestId)) { send(400, this.error('INVALID_VALUE', 'value', 'Provided value is invalid', "Invalid value in header 'X-Request-ID'"), echo); return; }
    if (this.o.auth) {
      const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
      const exp = m ? this.tokens.get(m[1]!) : undefined;
      if (!m || exp === undefined || exp <= Date.now()) { send(401, this.error('ACCESS_DENIED', 'forbidden', 'Access Denied - Unauthorised', m ? 'Invalid Access Token' : 'Missing Authorization header'), echo); return; }
    }
    const rest = url.pathname.slice(this.basePath.length);
    let m: RegExpExecArray | null;
    if ((m = /^\/Patient\/([^/]+)$/.exec(rest))) { const r = this.getPatient(decodeURIComponent(m[1]!)); send(r.status, r.body, r.status === 200 ? { ...echo, etag: `W/"${versionOf(r.body)}"` } : echo); return; }
    if ((m = /^\/Patient\/([^/]+)\/RelatedPerson$/.exec(rest))) {
      const id = decodeURIComponent(m[1]!);
      const p = this.getPatient(id);
      if (p.status !== 200) { send(p.status, p.body, echo); return; }
      send(200, this.related.get(String(p.body.id)) ?? { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] }, echo);
      return;
    }
    if (rest === '/Patient') { const r = this.search(url.searchParams); send(r.status, r.body, echo); return; }
    send(404, this.error('INVALID_METHOD', 'not-supported', 'Unknown path'), echo);
  }

  private getPatient(id: string): { status: number; body: Json } {
    if (!isValidNhsNumber(id)) return { status: 400, body: this.error('INVALID_RESOURCE_ID', 'value', 'Resource Id is invalid') };
    if (this.o.invalidated?.includes(id)) return { status: 404, body: this.error('INVALIDATED_RESOURCE', 'processing', 'Resource that has been marked as invalid was requested - invalid resources cannot be retrieved') };
    const current = this.o.superseded?.[id] ?? id;
    const p = this.patients.get(current);
    if (!p) return { status: 404, body: this.error('RESOURCE_NOT_FOUND', 'not-found', 'Resource not found') };
    return { status: 200, body: structuredClone(p) };
  }

  private search(q: URLSearchParams): { status: number; body: Json } {
    const keys = [...new Set(q.keys())];
    if (keys.length === 0) return { status: 400, body: this.error('UNSUPPORTED_SERVICE', 'not-supported', 'Unsupported Service') };
    const bad = keys.filter((k) => !VALID_PARAMS.has(k));
    if (bad.length) return { status: 400, body: this.error('ADDITIONAL_PROPERTIES', 'invariant', 'Additional properties should not be included', `Invalid request with error - Additional properties are not allowed ('${bad.join("', '")}' ${bad.length === 1 ? 'was' : 'were'} unexpected)`) };
    const births = q.getAll('birthdate');
    for (const b of births) if (!/^(eq|ge|le)?\d{4}-\d{2}-\d{2}$/.test(b)) return { status: 400, body: this.error('INVALID_VALUE', 'value', 'Provided value is invalid', "Invalid value in field 'birthdate'") };
    if (births.length === 0) return { status: 400, body: this.error('MISSING_VALUE', 'required', 'Required value is missing', "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'") };
    const family = q.get('family');
    if (!family) return { status: 400, body: this.error('INVALID_SEARCH_DATA', 'value', 'Search data is invalid', "Invalid search data provided - 'No searches were performed as the search criteria did not meet the minimum requirements'") };
    const fuzzy = q.get('_fuzzy-match') === 'true';
    const max = Number(q.get('_max-results') ?? '1');
    if (!Number.isInteger(max) || max < 1 || max > 50) return { status: 400, body: this.error('INVALID_VALUE', 'value', 'Provided value is invalid', "Invalid value in field '_max-results'") };
    const given = q.getAll('given');
    const gender = q.get('gender');
    const postcode = q.get('address-postalcode') ?? q.get('address-postcode');
    const nameEq = (want: string, have: string): boolean => {
      if (fuzzy) return soundex(want.replace(/\*$/, '')) === soundex(have);
      if (want.endsWith('*')) return foldName(have).startsWith(foldName(want.slice(0, -1)));
      return foldName(want) === foldName(have);
    };
    const dateOk = (d: string | undefined): boolean => !!d && births.every((b) => {
      const op = /^(eq|ge|le)/.exec(b)?.[1] ?? 'eq';
      const v = b.replace(/^(eq|ge|le)/, '');
      return op === 'eq' ? d === v : op === 'ge' ? d >= v : d <= v;
    });
    const matches: Json[] = [];
    for (const p of this.patients.values()) {
      const names = (Array.isArray(p.name) ? p.name : []) as Json[];
      if (!names.some((n) => typeof n.family === 'string' && nameEq(family, n.family))) continue;
      if (given.length && !names.some((n) => Array.isArray(n.given) && given.every((g, i) => typeof (n.given as unknown[])[i] === 'string' && nameEq(g.split(' ')[0]!, String((n.given as unknown[])[i]).split(' ')[0]!)))) continue;
      if (gender && p.gender !== gender.toLowerCase()) continue;
      if (!dateOk(typeof p.birthDate === 'string' ? p.birthDate : undefined)) continue;
      if (postcode) {
        const pcs = ((Array.isArray(p.address) ? p.address : []) as Json[]).map((a) => (typeof a.postalCode === 'string' ? normalisePostcode(a.postalCode) : ''));
        const want = normalisePostcode(postcode);
        if (!pcs.some((pc) => (want.endsWith('*') ? pc.startsWith(want.slice(0, -1)) : pc === want))) continue;
      }
      matches.push(p);
    }
    if (matches.length > max) return { status: 200, body: structuredClone(this.tooManyMatches) };
    return {
      status: 200,
      body: {
        resourceType: 'Bundle', type: 'searchset', timestamp: new Date().toISOString(), total: matches.length,
        entry: matches.map((p) => ({ fullUrl: `${this.url}${this.basePath}/Patient/${String(p.id)}`, search: { score: this.scores.get(String(p.id)) ?? (fuzzy ? 0.85 : 1) }, resource: structuredClone(p) })),
      },
    };
  }

  private token(form: URLSearchParams): { status: number; body: Json } {
    const reject = (status: number, error: string, description: string): { status: number; body: Json } => ({ status, body: { error, error_description: description, message_id: randomUUID() } });
    if (!this.o.auth) return reject(400, 'invalid_request', 'the stand-in was started without auth');
    if (form.get('grant_type') !== 'client_credentials') return reject(400, 'unsupported_grant_type', "grant_type is missing or not 'client_credentials'");
    if (form.get('client_assertion_type') !== JWT_BEARER) return reject(400, 'invalid_request', `Missing or invalid client_assertion_type - must be '${JWT_BEARER}'`);
    const jwt = decodeJwt(form.get('client_assertion') ?? '');
    if (!jwt) return reject(400, 'invalid_request', 'Malformed JWT in client_assertion');
    const { header, claims } = jwt;
    if (header.alg !== 'RS512') return reject(400, 'invalid_request', "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'");
    if (typeof header.kid !== 'string' || !header.kid) return reject(400, 'invalid_request', "Missing 'kid' header in client_assertion JWT");
    const key = this.o.auth.jwks.keys.find((k) => k.kid === header.kid);
    if (!key) return reject(401, 'invalid_request', "Invalid 'kid' header in client_assertion JWT - no matching public key");
    if (!verifyRs512(jwt, key)) return reject(401, 'invalid_request', 'Unable to verify JWT signature');
    if (claims.iss !== this.o.auth.apiKey || claims.sub !== this.o.auth.apiKey) return reject(401, 'invalid_request', "Invalid 'iss'/'sub' claims in client_assertion JWT");
    if (claims.aud !== this.tokenUrl) return reject(401, 'invalid_request', "Missing or invalid 'aud' claim in client_assertion JWT");
    if (typeof claims.jti !== 'string' || !claims.jti) return reject(400, 'invalid_request', "Missing 'jti' claim in client_assertion JWT");
    const nowS = Date.now() / 1000;
    if (typeof claims.exp !== 'number') return reject(400, 'invalid_request', "Missing 'exp' claim in client_assertion JWT");
    if (claims.exp <= nowS) return reject(400, 'invalid_request', "Invalid 'exp' claim in client_assertion JWT - JWT has expired");
    if (claims.exp > nowS + MAX_JWT_LIFETIME_S + 5) return reject(400, 'invalid_request', "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future");
    if (this.usedJti.has(claims.jti)) return reject(400, 'invalid_request', "Non-unique 'jti' claim in client_assertion JWT");
    this.usedJti.add(claims.jti);
    const ttl = this.o.auth.tokenTtlS ?? 599;
    const token = randomUUID().replace(/-/g, '');
    this.tokens.set(token, Date.now() + ttl * 1000);
    // NHS England sends expires_in and issued_at as strings.
    return { status: 200, body: { access_token: token, expires_in: String(ttl), token_type: 'Bearer', issued_at: String(Date.now()) } };
  }
}
