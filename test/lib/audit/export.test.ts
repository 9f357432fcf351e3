import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { connectAsync } from 'mqtt';
import { toAuditEvent } from '../../../lib/audit/fhir';
import { formatSyslog, frameOctetCounting, OctetCountingDecoder, SyslogTlsClient, ATNA_PRI } from '../../../lib/audit/syslog';
import { MqttPublisher } from '../../../lib/remote/mqtt';
import { makeChain } from './chain-fixture';
import { mqttUrl, skipWithoutMqtt } from '../../helpers/shared';

describe('FHIR AuditEvent export (IHE BALP shape)', () => {
  const [r] = makeChain(1);
  it('maps a system import with patient and message entities', () => {
    const ev = toAuditEvent(r!, { observer: 'edge-1', site: 'RX1' });
    assert.equal(ev.resourceType, 'AuditEvent');
    assert.equal(ev.id, r!.hash);
    assert.deepEqual(ev.type, { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110107', display: 'Import' });
    assert.equal(ev.action, 'C');
    assert.equal(ev.outcome, '0');
    assert.equal(ev.recorded, r!.at);
    assert.equal(ev.source.site, 'RX1');
    const patient = ev.entity.find((e) => e.role.code === '1');
    assert.deepEqual(patient?.what.identifier, { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' });
    assert.equal(ev.entity.find((e) => e.role.code === '4')?.what.identifier.value, 'm1');
    assert.equal(ev.agent[0]?.requestor, false);
    assert.equal(ev.meta, undefined);
  });
  it('maps an editor reveal as a BALP PatientRead with a human requestor', () => {
    const ev = toAuditEvent({ ...r!, action: 'quarantine.reveal', actor: 'alice', outcome: 'success' });
    assert.equal(ev.type.code, 'rest');
    assert.deepEqual(ev.subtype.map((s) => s.code), ['quarantine.reveal', 'read']);
    assert.deepEqual(ev.meta?.profile, ['https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead']);
    assert.equal(ev.agent[0]?.requestor, true);
    assert.equal(ev.agent[0]?.who.identifier?.value, 'alice');
  });
  it('drops an invalid subject instead of exporting it as a patient, and maps failures', () => {
    const ev = toAuditEvent({ ...r!, subject: '1234567890', outcome: 'failure' });
    assert.equal(ev.entity.some((e) => e.role.code === '1'), false);
    assert.equal(ev.outcome, '8');
    assert.equal(toAuditEvent({ ...r!, outcome: 'quarantined' }).outcome, '4');
  });
});

describe('RFC 5424 / RFC 5425 syslog', () => {
  it('formats the header and frames by octet count (multi-byte MSG counted in bytes)', () => {
    const m = formatSyslog({ time: '2026-01-01T00:00:00.000Z', msg: '{"x":"é"}', host: 'h st', appName: 'nr', procId: '7' });
    const text = m.toString('utf8');
    assert.equal(text, `<${ATNA_PRI}>1 2026-01-01T00:00:00.000Z h_st nr 7 IHE+FHIR - \ufeff{"x":"é"}`);
    const framed = frameOctetCounting(m);
    assert.equal(framed.toString('utf8').split(' ')[0], String(m.length));
  });
  it('decodes frames split anywhere and rejects a hostile length', () => {
    const a = frameOctetCounting(Buffer.from('hello'));
    const b = frameOctetCounting(Buffer.from('wörld'));
    const all = Buffer.concat([a, b]);
    for (let cut = 1; cut < all.length; cut++) {
      const d = new OctetCountingDecoder();
      const got = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))].map((x) => x.toString());
      assert.deepEqual(got, ['hello', 'wörld']);
    }
    assert.throws(() => new OctetCountingDecoder().push(Buffer.from('abc hello')), { code: 'SYSLOG_FRAMING' });
    assert.throws(() => new OctetCountingDecoder(10).push(Buffer.from('99 x')), { code: 'SYSLOG_FRAMING' });
    assert.throws(() => new OctetCountingDecoder().push(Buffer.from('012345678901')), { code: 'SYSLOG_FRAMING' });
  });

  const dir = mkdtempSync(join(tmpdir(), 'nhs-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  it('sends AuditEvents over TLS to a local collector with a self-signed cert made at test time', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const key = readFileSync(join(dir, 'k.pem'));
    const cert = readFileSync(join(dir, 'c.pem'));
    const got: string[] = [];
    let gotAll: () => void = () => undefined;
    const done = new Promise<void>((res) => { gotAll = res; });
    const server = tls.createServer({ key, cert }, (s) => {
      const d = new OctetCountingDecoder();
      s.on('data', (chunk: Buffer) => { for (const f of d.push(chunk)) got.push(f.toString('utf8')); if (got.length === 3) gotAll(); });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    const client = new SyslogTlsClient({ host: '127.0.0.1', port, ca: cert, timeoutMs: 3000 });
    try {
      const events = makeChain(3).map((r) => formatSyslog({ time: r.at, msg: JSON.stringify(toAuditEvent(r)) }));
      await client.send(events.slice(0, 1));
      await client.send(events.slice(1));
      await done;
      assert.equal(got.length, 3);
      const ev = JSON.parse(got[2]!.slice(got[2]!.indexOf('\ufeff') + 1));
      assert.equal(ev.resourceType, 'AuditEvent');
      assert.equal(ev.id, makeChain(3)[2]!.hash);
    } finally {
      await client.close();
      await new Promise((res) => server.close(res));
    }
    // An untrusted collector (no CA given) is refused, not silently used.
    const server2 = tls.createServer({ key, cert }, () => undefined);
    await new Promise<void>((res) => server2.listen(0, '127.0.0.1', res));
    const c2 = new SyslogTlsClient({ host: '127.0.0.1', port: (server2.address() as { port: number }).port, timeoutMs: 3000 });
    await assert.rejects(c2.send([Buffer.from('x')]), { code: 'SYSLOG_UNAVAILABLE' });
    await c2.close();
    await new Promise((res) => server2.close(res));
  });
  it('rejects with SYSLOG_UNAVAILABLE when nothing listens', async () => {
    const server = tls.createServer({});
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    await new Promise((res) => server.close(res));
    const c = new SyslogTlsClient({ host: '127.0.0.1', port, timeoutMs: 2000 });
    await assert.rejects(c.send([Buffer.from('x')]), { code: 'SYSLOG_UNAVAILABLE' });
    await c.close();
  });
});

describe('MQTT publish (QoS 1)', { skip: skipWithoutMqtt }, () => {
  it('publishes AuditEvent JSON that a real subscriber receives', async () => {
    const topic = `nhs-test/audit/${process.pid}/${Date.now()}`;
    const sub = await connectAsync(mqttUrl!);
    const got = new Promise<{ body: any; qos: number }>((res) => sub.on('message', (_t, p, packet) => res({ body: JSON.parse(p.toString()), qos: packet.qos })));
    await sub.subscribeAsync(topic, { qos: 1 });
    const pub = new MqttPublisher(mqttUrl!);
    try {
      const ev = toAuditEvent(makeChain(1)[0]!);
      await pub.publish(topic, ev);
      const m = await got;
      assert.equal(m.body.id, ev.id);
      assert.equal(m.qos, 1);
    } finally {
      await pub.close();
      await sub.endAsync();
    }
  });
  it('rejects with MQTT_UNAVAILABLE for an unreachable broker', async () => {
    const pub = new MqttPublisher('mqtt://127.0.0.1:1', { timeoutMs: 1000 });
    await assert.rejects(pub.publish('x', {}), { code: 'MQTT_UNAVAILABLE' });
    await pub.close();
  });
});
