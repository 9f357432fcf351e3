import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { once } from 'node:events';
import iconv from 'iconv-lite';
import { MllpServer, type MllpServerOptions } from '../../../lib/mllp/server';
import { adt, controlIdOf, frame, msaOf, peerAck, peerConnect, splitFrames } from '../../helpers/mllp-peer';
import { makePki } from './tls-certs';
import { sleep, until } from '../../helpers/wait';

const servers: MllpServer[] = [];
after(async () => { await Promise.all(servers.map((s) => s.close())); });

async function start(o: Partial<MllpServerOptions> = {}): Promise<{ server: MllpServer; port: number; got: Buffer[]; logs: string[] }> {
  const got: Buffer[] = [];
  const logs: string[] = [];
  const server = new MllpServer({
    port: 0, host: '127.0.0.1', log: (l, t) => logs.push(`${l} ${t}`),
    onFrame: (f) => { got.push(f); return peerAck(f.toString('latin1')); },
    ...o,
  });
  servers.push(server);
  const addr = await server.listen();
  return { server, port: addr.port, got, logs };
}


describe('MllpServer', () => {
  it('answers two frames that arrive in one TCP write, each exactly once, in order', async () => {
    const { port, got } = await start();
    const c = await peerConnect(port);
    c.sendRaw(Buffer.concat([frame(adt('A1')), frame(adt('A2'))]));
    assert.equal(msaOf(await c.next()).controlId, 'A1');
    assert.equal(msaOf(await c.next()).controlId, 'A2');
    assert.equal(got.length, 2);
    c.close();
  });

  it('assembles a frame written one byte at a time', async () => {
    const { port } = await start();
    const c = await peerConnect(port);
    for (const byte of frame(adt('BYTE1'))) { c.sendRaw(Buffer.from([byte])); await sleep(0); }
    assert.equal(msaOf(await c.next()).controlId, 'BYTE1');
    c.close();
  });

  it('replies in arrival order even when a later reply is ready first', async () => {
    const { port } = await start({
      onFrame: async (f) => {
        const t = f.toString('latin1');
        if (controlIdOf(t) === 'SLOW') await sleep(100);
        return peerAck(t);
      },
    });
    const c = await peerConnect(port);
    c.sendRaw(Buffer.concat([frame(adt('SLOW')), frame(adt('FAST'))]));
    assert.deepEqual([msaOf(await c.next()).controlId, msaOf(await c.next()).controlId], ['SLOW', 'FAST']);
    c.close();
  });

  it('keeps arrival order when replies ready at once and replies that wait are mixed on one connection', async () => {
    // Odd frames are answered synchronously (as `immediate` does), even ones after a delay (as
    // `commit` does): the synchronous answer behind a waiting one must not overtake it.
    let n = 0;
    const { port } = await start({
      onFrame: (f) => {
        const t = f.toString('latin1');
        return ++n % 2 === 1 ? peerAck(t) : sleep(30 + (n % 3) * 10).then(() => peerAck(t));
      },
    });
    const c = await peerConnect(port);
    const ids = ['M1', 'M2', 'M3', 'M4', 'M5', 'M6'];
    c.sendRaw(Buffer.concat(ids.map((id) => frame(adt(id)))));
    const acks: string[] = [];
    for (let i = 0; i < ids.length; i++) acks.push(msaOf(await c.next()).controlId);
    assert.deepEqual(acks, ids);
    c.close();
  });

  it('a reply that settles at once does not overtake a synchronous one still queued for the turn', async () => {
    // Frame 1 answered synchronously (queued until the end of the turn), frame 2 by a promise that
    // settles in the same turn: frame 2's ACK must still go second.
    let n = 0;
    const { port } = await start({
      onFrame: (f) => {
        const t = f.toString('latin1');
        return ++n % 2 === 1 ? peerAck(t) : Promise.resolve(peerAck(t));
      },
    });
    const c = await peerConnect(port);
    c.sendRaw(Buffer.concat([frame(adt('Q1')), frame(adt('Q2')), frame(adt('Q3')), frame(adt('Q4'))]));
    const acks: string[] = [];
    for (let i = 0; i < 4; i++) acks.push(msaOf(await c.next()).controlId);
    assert.deepEqual(acks, ['Q1', 'Q2', 'Q3', 'Q4']);
    c.close();
  });

  it('answers each of many connections sending at once with its own ACKs (synchronous replies)', async () => {
    const { port } = await start();
    const peers = await Promise.all(Array.from({ length: 20 }, () => peerConnect(port)));
    peers.forEach((p, i) => p.sendRaw(Buffer.concat([frame(adt(`C${i}a`)), frame(adt(`C${i}b`))])));
    for (const [i, p] of peers.entries()) {
      assert.deepEqual([msaOf(await p.next()).controlId, msaOf(await p.next()).controlId], [`C${i}a`, `C${i}b`]);
      p.close();
    }
  });

  it('discards junk before VT and counts it', async () => {
    const { server, port } = await start();
    const c = await peerConnect(port);
    c.sendRaw('hello\r\n');
    c.send(adt('J1'));
    assert.equal(msaOf(await c.next()).controlId, 'J1');
    assert.equal(server.stats.junkBytes, 7);
    c.close();
  });

  it('closes the connection on an oversize frame with a log line free of content', async () => {
    const { server, port, logs, got } = await start({ maxFrameBytes: 1000 });
    const c = await peerConnect(port);
    c.sendRaw(frame(`MSH|^~\\&|X|Y|||||ADT^A01|BIG|P|2.5.1\rPID|1||9000000009||SECRETNAME${'x'.repeat(2000)}`));
    await c.closed;
    assert.equal(server.stats.oversize, 1);
    assert.equal(got.length, 0);
    const line = logs.find((l) => l.includes('exceeds'));
    assert.ok(line, logs.join('\n'));
    assert.ok(!logs.join('\n').includes('SECRETNAME') && !logs.join('\n').includes('9000000009'));
  });

  it('counts a connection closed mid-frame and hands nothing on', async () => {
    const { server, port, got } = await start();
    const c = await peerConnect(port);
    c.sendRaw(frame(adt('H1')).subarray(0, 30));
    await sleep(20);
    c.close();
    await once(server, 'disconnect');
    assert.equal(server.stats.truncated, 1);
    assert.equal(got.length, 0);
  });

  it('keeps 100 concurrent connections isolated', async () => {
    const { port, server } = await start({ maxConnections: 200 });
    const clients = await Promise.all(Array.from({ length: 100 }, () => peerConnect(port)));
    await until(() => server.connections === 100);
    // interleave: everyone writes half a frame, then everyone the rest
    const wires = clients.map((_, i) => Buffer.concat([frame(adt(`C${i}-1`)), frame(adt(`C${i}-2`))]));
    clients.forEach((c, i) => c.sendRaw((wires[i] as Buffer).subarray(0, 57)));
    await sleep(10);
    clients.forEach((c, i) => c.sendRaw((wires[i] as Buffer).subarray(57)));
    const answers = await Promise.all(clients.map(async (c) => [msaOf(await c.next()).controlId, msaOf(await c.next()).controlId]));
    answers.forEach((a, i) => assert.deepEqual(a, [`C${i}-1`, `C${i}-2`]));
    clients.forEach((c) => c.close());
  });

  for (const charset of ['ISO-8859-1', 'windows-1252']) {
    it(`round-trips ${charset} bytes unchanged`, async () => {
      const text = adt('CS1', { charset: charset === 'ISO-8859-1' ? '8859/1' : 'CP1252', family: charset === 'windows-1252' ? 'D’ÉTÉ€' : 'DÉTÉ£' });
      const bytes = iconv.encode(text, charset);
      const got: Buffer[] = [];
      const { port } = await start({ onFrame: (f) => { got.push(f); return f; } });
      const c = await peerConnect(port);
      c.sendRaw(frame(bytes));
      await c.next();
      assert.ok(got[0]?.equals(bytes));
      assert.equal(iconv.decode(got[0] as Buffer, charset), text);
      assert.ok((c.frames[0] as Buffer).equals(bytes));
      c.close();
    });
  }

  it('refuses sources outside the allow-list and beyond max connections', async () => {
    const { port, server } = await start({ allow: ['10.0.0.0/8', '2001:db8::/32'] });
    const c = await peerConnect(port);
    await c.closed;
    assert.equal(server.stats.refused, 1);
    const open = await start({ allow: '127.0.0.0/8, ::1', maxConnections: 1 });
    const c1 = await peerConnect(open.port);
    assert.equal(msaOf(await c1.request(adt('OK1'))).code, 'AA');
    const c2 = await peerConnect(open.port);
    await c2.closed;
    assert.equal(open.server.stats.refused, 1);
    c1.close();
  });

  it('closes an idle connection but not one waiting for its reply', async () => {
    let release: (() => void) | undefined;
    const { port } = await start({
      idleTimeoutMs: 80,
      onFrame: async (f) => { await new Promise<void>((r) => { release = r; }); return peerAck(f.toString('latin1')); },
    });
    const c = await peerConnect(port);
    c.send(adt('WAIT'));
    await sleep(200);
    assert.equal(c.socket.destroyed, false);
    release?.();
    assert.equal(msaOf(await c.next()).controlId, 'WAIT');
    await c.closed; // now idle → closed by the server
  });

  it('closes the connection when the handler fails, so the sender retries', async () => {
    const { port, logs } = await start({ onFrame: () => Promise.reject(new Error('store down')) });
    const c = await peerConnect(port);
    c.send(adt('F1'));
    await c.closed;
    assert.equal(c.frames.length, 0);
    assert.ok(logs.some((l) => l.includes('no reply')));
  });

  it('close() frees the port for an immediate re-listen', async () => {
    const { server, port } = await start();
    const c = await peerConnect(port);
    await server.close();
    await c.closed;
    const again = new MllpServer({ port, host: '127.0.0.1', onFrame: (f) => peerAck(f.toString('latin1')) });
    servers.push(again);
    assert.equal((await again.listen()).port, port);
  });

  it('rejects MLLP_LISTEN_FAILED when the port is taken', async () => {
    const { port } = await start();
    const s2 = new MllpServer({ port, host: '127.0.0.1', onFrame: () => undefined });
    await assert.rejects(s2.listen(), (e: any) => e.code === 'MLLP_LISTEN_FAILED');
  });

  it('serves mutual TLS and refuses a client without a CA-signed certificate', async () => {
    const pki = makePki();
    const { port, server } = await start({ tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true } });
    const good = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, key: pki.clientKey, cert: pki.clientCert });
    await once(good, 'secureConnect');
    good.write(frame(adt('TLS1')));
    const [data] = await once(good, 'data');
    assert.equal(msaOf((splitFrames(data as Buffer).frames[0] as Buffer).toString('latin1')).controlId, 'TLS1');
    good.destroy();
    const bad = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, key: pki.otherKey, cert: pki.otherCert });
    bad.on('error', () => undefined);
    bad.write(frame(adt('TLS2')));
    await once(bad, 'close');
    assert.equal(server.stats.frames, 1);
  });
});
