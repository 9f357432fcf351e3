/**
 * Signed-JWT client authentication for NHS England's application-restricted APIs ("Application-
 * restricted RESTful APIs - signed JWT authentication": RFC 7523 private_key_jwt, RS512, header
 * `kid`, claims `iss` = `sub` = API key, `aud` = the token URL, `jti` a fresh UUID, `exp` at most
 * five minutes ahead). Built on node:crypto (DESIGN §6 prefers the platform): RS512 is
 * RSASSA-PKCS1-v1_5 with SHA-512, which `createSign('RSA-SHA512')` is.
 */
import { createPrivateKey, createPublicKey, createSign, createVerify, randomUUID, type KeyObject } from 'node:crypto';
import { NhsError } from '../../errors';

/** The longest `exp` NHS England's token endpoint accepts, in seconds after now. */
export const MAX_JWT_LIFETIME_S = 300;

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

function privateKeyOf(pem: string | KeyObject): KeyObject {
  try {
    const key = typeof pem === 'string' ? createPrivateKey(pem) : pem;
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    return key;
  } catch (e) {
    // The PEM text itself is a secret: never quoted in the message.
    throw new NhsError('PDS_KEY_INVALID', 'the private key is not a readable RSA private key (PEM)', { cause: e });
  }
}

export interface ClientAssertionInput {
  apiKey: string;
  kid: string;
  privateKey: string | KeyObject;
  /** The environment's token URL (the `aud` claim). */
  tokenUrl: string;
  /** Lifetime in seconds, capped at {@link MAX_JWT_LIFETIME_S}; default 300. */
  lifetimeS?: number;
  now?: () => number;
  jti?: () => string;
}

/** Sign the client-assertion JWT for `/oauth2/token` (RS512, header kid, iss=sub=API key). */
export function signClientAssertion(i: ClientAssertionInput): string {
  if (!i.apiKey || !i.kid) throw new NhsError('PDS_AUTH_CONFIG', 'signed-JWT authentication needs an API key and a key id (kid)');
  const key = privateKeyOf(i.privateKey);
  const nowS = Math.floor((i.now ?? Date.now)() / 1000);
  const life = Math.min(MAX_JWT_LIFETIME_S, Math.max(1, i.lifetimeS ?? MAX_JWT_LIFETIME_S));
  const header = { alg: 'RS512', typ: 'JWT', kid: i.kid };
  const claims = { iss: i.apiKey, sub: i.apiKey, aud: i.tokenUrl, jti: (i.jti ?? randomUUID)(), iat: nowS, exp: nowS + life };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = createSign('RSA-SHA512').update(input).sign(key);
  return `${input}.${b64url(sig)}`;
}

export interface Jwk { kty: string; n?: string; e?: string; kid?: string; alg?: string; use?: string; [k: string]: unknown }

/**
 * The JWKS to register with NHS England for a private key (`{ keys: [{ kty, n, e, kid, alg:
 * "RS512", use: "sig" }] }`): only the public part is ever exported.
 */
export function publicJwks(privateKey: string | KeyObject, kid: string): { keys: Jwk[] } {
  const pub = createPublicKey(privateKeyOf(privateKey));
  const jwk = pub.export({ format: 'jwk' }) as Jwk;
  return { keys: [{ kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: 'RS512', use: 'sig' }] };
}

/** A decoded JWT (header and claims), signature not yet checked. */
export interface DecodedJwt { header: Record<string, unknown>; claims: Record<string, unknown>; signingInput: string; signature: Buffer }

/** Split and decode a compact JWS; undefined when it is not one. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || token.length > 16384) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object') return undefined;
    return { header: header as Record<string, unknown>, claims: claims as Record<string, unknown>, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
  } catch {
    return undefined;
  }
}

/** True when the RS512 signature of `jwt` verifies against the public JWK. */
export function verifyRs512(jwt: DecodedJwt, jwk: Jwk): boolean {
  try {
    const key = createPublicKey({ key: jwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
    return createVerify('RSA-SHA512').update(jwt.signingInput).verify(key, jwt.signature);
  } catch {
    return false;
  }
}

/**
 * A PEM pasted into a one-line credential field loses its line breaks (or carries `\n` escapes):
 * rebuild the 64-column body so node:crypto can read it.
 */
export function normalisePem(text: string): string {
  const t = text.trim().replace(/\\n/g, '\n');
  const m = /^(-----BEGIN [A-Z ]+-----)\s*([\s\S]*?)\s*(-----END [A-Z ]+-----)$/.exec(t);
  if (!m) return t;
  const body = m[2]!.replace(/\s+/g, '');
  return `${m[1]}\n${body.match(/.{1,64}/g)?.join('\n') ?? ''}\n${m[3]}\n`;
}
