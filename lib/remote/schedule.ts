/**
 * When a file source is polled: every N seconds, or a 5-field cron expression (minute hour
 * day-of-month month day-of-week; `*`, numbers, `a-b` ranges, `,` lists and `/n` steps; day of
 * week 0–7 with 0 and 7 Sunday; when both day fields are restricted either may match, as in
 * Vixie cron). Local time.
 */
import { NhsError } from '../errors';

interface CronSpec { minute: Set<number>; hour: Set<number>; dom: Set<number>; month: Set<number>; dow: Set<number>; domAny: boolean; dowAny: boolean }

function field(text: string, lo: number, hi: number, what: string): { set: Set<number>; any: boolean } {
  const set = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new NhsError('SCHEDULE_INVALID', `cron ${what} field "${part}" is not valid`);
    const step = m[4] ? Number(m[4]) : 1;
    const a = m[1] === '*' ? lo : Number(m[2]);
    const b = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] ? hi : a;
    if (a < lo || b > hi || a > b || step < 1) throw new NhsError('SCHEDULE_INVALID', `cron ${what} field "${part}" is out of range ${lo}-${hi}`);
    for (let v = a; v <= b; v += step) set.add(v);
  }
  return { set, any: text === '*' };
}

/** Parse a cron expression; throws SCHEDULE_INVALID. */
export function parseCron(expr: string): CronSpec {
  const f = expr.trim().split(/\s+/);
  if (f.length !== 5) throw new NhsError('SCHEDULE_INVALID', 'a cron expression has 5 fields: minute hour day-of-month month day-of-week');
  const dow = field(f[4]!, 0, 7, 'day-of-week');
  if (dow.set.has(7)) dow.set.add(0);
  const dom = field(f[2]!, 1, 31, 'day-of-month');
  return { minute: field(f[0]!, 0, 59, 'minute').set, hour: field(f[1]!, 0, 23, 'hour').set, dom: dom.set, month: field(f[3]!, 1, 12, 'month').set, dow: dow.set, domAny: dom.any, dowAny: dow.any };
}

/** The first whole minute strictly after `after` that matches `spec` (searches up to 4 years). */
export function nextCron(spec: CronSpec, after: Date): Date {
  const d = new Date(after.getTime());
  d.setSeconds(0, 0);
  d.setMinutes(d.getMinutes() + 1);
  const limit = after.getTime() + 4 * 366 * 86_400_000;
  while (d.getTime() <= limit) {
    if (!spec.month.has(d.getMonth() + 1)) { d.setMonth(d.getMonth() + 1, 1); d.setHours(0, 0, 0, 0); continue; }
    const domOk = spec.dom.has(d.getDate());
    const dowOk = spec.dow.has(d.getDay());
    const dayOk = spec.domAny || spec.dowAny ? domOk && dowOk : domOk || dowOk;
    if (!dayOk) { d.setDate(d.getDate() + 1); d.setHours(0, 0, 0, 0); continue; }
    if (!spec.hour.has(d.getHours())) { d.setHours(d.getHours() + 1, 0, 0, 0); continue; }
    if (!spec.minute.has(d.getMinutes())) { d.setMinutes(d.getMinutes() + 1, 0, 0); continue; }
    return d;
  }
  throw new NhsError('SCHEDULE_INVALID', 'cron expression never matches');
}

/** A schedule: `interval` seconds, or a cron expression. `delayAfter(now)` is the ms to the next run. */
export type Schedule = { kind: 'interval'; seconds: number } | { kind: 'cron'; spec: CronSpec; text: string };

/** Number → interval seconds; text with spaces → cron. */
export function parseSchedule(v: string | number | undefined, dfltSeconds = 300): Schedule {
  const t = String(v ?? '').trim();
  if (t === '') return { kind: 'interval', seconds: dfltSeconds };
  if (/^\d+(\.\d+)?$/.test(t)) return { kind: 'interval', seconds: Math.max(1, Number(t)) };
  return { kind: 'cron', spec: parseCron(t), text: t };
}

export function delayAfter(s: Schedule, now: Date): number {
  return s.kind === 'interval' ? s.seconds * 1000 : nextCron(s.spec, now).getTime() - now.getTime();
}
