import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MllpDecoder, encodeFrame, VT, FS, CR } from '../../../lib/mllp/framing';
import { hasCode } from '../../../lib/errors';
import { adt } from '../../helpers/mllp-peer';

const a = adt('MSG0001');
const b = adt('MSG0002', { event: 'A08' });
const texts = (fs: Buffer[]): string[] => fs.map((f) => f.toString('latin1'));

describe('MllpDecoder (HL7 v2.5.1 Appendix C block format)', () => {
  it('decodes one frame fed one byte at a time', () => {
    const d = new MllpDecoder();
    const wire = Buffer.concat([encodeFrame(a), encodeFrame(b)]);
    const got: Buffer[] = [];
    for (const byte of wire) got.push(...d.push(Buffer.from([byte])));
    assert.deepEqual(texts(got), [a, b]);
    assert.equal(d.stats.junkBytes, 0);
    assert.equal(d.partial, false);
  });

  it('returns two frames that arrive in one chunk, in order, exactly once', () => {
    const d = new MllpDecoder();
    assert.deepEqual(texts(d.push(Buffer.concat([encodeFrame(a), encodeFrame(b)]))), [a, b]);
    assert.deepEqual(d.push(Buffer.alloc(0)), []);
    assert.equal(d.stats.frames, 2);
  });

  it('handles a frame split between FS and CR without junk', () => {
    const d = new MllpDecoder();
    const w = encodeFrame(a);
    assert.deepEqual(texts(d.push(w.subarray(0, w.length - 1))), [a]);
    assert.deepEqual(d.push(w.subarray(w.length - 1)), []);
    assert.equal(d.stats.junkBytes, 0);
    assert.deepEqual(texts(d.push(encodeFrame(b))), [b]);
  });

  it('returns a frame plus keeps the start of the next', () => {
    const d = new MllpDecoder();
    const w2 = encodeFrame(b);
    assert.deepEqual(texts(d.push(Buffer.concat([encodeFrame(a), w2.subarray(0, 20)]))), [a]);
    assert.equal(d.partial, true);
    assert.deepEqual(texts(d.push(w2.subarray(20))), [b]);
  });

  it('discards and counts junk before VT', () => {
    const d = new MllpDecoder();
    const junk = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    assert.deepEqual(texts(d.push(Buffer.concat([junk, encodeFrame(a), Buffer.from('xx')]))), [a]);
    assert.equal(d.stats.junkBytes, junk.length + 2);
  });

  it('tolerates a missing CR after FS and a VT restarting an abandoned frame', () => {
    const d = new MllpDecoder();
    const noCr = Buffer.concat([Buffer.from([VT]), Buffer.from(a, 'latin1'), Buffer.from([FS])]);
    const abandoned = Buffer.concat([Buffer.from([VT]), Buffer.from('MSH|half')]);
    assert.deepEqual(texts(d.push(Buffer.concat([noCr, abandoned, encodeFrame(b)]))), [a, b]);
    assert.equal(d.stats.junkBytes, 'MSH|half'.length + 1);
  });

  it('throws MLLP_FRAME_TOO_LARGE past the limit, across chunks, and then recovers after reset', () => {
    const d = new MllpDecoder(100);
    assert.deepEqual(d.push(Buffer.concat([Buffer.from([VT]), Buffer.alloc(60, 0x41)])), []);
    assert.throws(() => d.push(Buffer.alloc(60, 0x41)), (e: unknown) => hasCode(e, 'MLLP_FRAME_TOO_LARGE'));
    assert.equal(d.partial, false);
    assert.deepEqual(texts(d.push(encodeFrame('MSH|ok'))), ['MSH|ok']);
    // exactly at the limit is fine
    assert.equal(d.push(encodeFrame(Buffer.alloc(100, 0x42)))[0]?.length, 100);
  });

  it('keeps bytes as bytes: an 8-bit body comes back unchanged', () => {
    const d = new MllpDecoder();
    const body = Buffer.from([0x4d, 0x53, 0x48, 0x80, 0xa3, 0xe9, 0xff, 0x0a]);
    const out = d.push(encodeFrame(body));
    assert.ok(out[0]?.equals(body));
  });

  it('reset() drops a half-received frame and reports its size', () => {
    const d = new MllpDecoder();
    d.push(Buffer.concat([Buffer.from([VT]), Buffer.from('MSH|abc')]));
    assert.equal(d.reset(), 7);
    assert.equal(d.partial, false);
    assert.deepEqual(texts(d.push(Buffer.from([CR]))), []);
  });
});

describe('encodeFrame (HL7 v2.5.1 Appendix C.4.2)', () => {
  it('wraps a latin1 string byte for byte, high bytes included', () => {
    const text = 'MSH|^~\\&|A\rPID|||9000000009||Mu\u00f1oz^Jos\u00e9\r';
    const w = encodeFrame(text);
    assert.deepEqual(w, Buffer.concat([Buffer.from([VT]), Buffer.from(text, 'latin1'), Buffer.from([FS, CR])]));
    assert.equal(w.length, text.length + 3);
  });

  it('wraps Buffer bytes unchanged (a UTF-8 body is not re-encoded) and an empty body', () => {
    const body = Buffer.from('PID|||9000000009||Mu\u00f1oz\r', 'utf8');
    const w = encodeFrame(body);
    assert.deepEqual(w.subarray(1, w.length - 2), body);
    assert.deepEqual([w[0], w[w.length - 2], w[w.length - 1]], [VT, FS, CR]);
    assert.deepEqual(encodeFrame(''), Buffer.from([VT, FS, CR]));
    assert.deepEqual(encodeFrame(Buffer.alloc(0)), Buffer.from([VT, FS, CR]));
  });
});
