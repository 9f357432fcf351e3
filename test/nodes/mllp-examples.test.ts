/** The MLLP example flows load and work offline (ports swapped for free ones, a temp store). */
import { freePort } from '../helpers/node-red-process';
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';

// The core nodes of the Node-RED this checkout runs (4.x, or 5.x in the CI's second run).
const coreDir = join(dirname(require.resolve('@node-red/nodes/package.json', { paths: [dirname(require.resolve('node-red'))] })), 'core');
const core = (p: string): unknown => require(join(coreDir, p));
const dir = mkdtempSync(join(tmpdir(), 'mllp-ex-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const examples = join(__dirname, '..', '..', 'examples', 'MLLP');


async function example(name: string, port: string): Promise<any[]> {
  const free = String(await freePort());
  const flow = JSON.parse(readFileSync(join(examples, name), 'utf8').split(`"${port}"`).join(`"${free}"`)) as any[];
  for (const n of flow) {
    if (n.type === 'nhs-mllp-in' || n.type === 'nhs-mllp-endpoint') n.store = 'exstore';
    if (n.type === 'inject') { n.once = false; n.repeat = ''; }
  }
  flow.push({ id: 'exstore', type: 'nhs-store', backend: 'sqlite', file: join(dir, `${name}.sqlite`) });
  return flow;
}

describe('MLLP example flows', () => {
  const h = nodeRedHarness();
  const modules = () => [
    core('common/20-inject.js'), core('common/21-debug.js'), core('common/90-comment.js'), core('function/10-function.js'), core('function/10-switch.js'),
    require('../../nodes/mllp-in'), require('../../nodes/mllp-out'), require('../../nodes/mllp-response'), require('../../nodes/mllp-endpoint'), require('../../nodes/store'),
    require('../../nodes/governance'),
  ];

  it('01 - Receive ADT and ACK: the injected ADT^A01 is answered AA through nhs-mllp-response', async () => {
    await h.load(modules(), await example('01 - Receive ADT and ACK.json', '2575'));
    await h.node('mllp01in').mllpPort();
    const acked = h.next('mllp01dbgack', 8000);
    const responded = h.next('mllp01dbg', 8000);
    h.node('mllp01inj').receive({});
    assert.match((await acked).payload, /MSA\|AA\|EX\d+/);
    // msg.ack is the ACK sent, in the one shape of DESIGN.md §2.
    const ack = (await responded).ack;
    assert.equal(ack.code, 'AA');
    assert.match(ack.controlId, /^EX\d+$/);
    assert.match(ack.raw, /MSA\|AA\|EX\d+/);
  });

  it('02 - Send via outbox: delivered through the outbox to the local listener', async () => {
    await h.load(modules(), await example('02 - Send via outbox.json', '2576'));
    await h.node('mllp02in').mllpPort();
    const received = h.next('mllp02dbgin', 8000);
    const delivered = h.next('mllp02dbgok', 8000);
    h.node('mllp02inj').receive({});
    assert.equal((await received).topic, 'ADT^A01');
    assert.match((await delivered).payload, /MSA\|AA\|/);
  });
});
