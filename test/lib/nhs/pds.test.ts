import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PdsService, type LookupResult } from '../../../lib/nhs/pds/lookup';
import { signClientAssertion, publicJwks, decodeJwt, normalisePem } from '../../../lib/nhs/pds/jwt';
import { birthdateParam } from '../../../lib/nhs/pds/lookup';
import { retryAfterMs } from '../../../lib/nhs/pds/client';
import type { PdsStandIn } from '../../../lib/nhs/pds/stand-in';
import { API_KEY, INVALIDATED, KID, SUPERSEDED_OLD, UNKNOWN_VALID, skipWithoutPdsData, startStandIn, testKeys } from '../../helpers/pds';

const fast = { baseDelayMs: 10, maxDelayMs: 50, maxAttempts: 4, budgetMs: 10_000 };
const codeOf = (r: LookupResult): string[] => r.outcome.issue.flatMap((i) => (i.details?.coding ?? []).map((c) => c.code!));

describe('PDS lookups against the stand-in (published sandbox responses)', { skip: skipWithoutPdsData }, () => {
  let s: PdsStandIn;
  let pds: PdsService;
  before(async () => {
    s = await startStandIn();
    pds = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 1000, retry: fast });
  });
  after(async () => { pds.close(); await s.stop(); });

  it('9000000009 is found, with the published record', async () => {
    const r = await pds.retrieve('9000000009', 'corr-1');
    assert.equal(r.route, 'matched');
    assert.equal(r.code, 'PDS_FOUND');
    assert.equal(r.pds.nhsNumber, '9000000009');
    assert.equal(r.pds.restricted, false);
    assert.equal((r.pds.patient as any).birthDate, '2010-10-22');
    assert.ok(Array.isArray((r.pds.patient as any).address));
    assert.equal(s.stats.lastHeaders['x-correlation-id'], 'corr-1');
    assert.match(String(s.stats.lastHeaders['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('9000000017 is found (published only as a search/OAS example)', async () => {
    const r = await pds.retrieve('900 000 0017');
    assert.equal(r.route, 'matched');
    assert.equal(r.pds.nhsNumber, '9000000017');
  });

  it('9000000025 is restricted: no address, telecom or GP leave the lookup', async () => {
    const r = await pds.retrieve('9000000025');
    assert.equal(r.route, 'matched');
    assert.equal(r.pds.restricted, true);
    const p = r.pds.patient as any;
    assert.equal(p.address, undefined);
    assert.equal(p.telecom, undefined);
    assert.equal(p.generalPractitioner, undefined);
    assert.ok(r.outcome.issue.some((i) => i.extension?.[0]?.valueString === 'PDS_RESTRICTED'));
  });

  it('9000000033 is the minimal record', async () => {
    const r = await pds.retrieve('9000000033');
    assert.equal(r.route, 'matched');
    assert.equal((r.pds.patient as any).name, undefined);
  });

  it('a valid unknown number is not matched with RESOURCE_NOT_FOUND', async () => {
    const r = await pds.retrieve(UNKNOWN_VALID);
    assert.equal(r.route, 'not-matched');
    assert.equal(r.code, 'PDS_NOT_FOUND');
    assert.equal(r.spineCode, 'RESOURCE_NOT_FOUND');
    assert.deepEqual(codeOf(r), ['RESOURCE_NOT_FOUND']);
  });

  it('9000000000 is invalid before any request', async () => {
    const before = s.stats.requests;
    for (const n of ['9000000000', '123', 'abcdefghij', '']) {
      const r = await pds.retrieve(n);
      assert.equal(r.route, 'not-matched');
      assert.equal(r.code, 'PDS_INVALID_NHS_NUMBER');
      assert.equal(r.requests, 0);
    }
    assert.equal(s.stats.requests, before, 'the stand-in counted no request');
  });

  it('a superseded number returns the current record and supersededFrom', async () => {
    const r = await pds.retrieve(SUPERSEDED_OLD);
    assert.equal(r.route, 'matched');
    assert.equal(r.pds.nhsNumber, '9000000009');
    assert.equal(r.pds.supersededFrom, SUPERSEDED_OLD);
    assert.equal(r.outcome.issue[0]!.severity, 'warning');
  });

  it('an invalidated record is not matched with INVALIDATED_RESOURCE', async () => {
    const r = await pds.retrieve(INVALIDATED);
    assert.equal(r.route, 'not-matched');
    assert.equal(r.code, 'PDS_INVALIDATED');
    assert.equal(r.spineCode, 'INVALIDATED_RESOURCE');
  });

  it('verify: matching demographics match; differing ones are named, values never quoted', async () => {
    const ok = await pds.verify('9000000009', { family: 'SMITH', given: 'Jane', birthDate: '20101022', gender: 'F' });
    assert.equal(ok.route, 'matched');
    assert.deepEqual(ok.pds.differences, []);
    const bad = await pds.verify('9000000009', { family: 'Jones', given: 'Jane', birthDate: '2010-10-23', gender: 'female' });
    assert.equal(bad.route, 'not-matched');
    assert.equal(bad.code, 'PDS_DIFFERS');
    assert.deepEqual(bad.pds.differences, ['family', 'birthDate']);
    assert.ok(!JSON.stringify(bad.outcome).includes('Jones'));
    assert.ok(!JSON.stringify(bad.outcome).includes('2010'));
  });

  it('verify of a restricted patient cannot compare the postcode: unverified, not different', async () => {
    const r = await pds.verify('9000000025', { family: 'Smythe', postcode: 'LS1 6AE' });
    assert.equal(r.route, 'matched');
    assert.ok(r.outcome.issue.some((i) => i.extension?.[0]?.valueString === 'PDS_UNVERIFIED'));
  });

  it('trace: one match gives the NHS number and the published score', async () => {
    const r = await pds.trace({ family: 'Smith', given: 'Jane', gender: 'female', birthDate: '2010-10-22' });
    assert.equal(r.route, 'matched', JSON.stringify(r.outcome));
    assert.equal(r.pds.nhsNumber, '9000000009');
    assert.equal(typeof r.pds.score, 'number');
  });

  it('trace: several matches → TOO_MANY_MATCHES (the published OperationOutcome)', async () => {
    const r = await pds.trace({ family: 'Sm*', birthDate: '2010-10-22' });
    assert.equal(r.route, 'not-matched');
    assert.equal(r.code, 'PDS_TOO_MANY_MATCHES');
    assert.equal(r.spineCode, 'TOO_MANY_MATCHES');
  });

  it('trace: no match', async () => {
    const r = await pds.trace({ family: 'Nobody', gender: 'male', birthDate: 'eq1901-01-01' });
    assert.equal(r.route, 'not-matched');
    assert.equal(r.code, 'PDS_NO_MATCH');
  });

  it('trace: fuzzy search finds a name spelt differently, with a score below 1', async () => {
    const exact = await pds.trace({ family: 'Smyth', given: 'Jayne', birthDate: '2010-10-22', gender: 'female' });
    const fuzzy = await pds.trace({ family: 'Smyth', given: 'Jayne', birthDate: '2010-10-22', gender: 'female', fuzzy: true, maxResults: 5 });
    assert.equal(exact.route, 'matched');
    assert.equal(exact.pds.nhsNumber, '9000000017');
    // Fuzzy also finds Smith/Smythe born the same day: several → too many for one trace.
    assert.equal(fuzzy.route, 'not-matched');
    assert.equal(fuzzy.code, 'PDS_TOO_MANY_MATCHES');
    // Misspelt names find the one Janet born that day only when fuzzy (a restricted record).
    const notFuzzy = await pds.trace({ family: 'Smithe', given: 'Janett', birthDate: '2010-10-22', gender: 'female' });
    assert.equal(notFuzzy.code, 'PDS_NO_MATCH');
    const one = await pds.trace({ family: 'Smithe', given: 'Janett', birthDate: '2010-10-22', gender: 'female', fuzzy: true });
    assert.equal(one.route, 'matched', JSON.stringify(one.outcome));
    assert.equal(one.pds.nhsNumber, '9000000025');
    assert.ok(typeof one.pds.score === 'number' && one.pds.score < 1);
    assert.equal(one.pds.restricted, true);
    assert.equal((one.pds.patient as any).address, undefined);
  });

  it('trace: a single match below the minimum score is "not matched" (PDS_LOW_SCORE) without its NHS number; at or above it, matched', async () => {
    const q = { family: 'Smithe', given: 'Janett', birthDate: '2010-10-22', gender: 'female', fuzzy: true };
    const any = await pds.trace(q);
    const score = any.pds.score!;
    assert.ok(score > 0 && score < 1, 'the fuzzy match has a published score below 1');
    const low = await pds.trace({ ...q, minScore: Math.min(1, score + 0.01) });
    assert.equal(low.route, 'not-matched');
    assert.equal(low.code, 'PDS_LOW_SCORE');
    assert.equal(low.pds.nhsNumber, null, 'no NHS number leaves with a low-scoring match');
    assert.equal(low.pds.patient, null);
    assert.equal(low.pds.score, score);
    assert.equal(low.subject, '9000000025', 'the audit record still names who was looked at');
    assert.doesNotMatch(JSON.stringify(low.outcome), /9000000025|Smithe|Janett/, 'the outcome names no patient data');
    const atMin = await pds.trace({ ...q, minScore: score });
    assert.equal(atMin.route, 'matched');
    assert.equal(atMin.pds.nhsNumber, '9000000025');
    const off = await pds.trace({ ...q, minScore: 0 });
    assert.equal(off.route, 'matched', 'minimum 0 is off');
  });

  it('search 400s carry their reasons: MISSING_VALUE, INVALID_SEARCH_DATA, INVALID_VALUE', async () => {
    const a = await pds.trace({ family: 'Smith' });
    assert.equal(a.spineCode, 'MISSING_VALUE');
    const b = await pds.trace({ birthDate: '2010-10-22' });
    assert.equal(b.spineCode, 'INVALID_SEARCH_DATA');
    const c = await pds.trace({ family: 'Smith', birthDate: 'yesterday' });
    assert.equal(c.spineCode, 'INVALID_VALUE');
    for (const r of [a, b, c]) { assert.equal(r.route, 'not-matched'); assert.equal(r.code, 'PDS_BAD_REQUEST'); }
  });

  it('RelatedPerson of 9000000009 is the published bundle', async () => {
    const r = await pds.client.getRelatedPersons('9000000009');
    assert.equal(r.status, 200);
    assert.equal((r.body as any).resourceType, 'Bundle');
    assert.equal((r.body as any).entry.length, 2);
  });

  it('the stand-in enforces X-Request-ID like PDS', async () => {
    const r1 = await fetch(`${s.baseUrl}/Patient/9000000009`);
    assert.equal(r1.status, 400);
    assert.match(await r1.text(), /MISSING_VALUE/);
    const r2 = await fetch(`${s.baseUrl}/Patient/9000000009`, { headers: { 'X-Request-ID': 'not-a-uuid' } });
    assert.equal(r2.status, 400);
    assert.match(await r2.text(), /INVALID_VALUE/);
    const r3 = await fetch(`${s.baseUrl}/Patient/9000000009`, { headers: { 'X-Request-ID': randomUUID() } });
    assert.equal(r3.status, 200);
    assert.match(r3.headers.get('etag') ?? '', /^W\/"\d+"$/);
  });

  it('the ODS header is sent when configured', async () => {
    const p = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, odsCode: 'Y12345' });
    await p.retrieve('9000000009');
    assert.equal(s.stats.lastHeaders['nhsd-end-user-organisation-ods'], 'Y12345');
    p.close();
  });
});

describe('PDS retries, rate limit and cache', { skip: skipWithoutPdsData }, () => {
  let s: PdsStandIn;
  before(async () => { s = await startStandIn(); });
  after(async () => { await s.stop(); });

  it('429 with Retry-After: 2 is obeyed, the retry reuses the X-Request-ID', async () => {
    const pds = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 1000, retry: fast });
    s.failNext(1, 429, '2');
    const ids = s.stats.requestIds.length;
    const t0 = Date.now();
    const r = await pds.retrieve('9000000009');
    const took = Date.now() - t0;
    assert.equal(r.route, 'matched');
    assert.ok(took >= 1900, `waited ${took} ms for Retry-After: 2`);
    const sent = s.stats.requestIds.slice(ids);
    assert.equal(sent.length, 2);
    assert.equal(sent[0], sent[1], 'same X-Request-ID on the retry');
    pds.close();
  });

  it('503 beyond the retry budget → unavailable, with its code', async () => {
    const pds = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 1000, retry: { ...fast, maxAttempts: 3 } });
    s.failNext(10, 503, null);
    const r = await pds.retrieve('9000000009');
    assert.equal(r.route, 'unavailable');
    assert.equal(r.code, 'PDS_UNAVAILABLE');
    assert.equal(r.requests, 3);
    s.failNext(0);
    pds.close();
  });

  it('5xx without Retry-After backs off exponentially with jitter, within the attempts', async () => {
    const { PdsClient } = await import('../../../lib/nhs/pds/client');
    const waits: number[] = [];
    let r = 0;
    const randoms = [0, 1, 0.5];
    const c = new PdsClient({ baseUrl: s.baseUrl, retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250, budgetMs: 10_000 }, random: () => randoms[r++ % 3]!, sleep: async (ms) => { waits.push(ms); } });
    s.failNext(3, 502, null);
    const res = await c.getPatient('9000000009');
    assert.equal(res.status, 200);
    assert.equal(res.attempts, 4);
    // step 100, 200, 250 (capped); each wait is 50–100 % of its step.
    assert.deepEqual(waits, [50, 200, 187.5]);
  });

  it('a Retry-After longer than the budget gives up at once', async () => {
    const pds = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 1000, retry: { ...fast, budgetMs: 1000 } });
    s.failNext(1, 429, '60');
    const t0 = Date.now();
    const r = await pds.retrieve('9000000009');
    assert.equal(r.route, 'unavailable');
    assert.equal(r.code, 'PDS_RATE_LIMITED');
    assert.ok(Date.now() - t0 < 5000);
    pds.close();
  });

  it('a dead endpoint is unavailable after the budget (connection refused)', async () => {
    const pds = new PdsService({ environment: 'custom', baseUrl: 'http://127.0.0.1:1/x', ratePerSecond: 1000, retry: { ...fast, maxAttempts: 2 } });
    const r = await pds.retrieve('9000000009');
    assert.equal(r.route, 'unavailable');
    assert.equal(r.code, 'PDS_UNAVAILABLE');
    pds.close();
  });

  it('a response slower than the timeout is PDS_TIMEOUT', async () => {
    const { createServer } = await import('node:http');
    const slow = createServer(() => { /* never answers */ });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    const port = (slow.address() as any).port;
    const pds = new PdsService({ environment: 'custom', baseUrl: `http://127.0.0.1:${port}`, connectTimeoutMs: 200, timeoutMs: 400, retry: { ...fast, maxAttempts: 2 } });
    const r = await pds.retrieve('9000000009');
    assert.equal(r.route, 'unavailable');
    assert.equal(r.code, 'PDS_TIMEOUT');
    pds.close();
    slow.closeAllConnections();
    slow.close();
  });

  it('200 lookups at once never exceed the configured rate at the stand-in', async () => {
    const pds = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 50, retry: fast });
    s.stats.perSecond.clear();
    const nums = ['9000000009', '9000000017', '9000000025', '9000000033', UNKNOWN_VALID];
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => pds.retrieve(nums[i % nums.length]!)));
    assert.equal(rs.length, 200);
    assert.ok(rs.every((r) => r.route !== 'unavailable'));
    assert.ok(s.maxPerSecond() <= 50, `max ${s.maxPerSecond()}/s`);
    pds.close();
  });

  it('a full queue is a clear error, not a hang', async () => {
    const pds = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 2, maxQueue: 3, retry: fast });
    const rs = await Promise.all(Array.from({ length: 8 }, () => pds.retrieve('9000000009')));
    const full = rs.filter((r) => r.code === 'PDS_QUEUE_FULL');
    assert.ok(full.length >= 3, `${full.length} rejected`);
    assert.ok(full.every((r) => r.route === 'unavailable'));
    pds.close();
  });

  it('the cache is off by default, on with a TTL, never for restricted patients', async () => {
    const off = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 1000 });
    const on = new PdsService({ environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 1000, cacheTtlS: 60 });
    let n = s.stats.requests;
    await off.retrieve('9000000009'); await off.retrieve('9000000009');
    assert.equal(s.stats.requests - n, 2);
    n = s.stats.requests;
    await on.retrieve('9000000009'); const hit = await on.retrieve('9000000009');
    assert.equal(s.stats.requests - n, 1);
    assert.equal(hit.requests, 0);
    assert.equal(hit.pds.nhsNumber, '9000000009');
    n = s.stats.requests;
    await on.retrieve('9000000025'); await on.retrieve('9000000025');
    assert.equal(s.stats.requests - n, 2, 'restricted patient fetched each time');
    off.close(); on.close();
  });
});

describe('signed-JWT auth against the stand-in token endpoint', { skip: skipWithoutPdsData }, () => {
  let s: PdsStandIn;
  before(async () => { s = await startStandIn({ withAuth: true }); });
  after(async () => { await s.stop(); });
  const svc = (over: Partial<{ kid: string; privateKey: string; tokenUrl: string; apiKey: string }> = {}): PdsService => new PdsService({
    environment: 'custom', baseUrl: s.baseUrl, ratePerSecond: 1000, retry: fast,
    tokenUrl: over.tokenUrl ?? s.tokenUrl,
    auth: { apiKey: over.apiKey ?? API_KEY, kid: over.kid ?? KID, privateKey: over.privateKey ?? testKeys().privateKey },
  });

  it('the client assertion has RS512, kid, iss = sub = API key, aud, jti, exp ≤ 5 min', () => {
    const jwt = signClientAssertion({ apiKey: API_KEY, kid: KID, privateKey: testKeys().privateKey, tokenUrl: 'https://x/oauth2/token' });
    const d = decodeJwt(jwt)!;
    assert.equal(d.header.alg, 'RS512');
    assert.equal(d.header.kid, KID);
    assert.equal(d.claims.iss, API_KEY);
    assert.equal(d.claims.sub, API_KEY);
    assert.equal(d.claims.aud, 'https://x/oauth2/token');
    assert.match(String(d.claims.jti), /^[0-9a-f-]{36}$/);
    assert.ok((d.claims.exp as number) - Date.now() / 1000 <= 300);
    const jwks = publicJwks(testKeys().privateKey, KID);
    assert.equal(jwks.keys[0]!.kid, KID);
    assert.equal(jwks.keys[0]!.d, undefined, 'no private part in the JWKS');
  });

  it('a correctly signed JWT is accepted; 100 lookups reuse one token', async () => {
    const pds = svc();
    const t = s.stats.tokenRequests;
    const rs = await Promise.all(Array.from({ length: 100 }, () => pds.retrieve('9000000009')));
    assert.ok(rs.every((r) => r.route === 'matched'));
    assert.equal(s.stats.tokenRequests - t, 1);
    pds.close();
  });

  it('a token expiring mid-run is refreshed once', async () => {
    const pds = svc();
    await pds.retrieve('9000000009');
    const t = s.stats.tokenRequests;
    s.expireTokens();
    const rs = await Promise.all(Array.from({ length: 20 }, () => pds.retrieve('9000000009')));
    assert.ok(rs.every((r) => r.route === 'matched'));
    assert.equal(s.stats.tokenRequests - t, 1);
    pds.close();
  });

  it('wrong kid, wrong aud, wrong key are rejected with clear codes', async () => {
    const cases: [Partial<{ kid: string; privateKey: string; tokenUrl: string; apiKey: string }>, string][] = [
      [{ kid: 'other-kid' }, 'PDS_AUTH_KID'],
      [{ privateKey: testKeys().otherPrivateKey }, 'PDS_AUTH_SIGNATURE'],
      [{ apiKey: 'wrong-key' }, 'PDS_AUTH_ISS'],
    ];
    for (const [over, code] of cases) {
      const pds = svc(over);
      const r = await pds.retrieve('9000000009');
      assert.equal(r.route, 'unavailable');
      assert.equal(r.code, code);
      pds.close();
    }
    // aud through the whole path: the token URL is spelt differently from the stand-in's own.
    const aud = svc({ tokenUrl: s.tokenUrl.replace('127.0.0.1', 'localhost') });
    const ra = await aud.retrieve('9000000009');
    assert.equal(ra.route, 'unavailable');
    assert.equal(ra.code, 'PDS_AUTH_AUD');
    aud.close();
    // aud: the JWT names another token URL than the one it is posted to.
    const res = await postAssertion(signClientAssertion({ apiKey: API_KEY, kid: KID, privateKey: testKeys().privateKey, tokenUrl: 'https://int.api.service.nhs.uk/oauth2/token' }));
    assert.equal(res.status, 401);
    assert.match(res.body.error_description, /'aud'/);
  });

  it('expired exp, exp beyond 5 minutes and a reused jti are rejected', async () => {
    const base = { apiKey: API_KEY, kid: KID, privateKey: testKeys().privateKey, tokenUrl: s.tokenUrl };
    const expired = await postAssertion(signClientAssertion({ ...base, now: () => Date.now() - 600_000 }));
    assert.equal(expired.status, 400);
    assert.match(expired.body.error_description, /'exp'.*expired/);
    // A JWT signed "two minutes from now" with the full 5-minute life: exp is 7 minutes ahead.
    const far = await postAssertion(signClientAssertion({ ...base, now: () => Date.now() + 120_000 }));
    assert.equal(far.status, 400);
    assert.match(far.body.error_description, /more than 5 minutes/);
    const jti = randomUUID();
    const first = await postAssertion(signClientAssertion({ ...base, jti: () => jti }));
    assert.equal(first.status, 200);
    assert.equal(typeof first.body.access_token, 'string');
    const again = await postAssertion(signClientAssertion({ ...base, jti: () => jti }));
    assert.equal(again.status, 400);
    assert.match(again.body.error_description, /jti/);
    const { authErrorCode } = await import('../../../lib/nhs/pds/auth');
    assert.equal(authErrorCode(expired.body.error_description), 'PDS_AUTH_EXP');
    assert.equal(authErrorCode(again.body.error_description), 'PDS_AUTH_JTI');
  });

  it('without a token the API answers 401 ACCESS_DENIED', async () => {
    const r = await fetch(`${s.baseUrl}/Patient/9000000009`, { headers: { 'X-Request-ID': randomUUID() } });
    assert.equal(r.status, 401);
    assert.match(await r.text(), /ACCESS_DENIED/);
  });

  async function postAssertion(jwt: string): Promise<{ status: number; body: any }> {
    const r = await fetch(s.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt }) });
    return { status: r.status, body: await r.json() };
  }
});

describe('PDS helpers', () => {
  it('birthdate takes PDS syntax or a plain date meaning eq', () => {
    assert.deepEqual(birthdateParam('2010-10-22'), ['eq2010-10-22']);
    assert.deepEqual(birthdateParam('20101022'), ['eq2010-10-22']);
    assert.deepEqual(birthdateParam('ge2010-10-21,le2010-10-23'), ['ge2010-10-21', 'le2010-10-23']);
  });
  it('Retry-After: seconds or an HTTP date', () => {
    assert.equal(retryAfterMs('2'), 2000);
    assert.equal(retryAfterMs(new Date(Date.now() + 5000).toUTCString(), Date.now()) !== undefined, true);
    assert.equal(retryAfterMs('soon'), undefined);
    assert.equal(retryAfterMs(null), undefined);
  });
  it('a PEM pasted on one line is rebuilt', () => {
    const pem = testKeys().privateKey;
    const oneLine = pem.replace(/\n/g, ' ');
    assert.equal(normalisePem(oneLine).replace(/\s+/g, ''), pem.replace(/\s+/g, ''));
    assert.doesNotThrow(() => signClientAssertion({ apiKey: 'a', kid: 'k', privateKey: normalisePem(oneLine), tokenUrl: 'u' }));
  });
  it('a bad private key is PDS_KEY_INVALID and the key text is not quoted', () => {
    assert.throws(() => signClientAssertion({ apiKey: 'a', kid: 'k', privateKey: 'SECRET-NOT-A-KEY', tokenUrl: 'u' }), (e: any) => e.code === 'PDS_KEY_INVALID' && !e.message.includes('SECRET'));
  });
});
