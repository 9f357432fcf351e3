/**
 * nhs-monitor alert rules (issue 16, Alerts): for every rule, a table run on a fake clock over a
 * real SQLite store — the alert opens once, resolves once; a restart (store closed and reopened,
 * a new engine) in between repeats nothing and loses nothing; flapping inside the hold time
 * opens nothing; a crash between the commit and the emit tells the flow once more after restart.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertEngine, conditions, inWindow, RULE_KINDS, type Activity, type Rule } from '../../../lib/ops/alerts';
import type { OpsSnapshot } from '../../../lib/ops/snapshot';
import { createStore, type Store } from '../../../lib/store';

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const HOLD = 60_000;
const calm: OpsSnapshot = {
  at: '', listeners: [{ node: 'in1', listening: true }], endpoints: [],
  stores: [{ name: 'st', backend: 'sqlite', reachable: true, quarantine: [{ reason: 'FHIR_INVALID', owner: 'pas', count: 1, oldestSeconds: 60 }], outbox: [{ destination: 'ep1', depth: 1, oldestSeconds: 5, parked: 0 }] }],
};
const quiet = (now: number): Activity => ({ lastSeen: { in1: now - 60_000, esr1: now - 3_600_000 }, pdsFailing: { pds1: false }, storeBytes: { st: 1000 } });

/** Per rule: the rule, and how to make its condition hold at `now`. */
const TABLE: { rule: Rule; bad: (now: number) => { snap: OpsSnapshot; act: Activity } }[] = [
  { rule: { kind: 'listener-down', severity: 'critical' }, bad: (n) => ({ snap: { ...calm, listeners: [{ node: 'in1', listening: false }] }, act: quiet(n) }) },
  { rule: { kind: 'feed-silent', target: 'in1', threshold: 15 }, bad: (n) => ({ snap: calm, act: { ...quiet(n), lastSeen: { in1: n - 20 * 60_000 } } }) },
  { rule: { kind: 'outbox-backlog', threshold: 100 }, bad: (n) => ({ snap: { ...calm, stores: [{ ...calm.stores[0]!, outbox: [{ destination: 'ep1', depth: 101, oldestSeconds: 5, parked: 0 }] }] }, act: quiet(n) }) },
  { rule: { kind: 'outbox-age', threshold: 300 }, bad: (n) => ({ snap: { ...calm, stores: [{ ...calm.stores[0]!, outbox: [{ destination: 'ep1', depth: 1, oldestSeconds: 301, parked: 0 }] }] }, act: quiet(n) }) },
  { rule: { kind: 'destination-failing' }, bad: (n) => ({ snap: { ...calm, stores: [{ ...calm.stores[0]!, outbox: [{ destination: 'ep1', depth: 0, oldestSeconds: 0, parked: 2 }] }] }, act: quiet(n) }) },
  { rule: { kind: 'quarantine-sla', threshold: 24 }, bad: (n) => ({ snap: { ...calm, stores: [{ ...calm.stores[0]!, quarantine: [{ reason: 'FHIR_INVALID', owner: 'pas', count: 3, oldestSeconds: 25 * 3600 }] }] }, act: quiet(n) }) },
  { rule: { kind: 'store-down', severity: 'critical' }, bad: (n) => ({ snap: { ...calm, stores: [{ ...calm.stores[0]!, reachable: false }] }, act: quiet(n) }) },
  { rule: { kind: 'store-size', threshold: 1_000_000 }, bad: (n) => ({ snap: calm, act: { ...quiet(n), storeBytes: { st: 2_000_000 } } }) },
  { rule: { kind: 'pds-unavailable' }, bad: (n) => ({ snap: calm, act: { ...quiet(n), pdsFailing: { pds1: true } } }) },
  { rule: { kind: 'esr-file-missing', target: 'esr1', threshold: 26 }, bad: (n) => ({ snap: calm, act: { ...quiet(n), lastSeen: { in1: n, esr1: n - 27 * 3_600_000 } } }) },
  { rule: { kind: 'audit-chain', severity: 'critical' }, bad: (n) => ({ snap: calm, act: { ...quiet(n), chainProblems: { st: 'record 3: hash mismatch' } } }) },
];

it('every rule kind has a row in the table', () => {
  assert.deepEqual(TABLE.map((r) => r.rule.kind).sort(), [...RULE_KINDS].sort());
});

async function withStore<T>(f: (open: () => Promise<Store>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'nhs-alerts-'));
  const opened: Store[] = [];
  try {
    return await f(async () => { const s = createStore({ backend: 'sqlite', file: join(dir, 'a.sqlite'), durability: 'normal' }); await s.open(); opened.push(s); return s; });
  } finally {
    for (const s of opened) await s.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('alert rules: open once, resolve once, restart-safe, damped (fake clock, real store)', () => {
  for (const { rule, bad } of TABLE) {
    it(rule.kind, () => withStore(async (open) => {
      let now = T0;
      let store = await open();
      let engine = new AlertEngine('mon1', store.alertState!(), HOLD, () => new Date(now));
      const events: string[] = [];
      const step = async (at: number, holds: boolean): Promise<void> => {
        now = T0 + at * 1000;
        const { snap, act } = holds ? bad(now) : { snap: calm, act: quiet(now) };
        const r = await engine.evaluate(conditions([rule], snap, act, new Date(now)));
        for (const e of r.events) events.push(`${at}:${e.event}:${e.severity}`);
        await r.told();
      };
      const restart = async (): Promise<void> => {
        await store.close();
        store = await open();
        engine = new AlertEngine('mon1', store.alertState!(), HOLD, () => new Date(now));
      };
      await step(0, false);
      await step(10, true); // starts to hold
      await step(40, false); // flap inside the hold time: nothing opens
      await step(50, true);
      await step(80, true); // held 30 s < hold
      await step(110, true); // held 60 s: opens
      await step(140, true);
      await restart();
      await step(150, true); // restart while open: not repeated
      await step(160, false); // clear starts
      await step(190, true); // flap back inside the hold: nothing resolves
      await step(200, false);
      await restart();
      await step(230, false);
      await step(260, false); // clear 60 s (across a restart): resolves
      await step(300, false);
      await restart();
      await step(320, false);
      const sev = rule.severity ?? 'warning';
      assert.deepEqual(events, [`110:alert:${sev}`, `260:resolve:${sev}`]);
      assert.deepEqual(await store.alertState!().listOpen(), []);
    }));
  }

  it('a crash between the commit and the emit tells the flow after the restart, once', () => withStore(async (open) => {
    let now = T0;
    const rule: Rule = { kind: 'store-down' };
    const down = conditions([rule], { ...calm, stores: [{ ...calm.stores[0]!, reachable: false }] }, quiet(now), new Date(now));
    let store = await open();
    let engine = new AlertEngine('m', store.alertState!(), 0, () => new Date(now));
    const first = await engine.evaluate(down);
    assert.equal(first.events.length, 1); // sent? the process dies before told()
    await store.close();
    store = await open();
    now += 1000;
    engine = new AlertEngine('m', store.alertState!(), 0, () => new Date(now));
    const again = await engine.evaluate(down);
    assert.deepEqual(again.events.map((e) => [e.event, e.id]), [['alert', first.events[0]!.id]]);
    await again.told();
    assert.equal((await engine.evaluate(down)).events.length, 0);
    assert.equal((await store.alertState!().listOpen()).length, 1, 'the sidebar sees it open');
  }));

  it('alert ids are stable per rule and target; two monitors keep separate state', () => withStore(async (open) => {
    const store = await open();
    const snap = { ...calm, listeners: [{ node: 'in1', listening: false }, { node: 'in2', listening: false }] };
    const held = conditions([{ kind: 'listener-down' }], snap, quiet(T0), new Date(T0));
    assert.deepEqual(held.map((c) => c.id), ['listener-down:in1:0', 'listener-down:in2:0']);
    const a = await new AlertEngine('a', store.alertState!(), 0, () => new Date(T0)).evaluate(held);
    const b = await new AlertEngine('b', store.alertState!(), 0, () => new Date(T0)).evaluate(held.slice(0, 1));
    assert.equal(a.events.length, 2);
    assert.equal(b.events.length, 1);
  }));

  it('time-of-day windows (wrapping midnight)', () => {
    const at = (h: number, m = 0): Date => new Date(2026, 2, 2, h, m);
    assert.equal(inWindow(at(9), '08:00', '18:00'), true);
    assert.equal(inWindow(at(18), '08:00', '18:00'), false);
    assert.equal(inWindow(at(23), '22:00', '06:00'), true);
    assert.equal(inWindow(at(5, 59), '22:00', '06:00'), true);
    assert.equal(inWindow(at(12), '22:00', '06:00'), false);
    assert.equal(inWindow(at(12)), true);
    const silent = conditions([{ kind: 'feed-silent', target: 'in1', threshold: 15, from: '08:00', to: '18:00' }], calm, { ...quiet(0), lastSeen: { in1: at(2).getTime() } }, at(3));
    assert.deepEqual(silent, [], 'a feed silent at night is not an alert when the window is the working day');
  });
});
