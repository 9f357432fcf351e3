/**
 * Intake alerts: "the nightly file has not arrived by HH:MM" raised once per day and "resolved"
 * once when a file comes; "file rejected", "duplicate" and "out of sequence" once per file (the
 * file ledger remembers the file, so a later poll does not repeat them). The missing-file state is
 * kept in the store, so a restart neither repeats nor forgets an alert.
 */
import type { EsrState } from '../store/esr-state';

export type EsrAlertType = 'file-missing' | 'file-missing-resolved' | 'file-rejected' | 'file-duplicate' | 'file-out-of-sequence';

/** One alert (msg.payload on the alerts output). No personal data: file names and counts only. */
export interface EsrAlert {
  type: EsrAlertType;
  severity: 'error' | 'warning' | 'information';
  /** Readable text for a person on call. */
  text: string;
  at: string;
  source: string;
  file?: string;
  /** Local day (YYYY-MM-DD) of a missing-file alert. */
  day?: string;
  /** Machine reason (`trailer-mismatch`, …) for a rejected file. */
  reason?: string;
}

/** `HH:MM` (24 h) → minutes after midnight, or undefined when absent or malformed. */
export function parseDeadline(hhmm: string | undefined): number | undefined {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec((hhmm ?? '').trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local calendar day of `d` (the trust's clock, as "by 06:00" means). */
export function localDay(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const ALERT_KEY = 'missing-file';

/**
 * The daily missing-file check. `check()` runs on every poll (and on a timer); it raises
 * `file-missing` once for a day when the deadline has passed and no file arrived since local
 * midnight. `arrived()` is called when a file arrives and resolves an open alert once.
 */
export class MissingFileWatch {
  constructor(
    private readonly state: EsrState,
    private readonly source: string,
    private readonly deadlineMinutes: number,
    private readonly clock: () => Date,
    private readonly label = 'ESR extract',
  ) {}

  async check(): Promise<EsrAlert | undefined> {
    const now = this.clock();
    const minutes = now.getHours() * 60 + now.getMinutes();
    if (minutes < this.deadlineMinutes) return undefined;
    const day = localDay(now);
    const cur = await this.state.getAlert(this.source, ALERT_KEY);
    if (cur && cur.day === day) return undefined; // already raised (or resolved) today
    const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
    if ((await this.state.filesSince(this.source, midnight)).length > 0) return undefined;
    const at = now.toISOString();
    await this.state.setAlert(this.source, ALERT_KEY, { state: 'missing', day, at });
    const hhmm = `${pad(Math.floor(this.deadlineMinutes / 60))}:${pad(this.deadlineMinutes % 60)}`;
    return { type: 'file-missing', severity: 'error', text: `The nightly ${this.label} has not arrived by ${hhmm} (${day})`, at, source: this.source, day };
  }

  async arrived(file: string): Promise<EsrAlert | undefined> {
    const cur = await this.state.getAlert(this.source, ALERT_KEY);
    if (!cur || cur.state !== 'missing') return undefined;
    const at = this.clock().toISOString();
    await this.state.setAlert(this.source, ALERT_KEY, { state: 'resolved', day: cur.day, at });
    return { type: 'file-missing-resolved', severity: 'information', text: `The ${this.label} for ${cur.day ?? 'today'} has arrived`, at, source: this.source, file, ...(cur.day ? { day: cur.day } : {}) };
  }
}
