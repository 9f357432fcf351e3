import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { monotonicIdGenerator } from '../../../lib/store/ids';

describe('store default ids (lib/store/ids.ts)', () => {
  it('are 26 base-36 characters that sort in generation order', () => {
    let t = Date.parse('2030-01-01T00:00:00Z');
    const gen = monotonicIdGenerator(() => t);
    const ids: string[] = [];
    for (let i = 0; i < 2000; i++) {
      if (i % 300 === 0) t += 7;
      ids.push(gen());
    }
    assert.ok(ids.every((id) => /^[0-9a-z]{26}$/.test(id)));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('keep increasing and stay unique when the clock steps back', () => {
    let t = Date.parse('2030-01-01T00:00:00Z');
    const gen = monotonicIdGenerator(() => t);
    const a = gen();
    t -= 60_000;
    const b = gen();
    const c = gen();
    assert.ok(a < b && b < c, 'no id sorts before an earlier one');
    assert.equal(a.slice(0, 9), b.slice(0, 9), 'time part held at its last value');
  });

  it('two generators (two processes on one file) never collide at the same ms and counter', () => {
    const t = Date.parse('2030-01-01T00:00:00Z');
    const g1 = monotonicIdGenerator(() => t);
    const g2 = monotonicIdGenerator(() => t);
    const all = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const [x, y] = [g1(), g2()];
      assert.notEqual(x, y);
      assert.equal(x.slice(0, 17), y.slice(0, 17), 'same time and counter part: only the per-process tag differs');
      all.add(x).add(y);
    }
    assert.equal(all.size, 2000);
  });
});
