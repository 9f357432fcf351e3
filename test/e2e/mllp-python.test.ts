/**
 * Interoperability with an independent MLLP implementation: Debian's python3-hl7 (`mllp_send`
 * and its asyncio `start_hl7_server`), run by the system /usr/bin/python3.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { adt } from '../helpers/mllp-peer';
import { startPythonHl7Server } from '../helpers/python-hl7';

const skip = existsSync('/usr/bin/mllp_send') ? false : '/usr/bin/mllp_send absent: apt-get install python3-hl7';
const dir = mkdtempSync(join(tmpdir(), 'mllp-py-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('MLLP interop with python3-hl7', { skip }, () => {
  const h = nodeRedHarness();
  const children: ChildProcess[] = [];
  after(() => { for (const c of children) c.kill('SIGKILL'); });

  it('python mllp_send → nhs-mllp-in: AA for every message, every message stored once', async () => {
    await h.load([require('../../nodes/mllp-in'), require('../../nodes/store')], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'in.sqlite') },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', wires: [[], []] },
    ]);
    const port = await h.node('in').mllpPort();
    const ids = Array.from({ length: 20 }, (_, i) => `PY${i}`);
    const file = join(dir, 'msgs.hl7');
    writeFileSync(file, ids.map((id) => adt(id)).join('\r\n'));
    const out = await new Promise<string>((resolve, reject) => {
      execFile('/usr/bin/python3', ['/usr/bin/mllp_send', '--loose', '-f', file, '-p', String(port), '127.0.0.1'], { timeout: 20000 }, (err, stdout) => (err ? reject(new Error(`mllp_send failed: ${err.message}`)) : resolve(stdout)));
    });
    // eslint-disable-next-line no-control-regex -- the ACKs are printed with their MLLP framing bytes
    const msas = [...out.matchAll(/MSA\|(\w+)\|([^|\r\n\u001c]*)/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(msas, ids.map((id) => ['AA', id]));
    const store = await h.node('st').getStore();
    assert.equal(await store.countMessages({ channel: 'in' }), 20);
    for (const id of ids) assert.equal((await store.findMessages({ controlId: id })).length, 1);
  });

  it('nhs-mllp-out → python start_hl7_server: all delivered in order, AA for each', async () => {
    const { proc: py, port, got } = await startPythonHl7Server(children);
    await h.load([require('../../nodes/mllp-out'), require('../../nodes/mllp-endpoint'), require('../../nodes/store')], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'out.sqlite') },
      { id: 'ep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port, store: 'st', ackTimeout: 5 },
      { id: 'out', type: 'nhs-mllp-out', endpoint: 'ep', wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper' }, { id: 'bad', type: 'helper' },
    ]);
    const ids = Array.from({ length: 20 }, (_, i) => `TOPY${i}`);
    const acks = h.collect('ok', ids.length, 15000);
    for (const id of ids) h.node('out').receive({ payload: adt(id) });
    const msgs = await acks;
    assert.deepEqual(msgs.map((m) => /MSA\|AA\|([^|\r]*)/.exec(m.payload)?.[1]), ids);
    assert.deepEqual(got, ids);
    py.kill();
  });
});
