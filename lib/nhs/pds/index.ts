/** PDS FHIR API (R4): client, signed-JWT auth, rate limiter, lookups and the local stand-in. */
export * from './environments';
export * from './jwt';
export * from './auth';
export * from './limiter';
export * from './client';
export * from './patient';
export * from './lookup';
