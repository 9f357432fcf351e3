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
