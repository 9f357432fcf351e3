/**
 * MLLP framing (HL7 v2.5.1 Appendix C, "Minimal Lower Layer Protocol" release 1/2 block format):
 * `<VT 0x0B> data <FS 0x1C><CR 0x0D>`. One decoder per connection; bytes stay Buffers and are
 * only decoded (charset from MSH-18) after a frame is complete, because a multi-byte character
 * may straddle two TCP reads.
 */
import { NhsError } from '../errors';

export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

/** Default largest accepted frame body: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;


/** Wrap one message into an MLLP block (HL7 v2.5.1 Appendix C.4.2). */
export function encodeFrame(payload: Buffer | string): Buffer {
  // One allocation, body written in place: this runs for every ACK.
  const n = payload.length;
  const out = Buffer.allocUnsafe(n + 3);
  out[0] = VT;
  if (typeof payload === 'string') out.write(payload, 1, n, 'latin1');
  else payload.copy(out, 1);
  out[n + 1] = FS;
  out[n + 2] = CR;
  return out;
}

export interface DecoderStats {
  /** Complete frames returned. */
  frames: number;
  /** Bytes outside any frame (before VT, or an abandoned partial frame) that were discarded. */
  junkBytes: number;
}

/**
 * Byte-level MLLP block decoder. Feed it every chunk a socket reads; it returns the bodies of the
 * frames completed by that chunk, in order, however the stream was split (two frames in one read,
 * a frame split between FS and CR, one byte at a time).
 *
 * Leniency, chosen so no frame is lost or duplicated: a frame ends at FS; a CR right after FS
 * (possibly in the next read) is consumed, a missing CR is tolerated. A VT inside an unfinished
 * frame means the sender abandoned it: the partial bytes are counted as junk and a new frame
 * starts. Bytes before VT are junk (counted, never delivered).
 */
export class MllpDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  private expectCr = false;
  readonly stats: DecoderStats = { frames: 0, junkBytes: 0 };

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** True while a frame has started but not ended (a close now loses a half-delivered frame). */
  get partial(): boolean {
    return this.inFrame;
  }

  /** Bytes buffered for the unfinished frame. */
  get bufferedBytes(): number {
    return this.size;
  }

  /**
   * Consume one chunk. Throws `MLLP_FRAME_TOO_LARGE` when a frame body exceeds the limit; the
   * caller must then close the connection (the stream can no longer be trusted).
   */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.expectCr) {
        this.expectCr = false;
        if (chunk[pos] === CR) {
          pos++;
          continue;
        }
      }
      if (!this.inFrame) {
        const vt = chunk.indexOf(VT, pos);
        if (vt < 0) {
          this.stats.junkBytes += len - pos;
          return out;
        }
        this.stats.junkBytes += vt - pos;
        pos = vt + 1;
        this.inFrame = true;
        this.parts = [];
        this.size = 0;
        continue;
      }
      const fs = chunk.indexOf(FS, pos);
      const end = fs < 0 ? len : fs;
      const vt = chunk.indexOf(VT, pos);
      if (vt >= 0 && vt < end) {
        // The sender restarted: drop what it abandoned, start over at this VT.
        this.stats.junkBytes += this.size + (vt - pos) + 1;
        this.parts = [];
        this.size = 0;
        pos = vt + 1;
        continue;
      }
      this.append(chunk.subarray(pos, end));
      if (fs < 0) return out;
      out.push(this.take());
      pos = fs + 1;
      this.expectCr = true;
    }
    return out;
  }

  /** Forget any partial frame (connection closed). Returns the number of bytes dropped. */
  reset(): number {
    const dropped = this.size;
    this.parts = [];
    this.size = 0;
    this.inFrame = false;
    this.expectCr = false;
    return dropped;
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    if (this.size + b.length > this.maxFrameBytes) {
      const size = this.size + b.length;
      this.reset();
      throw new NhsError('MLLP_FRAME_TOO_LARGE', `MLLP frame exceeds ${this.maxFrameBytes} bytes`, {
        detail: { limit: this.maxFrameBytes, atLeast: size },
      });
    }
    // Copy: the socket may reuse its read buffer once we return.
    this.parts.push(Buffer.from(b));
    this.size += b.length;
  }

  private take(): Buffer {
    const frame = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.inFrame = false;
    this.stats.frames++;
    return frame;
  }
}
