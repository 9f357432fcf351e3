import type { DoneFn, Node, NodeMessage, SendFn } from './types';
import { toNhsError } from '../../lib/errors';
import { countStep } from './ops';

/**
 * Register an async input handler that always ends in exactly one `done()` / `done(err)`
 * (DESIGN.md §3): an unhandled rejection would kill Node-RED, and a missing done() breaks
 * Complete/Catch nodes. The handler returns what to send (or null for nothing); a thrown error
 * becomes `done(err)` with an own `code` (`fallbackCode` when the error had none).
 */
export function onInput(
  node: Node,
  handler: (msg: NodeMessage, send: SendFn) => Promise<Parameters<SendFn>[0] | null | undefined | void>,
  fallbackCode = 'NODE_ERROR',
): void {
  node.on('input', (msg: NodeMessage, send: SendFn, done: DoneFn) => {
    let finished = false;
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      if (err) done(err);
      else done();
    };
    let p: Promise<unknown>;
    try {
      p = handler(msg, send);
    } catch (e) {
      finish(toNhsError(e, fallbackCode));
      return;
    }
    p.then(
      (out) => {
        if (out !== null && out !== undefined) send(out as Parameters<SendFn>[0]);
        finish();
      },
      (e: unknown) => finish(toNhsError(e, fallbackCode)),
    );
  });
}

/**
 * Register a close handler that runs async cleanup and always calls `done` (even on failure),
 * so a redeploy never hangs. Removing a node never deletes stored data (DESIGN.md §3).
 */
export function onClose(node: Node, cleanup: (removed: boolean) => Promise<void> | void): void {
  node.on('close', (removed: boolean, done: () => void) => {
    Promise.resolve()
      .then(() => cleanup(removed))
      .catch((e: unknown) => node.warn(`close: ${e instanceof Error ? e.message : String(e)}`))
      .finally(done);
  });
}

/** `toISOString()`, reused within one millisecond (every message through a node stamps one). */
function isoOf(d: Date): string {
  const ms = d.getTime();
  if (ms !== lastIsoMs) {
    lastIsoMs = ms;
    lastIso = d.toISOString();
  }
  return lastIso;
}
let lastIsoMs = NaN;
let lastIso = '';

/**
 * Append one audit step to `msg.audit` (append-only, never rewritten; DESIGN.md §2).
 * `recorded: true` marks a step its node has already written to the audit store itself
 * (quarantine), so a downstream nhs-audit node does not store it a second time. `from` / `to`
 * say where the data came from or went (peer address, endpoint host:port; never patient data):
 * nhs-audit stores them as the record's `detail.source` / `detail.destination` (disclosure report).
 */
export function appendAudit(
  msg: NodeMessage,
  step: { node: string; action: string; outcome: string; ref?: string; recorded?: true; from?: string; to?: string },
  now: () => Date = () => new Date(),
): void {
  const trail = Array.isArray(msg.audit) ? (msg.audit as unknown[]) : [];
  const entry: Record<string, string | true> = { at: isoOf(now()), node: step.node, action: step.action, outcome: step.outcome };
  if (step.ref !== undefined) entry.ref = step.ref;
  if (step.recorded) entry.recorded = true;
  if (step.from) entry.from = step.from;
  if (step.to) entry.to = step.to;
  trail.push(entry);
  msg.audit = trail;
  const ack = (msg.ack as { code?: unknown } | undefined)?.code;
  countStep(step.node, step.action, step.outcome, typeof ack === 'string' ? ack : undefined);
}
