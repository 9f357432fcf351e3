import * as crypto from 'node:crypto';

type OneShot = (algorithm: string, data: string, outputEncoding: 'buffer') => Buffer;
/** `crypto.hash` (Node ≥ 20.12): one call, no Hash object; createHash on older Node 20. */
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;
const sha256 = (key: string): Buffer => (oneShot ? oneShot('sha256', key, 'buffer') : crypto.createHash('sha256').update(key, 'utf8').digest());

/**
 * A stable resource id (RFC 4122 UUID layout, name-based with SHA-256, version nibble 5): the
 * same key always gives the same id, so the same HL7 message gives a byte-identical Bundle and a
 * replayed message updates the same resources instead of creating new ones. Keys are built from
 * business identifiers (NHS number, visit number, filler order number) where the message has
 * them, else from sending facility + MSH-10 + segment position. Never random, never time-based.
 */
export function stableId(key: string): string {
  const h = sha256(key);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
