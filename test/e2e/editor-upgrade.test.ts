/**
 * The editor side of config versions and message catalogs, in a real Node-RED editor (Debian's
 * Chromium, playwright-core): a flow saved before nodes had a `version` opens, its labels come
 * from the node's message catalog, and editing + deploying saves it as version 1.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { CHROMIUM, launchChromium } from '../helpers/browser';

declare const window: any;
declare const document: any;

const built = existsSync(join(repoRoot, 'dist', 'nodes', 'hl7.js'));
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed: editor test skipped` : built ? false : 'dist/ not built (npm test builds it first)';
const fixture = JSON.parse(readFileSync(join(repoRoot, 'test', 'nodes', 'fixtures', 'flow-before-versions.json'), 'utf8'));

describe('editor: a flow saved before config versions', { skip }, () => {
  let nr: NodeRedProcess;
  let tmp = '';
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'nhs-editor-'));
    nr = await startNodeRed({ flows: fixture, timeoutMs: 60000 });
  });
  after(async () => {
    await nr?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('shows catalog labels, and saves version 1 once a node is edited and deployed', { timeout: 120000 }, async () => {
    const ctx = await launchChromium(mkdtempSync(join(tmp, 'chrome-')), { viewport: { width: 1400, height: 900 } });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    try {
      await page.goto(nr.url);
      await page.waitForFunction(() => window.RED?.nodes?.node?.('h1'), null, { timeout: 60000 });
      assert.equal(await page.evaluate(() => window.RED.nodes.node('h1').version), undefined, 'loaded as it was saved');
      assert.equal(await page.evaluate(() => window.RED.nodes.getType('nhs-hl7').outputLabels.call(window.RED.nodes.node('h1'), 1)), 'invalid', 'output label from the catalog');
      await page.evaluate(() => { window.RED.editor.edit(window.RED.nodes.node('h1')); });
      await page.waitForSelector('#node-input-action', { state: 'visible' });
      assert.equal((await page.locator('label[for="node-input-action"] span').textContent())?.trim(), 'Action', 'label from hl7.json');
      assert.match((await page.locator('#node-input-action option[value="parse"]').textContent()) ?? '', /^Parse: HL7 text/);
      await page.click('#node-dialog-ok');
      await page.waitForFunction(() => !document.querySelector('#node-input-action'));
      assert.equal(await page.evaluate(() => window.RED.nodes.node('h1').version), 1, 'upgraded when edited');
      await page.evaluate(() => { window.RED.nodes.dirty(true); });
      await page.click('#red-ui-header-button-deploy');
      let saved: any;
      for (let i = 0; i < 100; i++) {
        const flows = (await nr.api('/flows')).json();
        saved = (Array.isArray(flows) ? flows : flows.flows).find((n: any) => n.id === 'h1');
        if (saved?.version === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(saved?.version, 1, 'the deployed flow carries version 1');
    } finally {
      await ctx.close();
    }
  });

  it('a quarantine node saved before Two-person release opens with it unticked and is saved off; a new node has it on (HAZ-014 C7, HAZ-025)', { timeout: 120000 }, async () => {
    const ctx = await launchChromium(mkdtempSync(join(tmp, 'chrome-2p-')), { viewport: { width: 1400, height: 900 } });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    try {
      await page.goto(nr.url);
      await page.waitForFunction(() => window.RED?.nodes?.node?.('q1'), null, { timeout: 60000 });
      assert.equal(await page.evaluate(() => window.RED.nodes.getType('nhs-quarantine').defaults.twoPersonRelease.value), true, 'new nodes: on');
      assert.equal(await page.evaluate(() => window.RED.nodes.node('q1').twoPersonRelease), undefined, 'loaded as it was saved');
      await page.evaluate(() => { window.RED.editor.edit(window.RED.nodes.node('q1')); });
      await page.waitForSelector('#node-input-twoPersonRelease', { state: 'visible' });
      assert.equal(await page.locator('#node-input-twoPersonRelease').isChecked(), false, 'the old meaning (off) is what the dialog shows');
      assert.match((await page.locator('label[for="node-input-twoPersonRelease"] span').textContent()) ?? '', /^Two-person release/);
      await page.click('#node-dialog-ok');
      await page.waitForFunction(() => !document.querySelector('#node-input-twoPersonRelease'));
      assert.equal(await page.evaluate(() => window.RED.nodes.node('q1').twoPersonRelease), false, 'saved off, not silently on');
    } finally {
      await ctx.close();
    }
  });

  it('an nhs-mllp-in saved before the hand-off setting opens and saves as grace; a new one defaults to confirm (HAZ-005 C8, HAZ-025)', { timeout: 120000 }, async () => {
    const ctx = await launchChromium(mkdtempSync(join(tmp, 'chrome-')), { viewport: { width: 1400, height: 900 } });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    try {
      await page.goto(nr.url);
      await page.waitForFunction(() => window.RED?.nodes?.node?.('mi1'), null, { timeout: 60000 });
      assert.equal(await page.evaluate(() => window.RED.nodes.node('mi1').handoff), undefined, 'loaded as it was saved');
      assert.equal(await page.evaluate(() => window.RED.nodes.getType('nhs-mllp-in').defaults.handoff.value), 'confirm', 'new nodes: confirm');
      await page.evaluate(() => { window.RED.editor.edit(window.RED.nodes.node('mi1')); });
      await page.waitForSelector('#node-input-ackMode', { state: 'visible' });
      assert.equal(await page.evaluate(() => document.querySelector('#node-input-handoff').value), 'grace', 'the dialog shows what it runs with');
      await page.click('#node-dialog-ok');
      await page.waitForFunction(() => !document.querySelector('#node-input-ackMode'));
      assert.equal(await page.evaluate(() => window.RED.nodes.node('mi1').handoff), 'grace', 'saved with its old meaning, not the new default');
    } finally {
      await ctx.close();
    }
  });
});
