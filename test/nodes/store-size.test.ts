/**
 * Hazard HAZ-021 C7: a store above its size warning level says so where an operator looks — the
 * Node-RED log (STORE_SIZE_WARNING, from the store's check at open and each hour) and the status
 * of the `nhs-mllp-in` nodes that write to it (measured at start and each minute). Real SQLite.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';

const mllpIn = require('../../nodes/mllp-in');
const storeNode = require('../../nodes/store');

const dir = mkdtempSync(join(tmpdir(), 'nhs-store-size-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('store size warning', () => {
  const h = nodeRedHarness();

  it('STORE_SIZE_WARNING reaches the log at open and the mllp-in status turns yellow with the size (HAZ-021 C7)', async () => {
    // 0.01 MB = about 10 KB: an empty SQLite store in WAL mode is already larger.
    const statuses: any[] = [];
    await h.load([mllpIn, storeNode], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'big.sqlite'), durability: 'normal', sizeWarnMB: 0.01 },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [[], []] },
    ]);
    h.node('in').on('call:status', (c: any) => statuses.push(c.args[0]));
    const end = Date.now() + 10_000;
    const warned = (): any[] => h.helper.log().args.map((a: any[]) => a[0]).filter((e: any) => String(e?.msg).includes('STORE_SIZE_WARNING'));
    while (Date.now() < end && (warned().length === 0 || !statuses.some((s) => s.fill === 'yellow'))) await new Promise((r) => setTimeout(r, 100));
    const w = warned();
    assert.ok(w.length >= 1, 'the size warning is in the log');
    assert.equal(w[0].id, 'st', 'logged by the store config node');
    assert.match(w[0].msg, /STORE_SIZE_WARNING: store uses \d+ KB, over the 11 KB warning level/);
    const yellow = statuses.find((s) => s.fill === 'yellow');
    assert.ok(yellow, `the listener status warns: ${JSON.stringify(statuses)}`);
    assert.match(yellow.text, /MB/, 'with the store size');
  });

  it('below the level: no warning, the listener status stays green', async () => {
    const statuses: any[] = [];
    await h.load([mllpIn, storeNode], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'small.sqlite'), durability: 'normal', sizeWarnMB: 100 },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', ackMode: 'commit', wires: [[], []] },
    ]);
    h.node('in').on('call:status', (c: any) => statuses.push(c.args[0]));
    await new Promise((r) => setTimeout(r, 1800));
    assert.ok(statuses.some((s) => s.fill === 'green' && /MB/.test(s.text)), `measured and shown: ${JSON.stringify(statuses)}`);
    assert.ok(!statuses.some((s) => s.fill === 'yellow'));
    assert.equal(h.helper.log().args.filter((a: any[]) => String(a[0]?.msg).includes('STORE_SIZE_WARNING')).length, 0);
  });
});
