/**
 * One outbound MLLP destination (DESIGN.md §4): its client, the one {@link OutboxSender} that
 * delivers its outbox in order, and the out nodes that enqueue to it and hear the results.
 * Delivery starts when the first out node registers (so no result is reported to nobody) and
 * stops on close; a sender still recovering its outbox when the endpoint closes is stopped too.
 */
import { NhsError } from '../errors';
import type { MllpClient } from '../mllp';
import type { NewOutboxItem, OutboxItem, Store } from '../store';
import { OutboxSender, type DeliveryListener, type OutboxSenderOptions } from './outbound';

export interface OutboundChannelOptions {
  /** The destination key in the outbox: the endpoint's node id. */
  destination: string;
  client: MllpClient;
  store: () => Promise<Store>;
  /** Sender settings (policy, attempts, back-off, lease, owner). */
  sender: Omit<OutboxSenderOptions, 'store' | 'destination' | 'send' | 'onDelivered' | 'onParked' | 'onRetry' | 'onError'>;
  /** Failures no caller awaits, and parked items no out node is registered for. */
  warn(text: string): void;
  /** Set when the endpoint's configuration is unusable: every start rejects with it. */
  configError?: NhsError;
}

export class OutboundChannel {
  private readonly listeners = new Map<string, DeliveryListener>();
  private sender: OutboxSender | undefined;
  private starting: Promise<OutboxSender> | undefined;
  /** The sender inside `start` (still recovering its outbox), so a close can stop it. */
  private startingSender: OutboxSender | undefined;
  private closed = false;

  constructor(private readonly o: OutboundChannelOptions) {}

  /** An out node attaches; the first one starts delivery. */
  register(id: string, l: DeliveryListener): Promise<void> {
    this.listeners.set(id, l);
    return this.start().then(() => undefined);
  }

  unregister(id: string): void {
    this.listeners.delete(id);
  }

  /** Durably enqueue; resolves once committed. */
  async enqueue(item: Omit<NewOutboxItem, 'destination'>): Promise<OutboxItem> {
    const s = await this.start();
    const store = await this.o.store();
    const out = await store.enqueue({ ...item, destination: this.o.destination });
    s.wake();
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const stopping = Promise.all([this.sender?.stop(), this.startingSender?.stop()]);
    const pending = this.starting;
    await this.o.client.close();
    await stopping;
    await pending?.catch(() => undefined);
  }

  private listenerFor(item: OutboxItem): DeliveryListener | undefined {
    const owner = typeof item.meta.node === 'string' ? this.listeners.get(item.meta.node) : undefined;
    return owner ?? this.listeners.values().next().value;
  }

  private start(): Promise<OutboxSender> {
    this.starting ??= (async () => {
      if (this.o.configError) throw this.o.configError;
      const store = await this.o.store();
      const client = this.o.client;
      const s = new OutboxSender({
        ...this.o.sender,
        store,
        destination: this.o.destination,
        send: (payload, accept) => client.send(payload, accept),
        onDelivered: (item, ack) => this.listenerFor(item)?.delivered(item, ack),
        onParked: (item, reason, ack, err) => {
          const l = this.listenerFor(item);
          if (l) l.parked(item, reason, ack, err);
          else this.o.warn(`outbox item ${item.id} parked: ${reason}`);
        },
        onRetry: (item, reason, at) => this.listenerFor(item)?.retrying(item, reason, at),
        onError: (e) => this.o.warn(`outbox: ${e.code}: ${e.message}`),
      });
      if (this.closed) throw new NhsError('MLLP_CLOSED', 'endpoint closed');
      this.startingSender = s;
      try {
        await s.start();
      } finally {
        this.startingSender = undefined;
      }
      // Closed while recovering: a sender kept now would be a zombie sending on a closed client.
      if (this.closed) {
        await s.stop();
        throw new NhsError('MLLP_CLOSED', 'endpoint closed');
      }
      this.sender = s;
      return s;
    })();
    this.starting.catch(() => { this.starting = undefined; });
    return this.starting;
  }
}
