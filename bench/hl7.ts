/**
 * HL7 parse + read 8 fields on a realistic ~1.5 KB ADT^A01: ours (lib/hl7) vs @medplum/core
 * Hl7Message.parse (the named baseline) and simple-hl7 (for reference), in one run, msgs/s and
 * ratio. Not a test: `npm run bench:hl7`.
 * Target (issue 5): >= 100,000 msgs/s and >= 5x Medplum. Figures go in bench/hl7.md.
 */
import { cpus, loadavg } from 'node:os';
import { Hl7Message as MedplumMessage } from '@medplum/core';
import { parseHl7 } from '../lib/hl7';
import { ADT_A01, BENCH_PATHS } from '../test/lib/hl7/fixtures/samples';

type Case = { name: string; run: (text: string) => number };

const ours: Case = {
  name: 'nhs-interop lib/hl7',
  run(text) {
    const m = parseHl7(text).message;
    if (!m) throw new Error('parse failed');
    let n = 0;
    for (const p of BENCH_PATHS) n += m.get(p)?.length ?? 0;
    return n;
  },
};

const medplum: Case = {
  name: '@medplum/core Hl7Message.parse',
  run(text) {
    const m = MedplumMessage.parse(text);
    const msh = m.getSegment('MSH');
    const pid = m.getSegment('PID');
    const pv1 = m.getSegment('PV1');
    if (!msh || !pid || !pv1) throw new Error('parse failed');
    // Medplum numbers MSH fields like other segments' split pieces, so MSH-9 is getField(9).
    const vals = [
      msh.getField(9).getComponent(1), msh.getField(9).getComponent(2), msh.getField(10).toString(),
      pid.getField(3).getComponent(1, 0), pid.getField(5).getComponent(1), pid.getField(5).getComponent(2),
      pid.getField(7).toString(), pv1.getField(3).getComponent(1),
    ];
    let n = 0;
    for (const v of vals) n += v.length;
    return n;
  },
};

// simple-hl7 has no types; its header's getField(n) is MSH-(n+2) (fields start after MSH-2).
 
const simple = require('simple-hl7');
const simpleParser = new simple.Parser();

const simpleHl7: Case = {
  name: 'simple-hl7 Parser.parse',
  run(text) {
    const m = simpleParser.parse(text);
    const msh = m.header;
    const pid = m.getSegment('PID');
    const pv1 = m.getSegment('PV1');
    const vals: string[] = [
      msh.getComponent(7, 1), msh.getComponent(7, 2), msh.getField(8),
      // its getComponent misses components of a repeating field, so take repetition 1 and cut
      (pid.getField(3, 1) as string).split('^')[0] as string, pid.getComponent(5, 1), pid.getComponent(5, 2), pid.getField(7), pv1.getComponent(3, 1),
    ];
    let n = 0;
    for (const v of vals) n += v.length;
    return n;
  },
};

function measure(c: Case, text: string, ms: number): { perSec: number; check: number } {
  let check = 0;
  for (let i = 0; i < 2000; i++) check = c.run(text); // warm up the JIT
  let count = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < until) {
    for (let i = 0; i < 500; i++) c.run(text);
    count += 500;
    now = process.hrtime.bigint();
  }
  return { perSec: count / (Number(now - start) / 1e9), check };
}

const ms = Number(process.env.BENCH_MS ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
// Each run parses a fresh string (as from a socket), so no per-string caching can flatter either side.
const texts = Array.from({ length: 64 }, (_, i) => ADT_A01.replace('MSG00001', `MSG${String(i).padStart(5, '0')}`));
let k = 0;
const wrap = (c: Case): Case => ({ name: c.name, run: () => c.run(texts[(k++) & 63] as string) });

console.log(`HL7 parse + read 8 fields, ${Buffer.byteLength(ADT_A01)} byte ADT^A01, ${rounds} alternating rounds of ${ms} ms per case, node ${process.version}`);
// Alternating rounds, best of each: on a shared machine load comes and goes, and the ratio is
// only honest when both sides saw the same conditions.
let bestA = { perSec: 0, check: 0 };
let bestB = { perSec: 0, check: 0 };
let bestC = { perSec: 0, check: 0 };
for (let r = 0; r < rounds; r++) {
  const a = measure(wrap(ours), ADT_A01, ms);
  const b = measure(wrap(medplum), ADT_A01, ms);
  const c = measure(wrap(simpleHl7), ADT_A01, ms);
  if (a.perSec > bestA.perSec) bestA = a;
  if (b.perSec > bestB.perSec) bestB = b;
  if (c.perSec > bestC.perSec) bestC = c;
}
const rows = [[ours.name, bestA.perSec], [medplum.name, bestB.perSec], [simpleHl7.name, bestC.perSec]] as const;
for (const [name, v] of rows) console.log(`${name.padEnd(34)} ${Math.round(v).toLocaleString('en-GB').padStart(12)} msgs/s`);
console.log(`ratio ours / medplum: ${(bestA.perSec / bestB.perSec).toFixed(1)}x  (target >= 5x, and >= 100,000 msgs/s)`);
console.log(`ratio ours / simple-hl7: ${(bestA.perSec / bestC.perSec).toFixed(1)}x  (for reference)`);
console.log(`field-length checksums (must match): ours ${bestA.check}, medplum ${bestB.check}, simple-hl7 ${bestC.check}`);
// Absolute rates depend on what else the machine runs; the ratio is the portable figure.
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
