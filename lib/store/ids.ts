/**
 * Default record ids (messages, outbox, quarantine): fixed-width, time-ordered, unique across
 * processes. A random UUID lands anywhere in the UNIQUE index on `id`, so every insert touches a
 * random B-tree page; these ids sort by creation time, so the index grows at its right edge
 * (append-mostly) and stays in cache.
 *
 * Layout (26 characters, lower-case base 36, sortable as text):
 *   9 chars  milliseconds since the epoch, never decreasing within the process (a clock step back
 *            reuses the last value instead of going backwards)
 *   8 chars  per-process counter (never reset: uniqueness within the process does not depend on
 *            the clock at all)
 *   9 chars  per-process random tag (46 bits from crypto), so two processes — e.g. two Node-RED
 *            instances writing one SQLite file — never produce the same id even in the same ms
 *            with the same counter value.
 * Ids from different processes interleave within a millisecond, which keeps inserts near the
 * right edge of the index.
 */
import { randomBytes } from 'node:crypto';

const TIME_WIDTH = 9;
const COUNTER_WIDTH = 8;
const COUNTER_LIMIT = 36 ** COUNTER_WIDTH;

/** A random base-36 tag of exactly `width` characters. */
function randomTag(width: number): string {
  const b = randomBytes(8);
  const n = (b.readUInt32BE(0) * 0x10000 + b.readUInt16BE(4)) % 36 ** width;
  return n.toString(36).padStart(width, '0');
}

/** Creates an independent generator (own counter and tag); `now` is injectable for tests. */
export function monotonicIdGenerator(now: () => number = Date.now): () => string {
  const tag = randomTag(9);
  let last = 0;
  let counter = 0;
  return () => {
    const t = now();
    if (t > last) last = t;
    // Wrapping after 2.8e12 ids keeps the width fixed; time has moved on by then.
    counter = (counter + 1) % COUNTER_LIMIT;
    return last.toString(36).padStart(TIME_WIDTH, '0') + counter.toString(36).padStart(COUNTER_WIDTH, '0') + tag;
  };
}

/** The process-wide default generator used when StoreOptions.idGen is not given. */
export const monotonicId: () => string = monotonicIdGenerator();
