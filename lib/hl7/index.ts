/**
 * HL7 v2 for the suite: parse/serialize, paths, escapes, charsets, ACK/NAK, batches, DTM.
 * The one HL7 parser (DESIGN.md §1); pure TypeScript, no node-red.
 */
export { Hl7Message, Hl7Segment, HL7_NULL, type Hl7Json } from './message';
export { parseHl7, fromJSON, type ParseOptions } from './parse';
export { DEFAULT_DELIMITERS, delimitersFrom, encodingCharacters, missingDelimiters, type Delimiters } from './delimiters';
export { escapeHl7, unescapeHl7, canEncodeHl7 } from './escape';
export { parsePath, formatPath, type Hl7Path } from './path';
export { decodeHl7Bytes, encodeHl7Text, charsetToEncoding } from './charset';
export { buildAck, buildNak, ackMode, newControlId, positiveAckInfo, readAck, type AckCode, type AckInfo } from './ack';
export { splitBatch, looksLikeBatch } from './batch';
export { hl7DateTimeToIso, formatHl7DateTime } from './datetime';
