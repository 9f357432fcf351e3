/**
 * examples/Lab/01 - Lab results.json in a real Node-RED with the built package: ORU^R01 over MLLP
 * (the example's own inject buttons send through its nhs-mllp-out, the test's peer sends the bad
 * ones), local OBX-3 codes mapped to SNOMED CT from the SNOMED example's map (package: path),
 * transformed to UK Core and validated (../shared), POSTed to the results stand-in and routed:
 * abnormal → alert, normal → filed. An unmapped code is parked for clinical coding, a result that
 * cannot be transformed for the pathology team.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { msaOf, peerConnect } from '../helpers/mllp-peer';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { sharedDir, skipWithoutShared } from '../helpers/shared';
import { waitFor } from '../helpers/wait';

const exampleFile = join(repoRoot, 'examples', 'Lab', '01 - Lab results.json');
const built = existsSync(join(repoRoot, 'dist', 'nodes', 'hl7-to-fhir.js'));
const skip = !built ? 'dist/ not built (npm run build first)' : skipWithoutShared('fhir-packages');


const oru = (id: string, pid: string, obx: string[]): string => [
  `MSH|^~\\&|LIMS|RXX01|EPR|RXX01|20260115093000+0000||ORU^R01^ORU_R01|${id}|P|2.5.1`,
  `PID|1||${pid}`,
  `OBR|1||ACC${id}|LIPID^Lipid profile^L|||20260115080000+0000`,
  ...obx,
].join('\r') + '\r';

describe('Lab example: ORU^R01 → SNOMED CT → UK Core → route (real Node-RED)', { skip }, () => {
  let nr: NodeRedProcess;
  let flow: any[];
  let inPort: number;
  before(async () => {
    nr = await startNodeRed({ flows: [], env: { FHIR_PACKAGE_CACHE: join(sharedDir, 'fhir-packages') } });
    inPort = await freePort();
    flow = (JSON.parse(readFileSync(exampleFile, 'utf8')) as any[]).map((n) => {
      if (n.type === 'tab') return { ...n, env: [{ name: 'RESULTS_URL', value: `${nr.url}/results`, type: 'str' }] };
      if (n.type === 'nhs-mllp-in' || n.type === 'nhs-mllp-endpoint') return { ...n, port: String(inPort), ...(n.retryBase ? { retryBase: '0.2' } : {}) };
      return n;
    });
    await nr.deploy(flow);
    await waitFor('the results route', async () => ((await fetch(`${nr.url}/results`)).ok ? true : undefined));
  });
  after(async () => { await nr?.stop(); });

  it('maps, transforms, validates and routes good results; parks unmapped and broken ones with their owners', async () => {
    for (const n of flow.filter((x) => x.type === 'inject')) assert.equal((await nr.api(`/inject/${n.id}`, { method: 'POST', body: {} })).status, 200);
    const peer = await waitFor('the MLLP listener', async () => { try { return await peerConnect(inPort); } catch { return undefined; } });
    try {
      const unmapped = oru('LAB00203', '9000000009^^^NHS^NH||TESTPATIENT^SAM||19700202|M', ['OBX|1|NM|XLDL^Calculated LDL (new local test)^L||2.9|mmol/L|<3.0|N|||F']);
      const broken = oru('LAB00204', '9000000009^^^NHS^NH||TESTPATIENT^SAM||19700231|M', ['OBX|1|NM|K^Potassium^L||4.0|mmol/L|3.5-5.3|N|||F']);
      for (const m of [unmapped, broken]) assert.equal(msaOf(await peer.request(m, 15000)).code, 'AA', 'committed, then AA');
    } finally { peer.close(); }

    const results = await waitFor('two result Bundles at the results store', async () => {
      const b = ((await (await fetch(`${nr.url}/results`)).json()) as { entry: { resource: any }[] }).entry.map((e) => e.resource);
      return b.length >= 2 ? b : undefined;
    });
    assert.equal(results.length, 2);
    const obs = results.flatMap((b) => b.entry.map((e: any) => e.resource)).filter((r: any) => r.resourceType === 'Observation');
    const potassium = obs.filter((o: any) => o.code.coding.some((c: any) => c.code === 'K'));
    assert.equal(potassium.length, 2);
    for (const o of potassium) {
      assert.ok(o.code.coding.some((c: any) => c.system === 'http://snomed.info/sct' && c.code === '1000651000000109'), 'SNOMED CT beside the local code');
      assert.ok(o.code.coding.some((c: any) => c.system === 'https://example-trust.nhs.uk/CodeSystem/lab-local' && c.code === 'K'), 'the local code kept');
    }
    assert.ok(obs.some((o: any) => o.interpretation?.[0]?.coding?.[0]?.code === 'H'), 'the abnormal flag carried over');

    const trail = async (id: string): Promise<Set<string>> => new Set(((await nr.api(`/nhs-interop/audit/trail?messageId=${id}&correlationId=${id}`)).json().records as any[]).map((r) => r.action));
    const high = await waitFor('the abnormal result routed', async () => { const a = await trail('LAB00202'); return a.has('lab.abnormal') ? a : undefined; });
    for (const step of ['receive', 'parse', 'snomed.map', 'hl7-to-fhir', 'validate', 'lab.abnormal']) assert.ok(high.has(step), `LAB00202: ${step}`);
    assert.ok(!high.has('lab.filed'));
    const normal = await waitFor('the normal result filed', async () => { const a = await trail('LAB00201'); return a.has('lab.filed') ? a : undefined; });
    assert.ok(!normal.has('lab.abnormal'));

    const items = await waitFor('two quarantined results', async () => {
      const q = (await nr.api('/nhs-interop/quarantine?state=open')).json().items as any[];
      return q.length >= 2 ? q : undefined;
    });
    const byId = new Map(items.map((i) => [i.correlationId, i]));
    assert.equal(byId.get('LAB00203')?.owner, 'clinical coding');
    assert.equal(byId.get('LAB00203')?.reasonCode, 'SNOMED_UNMAPPED');
    assert.equal(byId.get('LAB00204')?.owner, 'pathology team');
    assert.equal(byId.get('LAB00204')?.reasonCode, 'LAB_REJECTED');
    assert.equal(items.length, 2);
    assert.doesNotMatch(nr.output(), /\[error\]/);
  });
});
