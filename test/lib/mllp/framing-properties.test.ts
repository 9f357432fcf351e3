/**
 * Property tests (fast-check) for the MLLP block decoder (HL7 v2.5.1 Appendix C): however a byte
 * stream is cut into reads, the decoder returns the same frames and counts the same junk; for a
 * well-formed stream (frames with junk, abandoned frames and optional CRs between them) the
 * frames are exactly the bodies that were sent.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MllpDecoder } from '../../../lib/mllp/framing';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;
const RUNS = Number(process.env.MLLP_PROPERTY_RUNS ?? 500);

/** Feed `stream` cut at `cuts` (offsets, any order, duplicates allowed: empty reads). */
function decode(stream: Uint8Array, cuts: number[]): { frames: string[]; junk: number; partial: boolean } {
  const dec = new MllpDecoder();
  const at = [...cuts.map((c) => c % (stream.length + 1)), stream.length].sort((a, b) => a - b);
  const frames: string[] = [];
  let from = 0;
  for (const to of at) {
    for (const f of dec.push(Buffer.from(stream.subarray(from, to)))) frames.push(f.toString('hex'));
    from = to;
  }
  return { frames, junk: dec.stats.junkBytes, partial: dec.partial };
}

/** Bytes biased towards the framing bytes, so they meet in every combination. */
const byte = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(VT, FS, CR) }, { weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) });
const noFraming = fc.integer({ min: 0, max: 255 }).filter((b) => b !== VT && b !== FS);

describe('properties: MLLP decoder', () => {
  it('any byte stream, any split into reads: the same frames, the same junk count, the same partial state', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }).chain((s) => fc.tuple(fc.constant(s), fc.array(byte, { maxLength: 300 }))), fc.array(fc.nat(), { maxLength: 20 }), ([a, b], cuts) => {
      const stream = new Uint8Array([...a, ...b]);
      const whole = decode(stream, []);
      const split = decode(stream, cuts);
      assert.deepEqual(split, whole);
      // One byte per read is the hardest split of all.
      assert.deepEqual(decode(stream, Array.from({ length: stream.length }, (_, i) => i)), whole);
    }), { numRuns: RUNS });
  });

  it('well-formed stream: exactly the bodies sent, in order, whatever the split', () => {
    const body = fc.uint8Array({ maxLength: 60 }).map((u) => u.filter((x) => x !== VT && x !== FS));
    const item = fc.record({
      junk: fc.array(fc.integer({ min: 0, max: 255 }).filter((x) => x !== VT), { maxLength: 5 }),
      abandoned: fc.option(fc.array(noFraming, { maxLength: 10 }), { nil: undefined }),
      body,
      cr: fc.boolean(),
    });
    fc.assert(fc.property(fc.array(item, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
      const bytes: number[] = [];
      for (const it of items) {
        // Junk after a frame must not begin with CR when that frame sent none (it would be its CR).
        const junk = !it.cr && it.junk[0] === CR ? it.junk.slice(1) : it.junk;
        bytes.push(...junk);
        if (it.abandoned) bytes.push(VT, ...it.abandoned);
        bytes.push(VT, ...it.body, FS);
        if (it.cr) bytes.push(CR);
      }
      const got = decode(new Uint8Array(bytes), cuts);
      assert.deepEqual(got.frames, items.map((it) => Buffer.from(it.body).toString('hex')));
      assert.equal(got.partial, false);
    }), { numRuns: RUNS });
  });
});
