/**
 * Scale-out on one PostgreSQL store (DESIGN.md §4, issue 9 item 6): two Node-RED processes run
 * the same flow — nhs-mllp-in (commit) → nhs-mllp-out — delivering to an MLLP server that is not
 * ours (python3-hl7's `start_hl7_server`). Traffic goes to both; one is SIGKILLed mid-run and
 * restarted. Every message that got an AA reaches the downstream server; after an outbox item
 * was AA'd downstream it is not sent again (the only resends are the item in flight at the
 * kill); order per destination holds; every second hand-off of a message is a flagged replay.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createStore } from '../../lib/store';
import { freePort } from '../helpers/node-red-process';
import { adt, msaOf, peerConnect, type PeerClient } from '../helpers/mllp-peer';
import { pgUrl, skipWithoutPg } from '../helpers/shared';
import { startPythonHl7Server } from '../helpers/python-hl7';
import { sleep } from '../helpers/wait';
import { postgresBackend } from '../lib/store/backends';

const noPython = existsSync('/usr/bin/mllp_send') ? false : 'python3-hl7 absent: apt-get install python3-hl7';
const skip = skipWithoutPg || noPython;
const CHILD = join(__dirname, 'mllp-scaleout-child.ts');

interface Instance { proc: ChildProcess; ready: Promise<number>; exited: Promise<void> }

describe('two Node-RED instances on one PostgreSQL store', { skip }, () => {
  const procs: ChildProcess[] = [];
  const backend = postgresBackend();
  const dir = mkdtempSync(join(tmpdir(), 'mllp-scale-'));
  after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await backend.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('mllp in (commit) → mllp out → python3-hl7: every AA\'d message delivered, none again after its AA, in order, replays flagged', { timeout: 170_000 }, async () => {
    const { port: pyPort, got } = await startPythonHl7Server(procs);
    const place = backend.fresh();
    const schema = (place.opts as { schema: string }).schema;
    // Create the schema once, so the two instances do not race to migrate a missing one.
    const setup = place.make();
    await setup.open();
    await setup.close();

    const start = (port: number, name: string): Instance => {
      const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, String(port), String(pyPort), pgUrl ?? '', schema, join(dir, name)], { stdio: ['ignore', 'pipe', 'ignore'] });
      procs.push(proc);
      const ready = new Promise<number>((resolve) => createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => { if (l.startsWith('READY ')) resolve(Number(l.slice(6))); }));
      return { proc, ready, exited: new Promise((r) => proc.on('exit', () => r())) };
    };
    const ports = [await freePort(), await freePort()];
    const inst = [start(ports[0]!, 'a'), start(ports[1]!, 'b')];
    await Promise.all(inst.map((i) => i.ready));

    const PER = 400;
    const acked: string[] = [];
    let sent = 0;
    const up: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
    const worker = async (k: number): Promise<void> => {
      let c: PeerClient | undefined;
      for (let n = 0; n < PER; n++) {
        const id = `${k ? 'B' : 'A'}${String(n).padStart(4, '0')}`;
        sent++;
        try {
          c ??= await peerConnect(ports[k]!);
          const ack = msaOf(await c.request(adt(id), 5000));
          if (ack.code === 'AA' && ack.controlId === id) acked.push(id);
        } catch {
          c?.close();
          c = undefined;
          await up[k];
        }
      }
      c?.close();
    };
    const killer = (async () => {
      while (sent < PER * 0.6) await sleep(5);
      let restarted: () => void = () => undefined;
      up[0] = new Promise<void>((r) => { restarted = r; });
      inst[0]!.proc.kill('SIGKILL');
      await inst[0]!.exited;
      inst[0] = start(ports[0]!, 'a');
      await inst[0].ready;
      restarted();
    })();
    await Promise.all([worker(0), worker(1), killer]);

    // Both instances deliver the shared outbox until every AA'd message has reached python.
    const deadline = Date.now() + 90_000;
    while (acked.some((id) => !got.includes(id)) && Date.now() < deadline) await sleep(200);
    await sleep(1000);
    for (const i of inst) i.proc.kill('SIGKILL');

    const missing = acked.filter((id) => !got.includes(id));
    assert.deepEqual(missing, [], `${missing.length} AA'd messages never reached the downstream server`);

    const store = createStore({ ...place.opts });
    await store.open();
    try {
      const items = (await store.listOutbox({ destination: 'ep', limit: 10_000 })).sort((x, y) => x.seq - y.seq);
      // Every second outbox item for one message is a replay (the senders here never resend an id).
      const firstItem = new Map<string, number>();
      const unflagged: string[] = [];
      for (const i of items) {
        const id = i.controlId ?? '';
        if (firstItem.has(id)) { if (i.meta.replayed !== true) unflagged.push(id); } else firstItem.set(id, i.seq);
      }
      assert.deepEqual(unflagged, [], 'a duplicate hand-off without `replayed`');
      // Nothing is sent again after its AA: receptions beyond the outbox items are only the
      // item in flight at the kill (at most one: strict order, one head per destination).
      const receptions = new Map<string, number>();
      for (const id of got) receptions.set(id, (receptions.get(id) ?? 0) + 1);
      const itemsPer = new Map<string, number>();
      for (const i of items) itemsPer.set(i.controlId ?? '', (itemsPer.get(i.controlId ?? '') ?? 0) + 1);
      const extra = [...receptions].reduce((sum, [id, n]) => sum + Math.max(0, n - (itemsPer.get(id) ?? 0)), 0);
      assert.ok(extra <= 1, `${extra} deliveries beyond the outbox items (only the one in flight at the kill may repeat)`);
      // Order per destination: python saw the messages in outbox order.
      const firstSeen: string[] = [];
      const seen = new Set<string>();
      for (const id of got) if (!seen.has(id)) { seen.add(id); firstSeen.push(id); }
      const byOutbox = [...firstItem].sort((x, y) => x[1] - y[1]).map(([id]) => id).filter((id) => seen.has(id));
      assert.deepEqual(firstSeen, byOutbox, 'downstream order differs from the outbox order');
      assert.ok(acked.length > PER * 1.5, `AA for ${acked.length}/${PER * 2}`);
      const owners = new Set((await store.findMessages({ channel: 'in', limit: 10_000 })).map((m) => m.owner));
      assert.equal(owners.size, 2, 'each instance records itself as the receiving owner');
      const replays = items.filter((i) => i.meta.replayed === true).length;
      console.log(`# scale-out: ${acked.length} AA, ${got.length} received downstream, ${items.length} outbox items, ${replays} replayed, ${extra} resend after the kill`);
    } finally {
      await store.close();
    }
  });
});
