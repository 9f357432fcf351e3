/**
 * Replays what `npm run fuzz` (scripts/fuzz.mjs) saved in fixtures/fuzz/ through the same oracles,
 * plus each target's seeds, so a fixed finding stays fixed. Findings fixed by hand have their own
 * regression test here too.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHl7 } from '../../../lib/hl7';
import { TARGETS } from './fixtures/fuzz-targets';

const dir = join(__dirname, 'fixtures', 'fuzz');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];

describe('fuzz regressions: saved findings and seeds pass their oracles', () => {
  for (const [name, t] of Object.entries(TARGETS)) {
    it(`${name}: every seed`, () => {
      assert.ok(t.seeds.length > 0);
      for (const s of t.seeds) t.check(s);
    });
  }
  for (const f of files) {
    it(f, () => {
      const saved = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { target: string; input: string };
      const t = TARGETS[saved.target];
      assert.ok(t, `unknown target ${saved.target}`);
      const t0 = performance.now();
      t.check(t.decode(saved.input));
      // A hang finding was over 1 s; fixed means far below it, even on a loaded machine.
      assert.ok(performance.now() - t0 < 1000);
    });
  }
});

describe('fuzz finding: getAll was quadratic in the number of repetitions', () => {
  it('200,000 repetitions of PID-3 (well under the 1 MiB frame limit) read in one pass', () => {
    const text = `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|R1|P|2.5.1\rPID|1||${'9990000018^^^NHS^NH~'.repeat(200000)}\r`;
    const m = parseHl7(text).message!;
    const t0 = performance.now();
    const ids = m.getAll('PID-3.1');
    // Before the fix this took minutes (walking to repetition r for every r); now milliseconds.
    assert.ok(performance.now() - t0 < 3000);
    assert.equal(ids.length, 200001);
    assert.equal(ids[199999], '9990000018');
    assert.equal(ids[200000], '');
  });
});
