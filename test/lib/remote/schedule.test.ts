import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { delayAfter, nextCron, parseCron, parseSchedule } from '../../../lib/remote/schedule';
import { namePattern, normaliseFingerprint, sshFingerprint } from '../../../lib/remote/source';

const at = (y: number, mo: number, d: number, h: number, mi: number): Date => new Date(y, mo - 1, d, h, mi);
const fmt = (d: Date): string => `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()} ${d.getHours()}:${String(d.getMinutes()).padStart(2, '0')}`;

describe('poll schedule', () => {
  const table: [string, Date, string][] = [
    ['*/15 * * * *', at(2026, 1, 5, 10, 7), '2026-1-5 10:15'],
    ['30 6 * * *', at(2026, 1, 5, 6, 30), '2026-1-6 6:30'],
    ['30 6 * * *', at(2026, 1, 5, 6, 29), '2026-1-5 6:30'],
    ['0 5 * * 1-5', at(2026, 1, 9, 6, 0), '2026-1-12 5:00'], // Friday after 05:00 → Monday
    ['0 0 29 2 *', at(2026, 3, 1, 0, 0), '2028-2-29 0:00'],
    ['0 7 1 * 0', at(2026, 1, 2, 0, 0), '2026-1-4 7:00'], // either day field may match
    ['0,30 22-23 * * 7', at(2026, 1, 4, 22, 10), '2026-1-4 22:30'],
  ];
  for (const [expr, from, want] of table) it(`${expr} after ${fmt(from)}`, () => assert.equal(fmt(nextCron(parseCron(expr), from)), want));
  it('refuses malformed expressions', () => {
    for (const bad of ['* * * *', '60 * * * *', '* 24 * * *', 'a * * * *', '5-1 * * * *', '*/0 * * * *']) assert.throws(() => parseCron(bad), { code: 'SCHEDULE_INVALID' }, bad);
  });
  it('a number is an interval in seconds', () => {
    assert.equal(delayAfter(parseSchedule('90'), new Date()), 90_000);
    assert.equal(delayAfter(parseSchedule(''), new Date()), 300_000);
    assert.equal(parseSchedule('0 6 * * *').kind, 'cron');
  });
});

describe('file source helpers', () => {
  it('matches names by wildcard or /regex/', () => {
    assert.ok(namePattern('GO_*_GDW_G??_*.DAT').test('GO_123_GDW_GOC_20260105_00000001.DAT'));
    assert.ok(!namePattern('GO_*.DAT').test('GO_1.DAT.part'));
    assert.ok(namePattern('/^GO_\\d+_/').test('go_12_x'));
    assert.ok(namePattern('').test('anything'));
  });
  it('fingerprints a host key the way ssh-keygen -l does', () => {
    const fp = sshFingerprint(Buffer.from('key'));
    assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(normaliseFingerprint(` ${fp.slice(7)}= `), fp);
  });
});
