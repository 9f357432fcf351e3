/**
 * The rendezvous of ONE MLLP listener (policy `flow`): a frame waiting for its application ACK
 * (HL7 v2.5.1 2.9.2, original-mode application acknowledgment) meets whoever produces it (the
 * flow's `nhs-mllp-response`, through the listener's typed interface). Keyed by connection id +
 * frame sequence number — plain strings that survive Node-RED's message cloning, unlike a socket.
 * One instance per listener: two listeners never see each other's waits.
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

const key = (session: string, seq: number): string => `${session}#${seq}`;

export class ReplyRendezvous {
  private readonly pending = new Map<string, PendingReply>();
  private readonly live = new Set<string>();

  /** Mark a connection open (the listener calls this from its connection event). */
  sessionOpened(session: string): void {
    this.live.add(session);
  }

  isSessionOpen(session: string): boolean {
    return this.live.has(session);
  }

  /**
   * Wait for the reply to frame `seq` of `session`; after `timeoutMs` resolve `onTimeout()`
   * instead. Whichever comes first wins; the other is ignored. Resolves undefined (send nothing)
   * when the session is dropped first.
   */
  expect(session: string, seq: number, message: Hl7Message, charset: string, timeoutMs: number, onTimeout: () => Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const k = key(session, seq);
      const timer = setTimeout(() => {
        if (this.pending.get(k) === entry) this.pending.delete(k);
        resolve(onTimeout());
      }, timeoutMs);
      const entry: PendingReply = {
        message,
        charset,
        timer,
        resolve: (b) => {
          clearTimeout(timer);
          this.pending.delete(k);
          resolve(b);
        },
        abandon: () => {
          clearTimeout(timer);
          if (this.pending.get(k) === entry) this.pending.delete(k);
          resolve(undefined);
        },
      };
      this.pending.set(k, entry);
    });
  }

  /** The reply this listener is still waiting for, if any. */
  waiting(session: string, seq: number): PendingReply | undefined {
    return this.pending.get(key(session, seq));
  }

  /** Drop every wait of a closed connection (its replies can no longer be delivered). */
  dropSession(session: string): void {
    this.live.delete(session);
    const prefix = `${session}#`;
    for (const [k, entry] of [...this.pending]) if (k.startsWith(prefix)) entry.abandon();
  }

  /** The listener is closing: settle every wait with no reply. */
  dropAll(): void {
    this.live.clear();
    for (const entry of [...this.pending.values()]) entry.abandon();
  }
}
