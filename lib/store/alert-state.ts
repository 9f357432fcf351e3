/**
 * Alert state for the `nhs-monitor` node (schema version 5): one row per monitor and alert id —
 * where its rule stands (`open` / `closed`), since when its condition has held or been clear
 * (the hold-time damping), and which state was last emitted to the flow. Kept in the store so a
 * restart neither repeats an alert nor forgets one that is open. No patient data: alert ids name
 * rules and nodes.
 */
import type Database from 'better-sqlite3';
import type { Pool } from 'pg';
import type { Migration } from './schema';

/** v5 DDL for both backends (depends only on v1's `schema_version`). */
export function alertMigration(prefix: string): Migration {
  return {
    version: 5,
    sql: `
CREATE TABLE ${prefix}alert_state (
  monitor TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
  emitted TEXT NOT NULL CHECK (emitted IN ('open', 'closed')),
  held_since TEXT,
  clear_since TEXT,
  opened_at TEXT,
  resolved_at TEXT,
  data TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (monitor, alert_id)
);
`,
  };
}

export interface AlertRow {
  monitor: string;
  alertId: string;
  /** Where the rule stands (after hold-time damping). */
  state: 'open' | 'closed';
  /** The last state told to the flow: differs from `state` only between a commit and its emit. */
  emitted: 'open' | 'closed';
  /** Condition holding (while closed) / clear (while open) since, for the hold time. */
  heldSince: string | null;
  clearSince: string | null;
  openedAt: string | null;
  resolvedAt: string | null;
  /** The alert as last emitted (rule, severity, target, detail): JSON, no patient data. */
  data: Record<string, unknown>;
  updatedAt: string;
}

/** Alert state part of a store (`store.alertState()`). */
export interface AlertState {
  load(monitor: string): Promise<AlertRow[]>;
  /** Upsert the rows in one transaction. */
  save(rows: AlertRow[]): Promise<void>;
  /** Open alerts of every monitor (the sidebar). */
  listOpen(): Promise<AlertRow[]>;
}

interface Raw { monitor: string; alert_id: string; state: string; emitted: string; held_since: string | null; clear_since: string | null; opened_at: string | null; resolved_at: string | null; data: string; updated_at: string }
const COLS = 'monitor, alert_id, state, emitted, held_since, clear_since, opened_at, resolved_at, data, updated_at';
const toRow = (r: Raw): AlertRow => ({
  monitor: r.monitor, alertId: r.alert_id, state: r.state === 'open' ? 'open' : 'closed', emitted: r.emitted === 'open' ? 'open' : 'closed',
  heldSince: r.held_since, clearSince: r.clear_since, openedAt: r.opened_at, resolvedAt: r.resolved_at,
  data: JSON.parse(r.data) as Record<string, unknown>, updatedAt: r.updated_at,
});
const values = (r: AlertRow): unknown[] => [r.monitor, r.alertId, r.state, r.emitted, r.heldSince, r.clearSince, r.openedAt, r.resolvedAt, JSON.stringify(r.data), r.updatedAt];
const UPDATE = 'state = excluded.state, emitted = excluded.emitted, held_since = excluded.held_since, clear_since = excluded.clear_since, opened_at = excluded.opened_at, resolved_at = excluded.resolved_at, data = excluded.data, updated_at = excluded.updated_at';

export class SqliteAlertState implements AlertState {
  constructor(private readonly db: Database.Database) {}
  load(monitor: string): Promise<AlertRow[]> {
    return Promise.resolve((this.db.prepare(`SELECT ${COLS} FROM alert_state WHERE monitor = ? ORDER BY alert_id`).all(monitor) as Raw[]).map(toRow));
  }
  save(rows: AlertRow[]): Promise<void> {
    const ins = this.db.prepare(`INSERT INTO alert_state (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (monitor, alert_id) DO UPDATE SET ${UPDATE}`);
    this.db.transaction(() => { for (const r of rows) ins.run(...values(r)); }).immediate();
    return Promise.resolve();
  }
  listOpen(): Promise<AlertRow[]> {
    return Promise.resolve((this.db.prepare(`SELECT ${COLS} FROM alert_state WHERE state = 'open' ORDER BY opened_at`).all() as Raw[]).map(toRow));
  }
}

export class PostgresAlertState implements AlertState {
  private readonly t: string;
  constructor(private readonly pool: Pool, schema: string) { this.t = `"${schema}".alert_state`; }
  async load(monitor: string): Promise<AlertRow[]> {
    return (await this.pool.query<Raw>(`SELECT ${COLS} FROM ${this.t} WHERE monitor = $1 ORDER BY alert_id`, [monitor])).rows.map(toRow);
  }
  async save(rows: AlertRow[]): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      for (const r of rows) await c.query(`INSERT INTO ${this.t} (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (monitor, alert_id) DO UPDATE SET ${UPDATE}`, values(r));
      await c.query('COMMIT');
      c.release();
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release(true);
      throw e;
    }
  }
  async listOpen(): Promise<AlertRow[]> {
    return (await this.pool.query<Raw>(`SELECT ${COLS} FROM ${this.t} WHERE state = 'open' ORDER BY opened_at`)).rows.map(toRow);
  }
}
