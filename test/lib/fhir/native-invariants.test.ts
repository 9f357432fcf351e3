/**
 * The native Bundle / Organization invariants (lib/fhir/validate/native-invariants.ts) against
 * fhirpath.js evaluating the published R4 expressions on the same JSON: over a transaction Bundle
 * from the transform and ~50 variants of it (every Bundle type, missing and duplicated parts,
 * `_x` extensions, wrong JSON types, null entries), every definite native answer equals the
 * FHIRPath verdict (empty counts as passing), each invariant fails somewhere in the set, and the
 * odd shapes are handed back to fhirpath.js (`undefined`) rather than guessed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NATIVE_RESOURCE_INVARIANTS } from '../../../lib/fhir/validate/native-invariants';
import { hl7ToFhir } from '../../../lib/transform';
import { GOOD } from '../transform/fixtures';

type Json = Record<string, any>;
const fhirpath = require('fhirpath') as { compile: (e: unknown, m: unknown, o: unknown) => (r: unknown, env: Record<string, unknown>) => unknown[] };
const r4 = require('fhirpath/fhir-context/r4') as unknown;

const X = { extension: [{ url: 'http://example.org/x', valueString: 'a' }] };
const org = (b: Json): Json => b.entry.find((e: Json) => e?.resource?.resourceType === 'Organization').resource;

const VARIANTS: [string, (b: Json) => void][] = [
  ['as transformed', () => {}],
  ['no type', (b) => { delete b.type; }],
  ...['batch', 'document', 'message', 'searchset', 'history', 'collection', 'transaction-response', 'batch-response'].map((t): [string, (b: Json) => void] => [`type ${t}`, (b) => { b.type = t; }]),
  ['document with identifier', (b) => { b.type = 'document'; b.identifier = { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:1' }; }],
  ['document, identifier without value', (b) => { b.type = 'document'; b.identifier = { system: 'urn:ietf:rfc:3986' }; }],
  ['document, no timestamp', (b) => { b.type = 'document'; delete b.timestamp; }],
  ['document, _timestamp only', (b) => { b.type = 'document'; delete b.timestamp; b._timestamp = X; }],
  ['document starting with a Composition', (b) => { b.type = 'document'; b.entry[0].resource = { resourceType: 'Composition', id: 'c' }; }],
  ['message starting with a MessageHeader', (b) => { b.type = 'message'; b.entry[0].resource = { resourceType: 'MessageHeader', id: 'm' }; }],
  ['document, first entry without resource', (b) => { b.type = 'document'; delete b.entry[0].resource; }],
  ['document, no entries', (b) => { b.type = 'document'; b.entry = []; }],
  ['type a number', (b) => { b.type = 5; }],
  ['_type', (b) => { b._type = X; }],
  ['total', (b) => { b.total = 3; }],
  ['total in a searchset', (b) => { b.total = 3; b.type = 'searchset'; }],
  ['total without type', (b) => { b.total = 3; delete b.type; }],
  ['_total', (b) => { b._total = X; }],
  ['entry.search', (b) => { b.entry[0].search = { mode: 'match' }; }],
  ['entry.search without type', (b) => { b.entry[0].search = { mode: 'match' }; delete b.type; }],
  ['entry.search null', (b) => { b.entry[0].search = null; }],
  ['an entry without request', (b) => { delete b.entry[1].request; }],
  ['request null', (b) => { b.entry[1].request = null; }],
  ['request an array', (b) => { b.entry[1].request = [b.entry[1].request]; }],
  ['an entry with response', (b) => { b.entry[1].response = { status: '200' }; }],
  ['transaction-response with responses', (b) => { b.type = 'transaction-response'; for (const e of b.entry) { delete e.request; e.response = { status: '200' }; } }],
  ['an empty entry', (b) => { b.entry.push({}); }],
  ['an entry with only fullUrl', (b) => { b.entry.push({ fullUrl: 'urn:uuid:0b2a2a5e-0000-4000-8000-000000000000' }); }],
  ['a null entry', (b) => { b.entry.push(null); }],
  ['entry not an array', (b) => { b.entry = b.entry[0]; }],
  ['no entries', (b) => { b.entry = []; }],
  ['duplicate fullUrl', (b) => { b.entry[1].fullUrl = b.entry[0].fullUrl; }],
  ['duplicate fullUrl in a history', (b) => { b.entry[1].fullUrl = b.entry[0].fullUrl; b.type = 'history'; }],
  ['duplicate fullUrl, different versions', (b) => { b.entry[1].fullUrl = b.entry[0].fullUrl; b.entry[0].resource.meta.versionId = '1'; b.entry[1].resource.meta.versionId = '2'; }],
  ['duplicate fullUrl, same version', (b) => { b.entry[1].fullUrl = b.entry[0].fullUrl; b.entry[0].resource.meta.versionId = '1'; b.entry[1].resource.meta.versionId = '1'; }],
  ['duplicate fullUrl without type', (b) => { b.entry[1].fullUrl = b.entry[0].fullUrl; delete b.type; }],
  ['fullUrl with _history', (b) => { b.entry[0].fullUrl = 'http://example.org/fhir/Organization/1/_history/2'; }],
  ['_fullUrl', (b) => { b.entry[0]._fullUrl = X; }],
  ['fullUrl a number', (b) => { b.entry[0].fullUrl = 7; }],
  ['resource null', (b) => { b.entry[0].resource = null; }],
  ['versionId a number', (b) => { b.entry[0].resource.meta.versionId = 1; }],
  ['Organization without identifier or name', (b) => { const o = org(b); delete o.identifier; delete o.name; }],
  ['Organization with a name only', (b) => { const o = org(b); delete o.identifier; o.name = 'X'; }],
  ['Organization with _name only', (b) => { const o = org(b); delete o.identifier; delete o.name; o._name = X; }],
  ['Organization identifier []', (b) => { const o = org(b); o.identifier = []; delete o.name; }],
  ['Organization identifier an object', (b) => { const o = org(b); o.identifier = o.identifier[0]; }],
  ['Organization home telecom and address', (b) => { const o = org(b); o.telecom = [{ system: 'phone', value: '1', use: 'home' }, { system: 'phone', value: '2', use: 'work' }]; o.address = [{ city: 'X', use: 'home' }, { city: 'Y' }]; }],
  ['Organization telecom _use', (b) => { org(b).telecom = [{ system: 'phone', value: '1', _use: X }]; }],
];

/** The values an invariant is evaluated on, by the element that carries it. */
function targets(key: string, b: Json): unknown[] {
  const entries: unknown[] = Array.isArray(b.entry) ? b.entry : [];
  const orgs = entries.map((e) => (e as Json | null)?.resource).filter((r): r is Json => r?.resourceType === 'Organization');
  if (key === 'bdl-5' || key === 'bdl-8') return entries.filter((e) => e !== null && typeof e === 'object');
  if (key === 'org-1') return orgs;
  if (key === 'org-2') return orgs.flatMap((o) => (Array.isArray(o.address) ? o.address : []));
  if (key === 'org-3') return orgs.flatMap((o) => (Array.isArray(o.telecom) ? o.telecom : []));
  return [b];
}
const BASE: Record<string, string> = { 'bdl-5': 'Bundle.entry', 'bdl-8': 'Bundle.entry', 'org-1': 'Organization', 'org-2': 'Organization.address', 'org-3': 'Organization.telecom' };

describe('native Bundle/Organization invariants agree with fhirpath.js on the R4 expressions', () => {
  const base = hl7ToFhir(GOOD['ADT^A01']!).bundle as unknown as Json;
  for (const [k, native] of NATIVE_RESOURCE_INVARIANTS) {
    const [key, expression] = [k.slice(0, k.indexOf('|')), k.slice(k.indexOf('|') + 1)];
    it(`${key}: ${expression}`, () => {
      const f = fhirpath.compile({ base: BASE[key] ?? 'Bundle', expression }, r4, { async: false });
      let definite = 0; let failed = 0; let handedBack = 0;
      for (const [name, mutate] of VARIANTS) {
        const b = JSON.parse(JSON.stringify(base)) as Json;
        mutate(b);
        for (const v of targets(key, b)) {
          const ours = native(v, { resource: b, rootResource: b });
          if (ours === undefined) { handedBack++; continue; }
          const r = f(v, { resource: b, rootResource: b, context: v });
          const theirs = r.length === 0 || r.every((x) => x === true || (x as { valueOf?: () => unknown })?.valueOf?.() === true);
          assert.equal(ours, theirs, `${name}: native ${String(ours)}, fhirpath ${JSON.stringify(r)}`);
          definite++;
          if (!ours) failed++;
        }
      }
      assert.ok(definite >= 2, `answered natively ${definite} times`);
      assert.ok(failed > 0, 'the variants include a failure of this invariant');
      assert.ok(handedBack > 0 || !/bdl-(1|2|3|4|7)\b/.test(key), 'odd shapes are handed back to fhirpath.js');
    });
  }
});
