import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PdsStandIn } from '../../lib/nhs/pds/stand-in';
import { API_KEY, KID, UNKNOWN_VALID, skipWithoutPdsData, startStandIn, testKeys } from '../helpers/pds';

const bin = join(__dirname, '..', '..', 'bin', 'pds.ts');
const tsxLoader = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
const tmp = mkdtempSync(join(tmpdir(), 'pds-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json: () => any }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', tsxLoader, bin, ...args], { cwd: tmp, env: { ...process.env, NHS_PDS_API_KEY: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stdout, stderr, json: () => JSON.parse(stdout) });
    });
  });
}

describe('nhs-pds CLI exit codes (child process, against the stand-in)', { skip: skipWithoutPdsData }, () => {
  let s: PdsStandIn;
  let auth: PdsStandIn;
  let keyFile = '';
  before(async () => {
    s = await startStandIn();
    auth = await startStandIn({ withAuth: true });
    keyFile = join(tmp, 'key.pem');
    writeFileSync(keyFile, testKeys().privateKey, { mode: 0o600 });
  });
  after(async () => { await s.stop(); await auth.stop(); });

  it('get: 0 found (prints msg.pds and the outcome), 1 not found, 1 invalid', async () => {
    const found = await cli(['get', '9000000009', '--base-url', s.baseUrl]);
    assert.equal(found.code, 0, found.stderr);
    assert.equal(found.json().pds.nhsNumber, '9000000009');
    assert.equal(found.json().outcome.resourceType, 'OperationOutcome');
    const missing = await cli(['get', UNKNOWN_VALID, '--base-url', s.baseUrl]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /PDS_NOT_FOUND/);
    const before = s.stats.requests;
    const invalid = await cli(['get', '9000000000', '--base-url', s.baseUrl]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /PDS_INVALID_NHS_NUMBER/);
    assert.equal(s.stats.requests, before, 'no request for an invalid number');
  });

  it('search: 0 one match (plain date = eq), 1 too many, 1 no match, fuzzy', async () => {
    const one = await cli(['search', '--family', 'Smith', '--gender', 'female', '--birthdate', '2010-10-22', '--given', 'Jane', '--base-url', s.baseUrl]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.json().pds.nhsNumber, '9000000009');
    assert.equal(typeof one.json().pds.score, 'number');
    const many = await cli(['search', '--family', 'Sm*', '--birthdate', 'eq2010-10-22', '--base-url', s.baseUrl]);
    assert.equal(many.code, 1);
    assert.match(many.stderr, /PDS_TOO_MANY_MATCHES/);
    const none = await cli(['search', '--family', 'Nobody', '--birthdate', 'ge2010-10-21', '--base-url', s.baseUrl]);
    assert.equal(none.code, 1);
    const fuzzy = await cli(['search', '--family', 'Smithe', '--given', 'Janett', '--gender', 'female', '--birthdate', '2010-10-22', '--fuzzy', '--base-url', s.baseUrl]);
    assert.equal(fuzzy.code, 0, fuzzy.stderr);
    assert.equal(fuzzy.json().pds.nhsNumber, '9000000025');
  });

  it('2 on errors: PDS unreachable, usage, bad --env', async () => {
    const down = await cli(['get', '9000000009', '--base-url', 'http://127.0.0.1:1/x']);
    assert.equal(down.code, 2);
    assert.match(down.stderr, /unavailable: PDS_UNAVAILABLE/);
    assert.equal((await cli(['get'])).code, 2);
    assert.equal((await cli(['frobnicate'])).code, 2);
    const env = await cli(['get', '9000000009', '--env', 'moon']);
    assert.equal(env.code, 2);
    assert.match(env.stderr, /--env must be/);
    const noAuth = await cli(['get', '9000000009', '--env', 'integration']);
    assert.equal(noAuth.code, 2);
    assert.match(noAuth.stderr, /PDS_AUTH_CONFIG/);
  });

  it('signed-JWT auth from --key/--kid and NHS_PDS_API_KEY: 0 accepted, 2 with a wrong kid', async () => {
    const ok = await cli(['get', '9000000009', '--env', 'custom', '--base-url', auth.baseUrl, '--key', keyFile, '--kid', KID], { NHS_PDS_API_KEY: API_KEY });
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await cli(['get', '9000000009', '--env', 'custom', '--base-url', auth.baseUrl, '--key', keyFile, '--kid', 'wrong'], { NHS_PDS_API_KEY: API_KEY });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /PDS_AUTH_KID/);
  });

  it('jwks prints the public key set only', async () => {
    const r = await cli(['jwks', '--key', keyFile, '--kid', KID]);
    assert.equal(r.code, 0, r.stderr);
    const k = r.json().keys[0];
    assert.deepEqual([k.kty, k.kid, k.alg, k.use], ['RSA', KID, 'RS512', 'sig']);
    assert.equal(k.d, undefined);
  });

  it('stand-in serves the synthetic demo patients until stopped', async () => {
    const child = spawn(process.execPath, ['--import', tsxLoader, bin, 'stand-in', '--port', '0'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => { out += c.toString(); const m = /STAND-IN \(not PDS\) at (\S+)/.exec(out); if (m) resolve(m[1]!); });
      child.once('exit', (c) => reject(new Error(`exited ${c}`)));
    });
    const r = await cli(['get', '9990000018', '--base-url', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().pds.patient.name[0].family, 'DEMOPATIENT');
    const sup = await cli(['get', '9990000042', '--base-url', url]);
    assert.equal(sup.json().pds.supersededFrom, '9990000042');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });
});
