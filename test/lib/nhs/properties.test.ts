/**
 * Property tests (fast-check) for PDS response handling: whatever PDS answers (status, mutated
 * sandbox responses from ../shared/data/pds-sandbox read in place, any JSON, raw bytes), retrieve,
 * verify and trace give a LookupResult with a PDS_* code and an OperationOutcome that has an error
 * exactly when the route is not `matched` — never a throw. Oracle: the fuzz target's
 * (test/lib/fuzz/targets.ts). PDS is replaced by a fetch answering the generated response (a
 * stand-in for the remote national service). Bounded for `npm test` (PDS_PROPERTY_RUNS).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PdsService } from '../../../lib/nhs/pds/lookup';
import { pdsResponseTarget, type HttpInput } from '../fuzz/targets';

const RUNS = Number(process.env.PDS_PROPERTY_RUNS ?? 200);

describe('properties: PDS responses', () => {
  it('any status and body: a LookupResult with a PDS_* code, never a throw', async () => {
    await fc.assert(fc.asyncProperty(pdsResponseTarget.arbitrary, async (i: HttpInput) => { await pdsResponseTarget.check(i); }), { numRuns: RUNS });
  });

  it('a body that is not JSON is PDS_BAD_RESPONSE on the unavailable route', async () => {
    const s = new PdsService({ environment: 'custom', baseUrl: 'http://pds.invalid', retry: { maxAttempts: 1 }, fetch: (async () => new Response('<html>', { status: 200 })) });
    try {
      const r = await s.retrieve('9000000009');
      assert.equal(r.route, 'unavailable');
      assert.equal(r.code, 'PDS_BAD_RESPONSE');
    } finally {
      s.close();
    }
  });
});
