/** nhs-mllp-in and nhs-mllp-endpoint over mutual TLS configured through the core tls-config node. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import * as tls from 'node:tls';
import * as net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { nodeRedHarness } from '../helpers/node-red';
import { adt, frame, msaOf, splitFrames } from '../helpers/mllp-peer';
import { makePki } from '../lib/mllp/tls-certs';

const coreDir = join(dirname(require.resolve('@node-red/nodes/package.json', { paths: [dirname(require.resolve('node-red'))] })), 'core');
const tlsNode = require(join(coreDir, 'network', '05-tls.js'));
const dir = mkdtempSync(join(tmpdir(), 'mllp-tls-'));

describe('MLLP nodes over mutual TLS (core tls-config)', () => {
  const h = nodeRedHarness();
  const pki = makePki();
  const modules = [tlsNode, require('../../nodes/mllp-in'), require('../../nodes/mllp-out'), require('../../nodes/mllp-endpoint'), require('../../nodes/store')];

  it('mllp out → mllp in with client certificates; a client without one is refused', async () => {
    const flow = [
      { id: 'f1', type: 'tab' },
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'tls.sqlite') },
      { id: 'srvtls', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: true },
      { id: 'in', type: 'nhs-mllp-in', z: 'f1', port: 0, host: '127.0.0.1', store: 'st', tls: 'srvtls', wires: [['got'], []] },
      { id: 'got', type: 'helper', z: 'f1' },
    ];
    const creds = { srvtls: { certdata: pki.serverCert.toString(), keydata: pki.serverKey.toString(), cadata: pki.ca.toString() } };
    await h.load(modules, flow, creds);
    const port = await h.node('in').mllpPort();
    assert.ok(port);
    // second flow part: an endpoint using the client certificate, added by redeploying both
    await h.helper.unload();
    await h.load(modules, [
      ...flow.map((n) => (n.id === 'in' ? { ...n, port } : n)),
      { id: 'clitls', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: true, servername: 'localhost' },
      { id: 'ep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port, tls: 'clitls', store: 'st', ackTimeout: 3 },
      { id: 'out', type: 'nhs-mllp-out', z: 'f1', endpoint: 'ep', wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper', z: 'f1' }, { id: 'bad', type: 'helper', z: 'f1' },
    ], { ...creds, clitls: { certdata: pki.clientCert.toString(), keydata: pki.clientKey.toString(), cadata: pki.ca.toString() } });
    await h.node('in').mllpPort();
    const received = h.next('got');
    const acked = h.next('ok', 8000);
    h.node('out').receive({ payload: adt('TLSNODE1') });
    assert.equal((await received).hl7.controlId, 'TLSNODE1');
    assert.equal(msaOf((await acked).payload).code, 'AA');

    // no client certificate: the handshake is refused, nothing is received
    let extra = 0;
    h.node('got').on('input', () => extra++);
    const anon = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca });
    anon.on('error', () => undefined);
    anon.write(frame(adt('ANON')));
    const data: Buffer[] = [];
    anon.on('data', (d: Buffer) => data.push(d));
    await new Promise((r) => anon.on('close', r));
    assert.equal(splitFrames(Buffer.concat(data)).frames.length, 0);
    assert.equal(extra, 0);
  });

  it('drops a connection that never finishes its TLS handshake after the node\'s TLS handshake setting', async () => {
    const flow = [
      { id: 'f1', type: 'tab' },
      { id: 'srvtls', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: false },
      { id: 'in', type: 'nhs-mllp-in', z: 'f1', port: 0, host: '127.0.0.1', ackMode: 'immediate', tls: 'srvtls', handshakeTimeout: 1, wires: [[], []] },
    ];
    await h.load(modules, flow, { srvtls: { certdata: pki.serverCert.toString(), keydata: pki.serverKey.toString() } });
    const port = await h.node('in').mllpPort();
    assert.ok(port);
    const half = net.connect({ port: port as number, host: '127.0.0.1' });
    half.on('error', () => undefined);
    await once(half, 'connect');
    const t0 = Date.now();
    // A ClientHello cut short: the handshake starts and never finishes.
    half.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    await once(half, 'close');
    // The 1 s setting, not the 10 s default (nor Node's 120 s); generous for a loaded machine.
    assert.ok(Date.now() - t0 < 8000, `closed after ${Date.now() - t0} ms`);
  });
});
