import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { MllpClient } from '../../../lib/mllp/client';
import { adt } from '../../helpers/mllp-peer';

const closers: (() => Promise<unknown>)[] = [];
after(async () => { await Promise.all(closers.map((c) => c())); });

async function listen(srv: net.Server, port = 0): Promise<number> {
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  closers.push(() => new Promise((r) => { srv.close(r); }));
  return (srv.address() as net.AddressInfo).port;
}

describe('MllpClient close() during connect', () => {
  it('cancels the reconnect back-off: the send rejects MLLP_CLIENT_CLOSED at once and nothing is written later', async () => {
    const tmp = net.createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const port = (tmp.address() as net.AddressInfo).port;
    await new Promise((r) => tmp.close(r));
    const c = new MllpClient({ host: '127.0.0.1', port, reconnect: { baseMs: 10_000, maxMs: 10_000 }, ackTimeoutMs: 60_000 });
    await assert.rejects(c.send(adt('B0')), (e: any) => e.code === 'MLLP_CONNECT_FAILED');
    // The destination comes back while the client waits out its back-off.
    let connections = 0;
    let bytes = 0;
    await listen(net.createServer((s) => { connections++; s.on('data', (d: Buffer) => { bytes += d.length; }); }), port);
    const pending = c.send(adt('B1'));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await c.close();
    await assert.rejects(pending, (e: any) => e.code === 'MLLP_CLIENT_CLOSED');
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(connections, 0);
    assert.equal(bytes, 0);
    assert.equal(c.connected, false);
  });

  it('destroys a connect in progress (TLS handshake never completes) and rejects MLLP_CLIENT_CLOSED', async () => {
    const peerSockets: net.Socket[] = [];
    let peerClosed = 0;
    const port = await listen(net.createServer((s) => { peerSockets.push(s); s.resume(); s.on('close', () => { peerClosed++; }); }));
    const c = new MllpClient({ host: '127.0.0.1', port, connectTimeoutMs: 30_000, tls: { rejectUnauthorized: false } });
    const pending = c.send(adt('C1'));
    while (peerSockets.length === 0) await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    await c.close();
    await assert.rejects(pending, (e: any) => e.code === 'MLLP_CLIENT_CLOSED');
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    for (let i = 0; i < 50 && peerClosed === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(peerClosed, 1, 'the connecting socket was not destroyed');
    assert.equal(c.connected, false);
  });

  it('a send queued after close rejects MLLP_CLIENT_CLOSED without connecting', async () => {
    let connections = 0;
    const port = await listen(net.createServer(() => { connections++; }));
    const c = new MllpClient({ host: '127.0.0.1', port });
    await c.close();
    await assert.rejects(c.send(adt('Q1')), (e: any) => e.code === 'MLLP_CLIENT_CLOSED');
    assert.equal(connections, 0);
  });
});
