import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { SyslogTlsClient } from '../../../lib/audit/syslog';

describe('SyslogTlsClient: close while opening, hung collector', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nhs-syslog-'));
  let key: Buffer;
  let cert: Buffer;
  before(() => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    key = readFileSync(join(dir, 'k.pem'));
    cert = readFileSync(join(dir, 'c.pem'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('close() during the TLS handshake destroys the half-open socket (the collector sees it closed) and fails the send', async () => {
    // A TCP listener that never answers the TLS ClientHello: the client stays "connecting".
    let serverSide: net.Socket | undefined;
    let accepted: () => void = () => undefined;
    const gotConn = new Promise<void>((res) => { accepted = res; });
    const server = net.createServer((s) => { serverSide = s; accepted(); });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const c = new SyslogTlsClient({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ca: cert, timeoutMs: 10_000 });
    try {
      const sending = c.send([Buffer.from('x')]);
      const outcome = sending.then(() => 'sent', (e: { code?: string }) => e.code);
      await gotConn;
      const peerClosed = new Promise<void>((res) => serverSide!.once('close', () => res()));
      serverSide!.resume();
      const t0 = Date.now();
      await c.close();
      assert.ok(Date.now() - t0 < 2000, 'close did not wait for the connect timeout');
      assert.equal(await outcome, 'SYSLOG_CLOSED');
      await peerClosed;
      await assert.rejects(c.send([Buffer.from('y')]), { code: 'SYSLOG_CLOSED' });
    } finally {
      serverSide?.destroy();
      await new Promise((res) => server.close(res));
    }
  });

  it('a collector that stops reading: send rejects AUDIT_EXPORT_TIMEOUT within timeoutMs and the socket is destroyed', async () => {
    let serverSide: tls.TLSSocket | undefined;
    let accepted: () => void = () => undefined;
    const gotConn = new Promise<void>((res) => { accepted = res; });
    const server = tls.createServer({ key, cert }, (s) => { serverSide = s; s.pause(); accepted(); });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const c = new SyslogTlsClient({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ca: cert, timeoutMs: 600 });
    try {
      await c.send([Buffer.from('small')]);
      await gotConn;
      const peerClosed = new Promise<void>((res) => serverSide!.once('close', () => res()));
      const t0 = Date.now();
      // Far more than the kernel buffers hold: the write callback never comes while nobody reads.
      await assert.rejects(c.send([Buffer.alloc(64 * 1024 * 1024, 0x41)]), { code: 'AUDIT_EXPORT_TIMEOUT' });
      const took = Date.now() - t0;
      assert.ok(took >= 500 && took < 5000, `timed out after ${took} ms`);
      serverSide!.resume();
      await peerClosed;
    } finally {
      await c.close();
      serverSide?.destroy();
      await new Promise((res) => server.close(res));
    }
  });
});
