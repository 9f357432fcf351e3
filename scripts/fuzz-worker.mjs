// One fuzz target in a worker thread (see scripts/fuzz.mjs). Before each input it writes the
// input and a busy flag to shared memory, so the main thread can save it if this thread hangs or
// dies; each call is timed, and a call over 1 s is run again to tell a hang from a busy machine.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { TextEncoder } from 'node:util';
import { createRequire } from 'node:module';
import fc from 'fast-check';

// The targets are TypeScript: a worker does not inherit the main thread's `--import tsx` hooks
// on Node 20, so load them through tsx's CommonJS API.
const require = createRequire(import.meta.url);
const { require: tsxRequire } = require('tsx/cjs/api');
const { target, from, runs, seed, shared, inputBuf } = workerData;
// HL7/MLLP targets and the other parsers' targets (FHIR, ESR, CSV maps, PDS, terminology) are
// loaded only when asked for: loading the FHIR validator costs seconds.
const { TARGETS } = tsxRequire('../test/lib/hl7/fixtures/fuzz-targets.ts', import.meta.url);
const parsers = TARGETS[target] ? undefined : tsxRequire('../test/lib/fuzz/targets.ts', import.meta.url);
const t = TARGETS[target] ?? parsers.PARSER_TARGETS[target];
const why = t.unavailable?.();
if (why) throw new Error(`${target}: ${why}`);
if (t.init) await t.init();
const state = new Int32Array(shared);
const input = new Uint8Array(inputBuf);
const encoder = new TextEncoder();
const CHUNK = 20000;
const HANG_MS = 1000;

let done = from;
parentPort.postMessage({ type: 'ready' });
const begin = (x) => {
  const text = t.encode(x);
  const { written } = encoder.encodeInto(text, input);
  Atomics.store(state, 2, written);
  Atomics.store(state, 1, 1);
  // Heartbeat: fast-check shrinking a failure calls the check many times without finishing an
  // input; the watchdog must not take that for a hang.
  Atomics.add(state, 3, 1);
};
const end = () => {
  Atomics.store(state, 1, 0);
  Atomics.add(state, 0, 1);
};
const slow = (x, ms, again) => {
  parentPort.postMessage({ type: 'finding', kind: again > HANG_MS ? 'hang' : 'slowOnce', error: `took ${Math.round(ms)} ms, then ${Math.round(again)} ms`, input: t.encode(x) });
};
// A target whose check returns a promise (streams, fetch) runs under asyncProperty; the first
// seed tells which (and is checked once before the run).
const probe = t.check(t.seeds[0]);
const isAsync = !!probe && typeof probe.then === 'function';
await probe;
const heapMb = () => Math.round(getHeapStatistics().used_heap_size / 1048576);

while (done < runs) {
  const n = Math.min(CHUNK, runs - done);
  let peak = 0;
  const r = isAsync
    ? await fc.check(fc.asyncProperty(t.arbitrary, async (x) => {
      begin(x);
      const t0 = performance.now();
      await t.check(x);
      const ms = performance.now() - t0;
      if (ms > HANG_MS) {
        const t1 = performance.now();
        await t.check(x);
        slow(x, ms, performance.now() - t1);
      }
      end();
    }), { numRuns: n, seed: seed + done })
    : fc.check(fc.property(t.arbitrary, (x) => {
      begin(x);
      const t0 = performance.now();
      t.check(x);
      const ms = performance.now() - t0;
      if (ms > HANG_MS) {
        const t1 = performance.now();
        t.check(x);
        slow(x, ms, performance.now() - t1);
      }
      end();
    }), { numRuns: n, seed: seed + done });
  peak = Math.max(peak, heapMb());
  if (r.failed) {
    const e = r.errorInstance;
    const kind = e && (e.code === 'ERR_ASSERTION' || e.name === 'AssertionError') ? 'invariant' : 'crash';
    parentPort.postMessage({ type: 'finding', kind, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e), input: t.encode(r.counterexample[0]) });
    // fast-check stops at the first failure: what the chunk did not reach is run in the next one.
    done += Math.max(1, r.numRuns);
  } else {
    done += n;
  }
  Atomics.store(state, 0, done);
  Atomics.store(state, 1, 0);
  parentPort.postMessage({ type: 'progress', done, heapMb: peak });
}
parentPort.postMessage({ type: 'done', done });
