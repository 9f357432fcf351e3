/**
 * One inbound MLLP channel: the frame handler ({@link mllpReceiver}), its reply rendezvous, the
 * ordered hand-off to the flow and — in `commit` mode — the durable watermark and the replay on
 * start (DESIGN.md §4). The Node-RED node only wires sockets and `send` to this.
 */
import { buildAck, decodeHl7Bytes, encodeHl7Text, parseHl7, readAck, type AckCode, type AckInfo } from '../hl7';
import { NhsError, toNhsError } from '../errors';
import { hasErrors, type Issue } from '../outcome';
import type { FrameHandler, LogFn } from '../mllp';
import type { MessageRecord, Store } from '../store';
import { HandoffTracker, type HandoffMode } from './handoff';
import { mllpReceiver, type AckPolicy, type Received } from './inbound';
import { ReplyRendezvous } from './replies';

export interface InboundChannelOptions {
  policy: AckPolicy;
  /** Store channel name: the listener's node id. */
  channel: string;
  /** Receiving owner: this listener in this instance, stable across restarts. */
  owner: string;
  store?: () => Promise<Store>;
  flowTimeoutMs?: number;
  strict?: boolean;
  /** When a sent message counts as handed over, its grace or confirm timeout, and the watermark interval (see {@link HandoffTracker}). */
  handoffMode?: HandoffMode;
  handoffGraceMs?: number;
  handoffConfirmTimeoutMs?: number;
  /** `confirm` mode: messages counted by the confirm timeout, never confirmed (their store seqs). */
  onUnconfirmed?: (seqs: number[]) => void;
  handoffIntervalMs?: number;
  /** Hand one message to the flow (synchronous: when it returns, the message is handed over). */
  emit(r: Received): void;
  log?: LogFn;
  onError?: (e: NhsError) => void;
  /** A message could not be kept (store error code); its sender was answered AE/AR. */
  onNotKept?: (code: string) => void;
}

/** What the flow asks `respond` to send (policy `flow`), or to record (other policies). */
export type ReplyRequest = { code: AckCode; text?: string; issues?: Issue[] } | { payload: Buffer | string };

const REPLAY_PAGE = 500;

export class InboundChannel {
  readonly replies = new ReplyRendezvous();
  readonly onFrame: FrameHandler;
  private readonly tracker: HandoffTracker | undefined;
  /** Messages waiting for the next turn (ACKs of a group commit leave before flow work starts). */
  private queued: Received[] = [];
  /** New messages held while the replay of older ones runs (they are kept and ACKed meanwhile). */
  private held: Received[] | undefined;
  private readonly heldSeqs = new Set<number>();
  private closed = false;
  replayedCount = 0;

  constructor(private readonly o: InboundChannelOptions) {
    const durable = o.policy === 'commit' && o.store !== undefined;
    if (durable) {
      this.tracker = new HandoffTracker({
        store: o.store as () => Promise<Store>, channel: o.channel, owner: o.owner,
        ...(o.handoffMode !== undefined ? { mode: o.handoffMode } : {}),
        ...(o.handoffGraceMs !== undefined ? { graceMs: o.handoffGraceMs } : {}),
        ...(o.handoffConfirmTimeoutMs !== undefined ? { confirmTimeoutMs: o.handoffConfirmTimeoutMs } : {}),
        ...(o.onUnconfirmed ? { onUnconfirmed: o.onUnconfirmed } : {}),
        ...(o.handoffIntervalMs !== undefined ? { intervalMs: o.handoffIntervalMs } : {}),
        ...(o.onError ? { onError: o.onError } : {}),
      });
      this.held = [];
    }
    const t = this.tracker;
    this.onFrame = mllpReceiver({
      policy: o.policy, channel: o.channel, owner: o.owner, replies: this.replies,
      ...(o.store ? { store: o.store } : {}),
      ...(o.flowTimeoutMs !== undefined ? { flowTimeoutMs: o.flowTimeoutMs } : {}),
      ...(o.strict ? { strict: true } : {}),
      ...(o.log ? { log: o.log } : {}),
      ...(o.onNotKept ? { onNotKept: o.onNotKept } : {}),
      ...(t ? { onAppend: (phase: 'start' | 'end', token: object) => (phase === 'start' ? t.appendStarted(token) : t.appendEnded(token)) } : {}),
      onMessage: (r) => this.accept(r),
    });
  }

  /**
   * `commit`: read the watermark (a first start sets it to the newest message, so history is not
   * replayed), then emit what this owner kept above it, in order, flagged `replayed`, then the
   * messages that arrived meanwhile. Retried until it succeeds or the channel closes.
   */
  async start(): Promise<void> {
    const t = this.tracker;
    if (!t || !this.o.store) return;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const store = await this.o.store();
        const { mark, upTo } = await store.openHandoff(this.o.channel, this.o.owner);
        // The watermark must not pass what the replay has not read yet.
        const reading = {};
        t.appendStarted(reading, mark);
        t.begin(mark, upTo);
        try {
          let after = mark;
          while (after < upTo && !this.closed) {
            const page = await store.replayMessages(this.o.channel, this.o.owner, after, upTo, REPLAY_PAGE);
            if (page.length === 0) break;
            for (const rec of page) {
              // Kept in this run before the watermark was read: it is among the held ones.
              if (this.heldSeqs.has(rec.seq)) continue;
              t.kept(rec.seq, rec.id);
              this.handOver(this.replayOf(rec));
            }
            after = page[page.length - 1]!.seq;
            t.appendStarted(reading, after);
          }
        } finally {
          t.appendEnded(reading);
        }
        break;
      } catch (e) {
        this.o.onError?.(toNhsError(e, 'STORE_UNAVAILABLE'));
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
      }
    }
    const held = this.held ?? [];
    this.held = undefined;
    this.heldSeqs.clear();
    for (const r of held) this.handOver(r);
  }

  /**
   * The flow's answer for a message this listener received (`nhs-mllp-response`): in `flow`
   * mode sent on the connection it came in on; in every mode the stored message is marked
   * `processed` (AA) or `errored`. Resolves the ACK sent, or undefined when none was awaited.
   */
  async respond(session: string, seq: number, storeId: string | undefined, req: ReplyRequest): Promise<AckInfo | undefined> {
    const wait = this.replies.waiting(session, seq);
    let ack: AckInfo | undefined;
    let code: string = 'code' in req ? req.code : 'AA';
    if (wait) {
      const raw = 'payload' in req
        ? (Buffer.isBuffer(req.payload) ? req.payload : encodeHl7Text(req.payload, wait.charset))
        : encodeHl7Text(buildAck(wait.message, req.code, { ...(req.text !== undefined ? { text: req.text } : {}), issues: req.issues ?? [] }), wait.charset);
      wait.resolve(raw);
      ack = readAck(raw);
      if ('payload' in req && ack.code) code = ack.code;
    } else if (this.o.policy === 'flow') {
      if (!this.replies.isSessionOpen(session)) throw new NhsError('MLLP_SESSION_GONE', 'the connection this message arrived on is closed; the sender will resend');
      await this.mark(storeId, code, 'code' in req ? req.text : undefined);
      throw new NhsError('MLLP_REPLY_LATE', 'no reply is awaited for this message (already answered or timed out with AE)');
    }
    await this.mark(storeId, code, 'code' in req ? req.text : undefined);
    return ack;
  }

  /**
   * A durable node downstream committed the message kept as `storeSeq` (record `storeId`):
   * in `confirm` mode it now counts as handed over (see {@link HandoffTracker.confirmed}).
   * True when this confirmation counted; repeated or unknown ones are harmless.
   */
  confirmHandoff(storeSeq: number, storeId?: string): boolean {
    return this.tracker?.confirmed(storeSeq, storeId) ?? false;
  }

  /** `confirm` mode: how many messages the confirm timeout counted since start (never confirmed). */
  get unconfirmedCount(): number {
    return this.tracker?.unconfirmedCount ?? 0;
  }

  /** Stop handing over; waits settle with no reply; the watermark stays where it was written. */
  async close(): Promise<void> {
    this.closed = true;
    this.replies.dropAll();
    await this.tracker?.stop();
  }

  private async mark(storeId: string | undefined, code: string, text: string | undefined): Promise<void> {
    if (storeId === undefined || !this.o.store) return;
    const store = await this.o.store();
    await store.setMessageStatus(storeId, code === 'AA' || code === 'CA' ? 'processed' : 'errored', text ?? `application acknowledgment ${code}`);
  }

  private replayOf(rec: MessageRecord): Received {
    const { text, charset } = decodeHl7Bytes(rec.raw);
    const parsed = parseHl7(text, { strict: this.o.strict === true });
    const r: Received = {
      text, charset, issues: parsed.issues, valid: parsed.message !== undefined && !hasErrors(parsed.issues) && rec.status !== 'errored',
      storeId: rec.id, storeSeq: rec.seq, session: typeof rec.meta.session === 'string' ? rec.meta.session : '', seq: 0,
      remoteAddress: typeof rec.meta.remoteAddress === 'string' ? rec.meta.remoteAddress : '', replayed: true,
    };
    if (parsed.message) r.message = parsed.message;
    this.replayedCount++;
    return r;
  }

  /** From the receiver: kept (or not) and ACK decided. Emitted in the next turn, in order. */
  private accept(r: Received): void {
    if (r.storeSeq !== undefined) this.tracker?.kept(r.storeSeq, r.storeId);
    if (this.held) {
      this.held.push(r);
      if (r.storeSeq !== undefined) this.heldSeqs.add(r.storeSeq);
      return;
    }
    if (this.queued.push(r) === 1) setImmediate(() => this.flushQueued());
  }

  private flushQueued(): void {
    const batch = this.queued;
    this.queued = [];
    for (const r of batch) this.handOver(r);
  }

  private handOver(r: Received): void {
    if (this.closed) return;
    try {
      this.o.emit(r);
    } catch (e) {
      this.o.onError?.(new NhsError('MLLP_EMIT_FAILED', `could not pass a received message on (${e instanceof Error ? e.name : 'error'})`));
    }
    if (r.storeSeq !== undefined) this.tracker?.handed(r.storeSeq);
  }
}
