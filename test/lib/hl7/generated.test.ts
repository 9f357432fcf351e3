import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHl7, fromJSON, parseHl7, delimitersFrom, type Delimiters } from '../../../lib/hl7';

/** Small deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const DELIMS = ['|^~\\&', '!$*@%', '#:;/+', '|^~\\&#'];
const WORDS = ['', '', 'A', 'TEST', '9990000018', '""', 'x y', 'É', '12.5', 'ZOË'];
const EOLS = ['\r', '\n', '\r\n'];

function generate(r: () => number): { text: string; d: Delimiters } {
  const spec = DELIMS[Math.floor(r() * DELIMS.length)] as string;
  const d = delimitersFrom(spec[0] as string, spec.slice(1)) as Required<Delimiters>;
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)] as T;
  const eol = pick(EOLS);
  const leaf = (): string => (r() < 0.2 ? escapeHl7(pick(['a|b', 'c^d', 'e~f', 'g&h', 'i\\j', 'k\rl']), d) : pick(WORDS));
  const join = (n: number, sep: string, f: () => string): string => Array.from({ length: n }, f).join(sep);
  const field = (): string => join(1 + Math.floor(r() * 2), d.repetition, () => join(1 + Math.floor(r() * 3), d.component, () => join(1 + Math.floor(r() * 2), d.subcomponent, leaf)));
  const fs = d.field;
  const segs = [`MSH${fs}${spec.slice(1)}${fs}APP${fs}FAC${fs}${fs}${fs}20240101${fs}${fs}ADT${d.component}A0${Math.floor(r() * 9)}${fs}ID${Math.floor(r() * 1e6)}${fs}P${fs}2.5.1`];
  const names = ['PID', 'PV1', 'OBX', 'NTE', 'ZXX', 'Z01'];
  for (let i = 0, n = 1 + Math.floor(r() * 8); i < n; i++) segs.push([pick(names), ...Array.from({ length: Math.floor(r() * 12) }, field)].join(fs));
  return { text: segs.join(eol) + (r() < 0.8 ? eol : ''), d };
}

describe('generated messages (500, seeded)', () => {
  it('parse → toString and fromJSON(toJSON) are byte-identical; one set changes one field', () => {
    const r = rng(20240315);
    for (let k = 0; k < 500; k++) {
      const { text } = generate(r);
      const p = parseHl7(text);
      assert.ok(p.message, `case ${k}: ${JSON.stringify(p.issues)}`);
      assert.deepEqual(p.issues.filter((i) => i.severity === 'error'), [], `case ${k}`);
      assert.equal(p.message.toString(), text, `case ${k}`);
      assert.equal(fromJSON(JSON.parse(JSON.stringify(p.message.toJSON()))).message?.toString(), text, `case ${k} json`);

      // Set one leaf and compare against the same edit made by hand on the split text.
      const segs = p.message.segments();
      const target = segs[1 + Math.floor(r() * (segs.length - 1))];
      if (!target) continue;
      const fieldNo = 1 + Math.floor(r() * 3);
      const value = `V${k}|^`;
      target.set(`${fieldNo}.2`, value);
      assert.equal(target.get(`${fieldNo}.2`), value, `case ${k} read back`);
      const after = p.message.toString();
      const before = text;
      // Every other segment is untouched, byte for byte (terminators included).
      assert.equal(after.length - target.toString().length, before.length - before.split(/\r\n|\r|\n/)[segs.indexOf(target)]!.length);
      const changed = after.split(/\r\n|\r|\n/).filter((line, i) => line !== before.split(/\r\n|\r|\n/)[i]);
      assert.equal(changed.length, 1, `case ${k}: exactly one segment changed`);
    }
  });
});
