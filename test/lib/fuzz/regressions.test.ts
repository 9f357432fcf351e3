/**
 * Replays what `npm run fuzz` (scripts/fuzz.mjs) saved in test/lib/fuzz/fixtures/ for the FHIR
 * JSON, validateText, ESR, CSV map, PDS and terminology targets through the same oracles, plus
 * each target's seeds, so a fixed finding stays fixed. Findings fixed before a run was saved
 * (seen while building the targets) have their own regression tests in the area's
 * properties.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PARSER_TARGETS } from './targets';

const dir = join(__dirname, 'fixtures');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];

describe('fuzz regressions (FHIR, ESR, CSV maps, PDS, terminology): seeds and saved findings pass their oracles', () => {
  for (const [name, t] of Object.entries(PARSER_TARGETS)) {
    const why = t.unavailable?.();
    it(`${name}: every seed`, why ? { skip: why } : {}, async () => {
      if (t.init) await t.init();
      assert.ok(t.seeds.length > 0);
      for (const s of t.seeds) await t.check(s);
    });
  }
  for (const f of files) {
    const saved = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { target: string; input: string };
    const t = PARSER_TARGETS[saved.target];
    const why = t?.unavailable?.();
    it(f, why ? { skip: why } : {}, async () => {
      assert.ok(t, `unknown target ${saved.target}`);
      if (t.init) await t.init();
      const input: unknown = t.decode(saved.input);
      const t0 = performance.now();
      await t.check(input);
      // A hang finding was over 1 s; fixed means far below it, even on a loaded machine.
      assert.ok(performance.now() - t0 < 1000);
    });
  }
});
