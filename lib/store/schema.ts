import { esrMigration, esrSeenIndexDrop } from './esr-state';
import { alertMigration } from './alert-state';

/**
 * Schema migrations, numbered; each backend records the versions applied in `schema_version`.
 * Add a migration by appending — never edit one that has shipped. Times are ISO 8601 text in
 * `toISOString()` form on both backends so the stored `at` is byte-identical to the hashed one and
 * text order is time order.
 */

export interface Migration {
  version: number;
  sql: string;
}

/** One DDL for both backends; only the column types differ. */
function v1(t: { blob: string; serial: string; int: string; bigint: string; prefix: string }): string {
  const p = t.prefix;
  return `
CREATE TABLE ${p}messages (
  seq ${t.serial},
  id TEXT NOT NULL UNIQUE,
  channel TEXT NOT NULL,
  raw ${t.blob} NOT NULL,
  control_id TEXT,
  message_type TEXT,
  meta TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('received', 'processed', 'errored')),
  status_detail TEXT,
  received_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX messages_channel_idx ON ${p}messages (channel, seq);
CREATE INDEX messages_control_idx ON ${p}messages (control_id);
-- Partial: a new message ('received') costs no entry here, only the status change does.
CREATE INDEX messages_status_idx ON ${p}messages (status, updated_at) WHERE status <> 'received';

CREATE TABLE ${p}outbox (
  seq ${t.serial},
  id TEXT NOT NULL UNIQUE,
  destination TEXT NOT NULL,
  payload ${t.blob} NOT NULL,
  control_id TEXT,
  meta TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'inflight', 'done', 'parked')),
  attempts ${t.int} NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX outbox_open_idx ON ${p}outbox (destination, seq) WHERE state IN ('pending', 'inflight');
CREATE INDEX outbox_state_idx ON ${p}outbox (state, updated_at);

CREATE TABLE ${p}audit (
  seq ${t.bigint} PRIMARY KEY,
  at TEXT NOT NULL,
  node TEXT NOT NULL,
  flow TEXT,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  correlation_id TEXT,
  subject TEXT,
  actor TEXT,
  message_id TEXT,
  detail TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_subject_idx ON ${p}audit (subject);
CREATE INDEX audit_correlation_idx ON ${p}audit (correlation_id);
CREATE INDEX audit_message_idx ON ${p}audit (message_id);
CREATE INDEX audit_at_idx ON ${p}audit (at);

CREATE TABLE ${p}audit_head (
  id ${t.int} PRIMARY KEY CHECK (id = 1),
  seq ${t.bigint} NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO ${p}audit_head (id, seq, hash) VALUES (1, 0, '${'0'.repeat(64)}');

CREATE TABLE ${p}quarantine (
  seq ${t.serial},
  id TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('open', 'released', 'discarded')),
  reason_code TEXT NOT NULL,
  reason TEXT NOT NULL,
  owner TEXT NOT NULL,
  due_at TEXT,
  node TEXT NOT NULL,
  flow TEXT,
  correlation_id TEXT,
  subject TEXT,
  message_id TEXT,
  original TEXT NOT NULL,
  content_type TEXT NOT NULL,
  detail TEXT,
  edit_diff TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  notified_at TEXT,
  resolved_at TEXT,
  resolved_by TEXT,
  resolution TEXT,
  release_count ${t.int} NOT NULL DEFAULT 0
);
CREATE INDEX quarantine_state_idx ON ${p}quarantine (state, seq);
CREATE INDEX quarantine_reason_idx ON ${p}quarantine (reason_code);
CREATE INDEX quarantine_owner_idx ON ${p}quarantine (owner);
CREATE INDEX quarantine_message_idx ON ${p}quarantine (message_id);
`;
}

/**
 * v2: who holds an outbox item's lease (`claimNext(…, owner)`). A sender that restarts after a
 * crash takes back at once only what it held itself; an item another live instance holds keeps
 * its lease (two Node-RED instances on one PostgreSQL store, or on one SQLite file).
 */
function v2(prefix: string): string {
  return `ALTER TABLE ${prefix}outbox ADD COLUMN lease_owner TEXT;`;
}

/**
 * v3: at-least-once hand-off in `commit` mode (DESIGN.md §4). `messages.owner` is the receiving
 * owner (one listener in one instance), so a listener replays only what it received itself;
 * `handoff` holds each (listener, owner)'s durable watermark: the highest message seq handed to
 * the flow. Old messages have no owner and are never replayed.
 */
function v3(t: { bigint: string; prefix: string }): string {
  const p = t.prefix;
  return `
ALTER TABLE ${p}messages ADD COLUMN owner TEXT;
CREATE TABLE ${p}handoff (
  channel TEXT NOT NULL,
  owner TEXT NOT NULL,
  seq ${t.bigint} NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (channel, owner)
);
`;
}

/**
 * v7: who made a quarantine item's current edit, and when (HAZ-014 C7, the two-person rule: an
 * edited item is released only by someone other than its last editor). Items edited before v7
 * have no recorded editor; lib/quarantine/service.ts treats that as "unknown" (never as "someone
 * else"). Two statements: SQLite adds one column per ALTER TABLE.
 */
function v7(prefix: string): string {
  return `ALTER TABLE ${prefix}quarantine ADD COLUMN edited_by TEXT;\nALTER TABLE ${prefix}quarantine ADD COLUMN edited_at TEXT;\n`;
}

/** AUTOINCREMENT so a seq is never reused after retention deletes the newest rows. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  { version: 1, sql: v1({ blob: 'BLOB', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', int: 'INTEGER', bigint: 'INTEGER', prefix: '' }) },
  { version: 2, sql: v2('') },
  { version: 3, sql: v3({ bigint: 'INTEGER', prefix: '' }) },
  esrMigration(''),
  alertMigration(''),
  esrSeenIndexDrop(''),
  { version: 7, sql: v7('') },
];

/** `schema` is a validated identifier (see postgres.ts); indexes live in the table's schema. */
export function postgresMigrations(schema: string): readonly Migration[] {
  return [
    { version: 1, sql: v1({ blob: 'BYTEA', serial: 'BIGSERIAL PRIMARY KEY', int: 'INTEGER', bigint: 'BIGINT', prefix: `"${schema}".` }) },
    { version: 2, sql: v2(`"${schema}".`) },
    { version: 3, sql: v3({ bigint: 'BIGINT', prefix: `"${schema}".` }) },
    esrMigration(`"${schema}".`),
    alertMigration(`"${schema}".`),
    esrSeenIndexDrop(`"${schema}".`),
    { version: 7, sql: v7(`"${schema}".`) },
  ];
}
