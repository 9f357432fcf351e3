import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { MllpServer } from '../../../lib/mllp/server';
import { makePki } from './tls-certs';

describe('MllpServer close()', () => {
  it('waits for a listen() still resolving its host, so the port is not bound after close', async () => {
    const server = new MllpServer({ host: 'localhost', port: 0, onFrame: () => undefined });
    const listening = server.listen();
    await server.close();
    assert.equal(server.listening, false, 'bound after close resolved');
    await listening.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.listening, false, 'bound after close resolved');
  });

  it('destroys a TLS peer that never handshakes instead of waiting out the handshake timeout', async () => {
    const pki = makePki();
    const server = new MllpServer({ host: '127.0.0.1', port: 0, tls: { key: pki.serverKey, cert: pki.serverCert }, onFrame: () => undefined });
    const { port } = await server.listen();
    const raw = net.connect({ host: '127.0.0.1', port });
    raw.on('error', () => undefined);
    const rawClosed = new Promise<void>((r) => raw.once('close', () => r()));
    raw.resume();
    await new Promise<void>((r) => raw.once('connect', () => r()));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await server.close();
    assert.ok(Date.now() - t0 < 2000, `close took ${Date.now() - t0} ms`);
    await rawClosed;
    assert.equal(server.listening, false);
  });
});
