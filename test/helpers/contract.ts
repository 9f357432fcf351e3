/**
 * The message contract of DESIGN.md §2, checked on every message every node sends in the node
 * tests (the harness in ./node-red.ts installs it on each loaded node):
 * - a message on a node's *invalid* output carries `msg.outcome`, an OperationOutcome with at
 *   least one error (the output is found by its label in the node's catalog or editor file);
 * - no node sets `msg.fhir.outcome` (the verdict's one home is `msg.outcome`);
 * - `msg.ack`, when present, has exactly the keys `code, controlId, text, raw`;
 * - every `msg.audit` step a node appends names that node by its id.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const root = join(__dirname, '..', '..');

const ACK_KEYS = ['code', 'controlId', 'raw', 'text'];

/** Output index labelled "invalid" for a node type (from its message catalog or editor HTML). */
const invalidPorts = new Map<string, number | undefined>();
export function invalidOutput(type: string): number | undefined {
  if (invalidPorts.has(type)) return invalidPorts.get(type);
  let port: number | undefined;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
  const file = pkg['node-red'].nodes[type];
  if (file) {
    const base = basename(file, '.js');
    const catalog = join(root, 'nodes', 'locales', 'en-US', `${base}.json`);
    let labels: unknown[] | undefined;
    if (existsSync(catalog)) {
      const c = (JSON.parse(readFileSync(catalog, 'utf8')) as Record<string, { outputLabels?: unknown[] }>)[base];
      labels = c?.outputLabels;
    }
    if (!labels) {
      const m = /outputLabels:\s*\[([^\]]*)\]/.exec(readFileSync(join(root, 'nodes', `${base}.html`), 'utf8'));
      labels = m ? m[1]!.split(',').map((x) => x.trim().replace(/^['"]|['"]$/g, '')) : [];
    }
    const i = labels.findIndex((l) => typeof l === 'string' && /^invalid$/i.test(l));
    port = i >= 0 ? i : undefined;
  }
  invalidPorts.set(type, port);
  return port;
}

interface Sender { id: string; type: string }
type Msg = Record<string, unknown>;

/**
 * Problems of one message sent by `sender` on output `port`. `seen` holds the JSON of every audit
 * step the node received (those it did not append itself).
 */
export function contractViolations(sender: Sender, port: number, msg: Msg, seen: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const where = `${sender.type} ${sender.id} output ${port + 1}`;
  if (port === invalidOutput(sender.type)) {
    const oo = msg.outcome as { resourceType?: unknown; issue?: { severity?: unknown }[] } | undefined;
    const errors = Array.isArray(oo?.issue) ? oo.issue.filter((i) => i?.severity === 'error' || i?.severity === 'fatal').length : 0;
    if (oo?.resourceType !== 'OperationOutcome' || errors === 0) out.push(`${where} (invalid): msg.outcome is not an OperationOutcome with an error`);
  }
  const fhir = msg.fhir as Msg | undefined;
  if (fhir && typeof fhir === 'object' && 'outcome' in fhir) out.push(`${where}: msg.fhir.outcome is set (the verdict belongs in msg.outcome)`);
  if (msg.ack !== undefined) {
    const keys = msg.ack && typeof msg.ack === 'object' ? Object.keys(msg.ack).sort() : [];
    if (keys.join() !== ACK_KEYS.join()) out.push(`${where}: msg.ack has keys [${keys.join(', ')}], not [${ACK_KEYS.join(', ')}]`);
  }
  if (Array.isArray(msg.audit)) {
    for (const step of msg.audit as Msg[]) {
      if (seen.has(JSON.stringify(step))) continue;
      if (step?.node !== sender.id) out.push(`${where}: msg.audit step ${JSON.stringify(step?.action)} names node ${JSON.stringify(step?.node)}, not its id`);
    }
  }
  return out;
}

/** One message or several per output, as `node.send` takes them. */
function eachOutput(arg: unknown, visit: (port: number, m: Msg) => void): void {
  if (!Array.isArray(arg)) {
    if (arg) visit(0, arg as Msg);
    return;
  }
  arg.forEach((o, port) => {
    for (const m of Array.isArray(o) ? o : [o]) if (m) visit(port, m as Msg);
  });
}

export interface ContractHooks {
  /** Check what these nodes send from now on (helper nodes are skipped). */
  watch(nodes: unknown[]): void;
  /** Throw if anything sent since the last call broke the contract. */
  assertClean(): void;
}

export function contractHooks(): ContractHooks {
  let problems: string[] = [];
  return {
    watch(nodes) {
      for (const n of nodes as ({ id: string; type: string; send: (m: unknown) => void; receive: (m: unknown) => void } | null)[]) {
        if (!n || !n.type.startsWith('nhs-')) continue;
        const seen = new Set<string>();
        const receive = n.receive.bind(n);
        n.receive = (m: unknown): void => {
          const audit = (m as Msg | null)?.audit;
          if (Array.isArray(audit)) for (const s of audit) seen.add(JSON.stringify(s));
          receive(m);
        };
        const send = n.send.bind(n);
        n.send = (arg: unknown): void => {
          eachOutput(arg, (port, m) => { problems.push(...contractViolations(n, port, m, seen)); });
          send(arg);
        };
      }
    },
    assertClean() {
      const p = problems;
      problems = [];
      if (p.length) throw new Error(`message contract (DESIGN.md §2) broken:\n${[...new Set(p)].join('\n')}`);
    },
  };
}
