/**
 * FHIR package registry client (lib/fhir/registry.ts): package ids, and the checksum rule that no
 * tarball is unpacked unless it matches the registry's published shasum or SRI integrity. The
 * end-to-end install against a local registry is in test/e2e/fhir-cli.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parsePackageSpec, verifyChecksum } from '../../../lib/fhir/registry';
import { NhsError } from '../../../lib/errors';

const tgz = Buffer.from('not really a tarball, but bytes all the same');
const code = (f: () => void): string | undefined => { try { f(); return undefined; } catch (e) { return (e as NhsError).code; } };

describe('FHIR package registry client', () => {
  it('package ids: name#version, name@version, name alone means latest; unsafe names refused', () => {
    assert.deepEqual(parsePackageSpec('fhir.r4.ukcore.stu2#2.0.2'), { name: 'fhir.r4.ukcore.stu2', version: '2.0.2' });
    assert.deepEqual(parsePackageSpec('uk.nhsdigital.r4@2.0.0'), { name: 'uk.nhsdigital.r4', version: '2.0.0' });
    assert.deepEqual(parsePackageSpec('hl7.fhir.uv.ips'), { name: 'hl7.fhir.uv.ips', version: 'latest' });
    for (const bad of ['../etc#1', 'a b#1', '#1.0', 'x#1.0/../..']) assert.equal(code(() => parsePackageSpec(bad)), 'FHIR_REGISTRY_SPEC', bad);
  });
  it('shasum (SHA-1 hex) must match; a mismatch or no checksum at all is refused', () => {
    const sha1 = createHash('sha1').update(tgz).digest('hex');
    assert.equal(code(() => verifyChecksum(tgz, { shasum: sha1 }, 'p#1')), undefined);
    assert.equal(code(() => verifyChecksum(tgz, { shasum: sha1.toUpperCase() }, 'p#1')), undefined);
    assert.equal(code(() => verifyChecksum(Buffer.concat([tgz, Buffer.from('x')]), { shasum: sha1 }, 'p#1')), 'FHIR_REGISTRY_CHECKSUM');
    assert.equal(code(() => verifyChecksum(tgz, {}, 'p#1')), 'FHIR_REGISTRY_CHECKSUM');
  });
  it('an SRI integrity (sha512) takes precedence over shasum', () => {
    const sri = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
    assert.equal(code(() => verifyChecksum(tgz, { integrity: sri, shasum: 'deadbeef' }, 'p#1')), undefined);
    assert.equal(code(() => verifyChecksum(Buffer.from('tampered'), { integrity: sri }, 'p#1')), 'FHIR_REGISTRY_CHECKSUM');
  });
});
