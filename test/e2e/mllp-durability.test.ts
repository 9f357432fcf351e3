/**
 * Crash durability (DESIGN.md §4 "a crash at any instant loses no accepted message"): the
 * Node-RED process is SIGKILLed at random moments while messages flow, and restarted.
 *  - nhs-mllp-in (commit, SQLite FULL): every message the client got AA for is in the store
 *    exactly once (messages never AA'd may or may not be stored: the sender must resend them),
 *    and reaches the durable node downstream (nhs-audit, hash-chained in the same store) at
 *    least once: what was kept but not yet handed over when the process died is replayed on
 *    restart, and every duplicate hand-off is a replay (this sender never resends a message).
 *    Run twice: with a listener saved without the hand-off setting (the 2 s grace), and with
 *    hand-off confirm and a random delay before the audit, so kills land between send and the
 *    durable write.
 *  - nhs-mllp-out: every enqueued message is delivered, in order; a message is only ever sent
 *    again when the kill hit between sending it and committing its AA (at-least-once).
 */
import { freePort } from '../helpers/node-red-process';
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { auditPages } from '../../lib/audit/verify';
import { createStore } from '../../lib/store';
import { adt, controlIdOf, msaOf, peerAck, peerConnect, peerServer, type PeerClient } from '../helpers/mllp-peer';
import { sleep } from '../helpers/wait';

const dir = mkdtempSync(join(tmpdir(), 'mllp-dur-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const CHILD = join(__dirname, 'mllp-child.ts');

interface Child { proc: ChildProcess; ready: Promise<number>; queued: Promise<void>; exited: Promise<void> }
function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_ENV: 'test' } });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  let onReady: (p: number) => void = () => undefined;
  let onQueued: () => void = () => undefined;
  const ready = new Promise<number>((r) => { onReady = r; });
  const queued = new Promise<void>((r) => { onQueued = r; });
  lines.on('line', (l) => {
    if (l.startsWith('READY ')) onReady(Number(l.slice(6)));
    if (l === 'QUEUED') onQueued();
  });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return { proc, ready, queued, exited };
}

describe('MLLP durability under SIGKILL', () => {
  const children: Child[] = [];
  after(() => { for (const c of children) c.proc.kill('SIGKILL'); });

  /**
   * `TOTAL` messages from four connections into nhs-mllp-in (commit) wired to nhs-audit, the
   * child SIGKILLed about 13 times at random points and restarted; then every AA'd message must
   * be stored exactly once and recorded by the audit node at least once, duplicates flagged.
   * `flow` is the child's flow (mllp-child.ts): `audit` (saved without `handoff`: the grace) or
   * `audit-confirm` (hand-off confirm, a random 0–500 ms delay before the audit).
   */
  async function inboundUnderKills(flow: 'audit' | 'audit-confirm', TOTAL: number): Promise<void> {
    const CONNS = 4;
    const file = join(dir, `in-${flow}.sqlite`);
    const port = await freePort();
    const childArgs = ['in', String(port), file, flow];
    let child = startChild(childArgs);
    children.push(child);
    await child.ready;
    let next = 0;
    const acked = new Set<string>();
    let unacked = 0;
    let kills = 0;
    let running = true;
    // Resolved while the child serves; replaced by a pending promise while it restarts, so a
    // worker whose connection died waits instead of burning message ids on a closed port.
    let up: Promise<unknown> = Promise.resolve();

    async function worker(w: number): Promise<void> {
      let c: PeerClient | undefined;
      while (running) {
        const i = next++;
        if (i >= TOTAL) break;
        const id = `D${w}-${i}`;
        try {
          c ??= await peerConnect(port);
          const ack = msaOf(await c.request(adt(id), 3000));
          if (ack.code === 'AA' && ack.controlId === id) acked.add(id);
          else unacked++;
        } catch {
          unacked++;
          c?.close();
          c = undefined;
          await up;
        }
      }
      c?.close();
    }

    const killer = (async () => {
      while (running) {
        // About 13 kills spread over the run, each at a random point of its stretch.
        const at = (kills + 0.5 + Math.random() * 0.5) * (TOTAL / 14);
        while (running && next < at) await sleep(5);
        if (!running || next >= TOTAL) break;
        let restarted: () => void = () => undefined;
        up = new Promise<void>((r) => { restarted = r; });
        child.proc.kill('SIGKILL');
        await child.exited;
        kills++;
        child = startChild(childArgs);
        children.push(child);
        await child.ready;
        restarted();
      }
    })();
    // Spread the kills over the run: pace the workers until ten kills have happened.
    const workers = Array.from({ length: CONNS }, (_, w) => worker(w));
    await Promise.all(workers);
    running = false;
    await killer;
    assert.ok(kills >= 10, `only ${kills} kills happened; the run was too fast`);
    // The last instance runs until its replay has been handed over (and, with the delay, has
    // passed it), then is killed too.
    await sleep(flow === 'audit' ? 3000 : 3500);
    child.proc.kill('SIGKILL');
    await child.exited;

    const store = createStore({ backend: 'sqlite', file });
    await store.open();
    try {
      const all = await store.findMessages({ channel: 'in', limit: TOTAL * 2 });
      const count = new Map<string, number>();
      for (const m of all) count.set(m.controlId ?? '', (count.get(m.controlId ?? '') ?? 0) + 1);
      const missing = [...acked].filter((id) => count.get(id) !== 1);
      assert.deepEqual(missing, [], `${missing.length} AA'd messages not stored exactly once`);
      assert.ok([...count.values()].every((n) => n === 1), 'no message stored twice');
      assert.equal(acked.size + unacked, TOTAL);
      assert.ok(acked.size > TOTAL * 0.9, `AA for ${acked.size}/${TOTAL}`);
      // What the audit node downstream recorded: mllp in's step, `receive` or `replay`, per hand-off.
      // Read in pages: with the grace, replays alone reach 70,000 records in a run, near the
      // store's 100,000-row query cap, past which one query would silently drop the newest.
      const steps: (readonly [string, string])[] = [];
      for await (const page of auditPages(store, 0, 50_000)) for (const r of page) if (r.node === 'in') steps.push([r.correlationId ?? '', r.action]);
      const handed = new Map<string, string[]>();
      for (const [id, action] of steps) handed.set(id, [...(handed.get(id) ?? []), action]);
      const lost = [...acked].filter((id) => !handed.has(id));
      assert.deepEqual(lost.slice(0, 20), [], `${lost.length} AA'd messages never reached the node downstream`);
      // This sender never resends an id: a second hand-off of a message is a flagged replay.
      const unflagged = [...handed].filter(([, actions]) => actions.filter((a) => a === 'receive').length > 1);
      assert.deepEqual(unflagged.map(([id]) => id), [], 'a duplicate hand-off without `replayed`');
      const replays = steps.filter(([, a]) => a === 'replay').length;
      // Reached the audit only through a replay: killed after the commit and before the durable
      // write (not yet sent, or sent and still in the flow).
      const onlyReplayed = [...handed.values()].filter((actions) => !actions.includes('receive')).length;
      // The delay puts messages between send and the durable write at the kills: hundreds per
      // kill reach the audit only through a replay (a handful without the delay).
      if (flow === 'audit-confirm') assert.ok(onlyReplayed >= kills, `only ${onlyReplayed} messages reached the audit through a replay alone: the kills missed the gap`);
      console.log(`# durability in${flow === 'audit' ? '' : ' (hand-off confirm)'}: ${kills} kills, ${acked.size} AA, ${unacked} not AA'd, ${all.length} stored, ${replays} replayed downstream, ${onlyReplayed} audited only by a replay`);
    } finally {
      await store.close();
    }
  }

  it('nhs-mllp-in commit mode: 10,000 messages, ≥10 kills, every AA\'d message stored exactly once and handed downstream at least once', { timeout: 170_000 }, () => inboundUnderKills('audit', 10_000));

  it('nhs-mllp-in commit mode, hand-off confirm: 10,000 messages, ≥10 kills, a random 0–500 ms delay before nhs-audit, every AA\'d message stored exactly once and audited at least once', { timeout: 170_000 }, () => inboundUnderKills('audit-confirm', 10_000));

  it('nhs-mllp-in hand-off confirm: SIGKILLed while a message waits in a 6 s delay before nhs-audit, it is replayed and recorded on restart; with the 2 s grace it is lost', { timeout: 90_000 }, async () => {
    const run = async (handoff: 'confirm' | 'grace', id: string): Promise<{ audited: string[]; stored: number }> => {
      const file = join(dir, `slow-${handoff}.sqlite`);
      const args = ['in', String(await freePort()), file, `slow-${handoff}`];
      let child = startChild(args);
      children.push(child);
      const c = await peerConnect(await child.ready);
      assert.equal(msaOf(await c.request(adt(id), 3000)).code, 'AA');
      c.close();
      // Past the grace (2 s) and a watermark write (1 s), well before the delay (6 s) lets it reach audit.
      await sleep(4000);
      child.proc.kill('SIGKILL');
      await child.exited;
      child = startChild(args);
      children.push(child);
      await child.ready;
      await sleep(9000); // a replay would pass the 6 s delay and be recorded by now
      child.proc.kill('SIGKILL');
      await child.exited;
      const store = createStore({ backend: 'sqlite', file });
      await store.open();
      try {
        const audited = (await store.queryAudit({ correlationId: id, limit: 100 })).map((r) => `${r.node}:${r.action}`);
        return { audited, stored: (await store.findMessages({ channel: 'in' })).length };
      } finally {
        await store.close();
      }
    };
    const confirm = await run('confirm', 'SLOWC1');
    assert.equal(confirm.stored, 1);
    // Only the replay reached nhs-audit: mllp in's `replay` step and the audit node's own record.
    assert.deepEqual(confirm.audited.sort(), ['au:processed', 'in:replay']);
    const grace = await run('grace', 'SLOWG1');
    assert.equal(grace.stored, 1, "AA'd and stored");
    assert.deepEqual(grace.audited, [], 'never reached the node downstream: lost to the flow');
  });

  it('nhs-mllp-out: every enqueued message delivered in order across kills; resent only if in flight at a kill', { timeout: 90_000 }, async () => {
    const N = 400;
    const file = join(dir, 'out.sqlite');
    const peer = await peerServer((t) => peerAck(t));
    try {
      let child = startChild(['out', String(peer.port), file, String(N)]);
      children.push(child);
      await child.ready;
      await child.queued;
      let kills = 0;
      const distinct = (): number => new Set(peer.received.map((f) => controlIdOf(f.toString('latin1')))).size;
      while (distinct() < N) {
        // Six kills at random points of the delivery, then let it finish.
        const at = (kills + 0.5 + Math.random() * 0.5) * (N / 7);
        while (distinct() < Math.min(at, N)) await sleep(2);
        if (distinct() >= N) break;
        if (kills < 6) {
          child.proc.kill('SIGKILL');
          await child.exited;
          kills++;
          child = startChild(['out', String(peer.port), file]);
          children.push(child);
          await child.ready;
        }
      }
      await sleep(200);
      child.proc.kill('SIGKILL');
      await child.exited;
      const ids = peer.received.map((f) => controlIdOf(f.toString('latin1')));
      // Collapse immediate resends (the item in flight when the process died).
      const firsts: string[] = [];
      let resends = 0;
      for (const [i, id] of ids.entries()) {
        if (firsts.includes(id)) {
          resends++;
          assert.equal(id, ids[i - 1], `message ${id} sent again out of turn`);
        } else firsts.push(id);
      }
      const expected = Array.from({ length: N }, (_, i) => `Q${String(i).padStart(5, '0')}`);
      assert.deepEqual(firsts, expected, 'delivered in order, none missing');
      assert.ok(kills >= 3, `${kills} kills`);
      assert.ok(resends <= kills, `${resends} resends for ${kills} kills`);
      const store = createStore({ backend: 'sqlite', file });
      await store.open();
      const items = await store.listOutbox({ destination: 'ep', limit: N + 10 });
      await store.close();
      assert.equal(items.filter((i) => i.state === 'done').length, N);
      console.log(`# durability out: ${kills} kills, ${resends} resends of an in-flight message`);
    } finally {
      await peer.close();
    }
  });
});
