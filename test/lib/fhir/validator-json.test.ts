/**
 * lib/fhir/json.ts: the safe JSON reader in front of the validator (size and depth limits,
 * duplicate keys, comments, extra/missing commas, half-delivered text), table-driven.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readJson } from '../../../lib/fhir/json';

describe('readJson', () => {
  it('reads clean JSON (string or Buffer, with or without a BOM)', () => {
    for (const input of ['{"resourceType":"Patient","active":true}', Buffer.from('\ufeff{"resourceType":"Patient"}')]) {
      const r = readJson(input);
      assert.equal(r.ok, true);
      assert.equal((r as { value: { resourceType: string } }).value.resourceType, 'Patient');
    }
  });

  const bad: [string, string, RegExp, string, 'fatal' | 'error'][] = [
    ['half-delivered object', '{"resourceType":"Patient","name":[{"given":["A"', /end of file/, 'Patient.name[0].given[0]', 'fatal'],
    ['wrong close marker', '{"resourceType":"Patient","name":[{"given":["A"]]}', /Unexpected close marker/, 'Patient.name[0]', 'fatal'],
    ['garbage after the document', '{"resourceType":"Patient"} x', /after the end/, 'Patient', 'fatal'],
    ['cut short after a value', '{"resourceType":"Patient","active":true', /end of file/, 'Patient', 'fatal'],
    ['unquoted key', '{resourceType:"Patient"}', /property name/, '', 'fatal'],
    ['control character in a string', '{"resourceType":"Pat\u0001ient"}', /bad string/, '', 'fatal'],
    ['line comment', '{"resourceType":"Patient", // note\n"active":true}', /Comments are not allowed/, 'Patient', 'error'],
    ['block comment', '{"resourceType":"Patient", /* note */ "active":true}', /Comments are not allowed/, 'Patient', 'error'],
    ['trailing comma in array', '{"resourceType":"Patient","name":[{"given":["A","B",]}]}', /extra comma at the end of the Array/, 'Patient.name[0].given[1]', 'error'],
    ['trailing comma in object', '{"resourceType":"Patient","active":true,}', /extra comma at the end of the Object/, 'Patient', 'error'],
    ['missing comma', '{"resourceType":"Patient" "active":true}', /Comma is missing/, 'Patient', 'error'],
    ['duplicate key', '{"resourceType":"Patient","gender":"male","gender":"female"}', /Duplicated property name: gender/, 'Patient', 'error'],
  ];
  for (const [name, text, re, path, severity] of bad) {
    it(name, () => {
      const r = readJson(text);
      assert.equal(r.ok, false);
      const p = r.problems[0]!;
      assert.match(p.message, re);
      assert.equal(p.path, path);
      assert.equal(p.severity, severity);
    });
  }

  it('size limit is checked on bytes before any parsing', () => {
    const r = readJson('"é"'.repeat(10), { maxBytes: 20 });
    assert.equal(r.ok, false);
    assert.equal(r.problems[0]!.messageId, 'NHS_JSON_TOO_LARGE');
  });

  it('depth limit: 10,000 levels is refused without recursion; the limit itself is accepted', () => {
    const deep = readJson('['.repeat(10_000) + ']'.repeat(10_000));
    assert.equal(deep.ok, false);
    assert.equal(deep.problems[0]!.messageId, 'NHS_JSON_TOO_DEEP');
    assert.equal(readJson('['.repeat(10) + ']'.repeat(10), { maxDepth: 10 }).ok, true);
    assert.equal(readJson('['.repeat(11) + ']'.repeat(11), { maxDepth: 10 }).ok, false);
  });

  it('allowComments blanks comments out and keeps line structure', () => {
    const r = readJson('{"resourceType":"Patient", // c\n /* d */ "active":true}', { allowComments: true });
    assert.equal(r.ok, true);
    assert.deepEqual((r as { value: unknown }).value, { resourceType: 'Patient', active: true });
  });

  it('escaped keys are compared after unescaping (duplicate detection)', () => {
    const r = readJson('{"a":1,"\\u0061":2}');
    assert.equal(r.ok, false);
    assert.match(r.problems[0]!.message, /Duplicated/);
  });
});
