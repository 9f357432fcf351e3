/**
 * SNOMED CT ECL 2.x and compositional grammar parsers (lib/terminology/ecl.ts), table-driven
 * from the examples of the ECL specification (§6 "Examples") and SCG §6: valid expressions parse,
 * invalid ones give one error with its 1-based position.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseEcl, parseScg } from '../../../lib/terminology/ecl';
import { MESSAGE_ID_EXTENSION } from '../../../lib/outcome';

const VALID_ECL = [
  '404684003 |Clinical finding|', '< 404684003 |Clinical finding|', '<< 73211009 |Diabetes mellitus|', '<! 404684003', '<<! 404684003',
  '> 40541001', '>> 40541001', '>! 40541001', '>>! 40541001', '!!> 404684003', '^ 700043003 |Example problem list concepts reference set|', '*',
  '< 19829001 |Disorder of lung| : 116676008 |Associated morphology| = 79654002 |Edema|', '< 19829001 : 116676008 = << 79654002',
  '< 404684003 : 363698007 = << 39057004 , 116676008 = << 415582006', '< 404684003 : { 363698007 = << 39057004, 116676008 = << 415582006 }',
  '< 373873005 : [1..3] 127489000 = < 105590001', '< 373873005 : [0..0] 127489000 = < 105590001', '< 404684003 : [1..*] { 363698007 = << 39057004 }',
  '< 91723000 : R 363698007 = *', '<< 19829001 AND << 301867009', '<< 19829001 OR << 301867009', '<< 19829001 MINUS << 301867009',
  '(<< 19829001 AND << 301867009) OR << 404684003', '<< 19829001 , << 301867009', '< 125605004 |Fracture of bone| . 363698007 |Finding site|',
  '< 27658006 : 411116001 = ( < 421720008 OR < 421967003 )', '< 373873005 : 1142135004 = #250', '< 373873005 : 1142135004 >= #250.5',
  '< 373873005 : 3460481009 = "PANADOL"', '< 64572001 {{ term = "heart" }}', '< 64572001 {{ D term = "hjärt", language = sv }}',
  '< 64572001 {{ term = match:"heart att" }}', '< 64572001 {{ term = wild:"cardi*opathy" }}', '< 64572001 {{ term = ("heart" "card") }}',
  '< 56265001 {{ d typeId = 900000000000013009 }}', '< 64572001 {{ C definitionStatus = primitive }}', '< 64572001 {{ c active = 1 }}',
  '^ 447562003 {{ M mapTarget = "J45.9" }}', '< 195967001 {{ +HISTORY-MIN }}', '< 195967001 {{ +HISTORY }}', '/* comment */ << 73211009',
  'descendantOrSelfOf 73211009', '^ [referencedComponentId] 700043003', '< 404684003 : (363698007 = << 39057004 OR 116676008 = << 415582006)',
  '< 404684003 {{ C effectiveTime >= "20190731" }}', '(< 404684003) MINUS (<< 73211009)', 'http://snomed.info/id#73211009',
];
const INVALID_ECL: [string, number, RegExp][] = [
  ['<', 2, /concept reference/], ['< 404684003 AND', 16, /concept reference/],
  ['<< 19829001 AND << 301867009 OR << 404684003', 30, /cannot be mixed/], ['< 404684003 : 363698007', 24, /comparison operator/],
  ['(< 404684003', 13, /'\)' expected/], ['< 404684003 |Clinical finding', 14, /unterminated term/], ['< 12345', 3, /not an SCTID/],
  ['< 404684003 {{ term = "x" ', 27, /'}}' expected/], ['< 404684003 {{ foo = x }}', 16, /unknown description filter/],
  ['< 404684003 : [3..1] 127489000 = *', 16, /below its minimum/], ['<<< 404684003', 3, /concept reference/], ['< 404684003 xyz', 13, /unexpected text/],
  ['< 404684003 MINUS < 19829001 MINUS < 73211009', 30, /MINUS takes exactly two operands/],
];

describe('SNOMED CT ECL 2.x parser', () => {
  for (const t of VALID_ECL) it(`valid: ${t}`, () => { const r = parseEcl(t); assert.equal(r.ok, true, JSON.stringify(r.issues)); assert.deepEqual(r.issues, []); });
  for (const [t, pos, re] of INVALID_ECL) {
    it(`invalid: ${t}`, () => {
      const r = parseEcl(t, 'ValueSet.compose.include[0].filter[0].value');
      assert.equal(r.ok, false);
      assert.equal(r.issues.length, 1);
      const d = r.issues[0]!.diagnostics ?? '';
      assert.match(d, re);
      assert.match(d, new RegExp(`position ${pos}:`));
      assert.deepEqual(r.issues[0]!.expression, ['ValueSet.compose.include[0].filter[0].value']);
      assert.equal(r.issues[0]!.extension?.find((e) => e.url === MESSAGE_ID_EXTENSION)?.valueString, 'SNOMED_ECL_SYNTAX');
    });
  }
  it('an empty constraint and a concept id failing its check digit are errors', () => {
    assert.equal(parseEcl('  ').ok, false);
    const r = parseEcl('<< 404684004');
    assert.equal(r.ok, false);
    assert.match(r.issues[0]!.diagnostics ?? '', /not a valid SNOMED CT identifier/);
  });
  it('hostile input: deep nesting and long text end in an error, not a stack overflow', () => {
    assert.equal(parseEcl('('.repeat(5000) + '404684003' + ')'.repeat(5000)).ok, false);
    assert.equal(parseEcl(`<< 404684003 ${'OR << 404684003 '.repeat(2000)}`).ok, true);
  });
});

describe('SNOMED CT compositional grammar (post-coordinated expressions)', () => {
  const valid = ['73211009', '421720008 |Spray dose form| + 7946007 |Drug suspension|', '83152002 : 405815000 = 122456005',
    '71388002 : { 260686004 = 129304002, 405813007 = 15497006 }', '=== 71388002 : 260686004 = 129304002',
    '373873005 : 1142135004 = #250, 3460481009 = "X"', '404684003 : 363698007 = (39057004 : 272741003 = 7771000)'];
  for (const t of valid) it(`valid: ${t}`, () => assert.equal(parseScg(t).ok, true, JSON.stringify(parseScg(t).issues)));
  const invalid: [string, number][] = [['73211009 :', 11], ['73211009 + ', 12], ['{ 260686004 = 129304002 }', 1], ['71388002 : 260686004', 21]];
  for (const [t, pos] of invalid) it(`invalid: ${t}`, () => { const r = parseScg(t); assert.equal(r.ok, false); assert.match(r.issues[0]!.diagnostics ?? '', new RegExp(`position ${pos}:`)); });
});
