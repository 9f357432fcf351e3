/**
 * Channels (DESIGN.md §1): the compositions of transport (lib/mllp), parser (lib/hl7) and store
 * (lib/store) — inbound (decode, parse, commit, ACK policy, hand-off, replay), outbound (outbox
 * delivery with MSA-2 correlation) and the reply rendezvous of each listener.
 */
export { mllpReceiver, type AckPolicy, type Received, type ReceiverOptions } from './inbound';
export { InboundChannel, type InboundChannelOptions, type ReplyRequest } from './listener';
export { HandoffTracker, type HandoffMode, type HandoffOptions } from './handoff';
export { ReplyRendezvous, type PendingReply } from './replies';
export { OutboxSender, type DeliveryListener, type NegativeAckPolicy, type OutboxSenderOptions, type OutboxSenderStats, type SendFn } from './outbound';
export { OutboundChannel, type OutboundChannelOptions } from './endpoint';
