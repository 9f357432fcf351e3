/**
 * The ADT example end to end (examples/ADT/01 - ADT feed to FHIR.json: nhs-mllp-in commit → nhs-hl7
 * → nhs-hl7-to-fhir → nhs-fhir-validate (UK Core STU2) → nhs-mllp-out to a local MLLP server, plus
 * the FHIR POST to the example's receiver) beside commit-mode receive alone (nhs-mllp-in commit,
 * nothing after it), each in its own real Node-RED, in the same run, on loopback.
 *
 * Load: C connections, each sending an ADT^A01 (unique MSH-10) and waiting for its commit ACK
 * before the next, for NHS_BENCH_SECONDS. receive-only: msgs/s = ACKs/s, latency = send → ACK.
 * pipeline: msgs/s = messages delivered downstream / (last delivery − first send), latency =
 * send → arrival at the downstream server; every message sent must arrive there.
 *
 *   npm run build && node --import tsx bench/pipeline.ts     (needs ../shared/fhir-packages)
 * Target (issue 14): pipeline ≥ 30 % of receive-only at 16 connections, every message delivered.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlIdOf, peerConnect, peerServer } from '../test/helpers/mllp-peer';
import { freePort, repoRoot, startNodeRed, type NodeRedProcess } from '../test/helpers/node-red-process';
import { sharedDir } from '../test/helpers/shared';
import { GOOD } from '../test/lib/transform/fixtures';

const SECONDS = Number(process.env.NHS_BENCH_SECONDS ?? 10);
const CONNS = Number(process.env.NHS_BENCH_CONNS ?? 16);
const example = join(repoRoot, 'examples', 'ADT', '01 - ADT feed to FHIR.json');

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

async function load(port: number, tag: string): Promise<{ sentAt: Map<string, number>; ackMs: number[]; start: number; end: number }> {
  const sentAt = new Map<string, number>();
  const ackMs: number[] = [];
  const start = performance.now();
  const stopAt = start + SECONDS * 1000;
  let seq = 0;
  await Promise.all(Array.from({ length: CONNS }, async () => {
    const c = await peerConnect(port);
    try {
      while (performance.now() < stopAt) {
        const id = `${tag}${String(++seq).padStart(8, '0')}`;
        const m = GOOD['ADT^A01']!.replace('|ADT0001|', `|${id}|`);
        const t = performance.now();
        sentAt.set(id, t);
        const ack = await c.request(m, 30000);
        if (!/MSA\|(CA|AA)\|/.test(ack)) throw new Error(`not accepted: ${ack.slice(0, 120)}`);
        ackMs.push(performance.now() - t);
      }
    } finally { c.close(); }
  }));
  return { sentAt, ackMs, start, end: performance.now() };
}

async function receiveOnly(): Promise<{ rate: number; p50: number; p99: number; n: number }> {
  const port = await freePort();
  const nr = await startNodeRed({ flows: [
    { id: 'bt', type: 'tab', label: 'receive only' },
    { id: 'bin', type: 'nhs-mllp-in', z: 'bt', port: String(port), host: '127.0.0.1', ackMode: 'commit', store: '', maxConnections: '100', idleTimeout: '0', maxFrameBytes: '1048576', allow: '127.0.0.1', wires: [[], []] },
  ] });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const r = await load(port, 'RCV');
    return { rate: r.ackMs.length / ((r.end - r.start) / 1000), p50: pct(r.ackMs, 50), p99: pct(r.ackMs, 99), n: r.ackMs.length };
  } finally { await nr.stop(); }
}

async function pipeline(): Promise<{ rate: number; p50: number; p99: number; n: number; delivered: number; ackP50: number }> {
  const arrived = new Map<string, number>();
  const downstream = await peerServer((text) => {
    arrived.set(controlIdOf(text), performance.now());
    return `MSH|^~\\&|PAS|RX1|EPR|RX1|20260101120001||ACK|A${controlIdOf(text)}|P|2.5.1\rMSA|AA|${controlIdOf(text)}`;
  });
  let nr: NodeRedProcess | undefined;
  try {
    // NHS_BENCH_NODE_OPTIONS: NODE_OPTIONS for the pipeline's Node-RED only (e.g. a --require'd profiler).
    const nodeOptions = process.env.NHS_BENCH_NODE_OPTIONS;
    nr = await startNodeRed({ flows: [], env: { FHIR_PACKAGE_CACHE: join(sharedDir, 'fhir-packages'), ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) } });
    const inPort = await freePort();
    const standIn = await freePort();
    const url = nr.url;
    const flow = (JSON.parse(readFileSync(example, 'utf8')) as any[]).map((n) => {
      if (n.type === 'tab') return { ...n, env: [{ name: 'FHIR_URL', value: `${url}/fhir`, type: 'str' }] };
      if (n.id === 'adt01in') return { ...n, port: String(inPort) };
      if (n.id === 'adt01down') return { ...n, port: String(standIn) };
      if (n.type === 'nhs-mllp-endpoint') return { ...n, port: String(downstream.port), retryBase: '0.2' };
      return n;
    });
    await nr.deploy(flow);
    await new Promise((r) => setTimeout(r, 1500));
    // Warm-up: the UK Core snapshots are built on the first message.
    const warm = await peerConnect(inPort);
    await warm.request(GOOD['ADT^A01']!.replace('|ADT0001|', '|WARM0001|'), 60000);
    warm.close();
    const deadline0 = Date.now() + 60000;
    while (!arrived.has('WARM0001') && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 50));
    const r = await load(inPort, 'PIP');
    const deadline = Date.now() + 180000;
    while ([...r.sentAt.keys()].some((id) => !arrived.has(id)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const lat: number[] = [];
    let last = r.start;
    for (const [id, t] of r.sentAt) {
      const a = arrived.get(id);
      if (a === undefined) continue;
      lat.push(a - t);
      last = Math.max(last, a);
    }
    return { rate: lat.length / ((last - r.start) / 1000), p50: pct(lat, 50), p99: pct(lat, 99), n: r.sentAt.size, delivered: lat.length, ackP50: pct(r.ackMs, 50) };
  } finally {
    await nr?.stop();
    await downstream.close();
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(repoRoot, 'dist', 'nodes', 'hl7-to-fhir.js'))) throw new Error('run npm run build first');
  if (!existsSync(join(sharedDir, 'fhir-packages'))) throw new Error('../shared/fhir-packages is needed (UK Core for the validate node)');
  console.log(`ADT pipeline vs commit-mode receive, ${CONNS} connections, ${SECONDS} s of sending each`);
  const rcv = await receiveOnly();
  console.log(`receive-only (mllp in commit)   ${rcv.rate.toFixed(0).padStart(6)} msgs/s   ACK p50 ${rcv.p50.toFixed(1)} ms  p99 ${rcv.p99.toFixed(1)} ms   (${rcv.n} msgs)`);
  const pip = await pipeline();
  console.log(`ADT example end to end          ${pip.rate.toFixed(0).padStart(6)} msgs/s   send→downstream p50 ${pip.p50.toFixed(1)} ms  p99 ${pip.p99.toFixed(1)} ms   (commit ACK p50 ${pip.ackP50.toFixed(1)} ms)`);
  console.log(`delivered downstream: ${pip.delivered} of ${pip.n}${pip.delivered === pip.n ? ' (all)' : ' — MISSING MESSAGES'}`);
  const ratio = pip.rate / rcv.rate;
  console.log(`ratio pipeline / receive-only: ${(ratio * 100).toFixed(0)} % (target ≥ 30 %) ${ratio >= 0.3 && pip.delivered === pip.n ? 'MET' : 'NOT MET'}`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
