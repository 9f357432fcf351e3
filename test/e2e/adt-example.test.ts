/**
 * examples/ADT/01 - ADT feed to FHIR.json in a real Node-RED with the built package: ADT over MLLP
 * is committed before the commit ACK, transformed to a UK Core Bundle, validated (UK Core STU2 from
 * ../shared), forwarded byte for byte to a downstream MLLP server (this test's peer) through the
 * outbox, and POSTed as a FHIR transaction to the example's local receiver; a message that cannot
 * be transformed is parked for the PAS team. Evidence: ACKs, the peer's frames, the receiver, the
 * admin API.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlIdOf, msaOf, peerConnect, peerServer, type PeerServer } from '../helpers/mllp-peer';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { sharedDir, skipWithoutShared } from '../helpers/shared';
import { waitFor } from '../helpers/wait';
import { GOOD } from '../lib/transform/fixtures';

const exampleFile = join(repoRoot, 'examples', 'ADT', '01 - ADT feed to FHIR.json');
const built = existsSync(join(repoRoot, 'dist', 'nodes', 'hl7-to-fhir.js'));
const skip = !built ? 'dist/ not built (npm run build first)' : skipWithoutShared('fhir-packages');


/** Field `n` of the first `seg` segment replaced (a bad-input variant of a good fixture). */
function setField(text: string, seg: string, n: number, value: string): string {
  return text.split('\r').map((s) => {
    if (!s.startsWith(`${seg}|`)) return s;
    const f = s.split('|');
    while (f.length <= n) f.push('');
    f[n] = value;
    return f.join('|');
  }).join('\r');
}

describe('ADT example: MLLP in (commit) → FHIR → MLLP out + FHIR POST (real Node-RED)', { skip }, () => {
  let nr: NodeRedProcess;
  let inPort: number;
  let downstream: PeerServer;
  before(async () => {
    downstream = await peerServer();
    nr = await startNodeRed({ flows: [], env: { FHIR_PACKAGE_CACHE: join(sharedDir, 'fhir-packages') } });
    inPort = await freePort();
    const standIn = await freePort();
    const flow = (JSON.parse(readFileSync(exampleFile, 'utf8')) as any[]).map((n) => {
      if (n.type === 'tab') return { ...n, env: [{ name: 'FHIR_URL', value: `${nr.url}/fhir`, type: 'str' }] };
      if (n.id === 'adt01in') return { ...n, port: String(inPort) };
      if (n.id === 'adt01down') return { ...n, port: String(standIn) };
      if (n.type === 'nhs-mllp-endpoint') return { ...n, port: String(downstream.port), retryBase: '0.2' };
      return n;
    });
    await nr.deploy(flow);
    await waitFor('the FHIR receiver route', async () => ((await fetch(`${nr.url}/fhir`)).ok ? true : undefined));
  });
  after(async () => { await nr?.stop(); await downstream?.close(); });

  it('commits and ACKs, forwards the HL7 unchanged and POSTs a valid UK Core Bundle; a bad ADT is parked', async () => {
    const good = [GOOD['ADT^A01']!, GOOD['ADT^A08']!, GOOD['ADT^A03']!];
    const bad = setField(GOOD['ADT^A01']!, 'PID', 7, '19800231').replace('|ADT0001|', '|ADT0099|');
    const peer = await waitFor('the MLLP listener', async () => { try { return await peerConnect(inPort); } catch { return undefined; } });
    try {
      for (const m of [...good, bad]) {
        const ack = msaOf(await peer.request(m, 15000));
        // MSH-15 AL: enhanced mode, so the commit ACK is CA (sent only after the store commit).
        assert.deepEqual(ack, { code: 'CA', controlId: controlIdOf(m) });
      }
    } finally { peer.close(); }

    await downstream.waitFor(3, 30000);
    assert.deepEqual(downstream.received.map((b) => b.toString('latin1')), good.map((m) => m), 'the downstream system got each good message byte for byte, in order');

    const bundles = await waitFor('three FHIR transactions', async () => {
      const b = ((await (await fetch(`${nr.url}/fhir`)).json()) as { entry: { resource: any }[] }).entry.map((e) => e.resource);
      return b.length >= 3 ? b : undefined;
    });
    assert.equal(bundles.length, 3);
    for (const b of bundles) {
      assert.equal(b.resourceType, 'Bundle');
      assert.equal(b.type, 'transaction');
      const patient = b.entry.find((e: any) => e.resource.resourceType === 'Patient').resource;
      assert.equal(patient.identifier.find((i: any) => i.system === 'https://fhir.nhs.uk/Id/nhs-number').value, '9990001006');
      assert.ok(b.entry.some((e: any) => e.resource.resourceType === 'Encounter'), 'an Encounter from PV1');
    }

    const items = await waitFor('the bad ADT in quarantine', async () => {
      const q = (await nr.api('/nhs-interop/quarantine?state=open')).json().items as any[];
      return q.length ? q : undefined;
    });
    assert.equal(items.length, 1);
    assert.equal(items[0].owner, 'PAS team');
    assert.equal(items[0].reasonCode, 'ADT_REJECTED');
    assert.equal(items[0].correlationId, 'ADT0099');
    assert.equal(downstream.received.length, 3, 'the bad message was never forwarded');

    const audit: any[] = (await nr.api('/nhs-interop/audit?nhsNumber=9990001006&limit=1000')).json().records;
    const a = new Set(audit.map((r) => r.action));
    for (const step of ['receive', 'parse', 'hl7-to-fhir', 'validate', 'adt.transformed', 'quarantine.park']) assert.ok(a.has(step), `audited: ${step} (${[...a].join(', ')})`);
    // The delivery (after the downstream AA) is found by the message's control id.
    const trail: any[] = await waitFor('the delivery audited', async () => {
      const t = (await nr.api('/nhs-interop/audit/trail?messageId=ADT0001&correlationId=ADT0001')).json().records as any[];
      return t.some((r) => r.action === 'adt.delivered') ? t : undefined;
    }, 3000);
    assert.ok(trail.some((r) => r.action === 'receive'));
    assert.doesNotMatch(nr.output(), /\[error\]/);
  });
});
