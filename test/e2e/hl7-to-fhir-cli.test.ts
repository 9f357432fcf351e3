import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sharedDir, skipWithoutShared } from '../helpers/shared';
import { GOOD } from '../lib/transform/fixtures';

const bin = join(__dirname, '..', '..', 'bin', 'hl7-to-fhir.ts');
const tsxLoader = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
const tmp = mkdtempSync(join(tmpdir(), 'hl7-fhir-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const STU2 = join(sharedDir, 'fhir-packages', 'fhir.r4.ukcore.stu2#2.0.2');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', tsxLoader, bin, ...args], { cwd: tmp, env: { ...process.env, FHIR_PACKAGE_CACHE: join(tmp, 'cache') }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stdout, stderr });
    });
  });
}
const write = (name: string, text: string): string => {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
};
const batch = (msgs: string[]): string => `FHS|^~\\&|PAS|RX1\rBHS|^~\\&|PAS|RX1\r${msgs.join('')}BTS|${msgs.length}\rFTS|1\r`;

describe('nhs-hl7-to-fhir CLI (child process)', () => {
  it('one message: one Bundle line on stdout, exit 0; same bytes on a second run', async () => {
    const f = write('a01.hl7', GOOD['ADT^A01']!);
    const r = await cli([f]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const b = JSON.parse(lines[0]!);
    assert.equal(b.resourceType, 'Bundle');
    assert.equal(b.type, 'transaction');
    assert.equal((await cli([f])).stdout, r.stdout);
  });

  it('a batch is split: one Bundle per message; --out writes one file each', async () => {
    const f = write('batch.hl7', batch([GOOD['ADT^A01']!, GOOD['ORU^R01']!, GOOD['REF^I12']!]));
    const r = await cli([f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 3);
    const out = join(tmp, 'out');
    const w = await cli([f, '--out', out]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout, '');
    assert.deepEqual(readdirSync(out).sort(), ['batch-1.json', 'batch-2.json', 'batch-3.json']);
    assert.equal(JSON.parse(readFileSync(join(out, 'batch-2.json'), 'utf8')).entry.some((e: any) => e.resource.resourceType === 'DiagnosticReport'), true);
  });

  it('a message that cannot be transformed: exit 1, the others still printed, no patient data on stderr', async () => {
    const bad = GOOD['ADT^A08']!.replace('|19800101|', '|31/12/1980|');
    const r = await cli([write('mixed.hl7', GOOD['ADT^A01']! + bad)]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.match(r.stderr, /FAIL .*mixed\.hl7#2 \(ADT0008\): PID\[1\]-7 is not a valid HL7 date\/time/);
    assert.doesNotMatch(r.stderr, /SMITH|9990001006/);
  });

  it('usage errors exit 2', async () => {
    assert.equal((await cli([])).code, 2);
    assert.equal((await cli(['--bogus'])).code, 2);
    assert.equal((await cli([join(tmp, 'missing.hl7')])).code, 2);
  });

  it('--validate against UK Core STU2: every type validates (exit 0); a validation error exits 1', { skip: skipWithoutShared('fhir-packages') }, async () => {
    const all = write('all.hl7', Object.values(GOOD).join(''));
    const r = await cli([all, '--validate', '--package', STU2, '--no-cache']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, Object.keys(GOOD).length);
    // Table 0281 has no code 'XYZ': the transform passes the coded value on, the validator catches it.
    const invalid = write('invalid.hl7', GOOD['REF^I12']!.replace('Med^Medical^HL70281', 'XYZ^Unknown^HL70281'));
    const v = await cli([invalid, '--validate', '--package', STU2, '--no-cache']);
    assert.equal(v.code, 1, v.stderr);
    assert.match(v.stderr, /INVALID .*invalid\.hl7#1 \(REF0001\): 1 validation error\(s\)/);
  });
});
