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
 * relay only (context for the pipeline figure): nhs-mllp-in commit → nhs-mllp-out to the same kind
 * of local MLLP server, nothing between, measured like the pipeline: the ordered outbox alone.
 * CPU ms/msg: user + system CPU of that Node-RED process (Linux /proc) over the measured span,
 * per message, so the cost of each path is visible apart from how busy the shared machine is.
 *
 *   npm run build && node --import tsx bench/pipeline.ts     (needs ../shared/fhir-packages)
 * Target (issue 14): pipeline ≥ 30 % of receive-only at 16 connections, every message delivered.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
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

/** CPU seconds (user + system) a process has used so far, from /proc (NaN where there is none). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch { return NaN; }
}

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

async function receiveOnly(): Promise<{ rate: number; p50: number; p99: number; n: number; cpuMs: number }> {
  const port = await freePort();
  const nr = await startNodeRed({ flows: [
    { id: 'bt', type: 'tab', label: 'receive only' },
    { id: 'bin', type: 'nhs-mllp-in', z: 'bt', port: String(port), host: '127.0.0.1', ackMode: 'commit', store: '', maxConnections: '100', idleTimeout: '0', maxFrameBytes: '1048576', allow: '127.0.0.1', wires: [[], []] },
  ] });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const cpu0 = cpuSeconds(nr.child.pid);
    const r = await load(port, 'RCV');
    const cpuMs = ((cpuSeconds(nr.child.pid) - cpu0) * 1000) / r.ackMs.length;
    return { rate: r.ackMs.length / ((r.end - r.start) / 1000), p50: pct(r.ackMs, 50), p99: pct(r.ackMs, 99), n: r.ackMs.length, cpuMs };
  } finally { await nr.stop(); }
}

interface Delivered { rate: number; p50: number; p99: number; n: number; delivered: number; ackP50: number; cpuMs: number }

/** Relay only: mllp in (commit) → mllp out, nothing between (the ordered outbox alone). */
function relayFlow(inPort: number, downstreamPort: number): unknown[] {
  return [
    { id: 'rt', type: 'tab', label: 'relay only' },
    { id: 'rin', type: 'nhs-mllp-in', z: 'rt', port: String(inPort), host: '127.0.0.1', ackMode: 'commit', store: '', maxConnections: '100', idleTimeout: '0', maxFrameBytes: '1048576', allow: '127.0.0.1', wires: [['rout'], []] },
    { id: 'rout', type: 'nhs-mllp-out', z: 'rt', endpoint: 'rep', wires: [[], []] },
    { id: 'rep', type: 'nhs-mllp-endpoint', host: '127.0.0.1', port: String(downstreamPort), store: '', connectTimeout: '10', ackTimeout: '30', keepAlive: true, retryBase: '0.2', retryMax: '60', maxAttempts: '5', nakPolicy: 'park' },
  ];
}

/** The ADT example with its ports moved: MLLP in on `inPort`, mllp out to `downstreamPort`. */
function adtFlow(inPort: number, downstreamPort: number, standIn: number, url: string): unknown[] {
  return (JSON.parse(readFileSync(example, 'utf8')) as any[]).map((n) => {
    if (n.type === 'tab') return { ...n, env: [{ name: 'FHIR_URL', value: `${url}/fhir`, type: 'str' }] };
    if (n.id === 'adt01in') return { ...n, port: String(inPort) };
    if (n.id === 'adt01down') return { ...n, port: String(standIn) };
    if (n.type === 'nhs-mllp-endpoint') return { ...n, port: String(downstreamPort), retryBase: '0.2' };
    return n;
  });
}

async function delivered(kind: 'pipeline' | 'relay'): Promise<Delivered> {
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
    const flow = kind === 'relay' ? relayFlow(inPort, downstream.port) : adtFlow(inPort, downstream.port, await freePort(), nr.url);
    await nr.deploy(flow);
    await new Promise((r) => setTimeout(r, 1500));
    // Warm-up: the UK Core snapshots are built on the first message.
    const warm = await peerConnect(inPort);
    await warm.request(GOOD['ADT^A01']!.replace('|ADT0001|', '|WARM0001|'), 60000);
    warm.close();
    const deadline0 = Date.now() + 60000;
    while (!arrived.has('WARM0001') && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 50));
    // NHS_BENCH_MARK=1: SIGWINCH (ignored unless handled; Node-RED exits on SIGUSR2) to that Node-RED
    // at the start and end of the measured span, for a profiler loaded through NHS_BENCH_NODE_OPTIONS.
    const mark = (): void => { if (process.env.NHS_BENCH_MARK === '1') nr?.child.kill('SIGWINCH'); };
    const cpu0 = cpuSeconds(nr.child.pid);
    mark();
    const r = await load(inPort, kind === 'relay' ? 'REL' : 'PIP');
    const deadline = Date.now() + 180000;
    while ([...r.sentAt.keys()].some((id) => !arrived.has(id)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const cpu = cpuSeconds(nr.child.pid) - cpu0;
    mark();
    const lat: number[] = [];
    let last = r.start;
    for (const [id, t] of r.sentAt) {
      const a = arrived.get(id);
      if (a === undefined) continue;
      lat.push(a - t);
      last = Math.max(last, a);
    }
    return { rate: lat.length / ((last - r.start) / 1000), p50: pct(lat, 50), p99: pct(lat, 99), n: r.sentAt.size, delivered: lat.length, ackP50: pct(r.ackMs, 50), cpuMs: (cpu * 1000) / lat.length };
  } finally {
    await nr?.stop();
    await downstream.close();
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(repoRoot, 'dist', 'nodes', 'hl7-to-fhir.js'))) throw new Error('run npm run build first');
  if (!existsSync(join(sharedDir, 'fhir-packages'))) throw new Error('../shared/fhir-packages is needed (UK Core for the validate node)');
  const la = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`ADT pipeline vs commit-mode receive, ${CONNS} connections, ${SECONDS} s of sending each; load average ${la()}`);
  const cpu = (ms: number): string => `CPU ${ms.toFixed(2)} ms/msg`;
  const rcv = await receiveOnly();
  console.log(`receive-only (mllp in commit)   ${rcv.rate.toFixed(0).padStart(6)} msgs/s   ACK p50 ${rcv.p50.toFixed(1)} ms  p99 ${rcv.p99.toFixed(1)} ms   (${rcv.n} msgs)   ${cpu(rcv.cpuMs)}`);
  const pip = await delivered('pipeline');
  console.log(`ADT example end to end          ${pip.rate.toFixed(0).padStart(6)} msgs/s   send→downstream p50 ${pip.p50.toFixed(1)} ms  p99 ${pip.p99.toFixed(1)} ms   (commit ACK p50 ${pip.ackP50.toFixed(1)} ms)   ${cpu(pip.cpuMs)}`);
  console.log(`delivered downstream: ${pip.delivered} of ${pip.n}${pip.delivered === pip.n ? ' (all)' : ' — MISSING MESSAGES'}`);
  const ratio = pip.rate / rcv.rate;
  console.log(`ratio pipeline / receive-only: ${(ratio * 100).toFixed(0)} % (target ≥ 30 %) ${ratio >= 0.3 && pip.delivered === pip.n ? 'MET' : 'NOT MET'}`);
  if (process.env.NHS_BENCH_RELAY !== '0') {
    const rel = await delivered('relay');
    console.log(`relay only (mllp in → mllp out) ${rel.rate.toFixed(0).padStart(6)} msgs/s   send→downstream p50 ${rel.p50.toFixed(1)} ms  p99 ${rel.p99.toFixed(1)} ms   (commit ACK p50 ${rel.ackP50.toFixed(1)} ms)   ${cpu(rel.cpuMs)}; delivered ${rel.delivered} of ${rel.n}`);
    console.log(`relay only / receive-only: ${((rel.rate / rcv.rate) * 100).toFixed(0)} % (the ordered outbox alone; the pipeline cannot pass it)`);
  }
  console.log(`load average at end ${la()}`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
