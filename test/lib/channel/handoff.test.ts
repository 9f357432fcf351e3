/**
 * At-least-once hand-off in `commit` mode (DESIGN.md §4): the durable per-listener watermark,
 * the replay on start (in order, flagged, before new messages), the receiving owner, the upgrade
 * from schema v2 (history never replayed), adoption of a gone instance's messages, and retention
 * of handed-over messages with a fake clock. Run on SQLite and (when available) PostgreSQL.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createStore, type Store } from '../../../lib/store';
import { SQLITE_MIGRATIONS } from '../../../lib/store/schema';
import { HandoffTracker, InboundChannel, type Received } from '../../../lib/channel';
import type { MllpSession } from '../../../lib/mllp';
import { adt, controlIdOf, msaOf } from '../../helpers/mllp-peer';
import { until } from '../../helpers/wait';
import { postgresBackend, sqliteBackend } from '../store/backends';

const session = (id: string): MllpSession => ({ id, remoteAddress: '127.0.0.1', remotePort: 1, secure: false, authorized: false, open: true, received: 0, close: () => undefined });
/** Wait for an async condition (the watermark is written in the background). */
async function eventually(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
const text = (b: Buffer | string | undefined): string => (Buffer.isBuffer(b) ? b.toString("latin1") : String(b ?? ""));

/** A listener as mllp in builds it: commit mode, owner A, emits into `out`. */
function listener(store: Store, out: Received[], owner = 'owner-a', grace = 0): InboundChannel {
  return new InboundChannel({ policy: 'commit', channel: 'in1', owner, store: async () => store, handoffGraceMs: grace, handoffIntervalMs: 20, emit: (r) => out.push(r) });
}

async function send(ch: InboundChannel, ids: string[], sess = 's1'): Promise<string[]> {
  const acks = await Promise.all(ids.map(async (id, i) => text(await ch.onFrame(Buffer.from(adt(id), 'latin1'), session(sess), i + 1))));
  return acks.map((a) => msaOf(a).code);
}

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe(`hand-off watermark and replay (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());
    const open = async (extra = {}): Promise<{ s: Store; make: () => Store }> => {
      const place = backend.fresh();
      const s = place.make(extra);
      await s.open();
      return { s, make: () => place.make(extra) };
    };

    it('a new watermark starts at the newest message of the channel: history is not replayed', async () => {
      const { s } = await open();
      for (let i = 0; i < 5; i++) await s.appendMessage({ channel: 'in1', raw: Buffer.from(adt(`OLD${i}`)) });
      await s.appendMessage({ channel: 'other', raw: Buffer.from(adt('X')) });
      const first = await s.openHandoff('in1', 'owner-a');
      const newest = (await s.findMessages({ channel: 'in1' })).at(-1)!.seq;
      assert.equal(first.mark, newest);
      assert.deepEqual(await s.replayMessages('in1', 'owner-a', first.mark, Math.max(first.upTo, first.mark), 100), []);
      // The watermark only rises.
      await s.advanceHandoff('in1', 'owner-a', newest + 10);
      await s.advanceHandoff('in1', 'owner-a', 1);
      assert.equal((await s.openHandoff('in1', 'owner-a')).mark, newest + 10);
    });

    it('what was kept above the watermark is emitted again on start, in order, flagged, before new messages; another owner\'s is not', async () => {
      const { s } = await open();
      const seen1: Received[] = [];
      const a = listener(s, seen1, 'owner-a', 60_000);
      await a.start();
      assert.deepEqual(await send(a, ['R1', 'R2', 'R3']), ['AA', 'AA', 'AA']);
      await until(() => seen1.length === 3);
      // Another instance's listener on the same channel keeps its own messages.
      const b = listener(s, [], 'owner-b');
      await b.start();
      await send(b, ['B1']);
      // "Crash": the grace (60 s) kept the watermark below R1..R3; nothing is written on close.
      await a.close();
      await b.close();

      const seen2: Received[] = [];
      const again = listener(s, seen2, 'owner-a');
      const starting = again.start();
      // New messages arriving during the replay are kept and ACKed at once, emitted after it.
      assert.deepEqual(await send(again, ['N1'], 's2'), ['AA']);
      await starting;
      await until(() => seen2.length === 4);
      assert.deepEqual(seen2.map((r) => controlIdOf(r.text)), ['R1', 'R2', 'R3', 'N1']);
      assert.deepEqual(seen2.map((r) => r.replayed ?? false), [true, true, true, false]);
      assert.ok(seen2.slice(0, 3).every((r) => r.storeId && r.message?.controlId));
      // Handed over now (grace 0): the next start replays nothing.
      await eventually(async () => (await s.openHandoff('in1', 'owner-a')).mark >= seen2[3]!.storeSeq!);
      await again.close();
      const seen3: Received[] = [];
      const third = listener(s, seen3, 'owner-a');
      await third.start();
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(seen3, []);
      await third.close();
    });

    it('an operator hands a gone instance\'s unreplayed messages to another, which replays them', async () => {
      const { s } = await open();
      const gone = listener(s, [], 'owner-gone', 60_000);
      await gone.start();
      await send(gone, ['G1', 'G2']);
      await gone.close();
      const liveSeen: Received[] = [];
      const live = listener(s, liveSeen, 'owner-live');
      await live.start();
      await send(live, ['L1']);
      await until(() => liveSeen.length === 1);
      await eventually(async () => (await s.openHandoff('in1', 'owner-live')).mark >= liveSeen[0]!.storeSeq!);
      await live.close();
      assert.equal(await s.adoptHandoff('in1', 'owner-gone', 'owner-live'), 2);
      const seen: Received[] = [];
      const restarted = listener(s, seen, 'owner-live');
      await restarted.start();
      assert.deepEqual(seen.map((r) => [controlIdOf(r.text), r.replayed]), [['G1', true], ['G2', true]]);
      await restarted.close();
      // The moved rows took new seqs: a later append still gets a higher, unused one.
      const rec = await s.appendMessage({ channel: 'in1', raw: Buffer.from('x') });
      const all = await s.findMessages({ channel: 'in1' });
      assert.equal(new Set(all.map((m) => m.seq)).size, all.length);
      assert.equal(Math.max(...all.map((m) => m.seq)), rec.seq);
    });

    it('confirm mode: a message sent long ago but never confirmed is replayed after a crash; a confirmed one is not', async () => {
      const { s } = await open();
      const seen: Received[] = [];
      const confirming = (out: Received[]): InboundChannel => new InboundChannel({
        policy: 'commit', channel: 'in1', owner: 'owner-a', store: async () => s, handoffMode: 'confirm',
        handoffConfirmTimeoutMs: 60_000, handoffGraceMs: 0, handoffIntervalMs: 20, emit: (r) => out.push(r),
      });
      const a = confirming(seen);
      await a.start();
      assert.deepEqual(await send(a, ['C1', 'C2']), ['AA', 'AA']);
      await until(() => seen.length === 2);
      const [c1, c2] = seen as [Received, Received];
      // Many watermark intervals (and far past a 0 ms grace): nothing confirmed, nothing passed.
      await new Promise((r) => setTimeout(r, 200));
      const start = (await s.listHandoffs('in1')).find((x) => x.owner === 'owner-a')!;
      assert.equal(start.pending, 2, 'both still above the watermark');
      assert.equal(a.confirmHandoff(c1.storeSeq!, c1.storeId), true);
      assert.equal(a.confirmHandoff(c1.storeSeq!, c1.storeId), false, 'a second confirmation changes nothing');
      await eventually(async () => (await s.openHandoff('in1', 'owner-a')).mark >= c1.storeSeq!);
      await new Promise((r) => setTimeout(r, 100));
      assert.ok((await s.openHandoff('in1', 'owner-a')).mark < c2.storeSeq!, 'C2 (unconfirmed) is not passed');
      // "Crash" before C2 reached its durable node: it is replayed, C1 is not.
      await a.close();
      const again: Received[] = [];
      const b = confirming(again);
      await b.start();
      assert.deepEqual(again.map((r) => [controlIdOf(r.text), r.replayed]), [['C2', true]]);
      await b.close();
    });

    it('retention (fake clock): handed-over messages go after the period; un-handed ones stay', async () => {
      let now = new Date('2030-01-01T00:00:00.000Z');
      const { s } = await open({ retentionDays: 30, clock: () => now, sizeWarnBytes: 1 });
      const seen: Received[] = [];
      const ch = listener(s, seen, 'owner-a');
      await ch.start();
      await send(ch, ['H1', 'H2']);
      await until(() => seen.length === 2);
      await eventually(async () => (await s.openHandoff('in1', 'owner-a')).mark >= seen[1]!.storeSeq!);
      await ch.close();
      // Kept, never handed over (the process died before the hand-off).
      const kept = await s.appendMessage({ channel: 'in1', raw: Buffer.from(adt('U1')), owner: 'owner-a' });
      now = new Date('2030-01-20T00:00:00.000Z');
      assert.deepEqual(await s.prune!(), { messages: 0, outbox: 0 }, 'nothing is removed inside the period');
      now = new Date('2030-03-01T00:00:00.000Z');
      assert.equal((await s.prune!()).messages, 2);
      const left = await s.findMessages({ channel: 'in1' });
      assert.deepEqual(left.map((m) => m.id), [kept.id]);
      const size = await s.size();
      assert.equal(size.messages, 1);
      assert.ok(size.bytes > 0);
      assert.equal(size.warning, true, 'over the 1-byte warning level');
    });
  });
}

describe('hand-off after an upgrade from schema v2', () => {
  it('a SQLite store of schema v2 with 1,000 old messages replays none of them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nhs-handoff-v2-'));
    const file = join(dir, 'v2.sqlite');
    try {
      const db = new Database(file);
      db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 2)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
      }
      const ins = db.prepare("INSERT INTO messages (id, channel, raw, control_id, message_type, meta, status, status_detail, received_at, updated_at) VALUES (?, 'in1', ?, ?, 'ADT^A01', '{}', 'received', NULL, ?, ?)");
      const T = '2030-01-01T00:00:00.000Z';
      db.transaction(() => { for (let i = 0; i < 1000; i++) ins.run(`old${i}`, Buffer.from(adt(`OLD${i}`)), `OLD${i}`, T, T); })();
      db.close();

      const s = createStore({ backend: 'sqlite', file });
      await s.open();
      const seen: Received[] = [];
      const ch = listener(s, seen, 'owner-a');
      await ch.start();
      assert.deepEqual(await send(ch, ['NEW1']), ['AA']);
      await until(() => seen.length === 1);
      assert.deepEqual(seen.map((r) => [controlIdOf(r.text), r.replayed ?? false]), [['NEW1', false]]);
      await ch.close();
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HandoffTracker', () => {
  it('never passes a message not yet handed over, one inside the grace, or an append in progress', () => {
    let now = 1000;
    const t = new HandoffTracker({ store: () => Promise.reject(new Error('unused')), channel: 'c', owner: 'o', graceMs: 100, now: () => now });
    t.begin(10, 10);
    const pending = {};
    t.kept(11);
    t.kept(12);
    t.handed(12);
    assert.equal(t.candidate(), 10, '11 is not handed over');
    t.handed(11);
    assert.equal(t.candidate(), 10, 'inside the grace');
    now += 150;
    t.appendStarted(pending);
    t.kept(13);
    assert.equal(t.candidate(), 12);
    t.appendEnded(pending);
    t.handed(13);
    now += 150;
    assert.equal(t.candidate(), 13);
    void t.stop();
  });
});

describe('HandoffTracker confirm mode', () => {
  const tracker = (now: () => number, extra: Partial<ConstructorParameters<typeof HandoffTracker>[0]> = {}): HandoffTracker =>
    new HandoffTracker({ store: () => Promise.reject(new Error('unused')), channel: 'c', owner: 'o', mode: 'confirm', graceMs: 100, confirmTimeoutMs: 10_000, now, ...extra });

  it('confirm: does not pass an unconfirmed message even long after send; passes it once confirmed; duplicate confirms are harmless', () => {
    let now = 1000;
    const t = tracker(() => now);
    t.begin(10, 10);
    t.kept(11, 'r11');
    t.kept(12, 'r12');
    t.handed(11);
    t.handed(12);
    now += 9_999; // far past the 100 ms grace, inside the 10 s confirm timeout
    assert.equal(t.candidate(), 10, 'sent long ago, not confirmed: not passed');
    assert.equal(t.confirmed(12, 'r12'), true);
    assert.equal(t.candidate(), 10, '11 still holds the watermark below 12');
    assert.equal(t.confirmed(11, 'r11'), true);
    assert.equal(t.confirmed(11, 'r11'), false, 'a second confirmation (a clone, a second durable node) changes nothing');
    assert.equal(t.candidate(), 12);
    assert.equal(t.confirmed(12, 'r12'), false, 'a confirmation of a message already counted changes nothing');
    assert.equal(t.confirmed(99), false, 'an unknown seq changes nothing');
    assert.equal(t.candidate(), 12);
    assert.equal(t.unconfirmedCount, 0);
    void t.stop();
  });

  it('confirm: a confirmation may come before send returns, and one naming another record at that seq does not count', () => {
    const t = tracker(() => 1000);
    t.begin(0, 0);
    t.kept(1, 'r1');
    assert.equal(t.confirmed(1, 'other-record'), false, 'another store or run: not this message');
    assert.equal(t.candidate(), 0);
    assert.equal(t.confirmed(1, 'r1'), true);
    assert.equal(t.candidate(), 1);
    void t.stop();
  });

  it('confirm timeout: a message never confirmed passes after it and is counted and reported', () => {
    let now = 1000;
    const reported: number[][] = [];
    const t = tracker(() => now, { onUnconfirmed: (seqs) => reported.push(seqs) });
    t.begin(10, 10);
    t.kept(11, 'r11');
    t.kept(12, 'r12');
    t.kept(13, 'r13');
    t.handed(11);
    t.handed(12);
    t.confirmed(12, 'r12');
    now += 5_000;
    t.handed(13);
    assert.equal(t.candidate(), 10);
    assert.deepEqual(reported, []);
    now += 5_000; // 11 reaches the 10 s timeout; 13 (sent later) does not
    assert.equal(t.candidate(), 12);
    assert.deepEqual(reported, [[11]], 'only the unconfirmed one is reported, not the confirmed 12');
    assert.equal(t.unconfirmedCount, 1);
    assert.equal(t.confirmed(11, 'r11'), false, 'a confirmation after the timeout changes nothing');
    now += 5_000;
    assert.equal(t.candidate(), 13);
    assert.deepEqual(reported, [[11], [13]]);
    assert.equal(t.unconfirmedCount, 2);
    void t.stop();
  });

  it('grace mode (the default, and flows saved before the setting) is unchanged: passes after the grace, ignores confirmations', () => {
    let now = 1000;
    const reported: number[][] = [];
    const t = new HandoffTracker({ store: () => Promise.reject(new Error('unused')), channel: 'c', owner: 'o', graceMs: 100, now: () => now, onUnconfirmed: (x) => reported.push(x) });
    assert.equal(t.mode, 'grace');
    t.begin(10, 10);
    t.kept(11, 'r11');
    t.kept(12, 'r12');
    assert.equal(t.confirmed(11, 'r11'), false, 'grace mode takes no confirmation');
    assert.equal(t.candidate(), 10, 'not sent yet: not passed, confirmed or not');
    t.handed(11);
    t.handed(12);
    assert.equal(t.candidate(), 10, 'inside the grace');
    now += 150;
    assert.equal(t.candidate(), 12, 'after the grace, with no confirmation');
    assert.deepEqual(reported, [], 'nothing is reported as unconfirmed in grace mode');
    assert.equal(t.unconfirmedCount, 0);
    void t.stop();
  });
});
