/**
 * The validator against UK Core (../shared/fhir-packages via FhirPackages, snapshots generated
 * from the differentials): the synthetic UK patient, NHS rules inside UKCore-Patient's
 * identifier:nhsNumber slice, extension bindings, and the NHS number verification lenient mode.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FhirPackages } from '../../../lib/fhir/packages';
import { createValidator, type Validator } from '../../../lib/fhir/validator';
import { hasErrors, type Issue, type OperationOutcome } from '../../../lib/outcome';
import { sharedDir, skipWithoutShared } from '../../helpers/shared';
import { ukPatient, UKCORE_PATIENT_URL } from './validator-fixtures';

const skip = skipWithoutShared('fhir-packages');
const errs = (o: OperationOutcome): Issue[] => o.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');

describe('validator: UK Core', { skip }, () => {
  let pkgs: FhirPackages;
  let v: Validator;
  before(async () => {
    pkgs = await FhirPackages.load({ folders: [join(sharedDir, 'fhir-packages')] });
    v = createValidator(pkgs);
  });

  it('the synthetic UK patient is valid against UKCore-Patient (meta.profile and configured)', () => {
    const o = v.validate(ukPatient());
    assert.equal(hasErrors(o), false, JSON.stringify(o.issue));
    assert.equal(hasErrors(v.validate(ukPatient(), { profiles: [UKCORE_PATIENT_URL] })), false);
  });

  it('a bad NHS number inside the nhsNumber slice is one error at identifier[0].value', () => {
    const p = ukPatient();
    p.identifier[0].value = '9000000008';
    const e = errs(v.validate(p));
    assert.equal(e.length, 1, JSON.stringify(e));
    assert.deepEqual(e[0]!.expression, ['Patient.identifier[0].value']);
  });

  it('an ethnic category code outside its CodeSystem is an error at the coding', () => {
    const p = ukPatient();
    p.extension[0].valueCodeableConcept.coding[0].code = 'ZZZ';
    const e = errs(v.validate(p));
    assert.ok(e.some((i) => i.expression?.[0] === 'Patient.extension[0].value.ofType(CodeableConcept).coding[0].code'), JSON.stringify(e));
  });

  it('UK Core constraints apply: ethnicCategory max 1, nhsNumber system required', () => {
    const p = ukPatient();
    p.extension.push(structuredClone(p.extension[0]));
    assert.ok(errs(v.validate(p)).some((i) => /ethnicCategory/.test(i.diagnostics ?? '')), 'second ethnic category rejected');
  });

  it('PDS-style verification status system: error by default, information in lenient mode', () => {
    const p = ukPatient();
    p.identifier[0].extension[0].valueCodeableConcept.coding[0].system = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus';
    assert.equal(hasErrors(v.validate(p)), true);
    const lenient = createValidator(pkgs, { nhsNumberVerificationLenient: true }).validate(p);
    assert.equal(hasErrors(lenient), false, JSON.stringify(lenient.issue));
    assert.ok(lenient.issue.some((i) => i.severity === 'information' && /NHSNumberVerificationStatus/.test(i.diagnostics ?? '')));
  });

  it('a profile URL no package has is a clear error, not a throw', () => {
    const o = v.validate(ukPatient(), { profiles: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Nothing'] });
    assert.ok(errs(o).some((i) => /could not be found/.test(i.diagnostics ?? '')));
  });
});
