/**
 * Shapes of parsed FHIR JSON (FHIR R4 §2.6.2) that every check of the walker shares, kept in one
 * place so the checks agree on what an object or an absolute URI is.
 */

/** A JSON object (resource, datatype or backbone element). */
export type Obj = Record<string, unknown>;

/** A JSON object: not null, not an array. */
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Starts with a URI scheme (RFC 3986 §3.1), i.e. an absolute URI rather than a local reference. */
export const ABSOLUTE_URI = /^[a-z][a-z0-9+.-]*:/i;

/** One item of an element: its value, its `_` sibling (id/extensions of a primitive) and its array index. */
export interface Item { v: unknown; e: unknown; i: number }
