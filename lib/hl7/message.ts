/**
 * The one HL7 v2 message model (HL7 v2.5.1 Chapter 2, 2.5 "Message construction rules").
 *
 * Parsing is lazy: `parseHl7` only cuts the text into segments and checks the MSH; a read walks
 * to the field it wants, and a segment is split into fields only when `set` or `toJSON` needs
 * it. Each segment keeps its original text and its original terminator, and only segments that
 * `set` touched are re-serialized, so
 * `parseHl7(t).message.toString() === t` byte for byte and a one-field edit changes one field.
 */
import { NhsError } from '../errors';
import type { Delimiters } from './delimiters';
import { canEncodeHl7, escapeHl7, unescapeHl7 } from './escape';
import { parsePath, requirePath, type Hl7Path } from './path';
import { nth, replaceNth, type Seg } from './text';

/** HL7 explicit null (HL7 v2.5.1 2.5.3): "delete the value", distinct from an empty field. */
export const HL7_NULL = '""';

/**
 * The plain-JSON form of a message carried on `msg.hl7` (DESIGN.md §2).
 * `segments[i][n]` is field n of segment i as encoded HL7 text (`segments[i][0]` is the segment
 * ID; for MSH, `[1]` is MSH-1 and `[2]` MSH-2, so `[n]` is always MSH-n). `eol` is the segment
 * terminator written after every segment, or one terminator per segment when the original mixed
 * them or had none after the last segment. `lead` and `trail` hold what a lenient parse accepted
 * around the message (see `parseHl7`), so that `fromJSON(toJSON(m)).toString() === m.toString()`.
 */
export interface Hl7Json {
  version?: string;
  /** `MSH-9.1^MSH-9.2`, e.g. `ADT^A01`. */
  type?: string;
  /** MSH-10. */
  controlId?: string;
  /** MSH-18 (first repetition), e.g. `8859/1`, `UNICODE UTF-8`. */
  charset?: string;
  segments: string[][];
  eol: string | string[];
  /**
   * Text before the MSH that belongs to no segment: a byte-order mark, an MLLP start-block byte
   * (0x0B), blank lines. Present only when there was any.
   */
  lead?: string;
  /**
   * Text after the last segment that belongs to no segment: blank lines, trailing whitespace, an
   * MLLP end block (0x1C, usually with its CR). Present only when there was any.
   */
  trail?: string;
}

/** One segment of a message: a view that reads and writes through its message. */
export class Hl7Segment {
  /** @internal */
  constructor(private readonly msg: Hl7Message, private readonly seg: Seg, readonly occurrence: number) {}

  /** Segment ID, e.g. `PID`. */
  get name(): string { return this.seg.name; }

  /** Value at a path relative to this segment, e.g. `3[2].1` (same rules as `Hl7Message.get`). */
  get(rel: string): string | undefined {
    const p = parsePath(`${this.seg.name}-${rel}`);
    return p ? this.msg.readAt(this.seg, p, false) : undefined;
  }

  /** Encoded text at a path relative to this segment (same rules as `Hl7Message.getRaw`). */
  getRaw(rel: string): string | undefined {
    const p = parsePath(`${this.seg.name}-${rel}`);
    return p ? this.msg.readAt(this.seg, p, true) : undefined;
  }

  /** Set a value at a path relative to this segment (same rules as `Hl7Message.set`). */
  set(rel: string, value: string): void {
    this.msg.writeAt(this.seg, requirePath(`${this.seg.name}-${rel}`), value, false);
  }

  /** Number of the last field present (MSH counts MSH-1). */
  get fieldCount(): number {
    const f = this.msg.fieldsOf(this.seg);
    return this.seg.name === 'MSH' ? f.length : f.length - 1;
  }

  /** Segment text as it will be serialized (no terminator). */
  toString(): string { return this.seg.raw; }
}

/**
 * A parsed HL7 v2 message. Paths are 1-based: `SEG[occurrence]-field[repetition].component.sub`
 * (see `./path`). Reading never throws; writing throws `HL7_BAD_PATH` for a malformed path.
 */
export class Hl7Message {
  /** The delimiters this message declared in MSH-1/MSH-2. */
  readonly delimiters: Readonly<Delimiters>;
  private readonly segs: Seg[];
  private text: string | undefined;
  private index: Map<string, Seg[]> | undefined;
  /** Text before the MSH / after the last segment that a lenient parse kept (see `Hl7Json`). */
  private readonly lead: string;
  private readonly trail: string;

  /** @internal use `parseHl7` or `fromJSON`. */
  constructor(segs: Seg[], delimiters: Delimiters, text: string | undefined, lead = '', trail = '') {
    this.segs = segs;
    this.delimiters = delimiters;
    this.text = text;
    this.lead = lead;
    this.trail = trail;
  }

  /** MSH-10 message control id. */
  get controlId(): string | undefined { return this.get('MSH-10'); }
  /** `MSH-9.1^MSH-9.2` (message code and trigger event), e.g. `ADT^A01`. */
  get type(): string | undefined {
    const code = this.get('MSH-9.1');
    if (code === undefined) return undefined;
    const ev = this.get('MSH-9.2');
    return ev === undefined ? code : `${code}^${ev}`;
  }
  /** MSH-9.2 trigger event, e.g. `A01`. */
  get event(): string | undefined { return this.get('MSH-9.2'); }
  /** MSH-12.1 version id, e.g. `2.5.1`. */
  get version(): string | undefined { return this.get('MSH-12.1'); }
  /** MSH-18 first repetition: the character set of the message (HL7 table 0211), if declared. */
  get charset(): string | undefined { return this.get('MSH-18[1]'); }

  /**
   * Read a value. A missing repetition means the first one. Returns undefined when the segment
   * or element is absent or empty, `'""'` (HL7_NULL) for an explicit HL7 null, the unescaped
   * text for an element with no further structure, and the still-encoded text (delimiters and
   * escapes intact) when the addressed element has components/sub-components below it.
   * `MSH-1` is the field separator and `MSH-2` the encoding characters.
   */
  get(path: string): string | undefined {
    const p = parsePath(path);
    if (!p) return undefined;
    const seg = this.find(p.segment, p.occurrence);
    return seg ? this.readAt(seg, p, false) : undefined;
  }

  /**
   * Encoded text at a path, escapes not decoded. Unlike `get`, a field path without `[n]`
   * returns the whole field, all repetitions included.
   */
  getRaw(path: string): string | undefined {
    const p = parsePath(path);
    if (!p) return undefined;
    const seg = this.find(p.segment, p.occurrence);
    return seg ? this.readAt(seg, p, true) : undefined;
  }

  /** Every repetition of a field (`PID-3`) or of one component of it (`PID-3.1`), unescaped. */
  getAll(path: string): string[] {
    const p = parsePath(path);
    if (!p) return [];
    const seg = this.find(p.segment, p.occurrence);
    if (!seg) return [];
    const whole = this.readAt(seg, { ...p, repetition: undefined, component: undefined, subcomponent: undefined }, true);
    if (whole === undefined) return [];
    const sep = this.delimiters.repetition;
    // Split once: walking to repetition r for each r is quadratic, and a hostile field of 200k
    // `~` (well under the frame limit) then blocked the event loop for minutes (fuzzing found it).
    const reps = sep === undefined ? [whole] : whole.split(sep);
    return reps.map((r) => this.within(r, p, false) ?? '');
  }

  /**
   * Write a plain-text value (delimiters in it are escaped). A missing repetition means the first
   * one. Missing fields/components are padded; a missing segment is appended when `occurrence`
   * is one past the last. Write `'""'` for an HL7 null. MSH-1/MSH-2 cannot be changed. In a
   * message whose short MSH-2 declares no escape character, a value holding a delimiter or CR/LF
   * cannot be written and throws `HL7_BAD_VALUE`; a repetition or sub-component the message has
   * no separator for throws `HL7_BAD_PATH`.
   */
  set(path: string, value: string): void {
    const p = requirePath(path);
    let seg = this.find(p.segment, p.occurrence);
    if (!seg) seg = this.append(p);
    this.writeAt(seg, p, value, false);
  }

  /**
   * Write encoded HL7 text at exactly the addressed level (a field path without `[n]` replaces
   * the whole field). The text may only contain delimiters below that level.
   */
  setRaw(path: string, encoded: string): void {
    const p = requirePath(path);
    let seg = this.find(p.segment, p.occurrence);
    if (!seg) seg = this.append(p);
    this.writeAt(seg, p, encoded, true);
  }

  /** Segments in order (blank lines skipped), optionally only those with one segment ID. */
  segments(name?: string): Hl7Segment[] {
    const out: Hl7Segment[] = [];
    const count = new Map<string, number>();
    for (const s of this.segs) {
      if (s.name === '' || (name !== undefined && s.name !== name)) continue;
      const k = (count.get(s.name) ?? 0) + 1;
      count.set(s.name, k);
      out.push(new Hl7Segment(this, s, k));
    }
    return out;
  }

  /** The message text: byte-identical to the input for untouched segments. */
  toString(): string {
    if (this.text === undefined) {
      let t = this.lead;
      for (const s of this.segs) t += s.raw + s.eol;
      this.text = t + this.trail;
    }
    return this.text;
  }

  /** Plain-JSON form for `msg.hl7` (see `Hl7Json`). */
  toJSON(): Hl7Json {
    // Runs for every message an MLLP listener passes on, so one pass over the segments, no
    // spreads, and one result object. Every segment is split here, so the header reads below
    // index the MSH field list instead of walking its text.
    const fs = this.delimiters.field;
    const segments = new Array<string[]>(this.segs.length);
    let hasMsh = false;
    const first = this.segs[0]?.eol ?? '\r';
    let uniform = first !== '';
    for (let i = 0; i < this.segs.length; i++) {
      const s = this.segs[i] as Seg;
      if (s.eol !== first) uniform = false;
      const f = this.fieldsOf(s);
      // A bare `MSH` line (only in a message already in error: a second MSH) has no MSH-1 to
      // write, so it stays a one-cell row; `['MSH', fs]` would come back as `MSH|`.
      if (s.name === 'MSH' && f.length > 1) {
        const row = new Array<string>(f.length + 1);
        row[0] = 'MSH';
        row[1] = fs;
        for (let k = 1; k < f.length; k++) row[k + 1] = f[k] as string;
        segments[i] = row;
        hasMsh = true;
      } else {
        segments[i] = f.slice();
      }
    }
    const eol = uniform ? first : this.segs.map((s) => s.eol);
    if (!hasMsh) return this.edges({ segments, eol });
    // Only defined keys: msg.hl7 must stay plain JSON and read cleanly in the debug sidebar.
    // Keys in the documented order (version, type, controlId, charset, segments, eol).
    const version = this.version;
    const type = this.type;
    const controlId = this.controlId;
    const charset = this.charset;
    const head: Partial<Hl7Json> = {};
    if (version !== undefined) head.version = version;
    if (type !== undefined) head.type = type;
    if (controlId !== undefined) head.controlId = controlId;
    if (charset !== undefined) head.charset = charset;
    head.segments = segments;
    head.eol = eol;
    return this.edges(head as Hl7Json);
  }

  private edges(j: Hl7Json): Hl7Json {
    if (this.lead !== '') j.lead = this.lead;
    if (this.trail !== '') j.trail = this.trail;
    return j;
  }

  /**
   * @internal The MSH as a field list, `[n - 1]` = MSH-n for n ≥ 2 (encoded text; empty array
   * when there is no MSH). Split once and kept, like every segment read through `fieldsOf`.
   */
  mshFields(): readonly string[] {
    const msh = this.find('MSH', 1);
    return msh ? this.fieldsOf(msh) : [];
  }

  /** @internal split fields on first use. */
  fieldsOf(seg: Seg): string[] {
    return seg.fields ?? (seg.fields = seg.raw.split(this.delimiters.field));
  }

  /** @internal */
  readAt(seg: Seg, p: Hl7Path, raw: boolean): string | undefined {
    const d = this.delimiters;
    const isMsh = seg.name === 'MSH';
    if (isMsh && p.field === 1) return d.field;
    // Reads do not split the segment: one indexOf walk to the field is cheaper than an array.
    const idx = isMsh ? p.field - 1 : p.field;
    const t = seg.fields ? seg.fields[idx] : nth(seg.raw, d.field, idx + 1);
    if (t === undefined || t === '') return undefined;
    if (isMsh && p.field === 2) return t;
    if (raw && p.repetition === undefined && p.component === undefined) return t;
    const rep = nth(t, d.repetition, p.repetition ?? 1);
    return rep === undefined ? undefined : this.within(rep, p, raw);
  }

  /** The element `p` addresses inside one repetition's text (components, sub-components, escapes). */
  private within(repetition: string, p: Hl7Path, raw: boolean): string | undefined {
    const d = this.delimiters;
    let t = repetition;
    let below: string | undefined = d.component;
    if (p.component !== undefined) {
      const c = nth(t, d.component, p.component);
      if (c === undefined) return undefined;
      t = c;
      below = d.subcomponent;
      if (p.subcomponent !== undefined) {
        const s = nth(t, d.subcomponent, p.subcomponent);
        if (s === undefined) return undefined;
        t = s;
        below = undefined;
      }
    }
    if (t === '') return undefined;
    if (raw || t === HL7_NULL) return t;
    // Composite below this level: hand back encoded text so no delimiter meaning is lost.
    if (below !== undefined && (t.includes(below) || (below === d.component && d.subcomponent !== undefined && t.includes(d.subcomponent)))) return t;
    return unescapeHl7(t, d);
  }

  /** @internal */
  writeAt(seg: Seg, p: Hl7Path, value: string, raw: boolean): void {
    const d = this.delimiters;
    const isMsh = seg.name === 'MSH';
    if (isMsh && p.field <= 2) throw new NhsError('HL7_READ_ONLY', 'MSH-1 and MSH-2 (the delimiters) cannot be set');
    if (typeof value !== 'string') throw new NhsError('HL7_BAD_VALUE', 'HL7 field values must be strings');
    if ((p.repetition ?? 1) > 1 && d.repetition === undefined) throw new NhsError('HL7_BAD_PATH', 'this message declares no repetition separator (short MSH-2)');
    if ((p.subcomponent ?? 1) > 1 && d.subcomponent === undefined) throw new NhsError('HL7_BAD_PATH', 'this message declares no sub-component separator (short MSH-2)');
    let enc: string;
    if (raw) {
      // Only delimiters below the addressed level may appear, else the structure would shift.
      const banned: (string | undefined)[] = [d.field, '\r', '\n'];
      const wholeField = p.repetition === undefined && p.component === undefined;
      if (!wholeField) banned.push(d.repetition);
      if (p.component !== undefined) banned.push(d.component);
      if (p.subcomponent !== undefined) banned.push(d.subcomponent);
      if (banned.some((c) => c !== undefined && value.includes(c))) throw new NhsError('HL7_BAD_VALUE', 'encoded value contains a delimiter not allowed at this level');
      enc = value;
    } else {
      if (!canEncodeHl7(value, d)) throw new NhsError('HL7_BAD_VALUE', 'value holds a delimiter or line break, and this message declares no escape character (short MSH-2)');
      enc = escapeHl7(value, d);
    }
    const f = this.fieldsOf(seg);
    const i = isMsh ? p.field - 1 : p.field;
    while (f.length <= i) f.push('');
    const old = f[i] as string;
    let next: string;
    if (raw && p.repetition === undefined && p.component === undefined) next = enc;
    else {
      const r = p.repetition ?? 1;
      let rep = nth(old, d.repetition, r) ?? '';
      if (p.component === undefined) rep = enc;
      else if (p.subcomponent === undefined) rep = replaceNth(rep, d.component, p.component, enc);
      else {
        const comp = nth(rep, d.component, p.component) ?? '';
        rep = replaceNth(rep, d.component, p.component, replaceNth(comp, d.subcomponent, p.subcomponent, enc));
      }
      next = replaceNth(old, d.repetition, r, rep);
    }
    f[i] = next;
    seg.raw = f.join(d.field);
    this.text = undefined;
  }

  private find(name: string, occurrence: number): Seg | undefined {
    // A typical message has a dozen segments: a scan beats building an index for a few reads.
    if (this.segs.length <= 32) {
      let k = 0;
      for (const s of this.segs) if (s.name === name && ++k === occurrence) return s;
      return undefined;
    }
    if (!this.index) {
      this.index = new Map();
      for (const s of this.segs) {
        if (s.name === '') continue;
        const list = this.index.get(s.name);
        if (list) list.push(s);
        else this.index.set(s.name, [s]);
      }
    }
    return this.index.get(name)?.[occurrence - 1];
  }

  private append(p: Hl7Path): Seg {
    let have = 0;
    for (const s of this.segs) if (s.name === p.segment) have++;
    if (p.occurrence !== have + 1) throw new NhsError('HL7_BAD_PATH', `cannot create ${p.segment} occurrence ${p.occurrence}: only ${have} present`);
    const last = this.segs[this.segs.length - 1];
    const eol = this.segs.find((s) => s.eol !== '')?.eol ?? '\r';
    const seg: Seg = { name: p.segment, raw: p.segment, eol: '' };
    if (last && last.eol === '') last.eol = eol;
    else seg.eol = eol;
    this.segs.push(seg);
    this.index?.set(p.segment, [...(this.index.get(p.segment) ?? []), seg]);
    this.text = undefined;
    return seg;
  }
}
