import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TerminologyClient, retryAfterMs } from '../../../lib/terminology/client';
import { hasCode } from '../../../lib/errors';
import { skipWithoutShared } from '../../helpers/shared';
import { startTerminologyStandIn, type StandIn } from '../../helpers/terminology-server';
import { SCT } from './ukcore-data';

const skip = skipWithoutShared('fhir-packages');
const ETHNIC_VS = 'https://fhir.hl7.org.uk/ValueSet/UKCore-EthnicCategory';
const ETHNIC_CS = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland';
const creds = { clientId: 'standin-client', clientSecret: 'standin-secret' };

describe('terminology client against the stand-in server', { skip }, () => {
  let s: StandIn;
  before(async () => { s = await startTerminologyStandIn({ auth: creds }); });
  after(() => s?.close());
  const client = (o: Partial<ConstructorParameters<typeof TerminologyClient>[0]> = {}): TerminologyClient =>
    new TerminologyClient({ baseUrl: s.base, auth: { tokenUrl: s.tokenUrl, ...creds }, backoffMs: 5, rateLimit: 0, ...o });

  it('CodeSystem/$lookup (UK Core code system and the SNOMED CT subset)', async () => {
    const c = client();
    assert.equal((await c.lookup({ system: ETHNIC_CS, code: 'A' })).display, 'White - British');
    const mi = await c.lookup({ system: SCT, code: '22298006' });
    assert.match(mi.display ?? '', /myocardial infarction/i);
    await assert.rejects(c.lookup({ system: SCT, code: '1234567' }), (e) => hasCode(e, 'TERMINOLOGY_NOT_FOUND'));
    await assert.rejects(c.lookup({ system: 'http://nope', code: 'A' }), (e) => hasCode(e, 'TERMINOLOGY_NOT_FOUND'));
  });

  it('CodeSystem/$validate-code and ValueSet/$validate-code', async () => {
    const c = client();
    assert.deepEqual(await c.validateCode({ system: ETHNIC_CS, code: 'B' }), { result: true, display: 'White - Irish' });
    assert.equal((await c.validateCode({ system: ETHNIC_CS, code: 'B', display: 'Wrong' })).result, false);
    assert.equal((await c.validateInValueSet(ETHNIC_VS, { system: ETHNIC_CS, code: 'A' })).result, true);
    const no = await c.validateInValueSet(ETHNIC_VS, { system: ETHNIC_CS, code: 'ZZ' });
    assert.equal(no.result, false);
    assert.ok(no.message);
    await assert.rejects(c.validateInValueSet('http://nope/vs', { system: ETHNIC_CS, code: 'A' }), (e) => hasCode(e, 'TERMINOLOGY_NOT_FOUND'));
  });

  it('ValueSet/$expand pages through offset/count', async () => {
    const c = client();
    const first = await c.expand({ url: ETHNIC_VS, offset: 0, count: 5 });
    assert.equal(first.contains.length, 5);
    assert.ok(first.total! > 18, `total ${first.total}`);
    const before = s.counts.get('/fhir/ValueSet/$expand') ?? 0;
    const all = await c.expandAll(ETHNIC_VS, { pageSize: 7 });
    assert.equal(all.length, first.total);
    assert.equal(new Set(all.map((x) => `${x.system}|${x.code}`)).size, all.length, 'no page repeated');
    assert.equal((s.counts.get('/fhir/ValueSet/$expand') ?? 0) - before, Math.ceil(first.total! / 7));
    await assert.rejects(c.expand({ url: 'https://fhir.hl7.org.uk/ValueSet/UKCore-ConditionCode' }), (e) => hasCode(e, 'TERMINOLOGY_UNPROCESSABLE'), 'an ECL filter the stand-in cannot expand is a 422');
  });

  it('ConceptMap/$translate (the FHIR specification\'s SNOMED CT → ICD-10 example map)', async () => {
    const c = client();
    const r = await c.translate({ url: 'http://hl7.org/fhir/ConceptMap/103', system: SCT, code: '263204007' });
    assert.equal(r.result, true);
    assert.deepEqual(r.targets, [{ system: 'http://hl7.org/fhir/sid/icd-10-us', code: 'S52.209A', equivalence: 'narrower' }]);
    const none = await c.translate({ system: SCT, code: '22298006', targetSystem: 'http://hl7.org/fhir/sid/icd-10-us' });
    assert.equal(none.result, false);
    assert.deepEqual(none.targets, []);
  });

  it('one token for many requests; a revoked token causes exactly one refresh', async () => {
    const c = client({ cacheTtlMs: 0 });
    for (const code of ['A', 'B', 'C', 'D']) await c.lookup({ system: ETHNIC_CS, code });
    assert.equal(c.stats.tokenRequests, 1);
    s.revokeTokens();
    assert.equal((await c.lookup({ system: ETHNIC_CS, code: 'A' })).display, 'White - British');
    assert.equal(c.stats.tokenRequests, 2, 'one refresh after the 401');
  });

  it('401 that persists after the refresh is TERMINOLOGY_UNAUTHORIZED (no loop)', async () => {
    const c = client({ cacheTtlMs: 0 });
    s.inject({ status: 401 }, { status: 401 });
    await assert.rejects(c.lookup({ system: ETHNIC_CS, code: 'A' }), (e) => hasCode(e, 'TERMINOLOGY_UNAUTHORIZED'));
    assert.equal(c.stats.tokenRequests, 2);
    assert.equal(c.stats.requests, 2);
  });

  it('wrong client credentials are TERMINOLOGY_AUTH_FAILED', async () => {
    const c = new TerminologyClient({ baseUrl: s.base, auth: { tokenUrl: s.tokenUrl, clientId: 'x', clientSecret: 'y' }, rateLimit: 0 });
    await assert.rejects(c.lookup({ system: ETHNIC_CS, code: 'A' }), (e) => hasCode(e, 'TERMINOLOGY_AUTH_FAILED'));
  });

  it('100 identical concurrent lookups are one request', async () => {
    const slow = await startTerminologyStandIn({ auth: creds, delayMs: 50 });
    try {
      const c = new TerminologyClient({ baseUrl: slow.base, auth: { tokenUrl: slow.tokenUrl, ...creds }, rateLimit: 0 });
      const all = await Promise.all(Array.from({ length: 100 }, () => c.lookup({ system: SCT, code: '22298006' })));
      assert.equal(new Set(all.map((r) => r.display)).size, 1);
      assert.equal(slow.counts.get('/fhir/CodeSystem/$lookup'), 1);
      assert.equal(slow.counts.get('/token'), 1);
      assert.equal(c.stats.coalesced, 99);
    } finally {
      await slow.close();
    }
  });

  it('answers are cached (LRU with TTL)', async () => {
    const c = client({ cacheTtlMs: 60_000 });
    const before = s.counts.get('/fhir/CodeSystem/$validate-code') ?? 0;
    for (let i = 0; i < 10; i++) await c.validateCode({ system: ETHNIC_CS, code: 'C' });
    assert.equal((s.counts.get('/fhir/CodeSystem/$validate-code') ?? 0) - before, 1);
    assert.equal(c.stats.cacheHits, 9);
    const c0 = client({ cacheTtlMs: 0 });
    await c0.validateCode({ system: ETHNIC_CS, code: 'C' });
    await c0.validateCode({ system: ETHNIC_CS, code: 'C' });
    assert.equal(c0.stats.cacheHits, 0, 'TTL 0 disables the cache');
  });

  it('429 with Retry-After is waited out and retried', async () => {
    const c = client({ cacheTtlMs: 0 });
    s.inject({ status: 429, headers: { 'retry-after': '1' } });
    const t0 = Date.now();
    assert.equal((await c.lookup({ system: ETHNIC_CS, code: 'A' })).display, 'White - British');
    assert.ok(Date.now() - t0 >= 950, 'waited the Retry-After second');
    assert.equal(c.stats.retries, 1);
    s.inject({ status: 429, headers: { 'retry-after': '3600' } });
    await assert.rejects(c.lookup({ system: ETHNIC_CS, code: 'B' }), (e) => hasCode(e, 'TERMINOLOGY_RATE_LIMITED'), 'a wait over the limit is not sat out');
  });

  it('5xx is retried with back-off, then a clear error', async () => {
    const c = client({ cacheTtlMs: 0, retries: 2 });
    s.inject({ status: 503 });
    assert.equal((await c.lookup({ system: ETHNIC_CS, code: 'A' })).display, 'White - British');
    s.inject({ status: 500 }, { status: 502 }, { status: 503 });
    const before = s.counts.get('/fhir/CodeSystem/$lookup') ?? 0;
    await assert.rejects(c.lookup({ system: ETHNIC_CS, code: 'A' }), (e) => hasCode(e, 'TERMINOLOGY_SERVER_ERROR') && (e as any).detail.status === 503);
    assert.equal((s.counts.get('/fhir/CodeSystem/$lookup') ?? 0) - before, 3, 'first try + 2 retries');
  });

  it('404 and 422 are not retried', async () => {
    const c = client({ cacheTtlMs: 0 });
    s.inject({ status: 422 });
    const before = s.counts.get('/fhir/CodeSystem/$lookup') ?? 0;
    await assert.rejects(c.lookup({ system: ETHNIC_CS, code: 'A' }), (e) => hasCode(e, 'TERMINOLOGY_UNPROCESSABLE') && (e as any).detail.issues[0] === 'transient');
    assert.equal((s.counts.get('/fhir/CodeSystem/$lookup') ?? 0) - before, 1);
  });

  it('timeouts and unreachable servers are clear errors', async () => {
    const c = client({ cacheTtlMs: 0, timeoutMs: 100, retries: 1 });
    s.inject({ status: 200, delayMs: 1000 }, { status: 200, delayMs: 1000 });
    await assert.rejects(c.lookup({ system: ETHNIC_CS, code: 'A' }), (e) => hasCode(e, 'TERMINOLOGY_TIMEOUT'));
    const dead = new TerminologyClient({ baseUrl: 'http://127.0.0.1:1/fhir', retries: 0, rateLimit: 0 });
    await assert.rejects(dead.lookup({ system: SCT, code: '22298006' }), (e) => hasCode(e, 'TERMINOLOGY_NETWORK'));
    assert.throws(() => new TerminologyClient({ baseUrl: 'not a url' }), (e) => hasCode(e, 'TERMINOLOGY_CONFIG'));
  });

  it('the rate limit spaces requests', async () => {
    const c = client({ cacheTtlMs: 0, rateLimit: 20 });
    const t0 = Date.now();
    await Promise.all(['A', 'B', 'C', 'D', 'E'].map((code) => c.lookup({ system: ETHNIC_CS, code })));
    assert.ok(Date.now() - t0 >= 190, 'five requests at 20/s take at least 200 ms');
  });
});

describe('Retry-After', () => {
  it('seconds and HTTP dates', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(null), undefined);
    assert.equal(retryAfterMs('soon'), undefined);
    const d = retryAfterMs(new Date(Date.now() + 5000).toUTCString())!;
    assert.ok(d > 3000 && d <= 5000);
  });
});

describe('RemoteBindingCache (validator hook) against the stand-in', { skip }, () => {
  it('prefetches ValueSet membership and answers synchronously; failures stay unknown', async () => {
    const { RemoteBindingCache } = await import('../../../lib/terminology/remote-bindings');
    const s = await startTerminologyStandIn();
    try {
      const c = new TerminologyClient({ baseUrl: s.base, rateLimit: 0, backoffMs: 1, retries: 0 });
      const cache = new RemoteBindingCache(c);
      assert.equal(cache.check(ETHNIC_VS, ETHNIC_CS, 'A'), 'unknown', 'not asked yet');
      const r = await cache.prefetch([
        { valueSet: ETHNIC_VS, system: ETHNIC_CS, code: 'A' },
        { valueSet: ETHNIC_VS, system: ETHNIC_CS, code: 'ZZ' },
        { valueSet: 'http://nope/vs', system: ETHNIC_CS, code: 'A' },
      ]);
      assert.equal(r.asked, 3);
      assert.deepEqual(r.failed.map((f) => f.code), ['TERMINOLOGY_NOT_FOUND']);
      assert.equal(cache.check(ETHNIC_VS, ETHNIC_CS, 'A'), 'ok');
      assert.equal(cache.check(ETHNIC_VS, ETHNIC_CS, 'ZZ'), 'not-in-vs');
      assert.equal(cache.check('http://nope/vs', ETHNIC_CS, 'A'), 'unknown');
      assert.equal((await cache.prefetch([{ valueSet: ETHNIC_VS, system: ETHNIC_CS, code: 'A' }])).asked, 0, 'answered ones are not asked again');
    } finally {
      await s.close();
    }
  });
});
