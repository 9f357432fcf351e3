/**
 * Operations endpoints in a real Node-RED (issue 16): a run of HL7 over MLLP → parse → FHIR
 * validation → quarantine, then `GET /nhs-interop/metrics` is scraped and its counters compared
 * with what was sent; the text parses as Prometheus exposition format 0.0.4; no label value is an
 * NHS number, name, birth date or postcode of the (synthetic) people sent; without the bearer
 * token the answer is 401; `GET /nhs-interop/health` answers 200 with the store up.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { adt, msaOf, peerConnect } from '../helpers/mllp-peer';
import { parsePrometheus, type Sample } from '../helpers/prometheus';

const built = existsSync(join(repoRoot, 'dist', 'plugins'));
const TOKEN = 'ops-test-token-0123456789';

/** Synthetic people: test-range NHS numbers; the ones marked `bad` get a gender R4 does not allow. */
const PEOPLE = [
  { nhs: '9990000018', family: 'OPSALPHA', bad: false },
  { nhs: '9990000026', family: 'OPSBRAVO', bad: false },
  { nhs: '9990000034', family: 'OPSCHARLIE', bad: true },
  { nhs: '9990000042', family: 'OPSDELTA', bad: false },
  { nhs: '9990000050', family: 'OPSECHO', bad: true },
];
const GOOD = PEOPLE.filter((p) => !p.bad).length;
const BAD = PEOPLE.length - GOOD;

const toPatient = `
const text = msg.payload.split('\\r').find((s) => s.startsWith('PID')).split('|');
const nhs = text[3].split('^')[0];
const family = text[5].split('^')[0];
msg.payload = { resourceType: 'Patient', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }],
  name: [{ family }], birthDate: '1980-01-01', gender: family === 'OPSCHARLIE' || family === 'OPSECHO' ? 'banana' : 'unknown' };
return msg;`;

function flows(dir: string, port: number): unknown[] {
  return [
    { id: 'tab1', type: 'tab', label: 'ops' },
    { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'ops.sqlite'), durability: 'normal', version: 1 },
    { id: 'in1', type: 'nhs-mllp-in', z: 'tab1', port: String(port), host: '127.0.0.1', ackMode: 'commit', store: 'st', allow: '', maxFrameBytes: '1048576', wires: [['hl1'], []] },
    { id: 'hl1', type: 'nhs-hl7', z: 'tab1', action: 'parse', property: 'payload', rules: [], wires: [['fn1'], []] },
    { id: 'fn1', type: 'function', z: 'tab1', func: toPatient, outputs: 1, wires: [['fv1']] },
    { id: 'fv1', type: 'nhs-fhir-validate', z: 'tab1', property: 'payload', folders: '', packages: '', useCache: false, profiles: '', terminology: 'lenient', wires: [[], ['q1']] },
    { id: 'q1', type: 'nhs-quarantine', z: 'tab1', store: 'st', reasonCode: 'FHIR_INVALID', reasonCodeType: 'str', owner: 'pas-team', ownerType: 'str', sla: '24', slaType: 'num', wires: [[], []] },
  ];
}

const find = (samples: Sample[], name: string, labels: Record<string, string>): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('operations endpoints: metrics and health (real Node-RED)', { skip: built ? false : 'dist/ not built (npm test builds it first)', timeout: 120_000 }, () => {
  let nr: NodeRedProcess;
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nhs-ops-'));
    const port = await freePort();
    nr = await startNodeRed({ flows: flows(dir, port), settings: { nhsInterop: { operations: { metrics: true, health: true, token: TOKEN } } } });
    const peer = await peerConnect(port);
    for (const [i, p] of PEOPLE.entries()) {
      const ack = await peer.request(adt(`OPS${i}`, { nhs: p.nhs, family: p.family }), 10_000);
      assert.equal(msaOf(ack).code, 'AA');
    }
    peer.close();
  });
  after(async () => {
    await nr?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<Sample[]> => {
    const r = await nr.api('/nhs-interop/metrics', { accept: 'text/plain', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, r.text);
    return parsePrometheus(r.text);
  };

  it('counters match what was sent (received, parsed, validated by result, quarantined) and the gauges see the open items', async () => {
    // Hand-off and quarantine run after the ACK: wait until every message is through.
    let samples: Sample[] = [];
    const end = Date.now() + 20_000;
    do {
      samples = await scrape();
      // The park step is counted as the quarantine node appends it; its row may commit a moment later.
      if (find(samples, 'nhs_node_steps_total', { node_id: 'q1', action: 'quarantine.park' }) === BAD && find(samples, 'nhs_quarantine_open_items', { store: 'st', reason: 'FHIR_INVALID' }) === BAD) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < end);
    assert.equal(find(samples, 'nhs_node_steps_total', { node_id: 'in1', node_type: 'nhs-mllp-in', action: 'receive', outcome: 'accepted' }), PEOPLE.length);
    assert.equal(find(samples, 'nhs_mllp_acks_total', { node_id: 'in1', code: 'AA' }), PEOPLE.length);
    assert.equal(find(samples, 'nhs_mllp_acks_total', { node_id: 'hl1' }), undefined, 'a node that only carries msg.ack along does not count it');
    assert.equal(find(samples, 'nhs_node_steps_total', { node_id: 'hl1', node_type: 'nhs-hl7', action: 'parse', outcome: 'valid' }), PEOPLE.length);
    assert.equal(find(samples, 'nhs_node_steps_total', { node_id: 'fv1', node_type: 'nhs-fhir-validate', action: 'validate', outcome: 'valid' }), GOOD);
    assert.equal(find(samples, 'nhs_node_steps_total', { node_id: 'fv1', node_type: 'nhs-fhir-validate', action: 'validate', outcome: 'invalid' }), BAD);
    assert.equal(find(samples, 'nhs_validations_total', { node_id: 'fv1', result: 'invalid' }), BAD);
    assert.equal(find(samples, 'nhs_node_steps_total', { node_id: 'q1', node_type: 'nhs-quarantine', action: 'quarantine.park', outcome: 'quarantined' }), BAD);
    assert.equal(find(samples, 'nhs_quarantine_open_items', { store: 'st', reason: 'FHIR_INVALID', owner: 'pas-team' }), BAD);
    assert.ok((find(samples, 'nhs_quarantine_oldest_age_seconds', { store: 'st', reason: 'FHIR_INVALID' }) ?? -1) >= 0);
    assert.equal(find(samples, 'nhs_store_up', { store: 'st', backend: 'sqlite' }), 1);
    assert.ok((find(samples, 'nhs_store_bytes', { store: 'st' }) ?? 0) > 0);
  });

  it('no label value is an NHS number, a name, a birth date or a postcode of the people sent', async () => {
    const samples = await scrape();
    assert.ok(samples.length > 10);
    const forbidden = [/\d{3}\s?\d{3}\s?\d{4}/, /19800101|1980-01-01/, /\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b/i, ...PEOPLE.map((p) => new RegExp(p.family, 'i')), /ALEX/i];
    for (const s of samples) for (const [k, v] of Object.entries(s.labels)) {
      for (const f of forbidden) assert.doesNotMatch(v, f, `${s.name}{${k}="${v}"}`);
    }
  });

  it('unauthenticated scrape → 401; wrong token → 401', async () => {
    assert.equal((await nr.api('/nhs-interop/metrics', { accept: 'text/plain' })).status, 401);
    assert.equal((await nr.api('/nhs-interop/metrics', { accept: 'text/plain', headers: { authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await nr.api('/nhs-interop/health')).status, 401);
  });

  it('health: 200 with a JSON body naming the store reachable', async () => {
    const r = await nr.api('/nhs-interop/health', { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, r.text);
    const body = r.json() as { status: string; stores: { name: string; reachable: boolean; probeMs: number }[] };
    assert.equal(body.status, 'ok');
    const st = body.stores.find((s) => s.name === 'st');
    assert.equal(st?.reachable, true);
    assert.ok(typeof st?.probeMs === 'number');
  });
});
