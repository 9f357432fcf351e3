/**
 * PDS test helpers: a stand-in on a free port serving PDS's published sandbox responses from
 * ../shared/data/pds-sandbox, plus a throwaway RSA key registered with it (signed-JWT auth).
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { publicJwks } from '../../lib/nhs/pds/jwt';
import { PdsStandIn, type StandInOptions } from '../../lib/nhs/pds/stand-in';
import { sharedDir, skipWithoutShared } from './shared';

export const pdsDataDir = join(sharedDir, 'data', 'pds-sandbox');
export const skipWithoutPdsData = skipWithoutShared('data/pds-sandbox');

/** Scenario numbers the tests add to the published data (test range, valid Modulus 11). */
export const SUPERSEDED_OLD = '9990000026';
export const INVALIDATED = '9990000034';
export const UNKNOWN_VALID = '9990000042';

export const API_KEY = 'test-api-key-0001';
export const KID = 'test-kid-1';

let keyPair: { privateKey: string; otherPrivateKey: string } | undefined;
/** One RSA key pair per test process (generation is slow on a loaded machine). */
export function testKeys(): { privateKey: string; otherPrivateKey: string } {
  if (!keyPair) {
    const gen = (): string => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    keyPair = { privateKey: gen(), otherPrivateKey: gen() };
  }
  return keyPair;
}

export async function startStandIn(opts: { withAuth?: boolean; tokenTtlS?: number } & Omit<Partial<StandInOptions>, 'auth'> = {}): Promise<PdsStandIn> {
  const { withAuth, tokenTtlS, ...rest } = opts;
  const s = new PdsStandIn({
    dataDir: pdsDataDir,
    superseded: { [SUPERSEDED_OLD]: '9000000009' },
    invalidated: [INVALIDATED],
    ...(withAuth ? { auth: { apiKey: API_KEY, jwks: publicJwks(testKeys().privateKey, KID), ...(tokenTtlS ? { tokenTtlS } : {}) } } : {}),
    ...rest,
  });
  await s.start();
  return s;
}
