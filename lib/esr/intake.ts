/**
 * The ESR nightly intake, end to end and safe: list the source, pick files by pattern in ESR
 * sequence order, download each to a temporary file (retried from scratch when the connection
 * drops; a download whose size differs from the listing is never processed), prove the file is
 * complete (HDR/TRL and the trailer's record count), skip a file already seen (name + SHA-256),
 * then stream its rows: valid rows go on, invalid rows go to quarantine (owner "workforce team")
 * and the invalid output, person/assignment rows update the workforce state and yield
 * joiner/mover/leaver events. The remote file is archived only after its last rows are committed.
 *
 * Durability: rows are handed on batch by batch and each batch's state changes commit together
 * with the file's watermark (the last line done). After a crash the file resumes after the
 * watermark, so a row handed on before its batch committed may be handed on again (at-least-once,
 * DESIGN.md §4), but no row is handed on twice once its batch is committed.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NhsError } from '../errors';
import { operationOutcome, type OperationOutcome } from '../outcome';
import { park } from '../quarantine/service';
import type { EsrState } from '../store/esr-state';
import type { NewAuditRecord, Store } from '../store/types';
import type { FileSource, RemoteEntry } from '../remote/source';
import { namePattern } from '../remote/source';
import type { EsrAlert } from './alerts';
import { MissingFileWatch } from './alerts';
import { checkCsvFile, checkCsvRow, csvRows, csvSchema, type CsvFormat } from './csv';
import { checkEnvelope, checkGoRow, goRows, inspectGoFile, parseGoFileName, type CheckedRow, type GoFileInfo, type GoRow } from './go';
import type { RecordSchema } from './records';
import { idsOf, JmlDiff, type JmlEvent } from './jml';
import { namedFields } from './records';

/** `msg.esr` on every output (DESIGN.md §2): where the row came from, never a verdict. */
export interface EsrMsgInfo {
  file: string;
  line: number;
  recordType: string;
  action: 'A' | 'D' | null;
}

export interface EsrRecordMsg {
  topic: string;
  payload: { recordType: string; record: string; fields: string[]; named: Record<string, string> };
  esr: EsrMsgInfo;
  outcome: OperationOutcome;
}

export interface EsrInvalidMsg {
  topic: string;
  /** The row as it was in the file (`~`-joined), so a person can fix it in quarantine. */
  payload: string;
  esr: EsrMsgInfo;
  outcome: OperationOutcome;
  quarantine?: { id: string; reason: string; code: string; owner: string; at: string };
}

export interface EsrProgress {
  file: string;
  rows: number;
  rowsPerSecond: number;
  done: boolean;
}

/** What the intake hands on; the node maps each to an output. Called in file order. */
export interface IntakeSink {
  record(m: EsrRecordMsg): void;
  invalid(m: EsrInvalidMsg): void;
  event(e: JmlEvent): void;
  alert(a: EsrAlert): void;
  progress?(p: EsrProgress): void;
}

export interface FileCounts {
  rows: number;
  valid: number;
  invalid: number;
  joiners: number;
  movers: number;
  leavers: number;
  [k: string]: number;
}

export type FileOutcome = 'processed' | 'rejected' | 'duplicate' | 'out-of-sequence' | 'already-seen' | 'unstable' | 'failed';

export interface FileResult {
  name: string;
  outcome: FileOutcome;
  hash?: string;
  counts?: FileCounts;
  reason?: string;
}

export interface IntakeOptions {
  /** Stable id of the source (the config node id): the ledger and state namespace. */
  source: string;
  /** Node id for audit and quarantine records. */
  node: string;
  flow?: string;
  store: Store;
  tempDir: string;
  pattern?: string;
  clock?: () => Date;
  /** A full extract (GDR) makes leavers of active people/assignments it no longer contains. */
  leaversFromFullExtract?: boolean;
  /** Process a re-sent file (same content) again instead of reporting and skipping it. */
  reprocessDuplicates?: boolean;
  /** Process a file whose sequence number is not above the last one processed. */
  allowOutOfSequence?: boolean;
  /** List twice this many ms apart; a file whose size changed is left for the next poll. */
  stableMs?: number;
  /** Download attempts per file (default 3). */
  downloadAttempts?: number;
  /** Rows per batch / commit (default 500). */
  batch?: number;
  /** Quarantine owner for bad rows (default "workforce team"). */
  owner?: string;
  /** `HH:MM` deadline for the missing-file alert (none: no alert). */
  expectBy?: string;
  /** Write one audit record per event (default true). */
  auditEvents?: boolean;
  /** Plain CSV extracts (ESR BI reports) with this column schema instead of GO files. */
  csv?: CsvFormat;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function newCounts(): FileCounts {
  return { rows: 0, valid: 0, invalid: 0, joiners: 0, movers: 0, leavers: 0 };
}

/** GO files first in sequence order, then any other names in name order. */
export function orderFiles(entries: readonly RemoteEntry[]): RemoteEntry[] {
  const key = (e: RemoteEntry): number => parseGoFileName(e.name)?.seq ?? Number.MAX_SAFE_INTEGER;
  return [...entries].sort((a, b) => key(a) - key(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One intake (one source): `poll()` processes what is there; state lives in the store. */
export class EsrIntake {
  private readonly clock: () => Date;
  private readonly state: EsrState;
  private readonly watch: MissingFileWatch | undefined;
  private readonly pattern: RegExp;
  private stopping = false;

  constructor(private readonly o: IntakeOptions, private readonly sink: IntakeSink) {
    this.clock = o.clock ?? (() => new Date());
    if (!o.store.esrState) throw new NhsError('ESR_STORE_UNSUPPORTED', 'this store has no ESR state (schema v4)');
    this.state = o.store.esrState();
    this.pattern = namePattern(o.pattern);
    const mins = o.expectBy ? /^(\d{1,2}):(\d{2})$/.exec(o.expectBy.trim()) : null;
    this.watch = mins ? new MissingFileWatch(this.state, o.source, Number(mins[1]) * 60 + Number(mins[2]), this.clock) : undefined;
  }

  /** Ask a running poll to stop after the current batch (node close). */
  stop(): void {
    this.stopping = true;
  }

  /** The missing-file check alone (a timer calls it between polls). */
  async checkMissing(): Promise<void> {
    const a = await this.watch?.check();
    if (a) this.sink.alert(a);
  }

  /** List, pick, and process every matching file once; the missing-file check runs after. */
  async poll(src: FileSource): Promise<FileResult[]> {
    const results: FileResult[] = [];
    try {
      let entries = (await src.list()).filter((e) => this.pattern.test(e.name));
      if (this.o.stableMs && entries.length > 0) {
        await sleep(this.o.stableMs);
        const again = new Map((await src.list()).map((e) => [e.name, e.size]));
        for (const e of entries) if (again.get(e.name) !== e.size) results.push({ name: e.name, outcome: 'unstable' });
        entries = entries.filter((e) => again.get(e.name) === e.size);
      }
      for (const e of orderFiles(entries)) {
        if (this.stopping) break;
        results.push(await this.processEntry(src, e));
      }
    } finally {
      await src.close().catch(() => undefined);
    }
    await this.checkMissing();
    return results;
  }

  private async download(src: FileSource, e: RemoteEntry, to: string): Promise<void> {
    const attempts = Math.max(1, this.o.downloadAttempts ?? 3);
    let last: unknown;
    for (let i = 1; i <= attempts; i++) {
      try {
        await rm(to, { force: true });
        const n = await src.download(e.name, to);
        if (n !== e.size) throw new NhsError('REMOTE_INCOMPLETE', `downloaded ${n} of ${e.size} bytes`);
        return;
      } catch (err) {
        last = err;
        await src.close().catch(() => undefined);
        if (i < attempts) await sleep(Math.min(5000, 200 * 2 ** (i - 1)));
      }
    }
    await rm(to, { force: true });
    throw last instanceof NhsError ? last : new NhsError('REMOTE_DOWNLOAD_FAILED', `${e.name}: download failed`, { cause: last });
  }

  private async audit(r: Omit<NewAuditRecord, 'node'>): Promise<void> {
    await this.o.store.appendAudit({ node: this.o.node, flow: this.o.flow ?? null, actor: 'system', ...r });
  }

  /** One listed file: download, check, process (or reject / skip). */
  async processEntry(src: FileSource, e: RemoteEntry): Promise<FileResult> {
    await mkdir(this.o.tempDir, { recursive: true });
    const tmp = join(this.o.tempDir, `esr-${randomUUID()}.part`);
    try {
      await this.download(src, e, tmp);
      return await this.processLocal(src, e.name, tmp);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async reject(src: FileSource | undefined, name: string, info: GoFileInfo, status: 'rejected' | 'duplicate', outcome: FileOutcome, reason: string, text: string): Promise<FileResult> {
    const at = this.clock().toISOString();
    await this.state.finishFile(this.o.source, name, info.hash, status, {}, reason, at);
    await this.audit({ action: 'esr.file', outcome: status, correlationId: name, detail: { hash: info.hash, size: info.size, reason } });
    this.sink.alert({
      type: outcome === 'duplicate' ? 'file-duplicate' : outcome === 'out-of-sequence' ? 'file-out-of-sequence' : 'file-rejected',
      severity: outcome === 'duplicate' ? 'warning' : 'error', text, at, source: this.o.source, file: name, reason,
    });
    if (status === 'duplicate' && src) await src.archive(name);
    return { name, outcome, hash: info.hash, reason };
  }

  /** Process a downloaded file (the local path holds the complete bytes). */
  async processLocal(src: FileSource | undefined, name: string, path: string): Promise<FileResult> {
    const info = await inspectGoFile(path);
    const seen = await this.state.getFile(this.o.source, name, info.hash);
    if (seen && seen.status !== 'processing') {
      // Done before (a crash between commit and archive, or no archive folder): archive, say nothing.
      if (seen.status === 'done' && src) await src.archive(name);
      return { name, outcome: 'already-seen', hash: info.hash };
    }
    if (!seen) {
      const dup = await this.state.findDone(this.o.source, info.hash);
      if (dup && !this.o.reprocessDuplicates) {
        return this.reject(src, name, info, 'duplicate', 'duplicate', 'duplicate', `${name} has the same content as ${dup.name}, already processed: skipped`);
      }
      const issues = this.o.csv ? await checkCsvFile(name, path, this.o.csv) : checkEnvelope(name, info);
      if (issues.length > 0) {
        const reason = issues.some((i) => i.diagnostics?.includes('record count') || i.code === 'incomplete') ? 'trailer-mismatch' : 'header-invalid';
        return this.reject(undefined, name, info, 'rejected', 'rejected', reason, `${name} rejected: ${issues.map((i) => i.diagnostics).join('; ')}`);
      }
      const go = this.o.csv ? undefined : parseGoFileName(name);
      const last = await this.state.lastSeq(this.o.source);
      if (go && last !== undefined && go.seq <= last && !this.o.allowOutOfSequence) {
        return this.reject(undefined, name, info, 'rejected', 'out-of-sequence', 'out-of-sequence',
          `${name} rejected: sequence ${go.seq} is not after the last processed sequence ${last}`);
      }
    }
    return this.rows(src, name, path, info);
  }

  private async rows(src: FileSource | undefined, name: string, path: string, info: GoFileInfo): Promise<FileResult> {
    const csv = this.o.csv;
    const go = csv ? undefined : parseGoFileName(name);
    const schema: RecordSchema | undefined = csv ? csvSchema(csv) : undefined;
    const source: AsyncGenerator<GoRow[]> = csv ? csvRows(path, csv, this.o.batch ?? 500) : goRows(path, { batch: this.o.batch ?? 500 });
    const check = (r: GoRow): CheckedRow => (schema ? checkCsvRow(name, r, schema) : checkGoRow(name, r));
    // Frame rows: HDR/TRL of a GO file, the header row of a CSV report.
    const frame = (r: GoRow): boolean => (csv ? csv.header !== false && r === firstRow : r.fields[0] === 'HDR' || r.fields[0] === 'TRL');
    let firstRow: GoRow | undefined;
    const rec = await this.state.beginFile({ source: this.o.source, name, hash: info.hash, seq: go?.seq ?? null, kind: go?.kind ?? null, size: info.size, at: this.clock().toISOString() });
    const counts: FileCounts = { ...newCounts(), ...rec.counts };
    const resumeAfter = rec.committedLine;
    // A full extract stamps every entity it contains (reconciliation finds the missing ones by that
    // stamp), whether or not leavers-from-full-extract is on now: the setting may change between a
    // crash and the resume. A delta writes only what changed.
    const diff = new JmlDiff({ source: this.o.source, file: name, stampSeen: go?.kind === 'GDR' });
    const started = Date.now();
    let lastLine = resumeAfter;
    let sinceStart = 0;
    for await (const batch of source) {
      const checked: CheckedRow[] = [];
      for (const r of batch) {
        firstRow ??= r;
        if (r.line <= resumeAfter) continue;
        lastLine = r.line;
        if (frame(r)) continue;
        checked.push(check(r));
      }
      if (checked.length === 0) continue;
      const ids = idsOf(checked);
      diff.prime(await this.state.loadPeople(this.o.source, ids.people), await this.state.loadAssignments(this.o.source, ids.assignments));
      const events: JmlEvent[] = [];
      const bad: CheckedRow[] = [];
      for (const c of checked) {
        counts.rows++;
        sinceStart++;
        if (c.issues.length > 0) {
          counts.invalid++;
          bad.push(c);
          continue;
        }
        counts.valid++;
        this.sink.record({
          topic: c.recordType,
          payload: { recordType: c.recordType, record: c.schema!.name, fields: c.fields, named: namedFields(c.schema!, c.fields) },
          esr: { file: name, line: c.line, recordType: c.recordType, action: c.action },
          outcome: operationOutcome([]),
        });
        for (const ev of diff.apply(c)) events.push(ev);
      }
      if (bad.length > 0) await this.invalidRows(name, bad);
      await this.emitEvents(events, counts);
      const changed = diff.drain();
      await this.state.commitBatch({ source: this.o.source, name, hash: info.hash, line: lastLine, counts, ...changed, at: this.clock().toISOString() });
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      this.sink.progress?.({ file: name, rows: counts.rows, rowsPerSecond: Math.round(sinceStart / secs), done: false });
      if (this.stopping) return { name, outcome: 'failed', hash: info.hash, reason: 'stopped', counts };
    }
    if (go?.kind === 'GDR' && this.o.leaversFromFullExtract) {
      const events = diff.reconcile(await this.state.unseen(this.o.source, name));
      await this.emitEvents(events, counts);
      const changed = diff.drain();
      await this.state.commitBatch({ source: this.o.source, name, hash: info.hash, line: lastLine, counts, ...changed, at: this.clock().toISOString() });
    }
    const at = this.clock().toISOString();
    await this.state.finishFile(this.o.source, name, info.hash, 'done', counts, null, at);
    await this.audit({ action: 'esr.file', outcome: 'success', correlationId: name, detail: { hash: info.hash, size: info.size, ...counts } });
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    this.sink.progress?.({ file: name, rows: counts.rows, rowsPerSecond: Math.round(sinceStart / secs), done: true });
    if (src) await src.archive(name);
    const resolved = await this.watch?.arrived(name);
    if (resolved) this.sink.alert(resolved);
    return { name, outcome: 'processed', hash: info.hash, counts };
  }

  /** Count, audit (one record per event, group committed together) and hand on a batch's events. */
  private async emitEvents(events: JmlEvent[], counts: FileCounts): Promise<void> {
    for (const ev of events) {
      if (ev.type === 'joiner') counts.joiners++;
      else if (ev.type === 'mover') counts.movers++;
      else counts.leavers++;
    }
    if (this.o.auditEvents !== false) {
      // Issued together so the store commits them in one transaction, in this order.
      await Promise.all(events.map((ev) => this.audit({
        action: `esr.${ev.type}`, outcome: 'success', correlationId: `${ev.file}:${ev.line}`,
        detail: { entity: ev.entity, reason: ev.reason, personId: ev.personId, ...(ev.assignmentId ? { assignmentId: ev.assignmentId } : {}) },
      })));
    }
    for (const ev of events) this.sink.event(ev);
  }

  /** Quarantine a batch's bad rows (one store transaction), then hand them on in file order. */
  private async invalidRows(file: string, rows: CheckedRow[]): Promise<void> {
    const msgs = rows.map((c): EsrInvalidMsg => ({
      topic: c.recordType, payload: c.fields.join('~'), esr: { file, line: c.line, recordType: c.recordType, action: c.action }, outcome: operationOutcome(c.issues),
    }));
    const items = await Promise.all(msgs.map((msg, i) => park(this.o.store, {
      msg: msg as unknown as Record<string, unknown>, reasonCode: 'ESR_ROW_INVALID', owner: this.o.owner ?? 'workforce team',
      reason: `ESR row invalid: ${rows[i]!.issues.length} issue(s), first: ${rows[i]!.issues[0]?.diagnostics ?? ''}`.slice(0, 500),
      node: this.o.node, flow: this.o.flow ?? null, correlationId: `${file}:${msg.esr.line}`, contentType: 'text', detail: msg.outcome as unknown as Record<string, unknown>,
    })));
    msgs.forEach((msg, i) => {
      const item = items[i]!;
      msg.quarantine = { id: item.id, reason: item.reason, code: item.reasonCode, owner: item.owner, at: item.createdAt };
      this.sink.invalid(msg);
    });
  }
}
