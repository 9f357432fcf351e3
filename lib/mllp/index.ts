/**
 * MLLP transport (HL7 v2.5.1 Appendix C): framing, listener, sender, allow-list, back-off. Pure
 * transport: what is done with a frame (parse, keep, acknowledge) lives in lib/channel.
 */
export { VT, FS, CR, DEFAULT_MAX_FRAME_BYTES, MllpDecoder, encodeFrame, type DecoderStats } from './framing';
export { MllpServer, type MllpServerOptions, type MllpSession, type FrameHandler, type MllpServerStats, type LogFn } from './server';
export { MllpClient, type MllpClientOptions, type MllpClientStats } from './client';
export { parseAllowList, normaliseAddress, type AllowList } from './allow-list';
export { backoffDelay, type BackoffOptions } from './backoff';
