/**
 * Hand-off confirmation (hazard HAZ-005 C8; DESIGN.md §4 at-least-once hand-off): the durable
 * nodes of the suite (`nhs-mllp-out` once the item is in its outbox, `nhs-quarantine` once
 * parked, `nhs-audit` once recorded, `nhs-mllp-response` once the stored message is marked)
 * tell the `nhs-mllp-in` that received a message that it is now safe downstream, so its
 * watermark may pass it. This is the one place that reads `msg._mllp` for that.
 */
import { listenerNode, type MllpRef } from './mllp';
import type { NodeMessage, RED } from './types';

/**
 * Confirm the hand-off of `msg` to the listener named by `msg._mllp.listener`, keyed by
 * `msg._mllp.storeSeq` and `storeId`. Call it only after the node's durable write has
 * committed. A clone of the message (Node-RED clones on fan-out) carries the same keys, and a
 * second confirmation of one message is harmless (idempotent). A message that did not come
 * from a `commit` listener in this instance, or whose listener is gone or redeployed, confirms
 * nothing. Never throws: the write has committed, so a failure here must not fail the message
 * (a Catch-driven retry would write it twice). True when this call counted.
 */
export function confirmHandoff(RED: RED, msg: NodeMessage): boolean {
  const ref = msg._mllp as { [K in keyof MllpRef]?: unknown } | undefined;
  if (!ref || typeof ref !== 'object' || typeof ref.listener !== 'string' || typeof ref.storeSeq !== 'number') return false;
  try {
    return listenerNode(RED, ref.listener)?.mllpConfirm(ref.storeSeq, typeof ref.storeId === 'string' ? ref.storeId : undefined) ?? false;
  } catch {
    return false;
  }
}
