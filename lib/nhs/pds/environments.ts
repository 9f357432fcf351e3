/**
 * PDS FHIR API (R4) environments as NHS England publishes them ("Personal Demographics Service
 * (FHIR) API", Environments and testing): the open sandbox needs no authentication; integration
 * and production use application-restricted signed-JWT authentication at the environment's
 * `/oauth2/token`.
 */
/** `stand-in`: the local PDS stand-in (lib/nhs/pds/stand-in.ts) with synthetic patients — not PDS. */
export type PdsEnvironment = 'sandbox' | 'integration' | 'production' | 'custom' | 'stand-in';

export interface PdsEndpoint {
  environment: PdsEnvironment;
  /** FHIR base, e.g. https://int.api.service.nhs.uk/personal-demographics/FHIR/R4 (no trailing slash). */
  baseUrl: string;
  /** Token URL (also the JWT `aud`), or undefined when the environment needs no auth. */
  tokenUrl: string | undefined;
}

const KNOWN: Record<Exclude<PdsEnvironment, 'custom' | 'stand-in'>, PdsEndpoint> = {
  sandbox: { environment: 'sandbox', baseUrl: 'https://sandbox.api.service.nhs.uk/personal-demographics/FHIR/R4', tokenUrl: undefined },
  integration: { environment: 'integration', baseUrl: 'https://int.api.service.nhs.uk/personal-demographics/FHIR/R4', tokenUrl: 'https://int.api.service.nhs.uk/oauth2/token' },
  production: { environment: 'production', baseUrl: 'https://api.service.nhs.uk/personal-demographics/FHIR/R4', tokenUrl: 'https://api.service.nhs.uk/oauth2/token' },
};

export function isPdsEnvironment(v: unknown): v is PdsEnvironment {
  return v === 'sandbox' || v === 'integration' || v === 'production' || v === 'custom' || v === 'stand-in';
}

/**
 * Endpoint for an environment. `custom` takes a base URL (http or https) and, when `auth` is
 * true, a token URL defaulting to `<origin>/oauth2/token` as on the NHS API platform.
 */
export function pdsEndpoint(environment: PdsEnvironment, custom?: { baseUrl?: string; tokenUrl?: string; auth?: boolean }): PdsEndpoint {
  if (environment !== 'custom' && environment !== 'stand-in') return KNOWN[environment];
  const raw = (custom?.baseUrl ?? '').trim().replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError('custom PDS environment needs a base URL (http:// or https://)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('PDS base URL must be http:// or https://');
  const tokenUrl = custom?.auth && environment === 'custom' ? (custom.tokenUrl?.trim() || `${url.origin}/oauth2/token`) : undefined;
  return { environment, baseUrl: raw, tokenUrl };
}
