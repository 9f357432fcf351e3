/**
 * Conformance against the HL7 reference validator's verdicts on fhir-test-cases (R4 core only),
 * read from ../shared/conformance/fhir-test-cases-r4 (never copied in). Scores agreement of our
 * valid/invalid verdict with `expectValid`, prints the slices of its README (core / options /
 * terminology, by topic and module) and fails when a score drops below the last recorded one
 * (test/lib/fhir/conformance-score.json). NHS_CONFORMANCE_RECORD=1 records a better score;
 * NHS_CONFORMANCE_VERBOSE=1 lists the disagreements.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir, skipWithoutShared } from '../../helpers/shared';
import { createValidator } from '../../../lib/fhir/validator';
import { hasErrors } from '../../../lib/outcome';
import { r4Core, type PackageSource, type StructureDefinition } from '../../../lib/fhir/validate/source';
import { generateSnapshot } from '../../../lib/fhir/snapshot';

const dir = join(sharedDir, 'conformance', 'fhir-test-cases-r4');
const scoreFile = join(__dirname, 'conformance-score.json');
const skip = skipWithoutShared('conformance/fhir-test-cases-r4');

interface Row { id: string; module: string; expectValid: boolean; plain: boolean; usedTerminologyServer: boolean; errorsViaTerminologyServer: number; topics: string[] }
interface Tally { n: number; agree: number; fp: number; fn: number }

const tally = (): Tally => ({ n: 0, agree: 0, fp: 0, fn: 0 });
function count(t: Tally, expectValid: boolean, gotValid: boolean): void {
  t.n++;
  if (expectValid === gotValid) t.agree++;
  else if (expectValid) t.fp++;
  else t.fn++;
}
const pct = (t: Tally): number => (t.n ? Math.round((1000 * t.agree) / t.n) / 10 : 0);
const fmt = (name: string, t: Tally): string => `${name.padEnd(28)} ${String(t.agree).padStart(3)}/${String(t.n).padEnd(3)} ${pct(t).toFixed(1).padStart(5)} %  FP ${t.fp} FN ${t.fn}`;

describe('FHIR R4 conformance (fhir-test-cases, reference validator verdicts)', { skip }, () => {
  it('agrees with the reference validator at least as often as last recorded', { timeout: 120_000 }, () => {
    const rows = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Row[];
    const v = createValidator(undefined, { terminology: 'lenient' });
    // Reference validator options we implement; other options run with our defaults.
    const withOptions = (o: Record<string, unknown> | undefined): typeof v => {
      if (!o || (o['allow-comments'] === undefined && o.examples === undefined && o['security-checks'] === undefined)) return v;
      return createValidator(undefined, { terminology: 'lenient', allowComments: o['allow-comments'] === true, allowExampleUrls: o.examples !== false, securityChecks: o['security-checks'] === true });
    };
    const all = tally(); const core = tally(); const options = tally(); const term = tally(); const corePlainNoTx = tally();
    const byTopic = new Map<string, Tally>(); const byModule = new Map<string, Tally>();
    const wrong: string[] = [];
    for (const r of rows) {
      const input = readFileSync(join(dir, 'cases', r.id, 'input.json'));
      const expected = JSON.parse(readFileSync(join(dir, 'cases', r.id, 'expected.json'), 'utf8')) as { options?: Record<string, unknown> };
      const out = withOptions(expected.options).validateText(input);
      const gotValid = !hasErrors(out);
      count(all, r.expectValid, gotValid);
      if (r.plain && r.errorsViaTerminologyServer === 0) count(core, r.expectValid, gotValid);
      if (r.plain && !r.usedTerminologyServer) count(corePlainNoTx, r.expectValid, gotValid);
      if (!r.plain) count(options, r.expectValid, gotValid);
      if (r.errorsViaTerminologyServer > 0) count(term, r.expectValid, gotValid);
      for (const tp of r.topics) { if (!byTopic.has(tp)) byTopic.set(tp, tally()); count(byTopic.get(tp)!, r.expectValid, gotValid); }
      if (!byModule.has(r.module)) byModule.set(r.module, tally());
      count(byModule.get(r.module)!, r.expectValid, gotValid);
      if (r.expectValid !== gotValid) {
        const first = out.issue.find((i) => i.severity === 'error' || i.severity === 'fatal');
        wrong.push(`${r.expectValid ? 'FP' : 'FN'} ${r.id} [${r.module}${r.plain ? '' : ',options'}] ${first ? `${first.expression?.[0] ?? ''}: ${first.diagnostics ?? ''}`.slice(0, 160) : ''}`);
      }
    }
    const lines = [
      fmt('overall', all), fmt('plain, no terminology server', corePlainNoTx), fmt('core (README slice)', core),
      fmt('options', options), fmt('terminology', term), '-- by topic', ...[...byTopic].sort().map(([k, t]) => fmt(k, t)),
      '-- by module', ...[...byModule].sort().map(([k, t]) => fmt(k, t)),
    ];
    console.log(lines.join('\n'));
    if (process.env.NHS_CONFORMANCE_VERBOSE) console.log(wrong.join('\n'));
    const score = { overall: pct(all), plainNoTx: pct(corePlainNoTx), core: pct(core), cases: all.n };
    const last = existsSync(scoreFile) ? (JSON.parse(readFileSync(scoreFile, 'utf8')) as typeof score) : { overall: 0, plainNoTx: 0, core: 0 };
    if (process.env.NHS_CONFORMANCE_RECORD) writeFileSync(scoreFile, `${JSON.stringify({ ...last, ...score }, null, 2)}\n`);
    assert.ok(score.overall >= last.overall, `overall agreement ${score.overall} % fell below the recorded ${last.overall} %`);
    assert.ok(score.plainNoTx >= last.plainNoTx, `plain/no-terminology agreement ${score.plainNoTx} % fell below the recorded ${last.plainNoTx} %`);
  });

  it('profile steps: agrees with the reference validator against local StructureDefinitions (JSON ones)', { timeout: 60_000 }, () => {
    const stepsDir = join(dir, 'profile-steps');
    const t = tally();
    const skipped: string[] = [];
    const wrong: string[] = [];
    const core = r4Core();
    for (const id of readdirSync(stepsDir).sort()) {
      const exp = JSON.parse(readFileSync(join(stepsDir, id, 'expected.json'), 'utf8')) as { expectValid: boolean };
      const pf = join(stepsDir, id, 'profile.json');
      if (!existsSync(pf)) { skipped.push(id); continue; } // XML StructureDefinitions: no XML reader here
      const sd = JSON.parse(readFileSync(pf, 'utf8')) as StructureDefinition;
      if (!sd.snapshot) {
        const r = generateSnapshot(sd as never, (u) => core.structureDefinition(u) as never);
        if (r.snapshot) sd.snapshot = { element: r.snapshot as never };
      }
      const src: PackageSource = {
        structureDefinition: (u) => (u.split('|')[0] === sd.url ? sd : core.structureDefinition(u)),
        valueSet: (u) => core.valueSet(u),
        codeSystem: (u) => core.codeSystem(u),
      };
      const v = createValidator(src);
      const out = v.validateText(readFileSync(join(stepsDir, id, 'input.json')), { profiles: [sd.url] });
      const gotValid = !hasErrors(out);
      count(t, exp.expectValid, gotValid);
      if (gotValid !== exp.expectValid) wrong.push(`${exp.expectValid ? 'FP' : 'FN'} ${id}: ${out.issue.filter((i) => i.severity === 'error').map((i) => i.diagnostics).join(' | ').slice(0, 200)}`);
    }
    console.log(`${fmt('profile steps (JSON SDs)', t)}; skipped (XML SD): ${skipped.join(', ')}`);
    if (process.env.NHS_CONFORMANCE_VERBOSE) console.log(wrong.join('\n'));
    const last = existsSync(scoreFile) ? (JSON.parse(readFileSync(scoreFile, 'utf8')) as { profileSteps?: number }) : {};
    if (process.env.NHS_CONFORMANCE_RECORD) {
      const cur = existsSync(scoreFile) ? (JSON.parse(readFileSync(scoreFile, 'utf8')) as Record<string, unknown>) : {};
      writeFileSync(scoreFile, `${JSON.stringify({ ...cur, profileSteps: pct(t) }, null, 2)}\n`);
    }
    assert.ok(t.n > 0, 'no JSON profile steps were run');
    assert.ok(pct(t) >= (last.profileSteps ?? 0), `profile-step agreement ${pct(t)} % fell below the recorded ${last.profileSteps} %`);
  });
});
