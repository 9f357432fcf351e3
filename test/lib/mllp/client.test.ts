import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { MllpClient } from '../../../lib/mllp/client';
import { backoffDelay } from '../../../lib/mllp/backoff';
import { adt, controlIdOf, msaOf, peerAck, peerServer, type PeerServer } from '../../helpers/mllp-peer';
import { makePki } from './tls-certs';
import { MllpServer } from '../../../lib/mllp/server';

const closers: (() => Promise<unknown>)[] = [];
after(async () => { await Promise.all(closers.map((c) => c())); });
async function peer(reply?: Parameters<typeof peerServer>[0]): Promise<PeerServer> {
  const p = await peerServer(reply);
  closers.push(() => p.close());
  return p;
}
function client(port: number, o: Partial<ConstructorParameters<typeof MllpClient>[0]> = {}): MllpClient {
  const c = new MllpClient({ host: '127.0.0.1', port, ackTimeoutMs: 2000, connectTimeoutMs: 2000, ...o });
  closers.push(() => c.close());
  return c;
}
const matches = (id: string) => (f: Buffer): boolean => msaOf(f.toString('latin1')).controlId === id;

describe('MllpClient', () => {
  it('sends in order over one kept-alive connection', async () => {
    const p = await peer();
    const c = client(p.port);
    const acks = await Promise.all(['K1', 'K2', 'K3'].map((id) => c.send(adt(id), matches(id))));
    assert.deepEqual(acks.map((a) => msaOf(a.toString('latin1')).controlId), ['K1', 'K2', 'K3']);
    assert.deepEqual(p.received.map((f) => controlIdOf(f.toString('latin1'))), ['K1', 'K2', 'K3']);
    assert.equal(p.connections, 1);
  });

  it('opens one connection per message when keepAlive is false', async () => {
    const p = await peer();
    const c = client(p.port, { keepAlive: false });
    await c.send(adt('P1'));
    await c.send(adt('P2'));
    assert.equal(p.connections, 2);
  });

  it('discards and counts foreign ACKs until the matching one arrives', async () => {
    const p = await peer((t) => `${peerAck(adt('SOMEONE-ELSE'))}\u001c\r\u000b${peerAck(t)}`);
    const c = client(p.port);
    const ack = await c.send(adt('M1'), matches('M1'));
    assert.equal(msaOf(ack.toString('latin1')).controlId, 'M1');
    assert.equal(c.stats.discarded, 1);
  });

  it('rejects MLLP_ACK_TIMEOUT and does not take the late ACK as the next message’s', async () => {
    let n = 0;
    const sockets: net.Socket[] = [];
    // first message: ACK arrives late (after the timeout); the client must use a fresh connection
    const srv = new MllpServer({ port: 0, host: '127.0.0.1', onFrame: async (f, s) => {
      n++;
      if (n === 1) await new Promise((r) => setTimeout(r, 300));
      void s;
      return peerAck(f.toString('latin1'));
    } });
    closers.push(() => srv.close());
    const { port } = await srv.listen();
    const c = client(port, { ackTimeoutMs: 100 });
    await assert.rejects(c.send(adt('LATE'), matches('LATE')), (e: any) => e.code === 'MLLP_ACK_TIMEOUT');
    const ack = await c.send(adt('NEXT'), matches('NEXT'));
    assert.equal(msaOf(ack.toString('latin1')).controlId, 'NEXT');
    void sockets;
  });

  it('rejects MLLP_CONNECT_FAILED on a closed port and backs off before reconnecting', async () => {
    const tmp = net.createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const port = (tmp.address() as net.AddressInfo).port;
    await new Promise((r) => tmp.close(r));
    const c = client(port, { reconnect: { baseMs: 150, maxMs: 1000 } });
    await assert.rejects(c.send(adt('X')), (e: any) => e.code === 'MLLP_CONNECT_FAILED');
    const t0 = Date.now();
    await assert.rejects(c.send(adt('X')), (e: any) => e.code === 'MLLP_CONNECT_FAILED');
    assert.ok(Date.now() - t0 >= 140, `waited ${Date.now() - t0} ms`);
    assert.equal(c.stats.connectFailures, 2);
  });

  it('rejects MLLP_CONNECT_TIMEOUT when the connection never becomes ready', async () => {
    // A silent TCP peer never completes the TLS handshake, so the connect phase cannot finish.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => { silent.close(r); }));
    const c = client((silent.address() as net.AddressInfo).port, { connectTimeoutMs: 150, tls: { rejectUnauthorized: false } });
    const t0 = Date.now();
    await assert.rejects(c.send(adt('X')), (e: any) => e.code === 'MLLP_CONNECT_TIMEOUT');
    assert.ok(Date.now() - t0 >= 140);
  });

  it('rejects MLLP_CONNECTION_CLOSED when the peer hangs up before answering', async () => {
    const srv = net.createServer((s) => s.on('data', () => s.destroy()));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => srv.close(r)));
    const c = client((srv.address() as net.AddressInfo).port);
    await assert.rejects(c.send(adt('HUP')), (e: any) => e.code === 'MLLP_CONNECTION_CLOSED');
  });

  it('talks mutual TLS to the MLLP server', async () => {
    const pki = makePki();
    const srv = new MllpServer({ port: 0, host: '127.0.0.1', tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true }, onFrame: (f) => peerAck(f.toString('latin1')) });
    closers.push(() => srv.close());
    const { port } = await srv.listen();
    const c = client(port, { tls: { ca: pki.ca, key: pki.clientKey, cert: pki.clientCert, servername: 'localhost' } });
    assert.equal(msaOf((await c.send(adt('T1'))).toString('latin1')).code, 'AA');
    const rogue = client(port, { tls: { ca: pki.ca, key: pki.otherKey, cert: pki.otherCert, servername: 'localhost' } });
    await assert.rejects(rogue.send(adt('T2')), (e: any) => ['MLLP_CONNECTION_CLOSED', 'MLLP_CONNECT_FAILED'].includes(e.code));
  });

  it('backoffDelay doubles to a ceiling', () => {
    assert.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, { baseMs: 100, maxMs: 500 })), [0, 100, 200, 400, 500]);
  });
});
