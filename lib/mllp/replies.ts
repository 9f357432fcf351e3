/**
 * Process-wide rendezvous between an MLLP listener waiting for an application ACK (policy
 * `flow`) and whoever produces it (the `nhs-mllp-response` node), keyed by session id + frame
 * sequence number — plain strings that survive Node-RED's message cloning, unlike a socket.
 */
import type { Hl7Message } from '../hl7';

export interface PendingReply {
  /** The original message (for building the ACK) and its charset (for encoding it). */
  message: Hl7Message;
  charset: string;
  resolve(reply: Buffer): void;
  /** The flow-timeout timer, cleared when the session goes away so nothing fires for it. */
  timer: NodeJS.Timeout;
  /** Settle the wait with no reply: the connection is gone, there is nobody to answer. */
  abandon(): void;
}

const pending = new Map<string, PendingReply>();
const liveSessions = new Set<string>();

const key = (session: string, seq: number): string => `${session}#${seq}`;

/** Mark a connection open / closed (the listener calls these from its connection events). */
export function sessionOpened(session: string): void {
  liveSessions.add(session);
}
export function sessionClosed(session: string): void {
  liveSessions.delete(session);
}
export function isSessionOpen(session: string): boolean {
  return liveSessions.has(session);
}

/**
 * Wait for the reply to frame `seq` of `session`; after `timeoutMs` resolve `onTimeout()`
 * instead. Whichever comes first wins; the other is ignored. Resolves undefined (send nothing)
 * when the session is dropped first.
 */
export function expectReply(session: string, seq: number, message: Hl7Message, charset: string, timeoutMs: number, onTimeout: () => Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const k = key(session, seq);
    const timer = setTimeout(() => {
      if (pending.get(k) === entry) pending.delete(k);
      resolve(onTimeout());
    }, timeoutMs);
    const entry: PendingReply = {
      message,
      charset,
      timer,
      resolve: (b) => {
        clearTimeout(timer);
        pending.delete(k);
        resolve(b);
      },
      abandon: () => {
        clearTimeout(timer);
        if (pending.get(k) === entry) pending.delete(k);
        resolve(undefined);
      },
    };
    pending.set(k, entry);
  });
}

/** The reply a listener is still waiting for, if any. */
export function pendingReply(session: string, seq: number): PendingReply | undefined {
  return pending.get(key(session, seq));
}

/** Drop every wait of a closed session (its replies can no longer be delivered). */
export function dropSession(session: string): void {
  sessionClosed(session);
  for (const [k, entry] of [...pending]) if (k.startsWith(`${session}#`)) entry.abandon();
}
