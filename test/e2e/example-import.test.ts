/**
 * An example's governance survives the editor's import, in a real Node-RED editor (Debian's
 * Chromium, playwright-core): the example is fetched from Import → Examples and imported the two
 * ways the Import dialog does — first as it is (ids kept), then again as "Import copy" (the
 * conflict notification's choice: new ids for every node and tab). Every patient-data node still
 * names a deployed nhs-governance (Node-RED remaps config-node references), and the deploy logs
 * no governance warning (a control node without one does). A tab list is not remapped, which is why the examples set each node's
 * own `governance` property rather than rely on "applies to tabs" alone.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { PATIENT_DATA_TYPES } from '../../nodes/shared/governance';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { CHROMIUM, launchChromium } from '../helpers/browser';

declare const window: any;

const built = existsSync(join(repoRoot, 'dist', 'nodes', 'governance.js'));
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed: editor test skipped` : built ? false : 'dist/ not built (npm test builds it first)';
const pkgName = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string }).name;
/** One example on its own tab, one saved without a tab (imported onto the current one); neither listens on a port. */
const EXAMPLES = ['Governance/01 - Quarantine and audit', 'HL7/01 - Parse and route ADT'];
const GOV_WARNING = /\[warn\] \[[^\]]*\] governance: /;

describe('editor: importing an example keeps its governance', { skip }, () => {
  let nr: NodeRedProcess;
  let tmp = '';
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'nhs-import-'));
    nr = await startNodeRed({ flows: [], timeoutMs: 60000 });
  });
  after(async () => {
    await nr?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('imported as is and again as a copy (new ids): every patient-data node names a deployed nhs-governance; only a control node without one warns at deploy', { timeout: 120000 }, async () => {
    const ctx = await launchChromium(mkdtempSync(join(tmp, 'chrome-')), { viewport: { width: 1400, height: 900 } });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    try {
      await page.goto(nr.url);
      await page.waitForFunction(() => window.RED?.nodes?.getType?.('nhs-governance') && window.RED.workspaces.active(), null, { timeout: 60000 });
      for (const rel of EXAMPLES) {
        // The text the Import → Examples dialog fetches.
        const res = await nr.api(`/library/examples/flows/${pkgName}/${rel.split('/').map(encodeURIComponent).join('/')}`);
        assert.equal(res.status, 200, `example ${rel} served`);
        // The Import dialog's two calls: as it is, then "Import copy" (generateIds) on the id conflict.
        await page.evaluate((text: string) => {
          window.RED.view.importNodes(JSON.parse(text), { generateIds: false, addFlow: false });
          window.RED.view.importNodes(JSON.parse(text), { generateIds: true, addFlow: false });
        }, res.text);
      }
      // A control: an hl7 node with no governance, so the warning check below is seen to fire.
      await page.evaluate(() => { window.RED.view.importNodes([{ id: 'ctl0000000000001', type: 'nhs-hl7', name: 'control without governance', x: 200, y: 600, wires: [[], []] }], { generateIds: false, addFlow: false }); });
      await page.evaluate(() => { window.RED.nodes.dirty(true); });
      const before = nr.output().length;
      await page.click('#red-ui-header-button-deploy');
      // The editor asks before deploying nodes it thinks incomplete; the runtime's view is what counts.
      const confirm = page.locator('#red-ui-deploy-dialog-confirm-deploy-deploy');
      try { await confirm.click({ timeout: 2000 }); } catch { /* no confirmation asked */ }
      let deployed: any[] = [];
      for (let i = 0; i < 100; i++) {
        const flows = (await nr.api('/flows')).json();
        deployed = Array.isArray(flows) ? flows : flows.flows;
        if (deployed.some((n) => n.type === 'nhs-governance')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const govs = new Map(deployed.filter((n) => n.type === 'nhs-governance').map((n) => [n.id, n]));
      assert.ok(govs.size >= 1, 'the examples\' nhs-governance deployed');
      const patientData = deployed.filter((n) => PATIENT_DATA_TYPES.has(n.type) && n.id !== 'ctl0000000000001');
      // Governance: hl7, audit, quarantine; HL7: hl7 — each imported twice.
      assert.equal(patientData.length, 8, 'both examples imported twice');
      assert.equal(new Set(patientData.map((n) => n.id)).size, 8, 'the copies have new ids');
      for (const n of patientData) assert.ok(govs.has(n.governance), `${n.type} ${n.id} names a deployed nhs-governance (${n.governance})`);
      // The copy of the Governance example is on a new tab that no governance lists: its nodes are
      // governed through their own reference alone.
      const tabs = deployed.filter((n) => n.type === 'tab' && n.label === 'Quarantine and audit');
      assert.equal(tabs.length, 2, 'the copy got its own tab');
      const listed = new Set([...govs.values()].flatMap((g) => (Array.isArray(g.tabs) ? g.tabs : [])));
      assert.ok(tabs.some((t) => !listed.has(t.id)), 'a tab list is not remapped on import copy');
      // Warnings come from the runtime's deploy; give it a moment to start every node.
      await new Promise((r) => setTimeout(r, 1000));
      const log = nr.output().slice(before);
      assert.match(log, /Started flows|Starting flows/, 'the deploy ran');
      const warned = log.split('\n').filter((l) => GOV_WARNING.test(l));
      assert.equal(warned.length, 1, `only the control warns:\n${warned.join('\n')}`);
      assert.match(warned[0]!, /control without governance/);
    } finally {
      await ctx.close();
    }
  });
});
