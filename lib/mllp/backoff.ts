/** Retry back-off shared by the MLLP client (reconnects) and the outbox sender (redelivery). */
export interface BackoffOptions {
  /** First delay (default 1000 ms). */
  baseMs?: number;
  /** Ceiling (default 60 000 ms). */
  maxMs?: number;
}

/**
 * Exponential back-off: `baseMs · 2^(attempt-1)`, capped at `maxMs`. Deterministic on purpose
 * (no jitter) so tests and operators can predict the next attempt; one sender per destination
 * means there is no thundering herd to spread.
 */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const base = o.baseMs ?? 1000;
  const max = o.maxMs ?? 60_000;
  if (attempt <= 0) return 0;
  return Math.min(max, base * 2 ** Math.min(attempt - 1, 30));
}
