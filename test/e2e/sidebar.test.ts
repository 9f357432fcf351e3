/**
 * Browser test of the NHS sidebar: a real Node-RED (node_modules/node-red) with this package
 * compiled into a temp dir, a real SQLite store, Debian's Chromium driven by playwright-core.
 * Screenshots of each state go to test/e2e/artifacts (git-ignored).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ADT } from '../lib/quarantine/fixtures';
import { CHROMIUM, launchChromium } from '../helpers/browser';

// Browser globals inside page.evaluate/waitForFunction callbacks (the tsconfig has no DOM lib).
declare const window: any;
declare const document: any;

const root = join(__dirname, '..', '..');
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install -y chromium): sidebar browser test skipped`;
const artifacts = join(root, 'test', 'e2e', 'artifacts');

/** Compile to `pkg/dist` and copy the assets Node-RED reads, as scripts/build.mjs does. */
function buildPackage(pkg: string): void {
  const dist = join(pkg, 'dist');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { encoding: 'utf8' });
  // tsc still emits when some other part of the tree has type errors; our files must exist.
  if (!existsSync(join(dist, 'nodes', 'quarantine.js')) || !existsSync(join(dist, 'plugins', 'nhs-sidebar.js'))) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
  const copy = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const src = join(dir, name);
      if (statSync(src).isDirectory()) copy(src);
      else if (!/\.(ts|mts|cts)$/.test(name)) {
        const dest = join(dist, relative(root, src));
        mkdirSync(dirname(dest), { recursive: true });
        cpSync(src, dest);
      }
    }
  };
  copy(join(root, 'nodes'));
  copy(join(root, 'plugins'));
  cpSync(join(root, 'icons'), join(dist, 'nodes', 'icons'), { recursive: true });
  const p = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  // Only the nodes this test needs: other nodes of the package are tested on their own.
  p['node-red'].nodes = { 'nhs-store': 'dist/nodes/store.js', 'nhs-audit': 'dist/nodes/audit.js', 'nhs-quarantine': 'dist/nodes/quarantine.js' };
  writeFileSync(join(pkg, 'package.json'), JSON.stringify(p, null, 2));
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
}

let nrLog = '';

function startNodeRed(userDir: string): Promise<{ proc: ChildProcess; url: string }> {
  writeFileSync(join(userDir, 'settings.js'), `module.exports = {
    uiHost: '127.0.0.1', uiPort: 0, flowFile: 'flows.json', credentialSecret: 'e2e',
    logging: { console: { level: 'info' } },
    telemetry: { enabled: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    functionExternalModules: false,
  };`);
  const proc = spawn(process.execPath, [join(root, 'node_modules', 'node-red', 'red.js'), '--userDir', userDir, '--settings', join(userDir, 'settings.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const t = setTimeout(() => reject(new Error(`Node-RED did not start:\n${log}`)), 60000);
    const on = (b: Buffer): void => {
      log += b.toString();
      nrLog = log.slice(-4000);
      const m = /Server now running at (http:\/\/127\.0\.0\.1:\d+)\//.exec(log);
      if (m) { clearTimeout(t); resolve({ proc, url: m[1]! }); }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
    proc.on('exit', (c) => { clearTimeout(t); reject(new Error(`Node-RED exited ${c}:\n${log}`)); });
  });
}

describe('NHS sidebar in a real editor', { skip }, () => {
  let tmp = '';
  let nr: { proc: ChildProcess; url: string } | undefined;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'nhs-e2e-'));
    const pkg = join(tmp, 'pkg');
    mkdirSync(pkg);
    buildPackage(pkg);
    const userDir = join(tmp, 'user');
    mkdirSync(join(userDir, 'node_modules'), { recursive: true });
    symlinkSync(pkg, join(userDir, 'node_modules', 'node-red-contrib-nhs-interop'), 'dir');
    nr = await startNodeRed(userDir);
    mkdirSync(artifacts, { recursive: true });
  });
  after(async () => {
    if (nr) { nr.proc.kill('SIGTERM'); await new Promise((r) => { nr!.proc.once('exit', r); setTimeout(r, 5000); }); }
    rmSync(tmp, { recursive: true, force: true });
  });

  it('lists, edits with a diff preview, releases into the flow, discards, finds the trail, verifies the chain', { timeout: 180000 }, async () => {
    const base = nr!.url;
    const storeFile = join(tmp, 'store.db');
    const flow = [
      { id: 'f1', type: 'tab', label: 'Governance e2e' },
      { id: 's1', type: 'nhs-store', name: 'e2e store', backend: 'sqlite', file: storeFile, durability: 'normal' },
      { id: 'in1', type: 'http in', z: 'f1', url: '/e2e/park', method: 'post', wires: [['q1', 'ok1']] },
      { id: 'ok1', type: 'http response', z: 'f1', statusCode: '202', wires: [] },
      { id: 'q1', type: 'nhs-quarantine', z: 'f1', name: 'hold', store: 's1', reasonCode: 'HL7_STRUCTURE', reasonCodeType: 'str', reason: 'PV1-3 location missing', reasonType: 'str', owner: 'PAS team', ownerType: 'str', sla: '4', slaType: 'num', wires: [['a1'], []] },
      { id: 'a1', type: 'nhs-audit', z: 'f1', store: 's1', action: 'released.check', wires: [['fn1']] },
      { id: 'fn1', type: 'function', z: 'f1', func: "const a = global.get('released') || []; a.push(msg.payload); global.set('released', a); return null;", outputs: 1, wires: [[]] },
      { id: 'in2', type: 'http in', z: 'f1', url: '/e2e/released', method: 'get', wires: [['fn2']] },
      { id: 'fn2', type: 'function', z: 'f1', func: "msg.payload = global.get('released') || []; return msg;", outputs: 1, wires: [['ok2']] },
      { id: 'ok2', type: 'http response', z: 'f1', wires: [] },
    ];
    const dep = await fetch(`${base}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(flow) });
    assert.ok(dep.status === 200 || dep.status === 204, await dep.text());
    const msgs = [ADT, ADT.replace('MSG0001', 'MSG0002').replace('9000000009', '9990000026'), ADT.replace('MSG0001', 'MSG0003').replace('9000000009', '9990000034')];
    // The deploy answers before the flow has started: wait for its http-in route.
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`${base}/e2e/released`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const m of msgs) {
      const r = await fetch(`${base}/e2e/park`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: m });
      assert.equal(r.status, 202, nrLog);
    }

    const profile = mkdtempSync(join(tmp, 'chrome-'));
    const ctx = await launchChromium(profile, { viewport: { width: 1500, height: 950 } });
    const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    try {
      await page.goto(base);
      // Wait until the flows are in the editor (the editor re-selects its own tab while loading).
      await page.waitForFunction(() => (window).RED?.nodes?.node?.('s1') && document.querySelector('#nhs-quarantine-view'), null, { timeout: 60000 });
      await page.evaluate(() => { (window).RED.sidebar.show('nhs-interop'); });
      await page.waitForSelector('#nhs-store-select', { state: 'visible' });
      // Drag the sidebar wider so the screenshots are readable.
      const sep = await page.locator('#red-ui-sidebar-separator').boundingBox();
      if (sep) {
        await page.mouse.move(sep.x + sep.width / 2, sep.y + sep.height / 2);
        await page.mouse.down();
        await page.mouse.move(sep.x - 420, sep.y + sep.height / 2, { steps: 8 });
        await page.mouse.up();
      }
      await page.locator('#nhs-store-select').selectOption('s1');
      await page.click('#nhs-q-refresh');
      await page.waitForFunction(() => document.querySelectorAll('#nhs-q-list .nhs-q-row').length === 3);
      const listText = await page.locator('#nhs-q-list').innerText();
      assert.match(listText, /HL7_STRUCTURE/);
      assert.match(listText, /900 \*\*\* \*\*09/);
      assert.doesNotMatch(listText, /9000000009/);
      await shot('01-quarantine-list');

      // Detail (masked), then edit with a diff preview and release.
      const first = page.locator('#nhs-q-list .nhs-q-row', { hasText: '900 *** **09' });
      await first.click();
      await page.waitForSelector('#nhs-q-payload');
      const masked = await page.locator('#nhs-q-payload').innerText();
      assert.doesNotMatch(masked, /SMITH|9000000009/);
      assert.match(masked, /S\. J\. A\./);
      await shot('02-detail-masked');
      await page.click('#nhs-q-edit');
      await page.waitForSelector('#nhs-q-edit-text');
      const text = await page.locator('#nhs-q-edit-text').inputValue();
      assert.match(text, /SMITH/, 'the edit box holds the revealed message');
      await page.fill('#nhs-q-edit-text', text.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2'));
      await page.click('#nhs-q-preview');
      await page.waitForSelector('#nhs-q-diff .nhs-diff-add');
      assert.equal(await page.locator('#nhs-q-diff .nhs-diff-add').innerText(), '+ PV1|1|I|WARD2');
      assert.equal(await page.locator('#nhs-q-diff .nhs-diff-del').innerText(), '- PV1|1|I|WARD1');
      await page.locator('#nhs-q-diff').scrollIntoViewIfNeeded();
      await shot('03-edit-diff-preview');
      await page.click('#nhs-q-release-edited');
      await page.waitForFunction(() => document.querySelectorAll('#nhs-q-list .nhs-q-row').length === 2);
      await shot('04-released');
      let released: string[] = [];
      for (let i = 0; i < 50 && released.length === 0; i++) {
        released = await (await fetch(`${base}/e2e/released`)).json() as string[];
        if (!released.length) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(released.length, 1);
      assert.equal(released[0], ADT.replace('WARD1', 'WARD2'), 'the edited message reached the next node');

      // Discard another, with a reason.
      await page.locator('#nhs-q-list .nhs-q-row', { hasText: '999 *** **26' }).click();
      await page.click('#nhs-q-discard');
      await page.fill('#nhs-q-discard-reason', 'duplicate of MSG0001');
      await page.locator('#nhs-q-discard-reason').scrollIntoViewIfNeeded();
      await shot('05-discard-reason');
      await page.click('#nhs-q-discard-confirm');
      await page.waitForFunction(() => document.querySelectorAll('#nhs-q-list .nhs-q-row').length === 1);
      await page.selectOption('#nhs-q-state', '');
      await page.click('#nhs-q-refresh');
      await page.waitForFunction(() => document.querySelectorAll('#nhs-q-list .nhs-q-row').length === 3);
      const all = await page.locator('#nhs-q-list').innerText();
      assert.match(all, /released \(edited\)/);
      assert.match(all, /discarded/);
      await shot('06-all-states');

      // Audit: trail by NHS number, the message's trail across nodes, verify the chain.
      await page.click('#nhs-view-audit');
      await page.fill('#nhs-a-nhs', '900 000 0009');
      await page.click('#nhs-a-search');
      await page.waitForSelector('#nhs-a-list .nhs-a-row');
      const auditText = await page.locator('#nhs-a-list').innerText();
      for (const a of ['quarantine.park', 'quarantine.view', 'quarantine.reveal', 'quarantine.release', 'released.check']) assert.match(auditText, new RegExp(a.replace('.', '\\.')));
      assert.doesNotMatch(auditText, /9000000009/);
      await page.locator('#nhs-a-list .nhs-a-row', { hasText: 'released.check' }).first().click();
      await page.waitForSelector('#nhs-a-trail .nhs-a-row');
      const trail = await page.locator('#nhs-a-trail').innerText();
      assert.match(trail, /quarantine\.park[\s\S]*quarantine\.release[\s\S]*released\.check/);
      assert.equal(trail.match(/quarantine\.park/g)?.length, 1, 'each step stored once');
      await shot('07-audit-trail');
      await page.click('#nhs-a-verify');
      await page.waitForFunction(() => /Chain (intact|broken)/.test(document.querySelector('#nhs-a-verify-result')?.textContent ?? ''));
      assert.match(await page.locator('#nhs-a-verify-result').innerText(), /Chain intact: \d+ record/);
      await shot('08-verify-chain');
    } catch (e) {
      await shot('failure').catch(() => undefined);
      throw e;
    } finally {
      await ctx.close();
    }
  });

  it('two-person release at the default width: Save edit records the editor; the detail says who edited and, before anyone tries, that without adminAuth nobody may release it', { timeout: 180000 }, async () => {
    const base = nr!.url;
    const flow = [
      { id: 'f2', type: 'tab', label: 'Two-person e2e' },
      { id: 's2', type: 'nhs-store', name: 'two-person store', backend: 'sqlite', file: join(tmp, 'two.db'), durability: 'normal' },
      { id: 'in3', type: 'http in', z: 'f2', url: '/e2e/park2', method: 'post', wires: [['q2', 'ok3']] },
      { id: 'ok3', type: 'http response', z: 'f2', statusCode: '202', wires: [] },
      { id: 'q2', type: 'nhs-quarantine', z: 'f2', name: 'hold (two-person)', store: 's2', reasonCode: 'HL7_STRUCTURE', reasonCodeType: 'str', reason: 'PV1-3 location missing', reasonType: 'str', owner: 'PAS team', ownerType: 'str', sla: '4', slaType: 'num', twoPersonRelease: true, wires: [[], []] },
    ];
    const dep = await fetch(`${base}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(flow) });
    assert.ok(dep.status === 200 || dep.status === 204, await dep.text());
    let parked = 0;
    for (let i = 0; i < 100 && parked !== 202; i++) {
      parked = (await fetch(`${base}/e2e/park2`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: ADT })).status;
      if (parked !== 202) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(parked, 202, nrLog);

    const ctx = await launchChromium(mkdtempSync(join(tmp, 'chrome-2p-')), { viewport: { width: 1500, height: 950 } });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) });
    try {
      await page.goto(base);
      await page.waitForFunction(() => (window).RED?.nodes?.node?.('s2') && document.querySelector('#nhs-quarantine-view'), null, { timeout: 60000 });
      await page.evaluate(() => { (window).RED.sidebar.show('nhs-interop'); });
      await page.waitForSelector('#nhs-store-select', { state: 'visible' });
      await page.locator('#nhs-store-select').selectOption('s2');
      await page.click('#nhs-q-refresh');
      await page.waitForFunction(() => document.querySelectorAll('#nhs-q-list .nhs-q-row').length === 1);
      await page.locator('#nhs-q-list .nhs-q-row').first().click();
      await page.waitForSelector('#nhs-q-payload');
      assert.equal(await page.locator('#nhs-q-release-rule').count(), 0, 'nothing to say while the item is unedited');
      assert.equal(await page.locator('#nhs-q-release').isDisabled(), false);
      await page.click('#nhs-q-edit');
      await page.waitForSelector('#nhs-q-edit-text');
      // Under the rule the editor's box saves; it has no "Release edited".
      assert.equal(await page.locator('#nhs-q-release-edited').count(), 0);
      assert.match(await page.locator('#nhs-q-two-person-note').innerText(), /another user releases it/);
      const text = await page.locator('#nhs-q-edit-text').inputValue();
      await page.fill('#nhs-q-edit-text', text.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2'));
      await page.click('#nhs-q-save-edit');
      await page.waitForSelector('#nhs-q-release-rule');
      assert.match(await page.locator('[data-col="edited-by"]').innerText(), /^anonymous, \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      const rule = await page.locator('#nhs-q-release-rule').innerText();
      assert.match(rule, /You may not release this: .*adminAuth/);
      assert.equal(await page.locator('#nhs-q-release').isDisabled(), true, 'Release is disabled before anyone tries');
      // Within the sidebar's width (wrapped, not cut off).
      const side = (await page.locator('#red-ui-sidebar').boundingBox())!;
      const box = (await page.locator('#nhs-q-release-rule').boundingBox())!;
      assert.ok(box.x >= side.x && box.x + box.width <= side.x + side.width + 0.5, `rule note ${JSON.stringify(box)} inside the sidebar ${JSON.stringify(side)}`);
      await page.locator('#nhs-q-release-rule').scrollIntoViewIfNeeded();
      await shot('09-two-person-rule');
      // The server agrees: still open, edited by anonymous; a release through the API is refused.
      const list = await (await fetch(`${base}/nhs-interop/quarantine?store=s2&state=open`)).json() as { items: { id: string; editedBy: string }[] };
      assert.deepEqual(list.items.map((i) => i.editedBy), ['anonymous']);
      const r = await fetch(`${base}/nhs-interop/quarantine/${list.items[0]!.id}/release`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ store: 's2' }) });
      assert.equal(r.status, 403);
    } catch (e) {
      await shot('failure-two-person').catch(() => undefined);
      throw e;
    } finally {
      await ctx.close();
    }
  });
});
