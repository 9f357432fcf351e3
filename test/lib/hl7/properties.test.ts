/**
 * Property tests (fast-check) for lib/hl7: parse → serialize is byte-identical for generated
 * messages with any legal delimiters (short MSH-2 forms included), escapes and deviations;
 * escape/unescape round trip; path set/get; batch split. Run counts are bounded so the whole
 * file stays within a few seconds; a failure prints the seed and the shrunk counterexample.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildAck, canEncodeHl7, escapeHl7, fromJSON, parseHl7, positiveAckInfo, readAck, splitBatch, unescapeHl7, type Delimiters } from '../../../lib/hl7';
import { hasErrors, type Issue } from '../../../lib/outcome';
import { delimiterCase, fieldText, message, type GeneratedMessage } from './fixtures/arbitraries';

const RUNS = Number(process.env.HL7_PROPERTY_RUNS ?? 300);
const params = { numRuns: RUNS };

const said = (issues: Issue[], frag: string): boolean => issues.some((i) => (i.diagnostics ?? '').includes(frag));

/** The warnings a generated message must carry, one per deviation it holds. */
function expectedDeviations(g: GeneratedMessage): string[] {
  const out: string[] = [];
  if (g.delimiters.enc.length < 4) out.push('MSH-2 declares');
  if (g.dev.bom) out.push('byte-order mark');
  if (g.dev.leadBlank) out.push('before the MSH');
  if (g.dev.mllp !== 'none') out.push('MLLP framing');
  if (g.dev.trailingSpace) out.push('after the last segment');
  return out;
}

/** Characters that would change the structure if they appeared raw in a leaf. */
function structuralIn(s: string, d: Delimiters): boolean {
  return [d.field, d.component, d.repetition, d.subcomponent, d.truncation, '\r', '\n'].some((c) => c !== undefined && s.includes(c));
}

describe('properties: parse → serialize', () => {
  it('generated messages with any legal delimiters, escapes and deviations: byte-identical, text and msg.hl7 JSON', () => {
    fc.assert(fc.property(message({ withDeviations: true }), (g) => {
      const p = parseHl7(g.text);
      assert.ok(p.message, JSON.stringify(p.issues));
      assert.deepEqual(p.issues.filter((i) => i.severity === 'error'), []);
      assert.equal(p.message.toString(), g.text);
      assert.equal(p.message.controlId, g.controlId);
      const json = JSON.parse(JSON.stringify(p.message.toJSON()));
      const back = fromJSON(json);
      assert.equal(back.message?.toString(), g.text);
      assert.deepEqual(back.issues, p.issues);
      for (const frag of expectedDeviations(g)) assert.ok(said(p.issues, frag), `no warning "${frag}": ${JSON.stringify(p.issues)}`);
      // A deviation is a warning when lenient, an error when strict; a clean message has neither.
      const accepted = p.issues.filter((i) => (i.diagnostics ?? '').endsWith('(accepted)'));
      assert.equal(accepted.length > 0, g.deviant, JSON.stringify(p.issues));
      const strict = parseHl7(g.text, { strict: true });
      assert.equal(hasErrors(strict.issues), g.deviant, JSON.stringify(strict.issues));
    }), params);
  });

  it('any text: never throws; a returned message serializes back to exactly the input, also through msg.hl7', () => {
    // Tokens rather than single characters, so segment IDs, delimiters and framing bytes meet.
    const token = fc.constantFrom('MSH', 'PID', 'BHS', 'FHS', 'BTS', 'OBX', 'pid', '|', '^', '~', '\\', '&', '#', '""', 'A', '1', ' ', '\t', '\r', '\n', '\r\n', '\u000b', '\u001c', '\ufeff', '\u0000', 'é');
    const tail = fc.array(token, { maxLength: 40 }).map((a) => a.join(''));
    const text = fc.oneof(
      tail,
      fc.tuple(fc.constantFrom('MSH|^~\\&|', 'MSH|^~&|', 'MSH|^|', '\u000bMSH|^~\\&|', '\ufeffMSH|^~\\&#|', 'MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\r'), tail).map(([a, b]) => a + b),
    );
    fc.assert(fc.property(text, fc.boolean(), (t, strict) => {
      const p = parseHl7(t, { strict });
      if (!p.message) {
        assert.ok(hasErrors(p.issues));
        return;
      }
      assert.equal(p.message.toString(), t);
      const back = fromJSON(JSON.parse(JSON.stringify(p.message.toJSON())), { strict });
      assert.equal(back.message?.toString(), t);
    }), { numRuns: RUNS * 3 });
  });
});

describe('properties: the ACK a listener sends, without reading it back', () => {
  // nhs-mllp-in puts positiveAckInfo on msg.ack instead of parsing its own ACK again; it must be
  // exactly what readAck of the bytes gives, for any message the listener would accept.
  const check = (t: string, code: 'AA' | 'CA'): void => {
    const m = parseHl7(t).message;
    if (!m) return;
    const ack = buildAck(m, code, { now: new Date(0), controlId: 'A1' });
    assert.deepEqual(positiveAckInfo(m, code, ack), readAck(ack));
  };
  it('generated messages with any legal delimiters, escapes and deviations', () => {
    fc.assert(fc.property(message({ withDeviations: true }), fc.constantFrom('AA' as const, 'CA' as const), (g, code) => check(g.text, code)), params);
  });
  it('odd headers: MSH-10 with components, repetitions, escapes, empty, or missing', () => {
    const msh10 = fc.array(fc.constantFrom('X', '1', '^', '~', '&', '\\', '\\F\\', '\\S\\', '""', ' ', 'é', '#'), { maxLength: 8 }).map((a) => a.join(''));
    const head = fc.constantFrom('MSH|^~\\&|', 'MSH|^~&|', 'MSH|^|', 'MSH|^~\\&#|');
    fc.assert(fc.property(head, msh10, fc.boolean(), fc.constantFrom('AA' as const, 'CA' as const), (h, id, short, code) => {
      check(short ? `${h}A|B|C|D|20240101||ADT^A01|${id}\r` : `${h}A|B|C|D|20240101||ADT^A01^ADT_A01|${id}|P|2.5.1\rPID|1||9000000009^^^NHS^NH\r`, code);
    }), { numRuns: RUNS * 3 });
  });
});

describe('properties: escapes', () => {
  it('unescape(escape(s)) === s with an escape character; escape never writes a raw delimiter', () => {
    fc.assert(fc.property(delimiterCase, fieldText, ({ d }, s) => {
      const enc = escapeHl7(s, d);
      assert.equal(structuralIn(enc, d), false, JSON.stringify(enc));
      if (d.escape !== undefined) assert.equal(unescapeHl7(enc, d), s);
      else if (canEncodeHl7(s, d)) {
        assert.equal(enc, s);
        assert.equal(unescapeHl7(s, d), s);
      }
    }), { numRuns: RUNS * 3 });
  });
});

describe('properties: path set/get', () => {
  const target = fc.record({
    seg: fc.nat(),
    field: fc.integer({ min: 1, max: 14 }),
    rep: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    comp: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    sub: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  });
  it('set then get (after a fresh parse) returns the value; every other field, repetition and component is byte-identical', () => {
    fc.assert(fc.property(message({ withDeviations: true }), target, fieldText, (g, t, value) => {
      const m = parseHl7(g.text).message!;
      const d = m.delimiters;
      const segs = m.segments();
      const k = t.seg % segs.length;
      const seg = segs[k]!;
      const isMsh = seg.name === 'MSH';
      const fieldNo = isMsh ? t.field + 2 : t.field; // MSH-1/2 are the delimiters
      const sub = t.comp === undefined ? undefined : t.sub;
      let rel = `${fieldNo}`;
      if (t.rep !== undefined) rel += `[${t.rep}]`;
      if (t.comp !== undefined) rel += `.${t.comp}`;
      if (sub !== undefined) rel += `.${sub}`;
      const path = `${seg.name}${seg.occurrence === 1 ? '' : `[${seg.occurrence}]`}-${rel}`;
      const before = segs.map((s) => s.toString());
      const text0 = m.toString();
      if ((t.rep ?? 1) > 1 && d.repetition === undefined) return assert.throws(() => m.set(path, value), { code: 'HL7_BAD_PATH' });
      if ((sub ?? 1) > 1 && d.subcomponent === undefined) return assert.throws(() => m.set(path, value), { code: 'HL7_BAD_PATH' });
      if (!canEncodeHl7(value, d)) {
        assert.throws(() => m.set(path, value), { code: 'HL7_BAD_VALUE' });
        return assert.equal(m.toString(), text0, 'a refused set changes nothing');
      }
      m.set(path, value);
      const text = m.toString();
      const again = parseHl7(text).message!;
      assert.equal(again.toString(), text);
      assert.equal(again.get(path), value === '' ? undefined : value);
      const after = again.segments().map((s) => s.toString());
      assert.equal(after.length, before.length);
      for (let i = 0; i < before.length; i++) if (i !== k) assert.equal(after[i], before[i], `segment ${i} untouched`);
      const fb = before[k]!.split(d.field);
      const fa = after[k]!.split(d.field);
      const idx = isMsh ? fieldNo - 1 : fieldNo;
      assert.equal(fa.length, Math.max(fb.length, idx + 1));
      for (let i = 0; i < fa.length; i++) if (i !== idx) assert.equal(fa[i], fb[i] ?? '', `field ${i} untouched`);
      if (d.repetition !== undefined) {
        const rb = (fb[idx] ?? '').split(d.repetition);
        const ra = fa[idx]!.split(d.repetition);
        const r = (t.rep ?? 1) - 1;
        for (let i = 0; i < ra.length; i++) if (i !== r) assert.equal(ra[i], rb[i] ?? '', `repetition ${i} untouched`);
        if (t.comp !== undefined) {
          const cb = (rb[r] ?? '').split(d.component);
          const ca = ra[r]!.split(d.component);
          for (let i = 0; i < ca.length; i++) if (i !== t.comp - 1) assert.equal(ca[i], cb[i] ?? '', `component ${i} untouched`);
        }
      }
      // The text outside the segments (lead, trail) is untouched too.
      assert.equal(text.length - after[k]!.length, text0.length - before[k]!.length);
    }), params);
  });
});

describe('properties: batch split', () => {
  const parts = fc.array(message({ withDeviations: true, endWithEol: true }), { minLength: 1, maxLength: 5 });
  it('concatenated messages (framed or not): split gives them back in order, and joining the parts gives the input', () => {
    fc.assert(fc.property(parts, (ms) => {
      // A BOM is only a BOM at the start of a file.
      const texts = ms.map((g, i) => (i === 0 ? g.text : g.text.replace(/^\ufeff/, '')));
      const input = texts.join('');
      const r = splitBatch(input);
      assert.deepEqual(r.issues, []);
      assert.equal(r.messages.join(''), input);
      assert.deepEqual(r.messages.map((t) => parseHl7(t).message?.controlId), ms.map((g) => g.controlId));
      for (const t of r.messages) assert.equal(hasErrors(parseHl7(t).issues), false);
    }), params);
  });
  it('with FHS/BHS headers and correct trailers: no issues; joined parts are the input without header and trailer lines', () => {
    fc.assert(fc.property(parts, fc.constantFrom('\r', '\n', '\r\n'), fc.boolean(), (ms, eol, file) => {
      const texts = ms.map((g) => g.text.replace(/^\ufeff/, ''));
      const body = texts.join('');
      const input = `${file ? `FHS|^~\\&|A${eol}` : ''}BHS|^~\\&|A${eol}${body}BTS|${ms.length}${eol}${file ? `FTS|1${eol}` : ''}`;
      const r = splitBatch(input);
      assert.deepEqual(r.issues, []);
      assert.equal(r.messages.join(''), body);
      assert.equal(r.messages.length, ms.length);
    }), params);
  });
});
