import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHl7 } from '../../../lib/hl7';
import { hasCode } from '../../../lib/errors';
import { loadMapFile, SNOMED_CT, ICD_10 } from '../../../lib/terminology/map-loaders';
import { MapSet } from '../../../lib/terminology/maps';
import { TerminologyClient } from '../../../lib/terminology/client';
import { isValidSctId, verhoeffDigit } from '../../../lib/terminology/sctid';
import { checkOptions, expressionSyntax, snomedMap, type SnomedMapOptions } from '../../../lib/terminology/snomed-map';
import { labOru } from '../../helpers/lab-oru';
import { skipWithoutShared } from '../../helpers/shared';
import { startTerminologyStandIn, type StandIn } from '../../helpers/terminology-server';

const dir = mkdtempSync(join(tmpdir(), 'nhs-snomed-map-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LOCAL = 'https://trust.example.nhs.uk/CodeSystem/lab';

const ORU = labOru('OBX|3|NM|ZZZ^Mystery^L||1|x');

let maps: MapSet;
let icd: MapSet;
before(async () => {
  const csv = join(dir, 'lab.csv');
  writeFileSync(csv, `# version: 7\nsource system,source code,source display,target system,target code,target display,equivalence\n,HB,Haemoglobin,${SNOMED_CT},1022431000000105,Haemoglobin level,equivalent\n${LOCAL},NA,Sodium,${SNOMED_CT},1000661000000107,Serum sodium level,equivalent\n`);
  maps = new MapSet([await loadMapFile(csv)]);
  const rf2 = join(dir, 'der2_iisssccRefset_ExtendedMapSnapshot_GB1000000_20240925.txt');
  writeFileSync(rf2, ['id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tmapGroup\tmapPriority\tmapRule\tmapAdvice\tmapTarget\tcorrelationId\tmapCategoryId',
    'a\t20240101\t1\tm\t447562003\t22298006\t1\t1\tTRUE\tALWAYS I21.9\tI21.9\t447561005\t447637006',
    'b\t20240101\t1\tm\t447562003\t80146002\t1\t1\tIFA 248152002 | Female (finding) |\tIF FEMALE N73.9\tN73.9\t447561005\t447637006',
    'c\t20240101\t1\tm\t447562003\t80146002\t1\t2\tOTHERWISE TRUE\tOTHERWISE K35.8\tK35.8\t447561005\t447637006'].join('\n'));
  icd = new MapSet([await loadMapFile(rf2)]);
});

describe('snomed-map behaviour (lib)', () => {
  const opts = (o: Partial<SnomedMapOptions>): SnomedMapOptions => ({ mode: 'map', path: 'OBX-3', maps: () => maps, ...o });

  it('maps every OBX-3, adds SNOMED CT as the alternate identifier, routes the unmapped one', async () => {
    const r = await snomedMap({ payload: ORU }, opts({}));
    assert.equal(r.ok, false);
    assert.deepEqual(r.snomed.codes.map((c) => [c.path, c.targets[0]?.code]), [['OBX[1]-3', '1022431000000105'], ['OBX[2]-3', '1000661000000107'], ['OBX[3]-3', undefined]]);
    assert.ok(r.snomed.codes.every((c) => !('status' in c)), 'no verdict in msg.snomed (DESIGN §2)');
    assert.deepEqual(r.snomed.source, { code: 'HB', display: 'Haemoglobin' });
    assert.deepEqual(r.snomed.targets, [{ system: SNOMED_CT, code: '1022431000000105', display: 'Haemoglobin level', equivalence: 'equivalent' }]);
    assert.deepEqual(r.snomed.provenance, { map: 'lab.csv', version: '7' });
    const errors = r.outcome.issue.filter((i) => i.severity === 'error');
    assert.deepEqual(errors.map((i) => i.expression), [['OBX[3]-3']]);
    const m = parseHl7(r.payload as string).message!;
    assert.equal(m.get('OBX[1]-3'), 'HB^Haemoglobin^L^1022431000000105^Haemoglobin level^SCT', 'original kept, SNOMED CT beside it');
    assert.equal(m.get('OBX[3]-3'), 'ZZZ^Mystery^L');
    assert.deepEqual((r.hl7 as any).segments[3][3], 'HB^Haemoglobin^L^1022431000000105^Haemoglobin level^SCT');
  });

  it('one named occurrence; an occupied alternate identifier is a warning, not an overwrite', async () => {
    const msg = ORU.replace('HB^Haemoglobin^L', 'HB^Haemoglobin^L^999^Other^99X');
    const r = await snomedMap({ payload: msg }, opts({ path: 'OBX[1]-3' }));
    assert.equal(r.ok, true);
    assert.equal(r.snomed.codes.length, 1);
    assert.equal(r.outcome.issue[0]!.code, 'conflict');
    assert.equal(r.payload, undefined, 'nothing written');
  });

  it('FHIR Observation.code: the mapped coding is appended, the original stays first', async () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOCAL, code: 'NA', display: 'Sodium' }] } };
    const r = await snomedMap({ payload: obs }, opts({ path: 'Observation.code' }));
    assert.equal(r.ok, true);
    assert.deepEqual((r.payload as any).code.coding, [{ system: LOCAL, code: 'NA', display: 'Sodium' }, { system: SNOMED_CT, code: '1000661000000107', display: 'Serum sodium level', userSelected: false }]);
    assert.equal(r.outcome.issue[0]!.diagnostics, 'All OK');
    const again = await snomedMap({ payload: r.payload }, opts({ path: 'Observation.code' }));
    assert.equal(again.payload, undefined, 'already present: nothing written');
    assert.equal(again.ok, true);
  });

  it('translate to ICD-10 with RF2 rules: patient context from PID-7/PID-8, or candidates', async () => {
    const dg = (sex: string): string => ORU.replace('|19800101|F', `|19800101|${sex}`) + '\rDG1|1||80146002^Appendicitis^SCT';
    const o = opts({ mode: 'translate', path: 'DG1-3', translateMaps: () => icd, translateTo: ICD_10 });
    const f = await snomedMap({ payload: dg('F') }, o);
    assert.deepEqual(f.snomed.targets.map((t) => t.code), ['N73.9']);
    assert.equal(parseHl7(f.payload as string).message!.get('DG1-3.4'), 'N73.9');
    assert.equal(parseHl7(f.payload as string).message!.get('DG1-3.6'), 'I10');
    const u = await snomedMap({ payload: dg('U') }, o);
    assert.equal(u.ok, true);
    assert.deepEqual(u.snomed.targets.map((t) => [t.code, t.candidate]), [['N73.9', true], ['K35.8', true]]);
    assert.equal(u.outcome.issue[0]!.code, 'incomplete');
    assert.equal(u.payload, undefined, 'candidates are not written');
    const given = await snomedMap({ payload: dg('U'), context: { sex: 'male' } }, o);
    assert.deepEqual(given.snomed.targets.map((t) => t.code), ['K35.8'], 'msg context wins');
  });

  it('candidates only → unmapped when asked: the incomplete issue becomes an error; a chosen target still maps (HAZ-011 C4)', async () => {
    const dg = (sex: string): string => ORU.replace('|19800101|F', `|19800101|${sex}`) + '\rDG1|1||80146002^Appendicitis^SCT';
    const o = opts({ mode: 'translate', path: 'DG1-3', translateMaps: () => icd, translateTo: ICD_10, candidates: 'unmapped' });
    const u = await snomedMap({ payload: dg('U') }, o);
    assert.equal(u.ok, false, 'leaves on the second output');
    assert.equal(u.outcome.issue[0]!.severity, 'error');
    assert.equal(u.outcome.issue[0]!.code, 'incomplete');
    assert.deepEqual(u.snomed.targets.map((t) => t.candidate), [true, true], 'the candidates travel for the reviewer');
    assert.equal(u.payload, undefined, 'nothing written');
    const f = await snomedMap({ payload: dg('F') }, o);
    assert.equal(f.ok, true, 'with the context the rule chooses, the message maps as before');
    assert.deepEqual(f.snomed.targets.map((t) => t.code), ['N73.9']);
  });

  it('validate SCTIDs offline, naming the failed check', async () => {
    const o = opts({ mode: 'validate', path: 'Condition.code' });
    const cond = (code: string): unknown => ({ resourceType: 'Condition', code: { coding: [{ system: SNOMED_CT, code }] } });
    assert.equal((await snomedMap({ payload: cond('22298006') }, o)).ok, true);
    const bad = await snomedMap({ payload: cond('22298007') }, o);
    assert.equal(bad.ok, false);
    assert.match(bad.outcome.issue[0]!.diagnostics!, /check-digit/);
    const expr = await snomedMap({ payload: cond('22298006 : 363698007 = 74281007') }, o);
    assert.equal(expr.outcome.issue[0]!.code, 'not-supported', 'expressions need a server');
    const seam = await snomedMap({ payload: cond('22298006 : (') }, { ...o, expressionSyntax: () => 'unbalanced (' });
    assert.match(seam.outcome.issue[0]!.diagnostics!, /syntax: unbalanced/);
  });

  it('expressions and ECL: syntax errors reported offline with the parser\'s position', async () => {
    const o = opts({ mode: 'validate', path: 'Condition.code' });
    const cond = (code: string): unknown => ({ resourceType: 'Condition', code: { coding: [{ system: SNOMED_CT, code }] } });
    const table: [string, RegExp][] = [
      ['22298006 : 363698007 = (', /position 25/],
      ['73211009 |Diabetes mellitus', /position \d+: unterminated term/],
      ['<< 73211009 AND', /ECL syntax error at position 16/],
      ['<< 73211009 OR < 1234', /position 18: '1234' is not an SCTID/],
      ['<< 73211009 AND < 404684003 OR < 71388002', /ECL syntax error at position \d+/],
    ];
    for (const [code, want] of table) {
      const r = await snomedMap({ payload: cond(code) }, o);
      assert.equal(r.ok, false, code);
      assert.equal(r.outcome.issue.length, 1, code);
      assert.equal(r.outcome.issue[0]!.code, 'code-invalid', code);
      assert.match(r.outcome.issue[0]!.diagnostics!, want, code);
      assert.deepEqual(r.outcome.issue[0]!.expression, ['Condition.code.coding'], code);
    }
    for (const good of ['22298006 : 363698007 = 74281007', '<< 73211009', '< 404684003 : 363698007 = << 39057004', '^ 700043003', '<< 73211009 |Diabetes mellitus| OR << 46635009']) {
      assert.equal(expressionSyntax(good), undefined, good);
      const r = await snomedMap({ payload: cond(good) }, o);
      assert.equal(r.outcome.issue[0]!.code, 'not-supported', `${good}: well-formed, needs a server to judge`);
    }
  });

  it('bad input is a result on the invalid side', async () => {
    for (const payload of [undefined, 42, 'not hl7', '{"resourceType":"Observation"}', Buffer.from('MSH|^~\\&|A')]) {
      const r = await snomedMap({ payload }, opts({ path: typeof payload === 'string' && payload.startsWith('{') ? 'Observation.code' : 'OBX-3' }));
      assert.equal(r.ok, false, String(payload));
      assert.equal(r.outcome.issue[0]!.severity, 'error');
    }
    assert.equal((await snomedMap({ payload: 'x' }, opts({ path: 'Observation.code' }))).ok, false);
    assert.equal((await snomedMap({ hl7: { segments: 'no' } }, opts({}))).ok, false);
    const huge = await snomedMap({ payload: ORU + '\r' + 'NTE|1||'.padEnd(11 * 1048576, 'x') }, opts({}));
    assert.equal(huge.outcome.issue[0]!.code, 'too-long');
    const none = await snomedMap({ payload: ORU }, opts({ path: 'ZZZ-3' }));
    assert.equal(none.outcome.issue[0]!.code, 'required', 'no code at the path');
  });

  it('configuration errors', () => {
    assert.throws(() => checkOptions(opts({ path: 'obx 3' })), (e) => hasCode(e, 'SNOMED_MAP_CONFIG'));
    assert.throws(() => checkOptions(opts({ mode: 'valueset' })), (e) => hasCode(e, 'SNOMED_MAP_CONFIG'));
    assert.throws(() => checkOptions(opts({ mode: 'translate' })), (e) => hasCode(e, 'SNOMED_MAP_CONFIG'));
    checkOptions(opts({ path: 'Observation.component.code' }));
  });
});

describe('snomed-map with the stand-in terminology server', { skip: skipWithoutShared('fhir-packages') }, () => {
  let s: StandIn;
  let client: TerminologyClient;
  before(async () => { s = await startTerminologyStandIn(); client = new TerminologyClient({ baseUrl: s.base, rateLimit: 0, backoffMs: 5 }); });
  after(() => s?.close());

  it('ValueSet membership through ValueSet/$validate-code', async () => {
    const o: SnomedMapOptions = { mode: 'valueset', path: 'Observation.valueCodeableConcept', valueSet: 'https://fhir.hl7.org.uk/ValueSet/UKCore-EthnicCategory', client };
    const obs = (code: string): unknown => ({ resourceType: 'Observation', valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland', code }] } });
    assert.equal((await snomedMap({ payload: obs('A') }, o)).ok, true);
    assert.equal((await snomedMap({ payload: obs('ZZ') }, o)).ok, false);
  });

  it('validate through CodeSystem/$validate-code; unknown concepts are invalid', async () => {
    const o: SnomedMapOptions = { mode: 'validate', path: 'Condition.code', client };
    const cond = (code: string): unknown => ({ resourceType: 'Condition', code: { coding: [{ system: SNOMED_CT, code }] } });
    const ok = await snomedMap({ payload: cond('22298006') }, o);
    assert.equal(ok.ok, true);
    assert.match(ok.snomed.source!.display!, /myocardial/i);
    const id = '123456789001' + String(verhoeffDigit('123456789001'));
    assert.ok(isValidSctId(id));
    const unknown = await snomedMap({ payload: cond(id) }, o);
    assert.equal(unknown.ok, false, 'well-formed but unknown to the server');
    assert.match(unknown.outcome.issue[0]!.diagnostics!, /terminology server/);
  });

  it('map falls back to ConceptMap/$translate when no local map knows the code', async () => {
    const o: SnomedMapOptions = { mode: 'translate', path: 'Condition.code', client, translateTo: 'http://hl7.org/fhir/sid/icd-10-us' };
    const r = await snomedMap({ payload: { resourceType: 'Condition', code: { coding: [{ system: SNOMED_CT, code: '263204007' }] } } }, o);
    assert.equal(r.ok, true);
    assert.equal(r.snomed.targets[0]!.code, 'S52.209A');
    assert.deepEqual(r.snomed.provenance, { map: 'terminology server' });
  });

  it('a well-formed expression goes to the server; a malformed one never does', async () => {
    const o: SnomedMapOptions = { mode: 'validate', path: 'Condition.code', client: new TerminologyClient({ baseUrl: s.base, rateLimit: 0, backoffMs: 1, cacheTtlMs: 0 }) };
    const cond = (code: string): unknown => ({ resourceType: 'Condition', code: { coding: [{ system: SNOMED_CT, code }] } });
    const calls = (): number => s.counts.get('/fhir/CodeSystem/$validate-code') ?? 0;
    const before = calls();
    const bad = await snomedMap({ payload: cond('<< 73211009 AND') }, o);
    assert.equal(bad.ok, false);
    assert.match(bad.outcome.issue[0]!.diagnostics!, /position 16/);
    assert.equal(calls(), before, 'no request for a syntax error');
    const good = await snomedMap({ payload: cond('22298006 : 363698007 = 74281007') }, o);
    assert.equal(calls(), before + 1, 'the server judges a well-formed expression');
    assert.equal(good.snomed.provenance?.map, 'terminology server');
    assert.notEqual(good.outcome.issue[0]!.code, 'not-supported');
  });

  it('server failures are operational errors (thrown), not results', async () => {
    s.inject({ status: 500 }, { status: 500 }, { status: 500 });
    const c = new TerminologyClient({ baseUrl: s.base, rateLimit: 0, backoffMs: 1, cacheTtlMs: 0 });
    await assert.rejects(snomedMap({ payload: { resourceType: 'Condition', code: { coding: [{ system: SNOMED_CT, code: '22298006' }] } } }, { mode: 'validate', path: 'Condition.code', client: c }), (e) => hasCode(e, 'TERMINOLOGY_SERVER_ERROR'));
  });
});
