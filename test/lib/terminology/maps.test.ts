import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conceptMapTable, CTV3, detectFormat, ICD_10, loadMapFile, READ_V2, SNOMED_CT } from '../../../lib/terminology/map-loaders';
import { evaluateRule } from '../../../lib/terminology/map-rules';
import { MapSource } from '../../../lib/terminology/map-source';
import { MapSet } from '../../../lib/terminology/maps';
import { hasCode } from '../../../lib/errors';
import { skipWithoutShared } from '../../helpers/shared';
import { ukCoreResources } from './ukcore-data';
import { until } from '../../helpers/wait';

const dir = mkdtempSync(join(tmpdir(), 'nhs-maps-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p; };
const LOCAL = 'https://trust.example.nhs.uk/CodeSystem/lab-tests';

describe('CSV maps', () => {
  it('reads the named columns in any order, with provenance from # lines', async () => {
    const p = file('lab.csv', [
      '# version: 2024.2', '# effectiveTime: 20240601',
      'Target Code,Source Code,source_system,sourceDisplay,TARGET_SYSTEM,target display,equivalence',
      `1022451000000103,HB,${LOCAL},Haemoglobin,${SNOMED_CT},Haemoglobin level,equivalent`,
      `"271062006","NA",${LOCAL},"Sodium, serum",${SNOMED_CT},Sodium level,`,
      `,UNK,${LOCAL},Unknown test,,,unmatched`,
    ].join('\n'));
    assert.equal(await detectFormat(p), 'csv');
    const t = await loadMapFile(p);
    assert.deepEqual(t.provenance, { map: 'lab.csv', format: 'csv', version: '2024.2', effectiveTime: '20240601' });
    assert.equal(t.size, 3);
    const hb = t.lookup('HB', LOCAL)!;
    assert.equal(hb.mapped, true);
    assert.deepEqual(hb.source, { system: LOCAL, code: 'HB', display: 'Haemoglobin' });
    assert.deepEqual(hb.targets, [{ system: SNOMED_CT, code: '1022451000000103', display: 'Haemoglobin level', equivalence: 'equivalent' }]);
    assert.equal(t.lookup('NA')!.source.display, 'Sodium, serum', 'quoted field with comma; code-only lookup');
    assert.equal(t.lookup('NA')!.targets[0]!.equivalence, 'equivalent', 'empty equivalence means equivalent');
    assert.equal(t.lookup('UNK')!.mapped, false, 'known but unmapped');
    assert.equal(t.lookup('HB', 'http://other'), undefined, 'another system does not match');
    assert.equal(t.lookup('XX'), undefined);
  });

  it('bad rows are counted by row number, bad headers and missing files are NhsErrors', async () => {
    const t = await loadMapFile(file('bad.csv', `source code,target code,equivalence\n,123,equivalent\nA,22298006,sort-of\nB,22298006,wider\n`));
    assert.deepEqual(t.issues, [{ row: 2, line: 2, column: 1, message: 'empty source code' }, { row: 3, line: 3, column: 3, message: 'unknown equivalence' }]);
    assert.equal(t.lookup('B')!.targets[0]!.equivalence, 'wider');
    await assert.rejects(loadMapFile(file('nohead.csv', 'a,b\n1,2\n')), (e) => hasCode(e, 'TERMINOLOGY_MAP_INVALID'));
    await assert.rejects(loadMapFile(join(dir, 'missing.csv')), (e) => hasCode(e, 'TERMINOLOGY_MAP_NOT_FOUND'));
    await assert.rejects(loadMapFile(file('empty.csv', '')), (e) => hasCode(e, 'TERMINOLOGY_MAP_INVALID'));
  });
});

describe('FHIR R4 ConceptMap', () => {
  const cm = {
    resourceType: 'ConceptMap', url: 'http://example.org/cm/a', version: '3', date: '2024-05-01',
    group: [
      { source: 'http://a', target: 'http://b', element: [
        { code: '1', target: [{ code: 'x', display: 'X', equivalence: 'equivalent' }, { code: 'y', equivalence: 'wider', comment: 'broader' }] },
        { code: '2', target: [{ equivalence: 'unmatched' }] },
      ], unmapped: { mode: 'fixed', code: 'zz', display: 'Other' } },
      { source: 'http://c', target: 'http://b', element: [{ code: '1', target: [{ code: 'c1', equivalence: 'equal' }] }], unmapped: { mode: 'provided' } },
      { source: 'http://d', target: 'http://e', element: [], unmapped: { mode: 'other-map', url: 'http://example.org/cm/other' } },
    ],
  };
  const other = { resourceType: 'ConceptMap', url: 'http://example.org/cm/other', group: [{ source: 'http://d', target: 'http://e', element: [{ code: '9', target: [{ code: 'nine', equivalence: 'equivalent' }] }] }] };

  it('groups, equivalence, unmatched targets and provenance', () => {
    const t = conceptMapTable(cm, 'a.json');
    assert.deepEqual(t.provenance, { map: 'a.json', format: 'conceptmap', version: '3', effectiveTime: '2024-05-01', url: 'http://example.org/cm/a' });
    const r = t.lookup('1', 'http://a')!;
    assert.deepEqual(r.targets.map((x) => [x.code, x.equivalence, x.advice]), [['x', 'equivalent', undefined], ['y', 'wider', 'broader']]);
    assert.equal(t.lookup('1', 'http://c')!.targets[0]!.code, 'c1', 'the group of the given system');
    assert.equal(t.lookup('2', 'http://a')!.mapped, false, 'unmatched is not a mapping');
  });

  it('unmapped modes: fixed, provided, other-map', () => {
    const t = conceptMapTable(cm);
    const fixed = t.lookup('77', 'http://a')!;
    assert.deepEqual(fixed.targets, [{ system: 'http://b', code: 'zz', display: 'Other', equivalence: 'inexact', advice: 'unmapped: fixed code' }]);
    const provided = t.lookup('77', 'http://c')!;
    assert.equal(provided.targets[0]!.code, '77');
    assert.equal(provided.targets[0]!.system, 'http://b');
    assert.equal(t.lookup('9', 'http://d'), undefined, 'other-map needs the other map loaded');
    const set = new MapSet([t, conceptMapTable(other)]);
    const r = set.lookup('9', 'http://d')!;
    assert.equal(r.targets[0]!.code, 'nine');
    assert.equal(r.provenance.url, 'http://example.org/cm/other');
    assert.equal(set.lookup('8', 'http://d'), undefined);
  });

  it('not a ConceptMap is an NhsError', () => {
    assert.throws(() => conceptMapTable({ resourceType: 'ValueSet' }), (e) => hasCode(e, 'TERMINOLOGY_MAP_INVALID'));
    assert.throws(() => conceptMapTable(null), (e) => hasCode(e, 'TERMINOLOGY_MAP_INVALID'));
  });

  it('UK Core ConceptMaps load and translate', { skip: skipWithoutShared('fhir-packages') }, () => {
    const maps = ukCoreResources().filter((r) => r.resourceType === 'ConceptMap');
    assert.ok(maps.length >= 1);
    for (const m of maps) {
      const t = conceptMapTable(m);
      assert.deepEqual(t.issues, [], String(m.url));
      const g = (m.group as any[])[0];
      const el = g.element[0];
      const r = t.lookup(el.code, g.source)!;
      assert.ok(r, `${String(m.url)} ${String(el.code)}`);
      assert.equal(r.targets[0]!.code ?? '', el.target?.[0]?.code ?? '');
    }
  });
});

const RF2_HEADER = 'id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tmapGroup\tmapPriority\tmapRule\tmapAdvice\tmapTarget\tcorrelationId\tmapCategoryId';
const rf2 = (id: string, et: string, active: string, concept: string, g: number, p: number, rule: string, advice: string, target: string): string =>
  [id, et, active, '449080006', '447562003', concept, g, p, rule, advice, target, '447561005', '447637006'].join('\t');
const MALE = 'IFA 248153007 | Male (finding) |';
const AGE_LT_15 = 'IFA 445518008 | Age at onset of clinical finding (observable entity) | < 15.0 years';

describe('RF2 extended map (SNOMED CT → ICD-10)', () => {
  const lines = [
    RF2_HEADER,
    // two groups, in file order reversed to prove sorting
    rf2('u4', '20240101', '1', '100', 2, 1, 'TRUE', 'ALWAYS Y00', 'Y00', ),
    rf2('u1', '20240101', '1', '100', 1, 1, 'TRUE', 'ALWAYS A01.1', 'A01.1'),
    // sex rule
    rf2('s1', '20240101', '1', '200', 1, 1, MALE, 'IF MALE CHOOSE N50.8', 'N50.8'),
    rf2('s2', '20240101', '1', '200', 1, 2, 'OTHERWISE TRUE', 'OTHERWISE N94.8', 'N94.8'),
    // age rule
    rf2('a1', '20240101', '1', '300', 1, 1, AGE_LT_15, 'IF AGE < 15 P07.3', 'P07.3'),
    rf2('a2', '20240101', '1', '300', 1, 2, 'OTHERWISE TRUE', 'OTHERWISE R62.8', 'R62.8'),
    // co-morbidity rule: never judged from a message
    rf2('c1', '20240101', '1', '400', 1, 1, 'IFA 38341003 | Hypertensive disorder |', 'IF HYPERTENSION I13.9', 'I13.9'),
    rf2('c2', '20240101', '1', '400', 1, 2, 'OTHERWISE TRUE', '', 'N18.9'),
    // inactive row ignored; a Full-file history where the latest state is inactive
    rf2('i1', '20240101', '0', '500', 1, 1, 'TRUE', '', 'Z99.9'),
    rf2('h1', '20200101', '1', '600', 1, 1, 'TRUE', '', 'OLD'),
    rf2('h1', '20230101', '0', '600', 1, 1, 'TRUE', '', 'OLD'),
    rf2('h2', '20190101', '0', '700', 1, 1, 'TRUE', '', 'NEW'),
    rf2('h2', '20240601', '1', '700', 1, 1, 'TRUE', '', 'NEW'),
    // no target: advice only
    rf2('n1', '20240101', '1', '800', 1, 1, 'TRUE', 'MAP SOURCE CONCEPT CANNOT BE CLASSIFIED WITH AVAILABLE DATA', ''),
    'garbage\tline',
  ];
  let path = '';
  it('loads active rows with provenance from the file name', async () => {
    path = file('der2_iisssccRefset_ExtendedMapFull_GB1000000_20240925.txt', lines.join('\r\n') + '\r\n');
    assert.equal(await detectFormat(path), 'rf2');
    const t = await loadMapFile(path);
    assert.deepEqual(t.provenance, { map: 'der2_iisssccRefset_ExtendedMapFull_GB1000000_20240925.txt', format: 'rf2', version: 'GB1000000_20240925', effectiveTime: '20240601' });
    assert.equal(t.lookup('500'), undefined, 'inactive row ignored');
    assert.equal(t.lookup('600'), undefined, 'latest state inactive');
    assert.equal(t.lookup('700')!.targets[0]!.code, 'NEW', 'latest state active');
    assert.equal(t.issues.length, 1, 'garbage line counted');
  });

  it('groups and priorities in order; equivalence from the correlation', async () => {
    const t = await loadMapFile(path);
    const r = t.lookup('100', SNOMED_CT)!;
    assert.deepEqual(r.targets.map((x) => [x.group, x.priority, x.code, x.system, x.equivalence]), [[1, 1, 'A01.1', ICD_10, 'relatedto'], [2, 1, 'Y00', ICD_10, 'relatedto']]);
    assert.equal(r.mapped, true);
  });

  it('rules with patient context are evaluated', async () => {
    const t = await loadMapFile(path);
    assert.deepEqual(t.lookup('200', undefined, { sex: 'male' })!.targets.map((x) => [x.code, x.candidate]), [['N50.8', undefined]]);
    assert.deepEqual(t.lookup('200', undefined, { sex: 'female' })!.targets.map((x) => [x.code, x.candidate]), [['N94.8', undefined]]);
    assert.deepEqual(t.lookup('300', undefined, { age: 9 })!.targets.map((x) => x.code), ['P07.3']);
    assert.deepEqual(t.lookup('300', undefined, { age: 15 })!.targets.map((x) => x.code), ['R62.8']);
  });

  it('rules without patient context return candidates with their advice', async () => {
    const t = await loadMapFile(path);
    const r = t.lookup('200')!;
    assert.deepEqual(r.targets.map((x) => [x.code, x.candidate, x.advice, x.rule]), [
      ['N50.8', true, 'IF MALE CHOOSE N50.8', MALE], ['N94.8', true, 'OTHERWISE N94.8', 'OTHERWISE TRUE'],
    ]);
    const c = t.lookup('400', undefined, { age: 50, sex: 'female' })!;
    assert.deepEqual(c.targets.map((x) => [x.code, x.candidate]), [['I13.9', true], ['N18.9', true]], 'co-morbidity is never guessed');
    const n = t.lookup('800')!;
    assert.equal(n.mapped, false);
    assert.deepEqual(n.advice, ['MAP SOURCE CONCEPT CANNOT BE CLASSIFIED WITH AVAILABLE DATA']);
  });

  it('rule grammar', () => {
    assert.equal(evaluateRule('TRUE', {}), true);
    assert.equal(evaluateRule(`${MALE} AND ${AGE_LT_15}`, { sex: 'male', age: 3 }), true);
    assert.equal(evaluateRule(`${MALE} AND ${AGE_LT_15}`, { sex: 'male', age: 30 }), false);
    assert.equal(evaluateRule(`${MALE} AND ${AGE_LT_15}`, { sex: 'female' }), false, 'one false conjunct decides');
    assert.equal(evaluateRule(`${MALE} AND ${AGE_LT_15}`, { sex: 'male' }), undefined);
    assert.equal(evaluateRule('IFA 445518008 | Age at onset | >= 28.0 days', { age: 0.05 }), false);
    assert.equal(evaluateRule('IFA 445518008 | Age at onset | >= 28.0 days', { age: 0.1 }), true);
    assert.equal(evaluateRule('something else', { age: 1, sex: 'male' }), undefined);
  });

  it('a target system can be set (OPCS-4 complex map)', async () => {
    const p = file('der2_iisssciRefset_ComplexMapSnapshot_GB1000000_20240925.txt', [RF2_HEADER.replace('\tmapCategoryId', ''),
      ['x1', '20240101', '1', 'm', '1126441000000105', '80146002', 1, 1, 'TRUE', '', 'H01.9', '447561005'].join('\t'),
      ['x2', '20240101', '0', 'm', '1126441000000105', '80146002', 1, 2, 'TRUE', '', 'H02.9', '447561005'].join('\t'),
      ['x3', '20240101', '0', 'm', '1126441000000105', '12345006', 1, 1, 'TRUE', '', 'H03.9', '447561005'].join('\t')].join('\n'));
    const t = await loadMapFile(p, { targetSystem: 'http://example.org/opcs-4' });
    assert.deepEqual(t.lookup('80146002')!.targets.map((x) => [x.system, x.code]), [['http://example.org/opcs-4', 'H01.9']], 'Snapshot: inactive rows ignored');
    assert.equal(t.lookup('12345006'), undefined);
    assert.equal(t.provenance.effectiveTime, '20240101');
  });
});

describe('Read v2 / CTV3 → SNOMED CT maps', () => {
  it('Read v2: inactive rows ignored, assured maps first', async () => {
    const p = file('rcsctmap2_uk_20200401000001.txt', [
      'MapId\tReadCode\tTermCode\tConceptId\tDescriptionId\tIS_ASSURED\tEffectiveDate\tMapStatus',
      'm1\tG30..\t00\t22298006\t37436014\t0\t20190401\t1',
      'm2\tG30..\t11\t57054005\t94960015\t1\t20200401\t1',
      'm3\tH33..\t00\t195967001\t301485011\t1\t20180401\t0',
    ].join('\n'));
    assert.equal(await detectFormat(p), 'read');
    const t = await loadMapFile(p);
    const r = t.lookup('G30..', READ_V2)!;
    assert.deepEqual(r.targets.map((x) => [x.code, x.advice]), [['57054005', 'assured map'], ['22298006', 'unassured map']]);
    assert.equal(t.lookup('H33..'), undefined);
    assert.equal(t.provenance.version, '20200401');
  });

  it('CTV3 layout', async () => {
    const p = file('ctv3sctmap2_uk_20200401000001.txt', [
      'MAPID\tCTV3_CONCEPTID\tCTV3_TERMID\tCTV3_TERMTYPE\tSCT_CONCEPTID\tSCT_DESCRIPTIONID\tMAPSTATUS\tEFFECTIVEDATE\tISASSURED',
      'm1\tX200E\tY1234\tP\t22298006\t37436014\t1\t20200401\t1',
    ].join('\n'));
    const t = await loadMapFile(p);
    assert.equal(t.lookup('X200E', CTV3)!.targets[0]!.code, '22298006');
  });
});

describe('map files reload when they change', () => {
  it('keeps the old table when a reload fails, picks up a fixed file', async () => {
    const p = file('reload.csv', 'source code,target code\nA,22298006\n');
    const loaded: number[] = [];
    const failed: string[] = [];
    const src = new MapSource([{ file: p }], { loaded: (_f, t) => loaded.push(t.size), failed: (_f, e) => failed.push((e as { code?: string }).code ?? '') }, { intervalMs: 50 });
    try {
      await src.ready;
      assert.equal(src.maps.lookup('A')!.targets[0]!.code, '22298006');
      writeFileSync(p, 'nonsense\n');
      await until(() => failed.length === 1, 20_000);
      assert.equal(failed[0], 'TERMINOLOGY_MAP_INVALID');
      assert.ok(src.maps.lookup('A'), 'old table still answers');
      writeFileSync(p, 'source code,target code\nA,22298006\nB,271062006\n');
      await until(() => loaded.length === 2, 20_000);
      assert.equal(src.maps.lookup('B')!.targets[0]!.code, '271062006');
    } finally {
      src.close();
    }
  });
});

describe('CSV reading agrees with csv-parse', () => {
  it('quoted fields, escaped quotes, commas and newlines inside quotes, CRLF, BOM, blank and comment lines', async () => {
    const { parse } = require('csv-parse/sync');
    const text = '\uFEFFsource code,source display,target code,target display\r\n' +
      'A, Plain ,22298006,Myocardial infarction\r\n' +
      '\r\n# a comment line\r\n' +
      '"B","Quoted, with comma",271062006,"Says ""hello"""\r\n' +
      'C,"Two\r\nlines",1022431000000105,x\r\n' +
      'D,,,\r\n';
    const p = file('quoted.csv', text);
    const t = await loadMapFile(p);
    const expected = (parse(text, { bom: true, comment: '#', relax_column_count: true, skip_empty_lines: true, trim: true }) as string[][]).slice(1);
    for (const [code, display, tcode, tdisplay] of expected) {
      const r = t.lookup(code!)!;
      assert.ok(r, code);
      assert.equal(r.source.display ?? '', display!.replace(/\r\n/g, '\n'), code); // line breaks in a field are read as \n
      assert.equal(r.targets[0]?.code ?? '', tcode, code);
      assert.equal(r.targets[0]?.display ?? '', tdisplay, code);
    }
    assert.equal(t.size, expected.length);
    assert.equal(t.lookup('C')!.source.display, 'Two\nlines');
    await assert.rejects(loadMapFile(file('open.csv', 'source code,target code\n"A,1\n')), (e) => hasCode(e, 'TERMINOLOGY_MAP_INVALID'));
  });

  it('lookup results are shared, so the node copies them (the table cannot be changed through msg)', async () => {
    const t = await loadMapFile(file('shared.csv', 'source code,target code\nA,22298006\n'));
    assert.equal(t.lookup('A'), t.lookup('A'));
  });
});
