/**
 * examples/Operations/01 - Monitor feeds.json loads and works offline: the listener binds (a free
 * port instead of 2578), a parked message past its SLA (the rule's threshold set to 0 h and the
 * hold time to 0 for the test) opens one alert at the debug node, a second evaluation sends
 * nothing. The MQTT out node is left out (no broker needed).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { freePort } from '../helpers/node-red-process';

const coreDir = join(dirname(require.resolve('@node-red/nodes/package.json', { paths: [dirname(require.resolve('node-red'))] })), 'core');
const core = (p: string): unknown => require(join(coreDir, p));
const file = join(__dirname, '..', '..', 'examples', 'Operations', '01 - Monitor feeds.json');

describe('Operations example flows', () => {
  const h = nodeRedHarness();
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nhs-ops-ex-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('01 - Monitor feeds: one alert for the parked item, not repeated', async () => {
    const flow = (JSON.parse(readFileSync(file, 'utf8')) as any[]).filter((n) => n.type !== 'mqtt out' && n.type !== 'mqtt-broker');
    const port = await freePort();
    for (const n of flow) {
      if (n.id === 'ops01st') n.file = join(dir, 'ops.sqlite');
      if (n.id === 'ops01in') n.port = String(port);
      if (n.id === 'ops01mon') {
        n.hold = 0;
        n.rules = JSON.stringify((JSON.parse(n.rules) as any[]).map((r) => (r.kind === 'quarantine-sla' ? { ...r, threshold: 0 } : r)).filter((r) => r.kind !== 'feed-silent'));
        n.wires = [['ops01dbg']];
      }
    }
    await h.load([core('common/20-inject.js'), core('common/21-debug.js'), core('common/90-comment.js'), core('function/10-function.js'), require('../../nodes/store'), require('../../plugins/nhs-sidebar'), require('../../nodes/mllp-in'), require('../../nodes/quarantine'), require('../../nodes/monitor'), require('../../nodes/governance')], flow);
    h.node('ops01inj').receive({});
    const items = async (): Promise<number> => (await h.helper.request().get('/nhs-interop/quarantine').query({ store: 'ops01st', state: 'open' }).expect(200)).body.items.length;
    for (let i = 0; i < 50 && (await items()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const alert = h.next('ops01dbg', 10_000);
    h.node('ops01now').receive({});
    const msg = await alert;
    assert.equal(msg.alert.kind, 'quarantine-sla');
    assert.equal(msg.alert.event, 'alert');
    assert.match(msg.payload, /^ALERT \[warning\] quarantine-sla ops01st\/HL7_STRUCTURE\/pas-team/);
    const more = h.collect('ops01dbg', 1, 600).then(() => 'sent', () => 'none');
    h.node('ops01now').receive({});
    assert.equal(await more, 'none', 'not repeated');
  });
});
