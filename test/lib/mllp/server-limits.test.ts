// Per-connection limits of MllpServer against hostile peers: frames in flight, back-pressure from a
// peer that does not read, and TLS handshakes counted against maxConnections with a timeout.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { MllpServer, type MllpServerOptions } from '../../../lib/mllp/server';
import { adt, controlIdOf, frame, msaOf, peerAck, peerConnect, splitFrames } from '../../helpers/mllp-peer';
import { makePki } from './tls-certs';
import { sleep, until } from '../../helpers/wait';

const servers: MllpServer[] = [];
after(async () => { await Promise.all(servers.map((s) => s.close())); });

async function start(o: Partial<MllpServerOptions> & Pick<MllpServerOptions, 'onFrame'>): Promise<{ server: MllpServer; port: number }> {
  const server = new MllpServer({ port: 0, host: '127.0.0.1', ...o });
  servers.push(server);
  return { server, port: (await server.listen()).port };
}

/** A raw client that counts what it gets back; `reading` false leaves the replies unread. */
async function rawClient(port: number, reading = true): Promise<{ sock: net.Socket; ids: string[]; closed: () => boolean }> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  const ids: string[] = [];
  let rest: Buffer = Buffer.alloc(0);
  let closed = false;
  sock.on('close', () => { closed = true; });
  sock.on('data', (d: Buffer) => {
    const r = splitFrames(Buffer.concat([rest, d]));
    rest = r.rest;
    for (const f of r.frames) ids.push(msaOf(f.toString('latin1')).controlId);
  });
  if (!reading) sock.pause();
  return { sock, ids, closed: () => closed };
}

describe('MllpServer limits', () => {
  it('holds at most maxInFlight un-answered frames per connection, answers all in order, and other connections still get ACKs', async () => {
    let calls = 0;
    const gates: (() => void)[] = [];
    const { server, port } = await start({
      maxInFlight: 8,
      onFrame: (f) => {
        const t = f.toString('latin1');
        if (controlIdOf(t) === 'OTHER') return peerAck(t);
        calls++;
        return new Promise<string>((r) => gates.push(() => r(peerAck(t))));
      },
    });
    const c = await rawClient(port);
    const n = 2000;
    c.sock.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(adt(`F${i}`)))));
    await until(() => calls === 8);
    await sleep(100);
    assert.equal(calls, 8, 'no frame beyond the limit was handed to the handler');
    assert.ok(server.stats.paused >= 1, 'reading was paused');
    const other = await peerConnect(port);
    assert.equal(msaOf(await other.request(adt('OTHER'))).controlId, 'OTHER');
    other.close();
    // Release the held frames as they come: every frame answered once, in arrival order.
    while (c.ids.length < n) {
      gates.splice(0).forEach((g) => g());
      await sleep(1);
    }
    assert.equal(c.ids.length, n);
    assert.deepEqual(c.ids, Array.from({ length: n }, (_, i) => `F${i}`));
    assert.equal(calls, n);
    c.sock.destroy();
  });

  it('stops reading from a peer that does not read its replies, and loses nothing once it does', async () => {
    const big = 'X'.repeat(5000);
    let handled = 0;
    const { server, port } = await start({
      onFrame: (f) => { handled++; return `${peerAck(f.toString('latin1'))}\r${big}`; },
    });
    const c = await rawClient(port, false);
    // 40,000 frames offered: answered in full they would be 200 MB of replies.
    const n = 40_000;
    let i = 0;
    // Write until the socket takes no more for a second: the server has stopped reading.
    while (i < n) {
      if (c.sock.write(frame(adt(`N${i++}`)))) continue;
      const drained = await Promise.race([once(c.sock, 'drain').then(() => true), sleep(1000).then(() => false)]);
      if (!drained) break;
    }
    await sleep(300);
    const handledWhileBlocked = handled;
    assert.ok(server.stats.paused >= 1, 'reading was paused');
    assert.ok(handledWhileBlocked < n, `the server stopped taking frames (${handledWhileBlocked} handled of ${i} offered)`);
    // What it did take is bounded by the socket buffers, not by what the peer offered.
    assert.ok(handledWhileBlocked * big.length < 64 * 1024 * 1024, `${handledWhileBlocked} replies of 5 KB held`);
    const offered = i;
    c.sock.resume();
    await until(() => c.ids.length === offered, 30_000);
    assert.deepEqual(c.ids, Array.from({ length: offered }, (_, k) => `N${k}`), 'every frame answered once, in order');
    c.sock.destroy();
  });

  it('closes a connection whose replies stay unread past writeStallTimeoutMs', async () => {
    const big = 'Y'.repeat(64 * 1024);
    const { server, port } = await start({ writeStallTimeoutMs: 300, onFrame: (f) => `${peerAck(f.toString('latin1'))}\r${big}` });
    const c = await rawClient(port, false);
    for (let k = 0; k < 5000 && server.stats.stalled === 0; k++) {
      c.sock.write(frame(adt(`S${k}`)));
      if (k % 20 === 0) await sleep(1);
    }
    // Watched from the server: a paused client sees the close only once it reads.
    await until(() => server.stats.stalled === 1, 10_000);
    await until(() => server.connections === 0);
    c.sock.destroy();
  });

  it('counts TLS connections from the TCP accept against maxConnections and drops unfinished handshakes after handshakeTimeoutMs', async () => {
    const pki = makePki();
    const { server, port } = await start({
      maxConnections: 4, handshakeTimeoutMs: 500,
      tls: { key: pki.serverKey, cert: pki.serverCert },
      onFrame: (f) => peerAck(f.toString('latin1')),
    });
    const half = await Promise.all(Array.from({ length: 12 }, () => rawClient(port)));
    // A truncated ClientHello: the handshake starts and never finishes.
    for (const h of half) h.sock.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    await until(() => half.filter((h) => !h.closed()).length <= 4);
    assert.equal(server.stats.evicted, 8, 'each newcomer at the limit displaced the oldest unfinished handshake');
    // A good sender still gets in while the slots are held by half-open handshakes.
    const early = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca });
    early.on('error', () => undefined);
    await once(early, 'secureConnect');
    early.write(frame(adt('TLSEARLY')));
    const [d0] = await once(early, 'data');
    assert.equal(msaOf((splitFrames(d0 as Buffer).frames[0] as Buffer).toString('latin1')).controlId, 'TLSEARLY');
    early.destroy();
    await until(() => half.every((h) => h.closed()), 10_000);
    const good = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca });
    await once(good, 'secureConnect');
    good.write(frame(adt('TLSOK')));
    const [data] = await once(good, 'data');
    assert.equal(msaOf((splitFrames(data as Buffer).frames[0] as Buffer).toString('latin1')).controlId, 'TLSOK');
    good.destroy();
  });
});
