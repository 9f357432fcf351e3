/**
 * The README's "first ten minutes" pictures, taken from the real thing: what `npm start` deploys
 * (scripts/demo-flows.mjs) runs in a real Node-RED with the built package while the simulator
 * feeds it; Debian's Chromium (playwright-core) opens the editor on the Referral tab, the NHS
 * sidebar's quarantine view and one synthetic patient's audit trail, and saves them to
 * docs/images/ (committed; this test regenerates them with NHS_UPDATE_SCREENSHOTS=1).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { sharedDir, skipWithoutShared } from '../helpers/shared';
import { waitFor } from '../helpers/wait';
import { CHROMIUM, launchChromium } from '../helpers/browser';

// Browser globals inside page.evaluate/waitForFunction callbacks (the tsconfig has no DOM lib).
declare const window: any;
declare const document: any;

const built = existsSync(join(repoRoot, 'dist', 'nodes', 'hl7-to-fhir.js'));
const skip = !built ? 'dist/ not built (npm run build first)'
  : !existsSync(CHROMIUM) ? `${CHROMIUM} not installed: README screenshots not regenerated`
    : skipWithoutShared('fhir-packages');
// The README's pictures are rewritten only on request (NHS_UPDATE_SCREENSHOTS=1), so a test run
// leaves the working tree clean; otherwise they go to a temporary folder and are still checked.
const images = process.env.NHS_UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'images') : mkdtempSync(join(tmpdir(), 'nhs-shots-'));


describe('README screenshots of the running demo (Chromium)', { skip }, () => {
  let nr: NodeRedProcess;
  let work = '';
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'nhs-shots-'));
    mkdirSync(join(work, 'esr-example', 'in'), { recursive: true });
    nr = await startNodeRed({ flows: [], settings: { fileWorkingDirectory: work }, env: { FHIR_PACKAGE_CACHE: join(sharedDir, 'fhir-packages') } });
    const { demoFlows } = (await import(pathToFileURL(join(repoRoot, 'scripts', 'demo-flows.mjs')).href)) as { demoFlows: (o: { url: string; port: (n: number) => number }) => any[] };
    const ports = new Map<number, number>();
    for (const n of demoFlows({ url: nr.url, port: (p) => p })) if (n.port && !ports.has(Number(n.port))) ports.set(Number(n.port), await freePort());
    await nr.deploy(demoFlows({ url: nr.url, port: (p) => ports.get(p) ?? p }));
    // Enough traffic for the pictures: a Task, quarantined referrals and lab results.
    await waitFor('traffic in every path', async () => {
      const q = (await nr.api('/nhs-interop/quarantine?state=open')).json().items as any[];
      const r = await fetch(`${nr.url}/epr/Task`);
      // 404 until the flow's HTTP routes are registered.
      const tasks = r.ok ? ((await r.json()) as { total: number }).total : 0;
      return q.length >= 2 && tasks >= 2 ? true : undefined;
    }, 60000);
  });
  after(async () => { await nr?.stop(); if (work) rmSync(work, { recursive: true, force: true }); });

  it('the editor with the demo running, the quarantine view, one patient\'s audit trail', async () => {
    mkdirSync(images, { recursive: true });
    const profile = mkdtempSync(join(work, 'chrome-'));
    const ctx = await launchChromium(profile, { viewport: { width: 1400, height: 820 } });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    try {
      await page.goto(nr.url);
      await page.waitForFunction(() => (window).RED?.nodes?.node?.('ref01pds1') && document.querySelector('#nhs-quarantine-view'), null, { timeout: 60000 });
      await page.evaluate(() => { (window).RED.workspaces.show('ref01tab'); });
      // Node statuses with counts (the PDS lookup's and validator's) are on the canvas.
      await page.waitForFunction(() => document.querySelectorAll('.red-ui-flow-node-status-label').length >= 3, null, { timeout: 30000 });
      // The whole flow in view: the editor's own zoom out.
      await page.evaluate(() => { for (let i = 0; i < 4; i++) (window).RED.actions.invoke('core:zoom-out'); (window).RED.actions.invoke('core:toggle-sidebar'); });
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(images, 'demo-editor.png') });
      await page.evaluate(() => { (window).RED.actions.invoke('core:toggle-sidebar'); });

      await page.evaluate(() => { (window).RED.sidebar.show('nhs-interop'); });
      await page.waitForSelector('#nhs-store-select', { state: 'visible' });
      const sep = await page.locator('#red-ui-sidebar-separator').boundingBox();
      if (sep) {
        await page.mouse.move(sep.x + sep.width / 2, sep.y + sep.height / 2);
        await page.mouse.down();
        await page.mouse.move(sep.x - 380, sep.y + sep.height / 2, { steps: 8 });
        await page.mouse.up();
      }
      await page.click('#nhs-q-refresh');
      await page.waitForFunction(() => document.querySelectorAll('#nhs-q-list .nhs-q-row').length >= 2, null, { timeout: 30000 });
      const list = await page.locator('#nhs-q-list').innerText();
      assert.match(list, /referrals team|clinical coding|PAS team|pathology team/, 'owners shown');
      assert.doesNotMatch(list, /9990000018|9990000026|DEMOPATIENT|EXAMPLEPERSON/, 'patient data masked');
      await page.locator('#nhs-q-list .nhs-q-row').first().click();
      await page.waitForSelector('#nhs-q-payload');
      // The picture is of the list (code, reason, owner, age) with the detail's start under it.
      await page.evaluate(() => document.querySelector('#nhs-q-list').scrollIntoView({ block: 'start' }));
      await page.screenshot({ path: join(images, 'demo-quarantine.png') });

      await page.click('#nhs-view-audit');
      await page.fill('#nhs-a-nhs', '999 000 0026');
      await page.click('#nhs-a-search');
      await page.waitForSelector('#nhs-a-list .nhs-a-row');
      await page.locator('#nhs-a-list .nhs-a-row', { hasText: 'referral.triage-task' }).first().click();
      await page.waitForSelector('#nhs-a-trail .nhs-a-row');
      await page.locator('#nhs-a-trail').scrollIntoViewIfNeeded();
      const trail = await page.locator('#nhs-a-trail').innerText();
      for (const step of ['pds.verify', 'validate', 'snomed.map', 'referral.triage-task']) assert.match(trail, new RegExp(step.replace('.', '\\.')), `trail shows ${step}`);
      await page.screenshot({ path: join(images, 'demo-audit-trail.png') });
    } finally {
      await ctx.close();
    }
    for (const f of ['demo-editor.png', 'demo-quarantine.png', 'demo-audit-trail.png']) {
      const size = statSync(join(images, f)).size;
      assert.ok(size > 10_000 && size < 600_000, `${f}: ${size} bytes`);
    }
  });
});
