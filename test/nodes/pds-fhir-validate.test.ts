/**
 * PDS Patients from the published sandbox responses, looked up through the stand-in and chained
 * into nhs-fhir-validate with UKCore-Patient and the lenient NHS-number verification-status
 * option: the only errors left are the listed deviations of PDS's published responses from the
 * UK Core packages, each with its reason (docs/pds.md repeats the list).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { PdsStandIn } from '../../lib/nhs/pds/stand-in';
import { nodeRedHarness, sharedDir, skipWithoutShared } from '../helpers/node-red';
import { skipWithoutPdsData, startStandIn } from '../helpers/pds';

const configNode = require('../../nodes/pds-config');
const lookupNode = require('../../nodes/pds-lookup');
const validateNode = require('../../nodes/fhir-validate');

const UKCORE_PATIENT = 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient';

/** Known deviations: [expression, diagnostics, reason]. */
const DEVIATIONS: [RegExp, RegExp, string][] = [
  [/^Patient\.address\[\d+\]\.extension\[\d+\]\.extension\[\d+\](\.valueCoding)?$/, /valueCoding|value\[x\]: minimum required/,
    'Extension-UKCore-AddressKey: PDS sends extension "type" as valueCoding; UK Core types it CodeableConcept'],
  [/^Patient\.telecom\[\d+\]\.extension\[\d+\](\.valueCoding)?$/, /OtherContactSystem|valueCoding|value\[x\]: minimum required/,
    'Extension-UKCore-OtherContactSystem: PDS puts it on the ContactPoint with valueCoding; UK Core binds it to ContactPoint.system as CodeableConcept'],
  [/^Patient\.extension\[\d+\]$/, /Extension-PDS-RemovalFromRegistration could not be found/,
    'Extension-PDS-RemovalFromRegistration is PDS\'s own extension (fhir.nhs.uk), not part of the UK Core packages'],
];

const skip = skipWithoutPdsData || skipWithoutShared('fhir-packages');

describe('PDS Patient → nhs-fhir-validate (UKCore-Patient, lenient NHS-number verification status)', { skip }, () => {
  const h = nodeRedHarness();
  let s: PdsStandIn;
  before(async () => { s = await startStandIn(); });
  after(async () => { await s.stop(); });

  const flow = (lenient: boolean) => [
    { id: 'c1', type: 'nhs-pds-config', environment: 'custom', baseUrl: s.baseUrl, rate: 50 },
    { id: 'lk', type: 'nhs-pds-lookup', pds: 'c1', mode: 'retrieve', wires: [['v'], [], []] },
    { id: 'v', type: 'nhs-fhir-validate', property: 'pds.patient', folders: join(sharedDir, 'fhir-packages'), useCache: false, profiles: UKCORE_PATIENT, terminology: 'lenient', nhsVerificationLenient: lenient, wires: [['out'], ['out']] },
    { id: 'out', type: 'helper' },
  ];
  const errorsOf = (msg: any): any[] => ((msg.fhir?.outcome ?? msg.outcome).issue as any[]).filter((i) => i.severity === 'error' || i.severity === 'fatal');

  it('every published patient validates with only the listed deviations', async () => {
    await h.load([configNode, lookupNode, validateNode], flow(true));
    const seen = new Set<string>();
    for (const nhs of ['9000000009', '9000000017', '9000000025', '9000000033']) {
      const got = h.next('out', 120_000);
      h.node('lk').receive({ payload: nhs });
      const msg = await got;
      assert.equal(msg.pds.nhsNumber, nhs);
      for (const e of errorsOf(msg)) {
        const d = DEVIATIONS.find(([x, t]) => x.test(e.expression?.[0] ?? '') && t.test(e.diagnostics ?? ''));
        assert.ok(d, `${nhs}: unlisted error ${e.expression?.[0]}: ${e.diagnostics}`);
        seen.add(d[2]);
      }
      // The verification-status code PDS sends is reported, but not as an error.
      const vs = ((msg.fhir?.outcome ?? msg.outcome).issue as any[]).filter((i) => /NHSNumberVerificationStatus/.test(i.diagnostics ?? ''));
      assert.ok(vs.every((i) => i.severity !== 'error'));
    }
    assert.ok(seen.size >= 1, 'the full record (9000000009) shows the deviations');
  });

  it('without the lenient option the verification-status code is an error', async () => {
    await h.load([configNode, lookupNode, validateNode], flow(false));
    const got = h.next('out', 120_000);
    h.node('lk').receive({ payload: '9000000033' });
    const msg = await got;
    assert.ok(errorsOf(msg).some((e) => /NHSNumberVerificationStatus/.test(e.diagnostics ?? '')));
  });
});
