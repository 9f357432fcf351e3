/**
 * Crash safety (DESIGN.md §4 "nothing that was ACKed is ever lost"): a child process appends in a
 * loop and prints each id only after its promise resolved; we SIGKILL it at random moments mid
 * batch, reopen, and require every printed id to be present with identical bytes, every stored
 * row to be intact, and the audit chain to verify.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { GENESIS_HASH, auditHash } from '../../../lib/store/chain';
import type { StoreOptions } from '../../../lib/store';
import { postgresBackend, sqliteBackend, type BackendUnderTest } from './backends';
import { crashPayload } from './fixtures/payload';

const ROUNDS = 20;
const child = join(__dirname, 'fixtures', 'append-loop.ts');

interface RoundResult { reported: Map<number, string>; exitSignal: NodeJS.Signals | null; stderr: string }

/** Run the child until it has printed `ready`, wait a random moment, SIGKILL it. */
function crashRound(opts: StoreOptions, round: string, killAfterMs: number): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      env: { ...process.env, NHS_CRASH_OPTS: JSON.stringify(opts), NHS_CRASH_ROUND: round },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    let armed = false;
    const guard = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`round ${round}: child never became ready: ${stderr}`)); }, 15_000);
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      out += d;
      if (!armed && out.includes('ready\n')) {
        armed = true;
        setTimeout(() => p.kill('SIGKILL'), killAfterMs);
      }
    });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (_code, signal) => {
      clearTimeout(guard);
      const reported = new Map<number, string>();
      // Only complete lines count; a torn last line is ignored (it under-reports, never over-reports).
      const lines = out.split('\n');
      lines.pop();
      for (const line of lines) {
        const m = /^(\d+) (\S+)$/.exec(line);
        if (m) reported.set(Number(m[1]), m[2]!);
      }
      resolve({ reported, exitSignal: signal, stderr });
    });
  });
}

/** Run the child to completion with a fixed number of appends. */
function writerProcess(opts: StoreOptions, round: string, limit: number, go: Promise<void>, ready: () => void): Promise<RoundResult & { code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      env: { ...process.env, NHS_CRASH_OPTS: JSON.stringify(opts), NHS_CRASH_ROUND: round, NHS_CRASH_LIMIT: String(limit), NHS_CRASH_WAIT: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    void go.then(() => p.stdin.write('go\n'));
    let out = '';
    let stderr = '';
    const guard = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`writer ${round} timed out: ${stderr}`)); }, 30_000);
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      if (!out.includes('ready\n') && (out + d).includes('ready\n')) ready();
      out += d;
    });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(guard);
      const reported = new Map<number, string>();
      for (const line of out.split('\n')) {
        const m = /^(\d+) (\S+)$/.exec(line);
        if (m) reported.set(Number(m[1]), m[2]!);
      }
      resolve({ reported, exitSignal: signal, stderr, code });
    });
  });
}

function crashSuite(b: BackendUnderTest): void {
  describe(`crash safety: ${b.name}`, { skip: b.skip }, () => {
    after(() => b.cleanup());

    it('two processes writing one store at once lose nothing; the audit chain stays valid', async (t) => {
      const place = b.fresh();
      const N = 1500;
      let readyCount = 0;
      let start!: () => void;
      const go = new Promise<void>((r) => { start = r; });
      const ready = (): void => { if (++readyCount === 2) start(); };
      const [a, c] = await Promise.all([writerProcess(place.opts, 'pa', N, go, ready), writerProcess(place.opts, 'pb', N, go, ready)]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(c.code, 0, c.stderr);
      assert.equal(a.reported.size, N);
      assert.equal(c.reported.size, N);
      const store = place.make();
      await store.open();
      try {
        assert.equal(await store.countMessages({}), 2 * N);
        for (const [round, res] of [['pa', a], ['pb', c]] as const) {
          const rows = new Map((await store.findMessages({ channel: `crash-${round}`, limit: 100_000 })).map((m) => [m.id, m]));
          for (const [i, id] of res.reported) assert.ok(rows.get(id)?.raw.equals(crashPayload(round, i)), `${round} ${i}`);
        }
        const audit = await store.queryAudit({ limit: 100_000 });
        assert.equal(audit.length, 2 * Math.ceil(N / 8));
        let prev = GENESIS_HASH;
        audit.forEach((r, k) => {
          assert.equal(r.seq, k + 1);
          assert.equal(r.prevHash, prev);
          const { hash, ...rest } = r;
          assert.equal(hash, auditHash(rest));
          prev = hash;
        });
        // Both writers really interleaved in the chain (not one after the other).
        const owners = audit.map((r) => r.correlationId!.slice(0, 2));
        const switches = owners.filter((o, k) => k > 0 && o !== owners[k - 1]).length;
        t.diagnostic(`${switches} hand-overs between the two writers in the audit chain`);
        assert.ok(switches >= 3, `writers interleaved (${switches} hand-overs)`);
      } finally {
        await store.close();
      }
    });

    it(`SIGKILL mid-batch ${ROUNDS} times loses no reported append and leaves nothing half-written`, async (t) => {
      const place = b.fresh();
      let totalReported = 0;
      let killedWithWritesInFlight = 0;
      for (let r = 0; r < ROUNDS; r++) {
        const round = `r${r}`;
        // Early kills hit open/migration and the first batches; later ones hit a busy write loop.
        const killAfter = 5 + Math.floor(Math.random() * 250);
        const res = await crashRound(place.opts, round, killAfter);
        assert.equal(res.exitSignal, 'SIGKILL', `round ${round} must be killed, not exit: ${res.stderr}`);

        const store = place.make();
        await store.open();
        try {
          const rows = await store.findMessages({ channel: `crash-${round}`, limit: 100_000 });
          const byId = new Map(rows.map((m) => [m.id, m]));
          for (const [i, id] of res.reported) {
            const m = byId.get(id);
            assert.ok(m, `round ${round}: reported append ${i} missing after crash`);
            assert.ok(m.raw.equals(crashPayload(round, i)), `round ${round}: append ${i} bytes differ`);
          }
          for (const m of rows) {
            const i = Number(m.meta.i);
            assert.ok(Number.isInteger(i), 'meta intact');
            assert.ok(m.raw.equals(crashPayload(round, i)), `round ${round}: stored row ${i} is torn`);
            assert.equal(m.controlId, `${round}-${i}`);
          }
          if (rows.length > res.reported.size) killedWithWritesInFlight++;
          totalReported += res.reported.size;
          const audit = await store.queryAudit({ limit: 100_000 });
          let prev = GENESIS_HASH;
          audit.forEach((a, k) => {
            assert.equal(a.seq, k + 1);
            assert.equal(a.prevHash, prev);
            const { hash, ...rest } = a;
            assert.equal(hash, auditHash(rest), `audit seq ${a.seq} hash`);
            prev = hash;
          });
          assert.deepEqual(await store.auditHead(), audit.length ? { seq: audit.length, hash: prev } : undefined);
          for (const [i, id] of res.reported) {
            if (i % 8 === 0) assert.ok(audit.some((a) => a.messageId === id), `round ${round}: audit of reported ${i} missing`);
          }
        } finally {
          await store.close();
        }
      }
      // The test must have exercised something: appends were confirmed before kills, and some
      // kills landed while writes were queued or committing.
      t.diagnostic(`${totalReported} confirmed appends checked; ${killedWithWritesInFlight}/${ROUNDS} kills left committed-but-unconfirmed writes`);
      assert.ok(totalReported > 0, 'children confirmed appends before being killed');
      assert.ok(killedWithWritesInFlight > 0, 'at least one kill landed with unconfirmed writes');
    });
  });
}

crashSuite(sqliteBackend());
crashSuite(postgresBackend());
