/**
 * The NHS sidebar at Node-RED's default width (315px in 4.x: `#red-ui-sidebar { width: 315px }` in the
 * editor's CSS; 300px in 5.x; issue 16 item 5) and its disclosure report (item 6), in a real editor: the built
 * package in a real Node-RED, a real SQLite store, real MLLP traffic (a listener, an endpoint
 * that ACKs, one whose peer is down), a quarantine, an nhs-audit and an nhs-monitor; Debian's
 * Chromium via playwright-core. "Visible" is measured: each value's box lies inside the
 * sidebar's visible box and no text overflows its own box — presence alone is not enough.
 * Screenshots go to test/e2e/artifacts (git-ignored); with NHS_UPDATE_SCREENSHOTS=1 the glance
 * picture is also written to docs/images/sidebar-at-a-glance.png for the README.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { adt, peerConnect, peerServer, type PeerServer } from '../helpers/mllp-peer';
import { isValidNhsNumber, nhsCheckDigit } from '../../lib/nhs/nhs-number';
import { parseCsv } from '../helpers/csv';
import { waitFor } from '../helpers/wait';
import { CHROMIUM, launchChromium } from '../helpers/browser';

// Browser globals inside page.evaluate callbacks (the tsconfig has no DOM lib).
declare const document: any;
declare const window: any;

const built = existsSync(join(repoRoot, 'dist', 'plugins', 'nhs-sidebar.js'));
const skip = !built ? 'dist/ not built (npm run build first)' : !existsSync(CHROMIUM) ? `${CHROMIUM} not installed (apt-get install -y chromium)` : false;
const artifacts = join(repoRoot, 'test', 'e2e', 'artifacts');
/** Synthetic patient, test range; 9990000018 passes the Modulus 11 check (check digit 8). */
const NHS = '9990000018';
/**
 * Node-RED's own default sidebar width for the version under test: 315 px in 4.x
 * (`#red-ui-sidebar { width: 315px }`), 300 px in 5.x (measured in CI's Node-RED 5 run).
 */
const DEFAULT_SIDEBAR_WIDTH = Number((require('node-red/package.json') as { version: string }).version.split('.')[0]) >= 5 ? 300 : 315;

interface Box { x: number; y: number; width: number; height: number }
/** Each element's box, whether its text overflows its own box, and its text. */
async function boxes(page: any, selector: string): Promise<{ box: Box; overflow: boolean; text: string }[]> {
  return page.evaluate((sel: string) => Array.from(document.querySelectorAll(sel)).map((e: any) => {
    // Bring the element into the sidebar body's view vertically only (a user scrolls down; a
    // horizontal scroll would hide the clipping this test looks for).
    const scroller = document.querySelector('.nhs-sb-body');
    if (scroller) {
      const sr = scroller.getBoundingClientRect();
      const before = e.getBoundingClientRect();
      if (before.top < sr.top || before.bottom > sr.bottom) scroller.scrollTop += before.top - sr.top - 4;
    }
    const r = e.getBoundingClientRect();
    return { box: { x: r.x, y: r.y, width: r.width, height: r.height }, overflow: e.scrollWidth > e.clientWidth + 1 && window.getComputedStyle(e).display !== 'inline', text: String(e.innerText).trim() };
  }), selector);
}

/** Assert every element matching `selector` (at least one) is wholly inside `visible` and not overflowing. */
async function assertVisible(page: any, selector: string, visible: Box, what: string): Promise<string[]> {
  const found = await boxes(page, selector);
  assert.ok(found.length > 0, `${what}: no element ${selector}`);
  for (const f of found) {
    const b = f.box;
    assert.ok(b.width > 0 && b.height > 0, `${what} "${f.text}": not rendered`);
    assert.ok(b.x >= visible.x - 0.5 && b.x + b.width <= visible.x + visible.width + 0.5, `${what} "${f.text}" is cut off horizontally: ${JSON.stringify(b)} outside ${JSON.stringify(visible)}`);
    assert.ok(b.y >= visible.y - 0.5 && b.y + b.height <= visible.y + visible.height + 0.5, `${what} "${f.text}" is outside the visible box vertically: ${JSON.stringify(b)} vs ${JSON.stringify(visible)}`);
    assert.ok(!f.overflow, `${what} "${f.text}" overflows its own box (clipped text)`);
  }
  return found.map((f) => f.text);
}

describe('NHS sidebar at the default width (Chromium)', { skip }, () => {
  let nr: NodeRedProcess;
  let peer: PeerServer;
  let work = '';
  let ctx: any;
  let page: any;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'nhs-glance-'));
    peer = await peerServer();
    const inPort = await freePort();
    const deadPort = await freePort();
    const flows = [
      { id: 'gt1', type: 'tab', label: 'Glance e2e' },
      // The tab's governance: every audit record its nodes write carries these references.
      { id: 'ggov', type: 'nhs-governance', name: 'PAS feed DSA', agreement: 'DSA-2026-014', lawfulBasis: '6(1)(e)', condition: '9(2)(h)', purpose: 'TREAT', tabs: ['gt1'] },
      { id: 'gst', type: 'nhs-store', name: 'glance store', backend: 'sqlite', file: join(work, 'store.db'), durability: 'normal' },
      { id: 'gin', type: 'nhs-mllp-in', z: 'gt1', name: 'ADT feed', port: String(inPort), host: '127.0.0.1', ackMode: 'commit', store: 'gst', allow: '', wires: [['gout1', 'gout2', 'gau', 'gq'], []] },
      { id: 'gau', type: 'nhs-audit', z: 'gt1', store: 'gst', action: 'adt.received', wires: [[]] },
      { id: 'gq', type: 'nhs-quarantine', z: 'gt1', store: 'gst', reasonCode: 'HL7_STRUCTURE', reasonCodeType: 'str', reason: 'PV1-3 assigned patient location missing for an inpatient admission', reasonType: 'str', owner: 'PAS integration team', ownerType: 'str', sla: '0.0003', slaType: 'num', wires: [[], []] },
      { id: 'gep1', type: 'nhs-mllp-endpoint', name: 'EPR', host: '127.0.0.1', port: String(peer.port), store: 'gst', connectTimeout: 1, ackTimeout: 2, retryBase: 0.2, retryMax: 1, maxAttempts: 1000 },
      { id: 'gout1', type: 'nhs-mllp-out', z: 'gt1', endpoint: 'gep1', wires: [[], []] },
      { id: 'gep2', type: 'nhs-mllp-endpoint', name: 'Lab system', host: '127.0.0.1', port: String(deadPort), store: 'gst', connectTimeout: 1, ackTimeout: 2, retryBase: 0.5, retryMax: 2, maxAttempts: 1000 },
      { id: 'gout2', type: 'nhs-mllp-out', z: 'gt1', endpoint: 'gep2', wires: [[], []] },
      { id: 'gmon', type: 'nhs-monitor', z: 'gt1', name: 'feeds', store: 'gst', interval: 1, hold: 0, rules: JSON.stringify([{ kind: 'outbox-backlog', severity: 'critical', target: 'gep2', threshold: 0 }]), wires: [[]] },
    ];
    nr = await startNodeRed({ flows });
    const c = await waitFor('the listener', () => peerConnect(inPort).catch(() => undefined), 20000);
    const ack = await c.request(adt('GLANCE0001', { nhs: NHS }));
    c.close();
    assert.match(ack, /MSA\|AA\|GLANCE0001/);
    await waitFor('an open alert, a quarantined item and both endpoints\' state', async () => {
      const ov = (await nr.api('/nhs-interop/overview')).json() as { alerts: unknown[]; feeds: { node: string; lastMessageAt: string | null; backlog: number | null }[] };
      // SLA 0.0003 h (about 1 s): the item is overdue by the time the browser looks.
      const q = (await nr.api('/nhs-interop/quarantine?store=gst&state=open')).json() as { items: { overdue: boolean }[] };
      const ep1 = ov.feeds.find((f) => f.node === 'gep1');
      const ep2 = ov.feeds.find((f) => f.node === 'gep2');
      return ov.alerts.length === 1 && q.items.length === 1 && q.items[0]!.overdue && ep1?.lastMessageAt && ep2?.backlog === 1 ? true : undefined;
    }, 30000);
    mkdirSync(artifacts, { recursive: true });
    ctx = await launchChromium(mkdtempSync(join(work, 'chrome-')), { viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = ctx.pages()[0] ?? await ctx.newPage();
    await page.goto(nr.url);
    await page.waitForFunction(() => window.RED?.nodes?.node?.('gst') && document.querySelector('#nhs-quarantine-view'), null, { timeout: 60000 });
    await page.evaluate(() => { window.RED.sidebar.show('nhs-interop'); });
    await page.waitForSelector('#nhs-store-select', { state: 'visible' });
  });
  after(async () => {
    await ctx?.close();
    await nr?.stop();
    await peer?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('shows the open alert, the feed summary and every quarantine column unclipped at the default width', { timeout: 120000 }, async () => {
    const sidebar = await page.locator('#red-ui-sidebar').boundingBox();
    assert.equal(sidebar.width, DEFAULT_SIDEBAR_WIDTH, 'the editor\'s own default sidebar width (nothing dragged)');
    await page.click('#nhs-q-refresh');
    await page.waitForSelector('#nhs-q-list .nhs-q-row', { timeout: 15000 }).catch(async (e: unknown) => {
      await page.screenshot({ path: join(artifacts, 'sidebar-glance-failure.png') });
      throw new Error(`no quarantine rows: ${await page.locator('.nhs-sb').first().innerText()} (${String(e)})`);
    });
    await page.waitForSelector('#nhs-feeds .nhs-feed');
    await page.waitForSelector('#nhs-alerts .nhs-alert');
    // The visible box: the sidebar's scrolling body, itself inside the sidebar.
    const body = await page.locator('.nhs-sb-body').first().boundingBox();
    assert.ok(body.x >= sidebar.x && body.x + body.width <= sidebar.x + sidebar.width + 0.5, 'the body is inside the sidebar');
    assert.equal(await page.evaluate(() => { const b = document.querySelector('.nhs-sb-body'); return b.scrollWidth <= b.clientWidth; }), true, 'no horizontal scrolling in the sidebar');
    await page.screenshot({ path: join(artifacts, 'sidebar-glance-default-width.png') });
    if (process.env.NHS_UPDATE_SCREENSHOTS === '1') await page.screenshot({ path: join(repoRoot, 'docs', 'images', 'sidebar-at-a-glance.png'), clip: { x: sidebar.x - 1, y: 0, width: sidebar.width + 2, height: sidebar.y + sidebar.height } });

    const alert = await assertVisible(page, '#nhs-alerts .nhs-alert', body, 'open alert');
    assert.match(alert[0]!, /critical outbox-backlog Lab system: 1 waiting/);
    const feeds = await assertVisible(page, '#nhs-feeds .nhs-feed td', body, 'feed summary cell');
    assert.equal(feeds.length, 9, 'three feeds × (feed, last message, backlog)');
    const row = async (node: string, col: string): Promise<string> => page.locator(`#nhs-feeds .nhs-feed[data-node="${node}"] [data-col="${col}"]`).innerText();
    assert.match(await row('gin', 'feed'), /ADT feed/);
    assert.match(await row('gin', 'last'), /\d{1,2}:\d{2}/, 'the listener\'s last message time');
    assert.equal(await row('gin', 'backlog'), '0', 'commit mode: nothing kept un-handed');
    assert.match(await row('gep1', 'last'), /\d{1,2}:\d{2}/, 'the endpoint that ACKs: its last delivery');
    assert.equal(await row('gep1', 'backlog'), '0');
    assert.equal(await row('gep2', 'last'), 'none yet');
    assert.match(await row('gep2', 'backlog'), /^1\s+oldest \d+ min/);

    const got: Record<string, string> = {};
    for (const col of ['code', 'reason', 'owner', 'age', 'patient', 'state']) got[col] = (await assertVisible(page, `#nhs-q-list .nhs-q-row [data-col="${col}"]`, body, `quarantine ${col}`))[0]!;
    assert.deepEqual({ ...got, age: /^\d+ min$/.test(got.age!) }, {
      code: 'HL7_STRUCTURE', reason: 'PV1-3 assigned patient location missing for an inpatient admission', owner: 'PAS integration team', age: true,
      patient: '999 *** **18', state: 'open',
    });
    const age = page.locator('#nhs-q-list .nhs-q-row [data-col="age"]');
    assert.equal(await age.evaluate((e: any) => e.classList.contains('nhs-overdue')), true, 'past its SLA: the admin API\'s overdue flag shows the age in red');
    assert.match(await age.getAttribute('title'), /^due \d{4}-/);
    // Header names the columns that stayed; the text of the whole list shows no unmasked number.
    await assertVisible(page, '#nhs-q-list thead th', body, 'quarantine header');
    assert.doesNotMatch(await page.locator('.nhs-sb').first().innerText(), /9990000018|999 000 0018|TESTPATIENT/);

    // The item's detail carries the rest, also inside the sidebar.
    await page.locator('#nhs-q-list .nhs-q-row').first().click();
    await page.waitForSelector('#nhs-q-payload');
    const detailBody = await page.locator('.nhs-sb-body').first().boundingBox();
    await page.locator('#nhs-q-detail .nhs-kv').scrollIntoViewIfNeeded();
    const kv = (await assertVisible(page, '#nhs-q-detail .nhs-kv td', detailBody, 'quarantine detail')).join('\n');
    for (const label of ['State', 'Reason', 'Owner', 'Age', 'Patient', 'Node']) assert.match(kv, new RegExp(`^${label}$`, 'm'));
    assert.match(kv, /999 \*\*\* \*\*18/);
    assert.doesNotMatch(kv, /9990000018/);
    await page.screenshot({ path: join(artifacts, 'sidebar-glance-quarantine-detail.png') });
  });

  it('the audit view fits too: when, action, outcome in the row; the rest in its detail', { timeout: 60000 }, async () => {
    await page.click('#nhs-view-audit');
    await page.fill('#nhs-a-nhs', '999 000 0018');
    await page.click('#nhs-a-search');
    await page.waitForSelector('#nhs-a-list .nhs-a-row');
    const body = await page.locator('.nhs-sb-body').first().boundingBox();
    await page.locator('#nhs-a-list').scrollIntoViewIfNeeded();
    const first = page.locator('#nhs-a-list .nhs-a-row', { hasText: 'adt.received' }).first();
    await first.scrollIntoViewIfNeeded();
    const seq = await first.getAttribute('data-seq');
    for (const col of ['when', 'action', 'node', 'outcome']) await assertVisible(page, `#nhs-a-list .nhs-a-row[data-seq="${seq}"] [data-col="${col}"]`, body, `audit ${col}`);
    await first.click();
    await page.waitForSelector('#nhs-a-list .nhs-a-more');
    await page.locator('#nhs-a-list .nhs-a-more').scrollIntoViewIfNeeded();
    const detail = (await assertVisible(page, '#nhs-a-list .nhs-a-more .nhs-kv td', body, 'audit detail')).join('\n');
    for (const label of ['Record', 'Time', 'Node', 'Flow', 'Actor', 'Patient', 'Ref']) assert.match(detail, new RegExp(`^${label}$`, 'm'));
    assert.match(detail, /Glance e2e/, 'the flow by its name');
    assert.match(detail, /999 \*\*\* \*\*18/);
    assert.match(detail, /GLANCE0001/);
    await page.waitForSelector('#nhs-a-trail .nhs-a-row');
    assert.equal(await page.evaluate(() => { const b = document.querySelector('.nhs-sb-body'); return b.scrollWidth <= b.clientWidth; }), true, 'no horizontal scrolling in the audit view');
    await page.screenshot({ path: join(artifacts, 'sidebar-glance-audit.png') });
  });

  it('disclosure report: validates the NHS number, shows one patient\'s rows, and the CSV matches them', { timeout: 60000 }, async () => {
    await page.click('#nhs-view-disclosure');
    const today = new Date();
    const yearAgo = new Date(today);
    yearAgo.setFullYear(today.getFullYear() - 1);
    const ymd = (d: Date): string => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    assert.equal(await page.inputValue('#nhs-d-from'), ymd(yearAgo), 'default period: the last 12 months');
    assert.equal(await page.inputValue('#nhs-d-to'), ymd(today));
    // The browser's check agrees with lib/nhs/nhs-number.ts on valid numbers, every wrong check
    // digit of them, prefixes whose remainder gives 10 (no valid number) and malformed input.
    const table: string[] = ['9000000009', '9990000018', '9434765919', '', '999000001', '99900000188', '999 000 0018', 'abcdefghij'];
    for (let p = 999000000; table.length < 400; p += 7) {
      const first9 = String(p);
      for (let d = 0; d <= 9; d++) table.push(first9 + d);
    }
    assert.ok(table.some((n) => /^\d{10}$/.test(n) && nhsCheckDigit(n.slice(0, 9)) === undefined), 'the table has a remainder-10 prefix');
    const browser: boolean[] = await page.evaluate((ns: string[]) => ns.map((n) => window.nhsInterop.validNhsNumber(n)), table);
    assert.deepEqual(browser, table.map((n) => isValidNhsNumber(n)));
    // Client-side checks: a wrong check digit and a short number never reach the server.
    await page.fill('#nhs-d-nhs', '999 000 0019');
    await page.click('#nhs-d-run');
    assert.match(await page.locator('#nhs-d-msg').innerText(), /check digit/);
    await page.fill('#nhs-d-nhs', '99900');
    await page.click('#nhs-d-run');
    assert.match(await page.locator('#nhs-d-msg').innerText(), /10 digits/);

    await page.fill('#nhs-d-nhs', '999 000 0018');
    await page.click('#nhs-d-run');
    await page.waitForSelector('#nhs-d-table .nhs-d-row', { timeout: 15000 }).catch(async (e: unknown) => {
      throw new Error(`no report rows: ${await page.locator('#nhs-d-view, #nhs-disclosure-view').first().innerText()} (${String(e)})`);
    });
    assert.match(await page.locator('#nhs-d-summary').innerText(), /exchange\(s\) of 999 000 0018/);
    const body = await page.locator('.nhs-sb-body').first().boundingBox();
    await page.locator('#nhs-d-table').scrollIntoViewIfNeeded();
    assert.equal(await page.evaluate(() => { const b = document.querySelector('.nhs-sb-body'); return b.scrollWidth <= b.clientWidth; }), true, 'no horizontal scrolling in the report');
    await page.screenshot({ path: join(artifacts, 'sidebar-disclosure-report.png') });
    const onScreen: Record<string, string>[] = await page.evaluate(() => Array.from(document.querySelectorAll('#nhs-d-table .nhs-d-row')).map((tr: any) => {
      const o: Record<string, string> = {};
      for (const e of Array.from<any>(tr.querySelectorAll('[data-col]'))) o[e.getAttribute('data-col')] = e.innerText.trim();
      return o;
    }));
    // The rows the flow made for this patient: received, audited, parked.
    const actions = onScreen.map((r) => r.action);
    for (const a of ['adt.received', 'quarantine.park']) {
      const r = onScreen.find((x) => x.action === a);
      assert.ok(r, `report shows ${a}: ${actions.join(', ')}`);
      assert.equal(r.agreement, 'DSA-2026-014', `${a} under the tab's agreement`);
      assert.equal(r.flow, 'Glance e2e');
    }
    const firstRow = page.locator('#nhs-d-table .nhs-d-row').first();
    await firstRow.scrollIntoViewIfNeeded();
    for (const col of ['when', 'node', 'action', 'outcome', 'flow', 'route', 'agreement', 'purpose', 'basis']) await assertVisible(page, `#nhs-d-table .nhs-d-row:first-child [data-col="${col}"]`, body, `report ${col}`);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#nhs-d-csv')]);
    assert.match(download.suggestedFilename(), new RegExp(`^disclosure-${NHS}-\\d{4}-\\d{2}-\\d{2}-\\d{4}-\\d{2}-\\d{2}\\.csv$`));
    const csv = readFileSync(await download.path(), 'utf8');
    const [header, ...lines] = parseCsv(csv);
    assert.equal(header!.join(','), 'at,flow,flowName,node,nodeName,nodeType,action,outcome,actor,source,destination,agreement,purpose,lawfulBasis,condition,correlationId,messageId');
    // A cell starting = + - @ carries a leading ' against spreadsheet formula injection.
    const rows = lines.map((l) => Object.fromEntries(l.map((v, i) => [header![i], v.replace(/^'(?=[=+\-@\t\r])/, '')])));
    // The CSV's rows are the screen's rows, in the same order (a report's own audit record is never a row of a later one).
    assert.equal(rows.length, onScreen.length, `CSV ${rows.length} rows, screen ${onScreen.length}`);
    onScreen.forEach((s, i) => {
      const c = rows[i]!;
      const w = String(c.at).replace('T', ' ');
      assert.equal(s.when, `${w.slice(0, 10)}\n${w.slice(11, 19)}`, `row ${i} when`);
      assert.equal(s.node, c.nodeName || c.nodeType || c.node, `row ${i} node`);
      assert.equal(s.flow, c.flowName || c.flow, `row ${i} flow`);
      assert.equal(s.agreement, c.agreement || 'none recorded', `row ${i} agreement`);
      assert.equal(s.purpose, c.purpose ?? '', `row ${i} purpose`);
      assert.equal(s.outcome, c.outcome, `row ${i} outcome`);
      assert.equal(s.action, c.action, `row ${i} action`);
      const route = c.source || c.destination ? `${c.source || '?'} → ${c.destination || '?'}` : '';
      assert.equal(s.route, route, `row ${i} from → to`);
      assert.equal(s.basis, [c.lawfulBasis, c.condition].filter(Boolean).join(' · '), `row ${i} lawful basis · condition`);
    });
    assert.doesNotMatch(csv, /TESTPATIENT|19800101/, 'no names or birth dates in the report');
    // The report itself is audited as a reveal of this patient.
    const audit = (await nr.api(`/nhs-interop/audit?store=gst&nhsNumber=${NHS}`)).json() as { records: { action: string; actor: string }[] };
    assert.ok(audit.records.filter((r) => r.action === 'disclosure.report').length >= 2, 'the on-screen report and the CSV download are both audited');
  });
});
