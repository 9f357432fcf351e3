/**
 * HL7 v2 DTM (HL7 v2.5.1 Chapter 2A, 2A.22 "DTM - date/time"):
 * `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`, precision given by how much is present.
 *
 * Conversion never consults the process time zone. With an offset the result keeps it
 * (`2024-03-31T01:30:00+01:00`). Without one, HL7 says the time is the sender's local time; we
 * do not guess: the result is an ISO local time with no designator, unless the caller names the
 * sender's zone (`assumeZone: 'Europe/London'`), in which case that zone's offset at that wall
 * time is applied (via Intl; in the repeated autumn hour the earlier instant, BST, is used; a wall time in
 * the spring gap, which never happened, keeps the pre-transition offset, GMT).
 */

const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?(?:([+-])(\d{2})(\d{2}))?$/;

function daysIn(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

const p2 = (n: number): string => String(n).padStart(2, '0');

function fmtOffset(min: number): string {
  const sign = min < 0 ? '-' : '+';
  const a = Math.abs(min);
  return `${sign}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}

const zoneFormatters = new Map<string, Intl.DateTimeFormat>();

/** Offset (minutes east of UTC) of IANA zone `tz` at instant `ms`. */
function zoneOffset(ms: number, tz: string): number {
  let f = zoneFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    zoneFormatters.set(tz, f);
  }
  const part: Record<string, number> = {};
  for (const x of f.formatToParts(new Date(ms))) if (x.type !== 'literal') part[x.type] = Number(x.value);
  const wall = Date.UTC(part.year ?? 0, (part.month ?? 1) - 1, part.day ?? 1, part.hour ?? 0, part.minute ?? 0, part.second ?? 0);
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000);
}

/**
 * Offset of zone `tz` for a wall-clock time given as if it were UTC. Candidates are the zone's
 * offsets 12 h either side (any transition lies between); one that reproduces the wall time is
 * used, the larger (earlier instant) in a repeated hour, the earlier offset inside a gap.
 */
function offsetForWallTime(wallAsUtc: number, tz: string): number {
  const before = zoneOffset(wallAsUtc - 43200000, tz);
  const after = zoneOffset(wallAsUtc + 43200000, tz);
  const fits = [before, after].filter((o) => zoneOffset(wallAsUtc - o * 60000, tz) === o);
  return fits.length ? Math.max(...fits) : before;
}

/**
 * HL7 DTM/TS (first component) to ISO 8601 at the precision given: `2024` → `2024`,
 * `202403` → `2024-03`, `20240315` → `2024-03-15`, `2024031514` → `2024-03-15T14`,
 * `202403151430` → `2024-03-15T14:30`, `20240315143005.12+0100` → `2024-03-15T14:30:05.12+01:00`.
 * A date without time drops any offset (dates have no zone). Returns undefined for anything
 * that is not a valid DTM (bad digits, month 13, 30 February, offset minutes > 59, HL7 null).
 */
export function hl7DateTimeToIso(v: string, opts?: { assumeZone?: string }): string | undefined {
  if (typeof v !== 'string') return undefined;
  const caret = v.indexOf('^');
  const m = DTM.exec((caret >= 0 ? v.slice(0, caret) : v).trim());
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = m[2] === undefined ? undefined : Number(m[2]);
  const d = m[3] === undefined ? undefined : Number(m[3]);
  const h = m[4] === undefined ? undefined : Number(m[4]);
  const mi = m[5] === undefined ? undefined : Number(m[5]);
  const s = m[6] === undefined ? undefined : Number(m[6]);
  if (mo !== undefined && (mo < 1 || mo > 12)) return undefined;
  if (d !== undefined && (d < 1 || d > daysIn(y, mo as number))) return undefined;
  if (h !== undefined && h > 23) return undefined;
  if (mi !== undefined && mi > 59) return undefined;
  if (s !== undefined && s > 59) return undefined;
  let out = m[1] as string;
  if (mo === undefined) return out;
  out += `-${m[2]}`;
  if (d === undefined) return out;
  out += `-${m[3]}`;
  if (h === undefined) return out;
  out += `T${m[4]}`;
  if (mi !== undefined) out += `:${m[5]}`;
  if (s !== undefined) out += `:${m[6]}`;
  if (m[7] !== undefined) out += `.${m[7]}`;
  if (m[8] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 14 || om > 59) return undefined;
    return out + fmtOffset((m[8] === '-' ? -1 : 1) * (oh * 60 + om));
  }
  if (opts?.assumeZone) {
    const ms = (m[7] ?? '').padEnd(3, '0').slice(0, 3);
    const wall = Date.UTC(y, (mo) - 1, d, h, mi ?? 0, s ?? 0, Number(ms));
    let off: number;
    try { off = offsetForWallTime(wall, opts.assumeZone); } catch { return undefined; }
    return out + fmtOffset(off);
  }
  return out;
}

/**
 * A Date as HL7 DTM to the second with an explicit offset (`YYYYMMDDHHMMSS+ZZZZ`), by default
 * UTC `+0000`, so what we write never depends on the host's zone (used for ACK MSH-7).
 */
export function formatHl7DateTime(date: Date, offsetMinutes = 0): string {
  const shifted = date.getTime() + offsetMinutes * 60000;
  // Every ACK carries one: within one second (and offset) the text is the same, so reuse it.
  const second = Math.floor(shifted / 1000);
  if (second === lastSecond && offsetMinutes === lastOffset) return lastText;
  const t = new Date(shifted);
  const a = Math.abs(offsetMinutes);
  const text = `${t.getUTCFullYear()}${p2(t.getUTCMonth() + 1)}${p2(t.getUTCDate())}${p2(t.getUTCHours())}${p2(t.getUTCMinutes())}${p2(t.getUTCSeconds())}` +
    `${offsetMinutes < 0 ? '-' : '+'}${p2(Math.floor(a / 60))}${p2(a % 60)}`;
  lastSecond = second;
  lastOffset = offsetMinutes;
  lastText = text;
  return text;
}
let lastSecond = NaN;
let lastOffset = NaN;
let lastText = '';
