// Fuzzing at scale (not part of `npm test`): fast-check drives each target's generator (generated
// messages, mutated fixtures, token soup, raw bytes) through its oracle in a worker thread.
//
//   npm run fuzz                         every target, 1,000,000 inputs each
//   npm run fuzz -- parseHl7 fromJSON    some targets
//   npm run fuzz -- --runs 200000 --seed 7 --jobs 2
//   npm run fuzz -- --jobs 7 --max-seconds 2100   stop each target after 35 minutes
//
// Findings, each saved as a regression fixture (test/lib/hl7/fixtures/fuzz/<target>-<kind>-<hash>
// .json, replayed by test/lib/hl7/fuzz-regressions.test.ts; for the FHIR, ESR, CSV map, PDS and
// terminology targets test/lib/fuzz/fixtures/…, replayed by test/lib/fuzz/regressions.test.ts):
//   crash      the target threw something other than an assertion (shrunk by fast-check)
//   invariant  an oracle assertion failed (lossless round trip, split invariance, ...)
//   hang       one input took over 1 s (timed in the worker, confirmed by a second run), or the
//              worker stopped answering for 10 s (a watchdog in this thread kills and restarts it)
//   memory     the worker ran out of its 256 MB old-generation heap
// Exit status 1 when anything was found. Targets live in test/lib/hl7/fixtures/fuzz-targets.ts and
// test/lib/fuzz/targets.ts.
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { setInterval, clearInterval } from 'node:timers';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HL7 = ['parseHl7', 'fromJSON', 'mllpDecoder'];
// FHIR JSON, validateText, ESR rows, CSV maps, PDS and terminology responses: test/lib/fuzz/targets.ts.
const PARSERS = ['validateUkCore', 'validateR4', 'fhirJson', 'csvMap', 'esrRows', 'pdsResponse', 'terminologyResponse'];
const ALL = [...HL7, ...PARSERS];
const fixturesOf = (target) => join(root, HL7.includes(target) ? 'test/lib/hl7/fixtures/fuzz' : 'test/lib/fuzz/fixtures');
const WATCHDOG_MS = 10000;
const INPUT_CAP = 4 * 1024 * 1024;

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const runs = Number(opt('runs', 1_000_000));
const seed = Number(opt('seed', Date.now() % 2 ** 31));
const jobs = Math.max(1, Number(opt('jobs', 1)));
// A shared machine may not reach `runs` in the time there is: stop each target after this many
// seconds and report what it reached (marked "stopped" in the table), instead of losing the run.
const maxSeconds = Number(opt('max-seconds', Infinity));
const targets = args.length ? args : ALL;
for (const t of targets) if (!ALL.includes(t)) { console.error(`unknown target ${t} (${ALL.join(', ')})`); process.exit(2); }

function save(target, kind, error, input) {
  const fixtures = fixturesOf(target);
  mkdirSync(fixtures, { recursive: true });
  const hash = createHash('sha256').update(input).digest('hex').slice(0, 12);
  const file = join(fixtures, `${target}-${kind}-${hash}.json`);
  writeFileSync(file, `${JSON.stringify({ target, kind, error: String(error).split('\n')[0].slice(0, 300), foundWithSeed: seed, input }, null, 1)}\n`);
  return file;
}

/** Run one target to `runs` inputs, restarting its worker after a hang or an out-of-memory death. */
function fuzz(target) {
  return new Promise((resolve) => {
    const shared = new SharedArrayBuffer(16);
    const state = new Int32Array(shared); // [inputs done, busy flag, input length, heartbeat]
    const inputBuf = new SharedArrayBuffer(INPUT_CAP);
    const stats = { target, inputs: 0, ms: 0, crash: 0, invariant: 0, hang: 0, slowOnce: 0, memory: 0, peakHeapMb: 0, files: [], stopped: false };
    const t0 = Date.now();
    let start = 0;
    let current;
    const deadline = setTimeout(() => {
      stats.stopped = true;
      start = runs;
      if (current) void current.terminate();
    }, Math.min(maxSeconds * 1000, 2 ** 31 - 1));
    const next = () => {
      if (start >= runs) {
        clearTimeout(deadline);
        stats.ms = Date.now() - t0;
        return resolve(stats);
      }
      Atomics.store(state, 0, start);
      const w = new Worker(new URL('./fuzz-worker.mjs', import.meta.url), {
        workerData: { target, from: start, runs, seed, shared, inputBuf },
        resourceLimits: { maxOldGenerationSizeMb: 256 },
      });
      current = w;
      let last = -1;
      let lastBeat = -1;
      let since = Date.now();
      let ended = false;
      let ready = false;
      const currentInput = () => Buffer.from(new Uint8Array(inputBuf, 0, Math.min(Atomics.load(state, 2), INPUT_CAP))).toString('utf8');
      const watchdog = setInterval(() => {
        const done = Atomics.load(state, 0);
        const beat = Atomics.load(state, 3);
        if (done !== last || beat !== lastBeat || Atomics.load(state, 1) === 0) { last = done; lastBeat = beat; since = Date.now(); return; }
        if (Date.now() - since < WATCHDOG_MS) return;
        stats.hang++;
        stats.files.push(save(target, 'hang', `no answer for ${WATCHDOG_MS} ms`, currentInput()));
        ended = true;
        clearInterval(watchdog);
        start = done + 1;
        void w.terminate().then(next);
      }, 250);
      w.on('message', (m) => {
        if (m.type === 'ready') ready = true;
        else if (m.type === 'finding') {
          stats[m.kind]++;
          if (m.kind !== 'slowOnce') stats.files.push(save(target, m.kind, m.error, m.input));
        } else if (m.type === 'progress') {
          stats.peakHeapMb = Math.max(stats.peakHeapMb, m.heapMb);
          const rate = Math.round(m.done / ((Date.now() - t0) / 1000));
          process.stderr.write(`  ${target}: ${m.done.toLocaleString('en-GB')} inputs, ${rate}/s, peak heap ${stats.peakHeapMb} MB\n`);
        } else if (m.type === 'done') {
          stats.inputs = m.done;
        }
      });
      w.on('error', (e) => {
        if (ended) return;
        ended = true;
        clearInterval(watchdog);
        if (!ready) {
          // The worker could not even load its target: a setup failure, not a finding.
          console.error(`fuzz: ${target} worker failed to start: ${e && e.stack ? e.stack : e}`);
          process.exit(2);
        }
        const done = Atomics.load(state, 0);
        const oom = e && e.code === 'ERR_WORKER_OUT_OF_MEMORY';
        stats[oom ? 'memory' : 'crash']++;
        stats.files.push(save(target, oom ? 'memory' : 'crash', e, currentInput()));
        start = done + 1;
        next();
      });
      w.on('exit', () => {
        if (ended) return;
        ended = true;
        clearInterval(watchdog);
        stats.inputs = Math.max(stats.inputs, Atomics.load(state, 0));
        if (stats.stopped) process.stderr.write(`  ${target}: stopped after ${maxSeconds} s at ${stats.inputs.toLocaleString('en-GB')} inputs\n`);
        start = runs;
        next();
      });
    };
    next();
  });
}

console.error(`fuzz: ${targets.join(', ')}; ${runs.toLocaleString('en-GB')} inputs each; seed ${seed}; ${jobs} job(s); ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const results = [];
const queue = [...targets];
await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
  while (queue.length) results.push(await fuzz(queue.shift()));
}));
results.sort((a, b) => targets.indexOf(a.target) - targets.indexOf(b.target));
console.log(`\nseed ${seed}, Node ${process.version}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
console.log('| target | inputs | time | inputs/s | crashes | invariant failures | hangs > 1 s | slow once (not repeatable) | out of memory | peak heap |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.target} | ${r.inputs.toLocaleString('en-GB')}${r.stopped ? ' (stopped)' : ''} | ${(r.ms / 1000).toFixed(0)} s | ${Math.round(r.inputs / (r.ms / 1000)).toLocaleString('en-GB')} | ${r.crash} | ${r.invariant} | ${r.hang} | ${r.slowOnce} | ${r.memory} | ${r.peakHeapMb} MB |`);
}
const files = results.flatMap((r) => r.files);
if (files.length) console.log(`\nfindings saved:\n${files.map((f) => `  ${f}`).join('\n')}`);
process.exit(results.some((r) => r.crash + r.invariant + r.hang + r.memory > 0) ? 1 : 0);
