/**
 * Bearer tokens for the application-restricted PDS API: a signed client assertion
 * ({@link signClientAssertion}) exchanged at `/oauth2/token` with the OAuth 2.0
 * client-credentials grant and `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
 * (RFC 7523). One provider per PDS config: the token is cached until shortly before it expires
 * and shared by every node on that config; concurrent callers wait on one exchange.
 */
import { NhsError } from '../../errors';
import { signClientAssertion } from './jwt';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface TokenProviderOptions {
  tokenUrl: string;
  apiKey: string;
  kid: string;
  privateKey: string;
  /** Renew this long before expiry (default 30 s) so a token never expires in flight. */
  skewMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * NHS England's token endpoint answers `{ error, error_description }`; the description names the
 * claim at fault. Each becomes its own code so a Catch node (and a test) can tell them apart.
 */
export function authErrorCode(description: string): string {
  const d = description.toLowerCase();
  if (d.includes('kid')) return 'PDS_AUTH_KID';
  if (d.includes('aud')) return 'PDS_AUTH_AUD';
  if (d.includes('jti')) return 'PDS_AUTH_JTI';
  if (d.includes('exp')) return 'PDS_AUTH_EXP';
  if (d.includes('iss') || d.includes('sub')) return 'PDS_AUTH_ISS';
  if (d.includes('signature')) return 'PDS_AUTH_SIGNATURE';
  return 'PDS_AUTH_REJECTED';
}

export class TokenProvider {
  private token: { value: string; expiresAt: number } | null = null;
  private pending: Promise<string> | null = null;
  /** Token exchanges made (tests and metrics count them). */
  exchanges = 0;

  constructor(private readonly o: TokenProviderOptions) {}

  /** A valid bearer token: the cached one, or a fresh exchange. */
  async get(): Promise<string> {
    const now = (this.o.now ?? Date.now)();
    if (this.token && now < this.token.expiresAt - (this.o.skewMs ?? 30_000)) return this.token.value;
    if (!this.pending) {
      this.pending = this.exchange().finally(() => { this.pending = null; });
    }
    return this.pending;
  }

  /**
   * Forget `used` (after a 401 on a request made with it). A token already replaced by another
   * caller's refresh is kept, so a burst of 401s leads to one exchange, not one per request.
   */
  invalidate(used: string): void {
    if (this.token?.value === used) this.token = null;
  }

  private async exchange(): Promise<string> {
    const assertion = signClientAssertion({ apiKey: this.o.apiKey, kid: this.o.kid, privateKey: this.o.privateKey, tokenUrl: this.o.tokenUrl, ...(this.o.now ? { now: this.o.now } : {}) });
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion });
    this.exchanges++;
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(this.o.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
    } catch (e) {
      throw new NhsError('PDS_AUTH_UNAVAILABLE', 'the token endpoint could not be reached', { cause: e });
    }
    const text = await res.text().catch(() => '');
    let json: Record<string, unknown> = {};
    try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
    if (!res.ok) {
      const desc = typeof json.error_description === 'string' ? json.error_description.slice(0, 200) : '';
      const code = res.status >= 500 || res.status === 429 ? 'PDS_AUTH_UNAVAILABLE' : authErrorCode(desc);
      throw new NhsError(code, `token request rejected (HTTP ${res.status})${desc ? `: ${desc}` : ''}`, { detail: { status: res.status, error: typeof json.error === 'string' ? json.error : undefined } });
    }
    const value = json.access_token;
    // NHS England sends expires_in as a string ("599").
    const ttl = Number(json.expires_in);
    if (typeof value !== 'string' || !value || !Number.isFinite(ttl) || ttl <= 0) throw new NhsError('PDS_AUTH_REJECTED', 'token response has no access_token/expires_in');
    this.token = { value, expiresAt: (this.o.now ?? Date.now)() + ttl * 1000 };
    return value;
  }
}
