import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../../lib/nhs/pds/limiter';
import { until } from '../../helpers/wait';

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PDS rate limiter', () => {
  it('after a stall (clock jumps ahead) queued requests still leave one interval apart, not in a bunch', async () => {
    let clock = 0;
    const queued: number[] = [];
    const l = new RateLimiter(10, 100, (q) => queued.push(q), () => clock, 0); // 100 ms apart
    const released: number[] = [];
    const all = Array.from({ length: 5 }, (_, i) => l.acquire().then(() => released.push(i)));
    await tick();
    assert.deepEqual(released, [0], 'first at once, the rest queued');
    assert.equal(l.queued, 4);
    clock = 5000; // the event loop stalled for five seconds
    await until(() => released.length >= 2, 10_000);
    await tick(300);
    assert.deepEqual(released, [0, 1], 'one released after the stall, not four');
    clock += 99;
    await tick(300);
    assert.deepEqual(released, [0, 1], 'still one interval to wait');
    clock += 1;
    await until(() => released.length >= 3, 10_000);
    assert.deepEqual(released, [0, 1, 2]);
    clock += 1000;
    await until(() => released.length >= 4, 10_000);
    clock += 100;
    await Promise.all(all);
    assert.deepEqual(released, [0, 1, 2, 3, 4]);
    assert.equal(queued.at(-1), 0);
  });

  it('a full queue rejects with PDS_QUEUE_FULL; close rejects the waiting with PDS_CLOSED', async () => {
    const l = new RateLimiter(1, 2, undefined, () => 0, 0);
    await l.acquire();
    const a = l.acquire();
    const b = l.acquire();
    await assert.rejects(l.acquire(), (e: any) => e.code === 'PDS_QUEUE_FULL');
    l.close();
    await assert.rejects(a, (e: any) => e.code === 'PDS_CLOSED');
    await assert.rejects(b, (e: any) => e.code === 'PDS_CLOSED');
    assert.equal(l.queued, 0);
  });
});
