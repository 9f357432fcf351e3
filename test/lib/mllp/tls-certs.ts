/** Throw-away CA + server + client certificates for TLS tests, made with the system openssl. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki { ca: Buffer; serverKey: Buffer; serverCert: Buffer; clientKey: Buffer; clientCert: Buffer; otherKey: Buffer; otherCert: Buffer }

export function makePki(): TestPki {
  const d = mkdtempSync(join(tmpdir(), 'mllp-pki-'));
  const o = (...a: string[]): void => { execFileSync('openssl', a, { cwd: d, stdio: 'ignore' }); };
  try {
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test CA');
    for (const [n, cn, ca] of [['server', 'localhost', 'ca'], ['client', 'test-client', 'ca'], ['other', 'rogue', 'self']] as const) {
      o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${cn}`);
      if (ca === 'ca') o('x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${n}.pem`, '-days', '2');
      else o('x509', '-req', '-in', `${n}.csr`, '-signkey', `${n}.key`, '-out', `${n}.pem`, '-days', '2');
    }
    const r = (f: string): Buffer => readFileSync(join(d, f));
    return { ca: r('ca.pem'), serverKey: r('server.key'), serverCert: r('server.pem'), clientKey: r('client.key'), clientCert: r('client.pem'), otherKey: r('other.key'), otherCert: r('other.pem') };
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
