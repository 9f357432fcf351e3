/**
 * The one error class of the suite. Every operational failure (bind, connect, timeout, store
 * down, oversized record) is an `NhsError` with an own `code` property, so a Node-RED Catch node
 * sees `msg.error.code` and a test can assert on the code rather than on wording.
 * Messages never carry patient-identifiable data (DESIGN.md §3).
 */
export class NhsError extends Error {
  /** Stable machine-readable code, e.g. `STORE_CLOSED`, `MLLP_ACK_TIMEOUT`. */
  readonly code: string;
  /** Optional non-identifying detail (ids, counts, limits) for logs and tests. */
  readonly detail?: Record<string, unknown>;

  constructor(code: string, message: string, options?: { cause?: unknown; detail?: Record<string, unknown> }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'NhsError';
    this.code = code;
    if (options?.detail) this.detail = options.detail;
  }
}

/** True when `e` is an Error carrying the given code (ours, or a Node system error). */
export function hasCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** Normalise anything thrown into an Error with an own `code` (defaults to `fallbackCode`). */
export function toNhsError(e: unknown, fallbackCode: string): NhsError {
  if (e instanceof NhsError) return e;
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : fallbackCode;
  const message = e instanceof Error ? e.message : String(e);
  return new NhsError(code, message, { cause: e });
}
