/**
 * The message log part of the store: every received message, exactly as received, with its status.
 */

export type MessageStatus = 'received' | 'processed' | 'errored';

export interface NewMessage {
  /** Which input received it: an mllp-in node id, a listener name, a file source. */
  channel: string;
  /** The bytes exactly as received (before charset decoding). */
  raw: Buffer;
  /** MSH-10 message control id, when known. */
  controlId?: string;
  /** Message type + event, e.g. `ADT^A01`. */
  messageType?: string;
  /** Non-identifying metadata: remote address, charset, node id… Never patient data. */
  meta?: Record<string, unknown>;
  /** Receiving owner (one listener in one instance): only it replays the message (DESIGN.md §4). */
  owner?: string;
}

export interface MessageRecord {
  id: string;
  /** Monotonic insertion order within this store. */
  seq: number;
  channel: string;
  raw: Buffer;
  controlId: string | null;
  messageType: string | null;
  meta: Record<string, unknown>;
  status: MessageStatus;
  statusDetail: string | null;
  receivedAt: string;
  updatedAt: string;
  /** Receiving owner; null for messages kept before schema v3 or without one. */
  owner: string | null;
}

export interface MessageQuery {
  channel?: string;
  controlId?: string;
  status?: MessageStatus;
  /** ISO timestamps, inclusive. */
  from?: string;
  to?: string;
  limit?: number;
}

/** MessageLog part of the {@link Store} (errors: see Store). */
export interface MessageLog {
  appendMessage(m: NewMessage): Promise<MessageRecord>;
  setMessageStatus(id: string, status: MessageStatus, detail?: string): Promise<void>;
  getMessage(id: string): Promise<MessageRecord | undefined>;
  findMessages(q: MessageQuery): Promise<MessageRecord[]>;
  countMessages(q: MessageQuery): Promise<number>;
}
