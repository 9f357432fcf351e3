/**
 * examples/SNOMED/01 - Map lab codes.json in a real Node-RED with the built package: the example
 * finds its map file inside the package (package: path), maps the first ORU^R01's OBX-3 codes to
 * SNOMED CT beside the local codes, and parks the ORU^R01 with an unmapped code for "clinical
 * coding". Evidence: the debug output (switched to the console for the test) and the default store.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStore } from '../../lib/store';
import { parseHl7 } from '../../lib/hl7';
import { payloadText } from '../../lib/quarantine/service';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { waitFor } from '../helpers/wait';

const exampleFile = join(repoRoot, 'examples', 'SNOMED', '01 - Map lab codes.json');
const built = existsSync(join(repoRoot, 'dist', 'nodes', 'snomed-map.js'));

describe('SNOMED example: map lab codes (real Node-RED)', { skip: built ? false : 'dist/ not built (npm run build first)' }, () => {
  let nr: NodeRedProcess;
  let flow: any[];
  before(async () => {
    flow = JSON.parse(readFileSync(exampleFile, 'utf8'));
    // The mapped debug node also prints to the console, so the test can read what it shows.
    for (const n of flow) if (n.type === 'debug' && n.name?.startsWith('mapped')) { n.console = true; n.complete = 'payload'; }
    nr = await startNodeRed({ flows: flow });
  });
  after(async () => { await nr?.stop(); });

  it('deploys; the map is found inside the package', async () => {
    await waitFor('the map to load', () => (/map Example lab codes to SNOMED CT \(synthetic\) loaded: 5 source codes/.test(nr.output()) ? true : undefined));
    assert.doesNotMatch(nr.output(), /\[error\]/);
  });

  it('maps OBX-3 codes beside the local ones and parks the unmapped message for clinical coding', async () => {
    const injects = flow.filter((n) => n.type === 'inject');
    assert.equal(injects.length, 2);
    for (const n of injects) assert.equal((await nr.api(`/inject/${n.id}`, { method: 'POST', body: {} })).status, 200);
    // The mapped ORU^R01 reaches the debug node with SNOMED CT beside each local code.
    await waitFor('the mapped message', () => (nr.output().includes('1000651000000109') ? true : undefined));
    const out = nr.output();
    assert.match(out, /K\^Potassium\^L\^1000651000000109\^Serum potassium level\^SCT/);
    assert.match(out, /CRP\^C reactive protein\^L\^135842001\^Serum C reactive protein level\^SCT/);
    assert.match(out, /ALB\^Albumin\^L\^1000821000000103\^Serum albumin level\^SCT/);
    assert.doesNotMatch(out, /LAB00102/, 'the message with an unmapped code never reached the mapped output');

    const store = createStore({ backend: 'sqlite', file: join(nr.userDir, 'nhs-interop.sqlite') });
    await store.open();
    try {
      const parked = await waitFor('the quarantined message', async () => {
        const q = await store.listQuarantine({ state: 'open' });
        return q.length > 0 ? q : undefined;
      });
      assert.equal(parked.length, 1);
      const item = parked[0]!;
      assert.equal(item.owner, 'clinical coding');
      assert.equal(item.reasonCode, 'SNOMED_UNMAPPED');
      const m = parseHl7(payloadText(item.original).text).message!;
      assert.equal(m.controlId, 'LAB00102');
      assert.equal(m.get('OBX[2]-3'), 'XLDL^Calculated LDL (new local test)^L', 'the unmapped code is kept as received');
      const audit = await waitFor('the mapped message audited', async () => {
        const a = await store.queryAudit({ limit: 100 });
        return a.some((r) => r.action === 'snomed.map' && r.outcome === 'mapped') ? a : undefined;
      });
      assert.ok(audit.some((r) => r.action === 'quarantine.park'), 'the park is audited');
    } finally {
      await store.close();
    }
    assert.doesNotMatch(nr.output(), /\[error\]/);
  });
});
